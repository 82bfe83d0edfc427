"""Pass 2 of saliency: decode the original frames again and write the outputs users look at.

Sinks: an overlay video (original resolution, frame rate, timestamps and frame count, with a colour bar),
the raw maps as float16 .npy (`maps_file`), and a contact sheet of key frames. Every file is written to a
temporary name and renamed when complete.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import cv2
import numpy as np
import torch

from .. import viz
from ..atomic import AtomicOutput
from ..video.spec import DecodeSpec
from .compute import SaliencyResult
from .display import frame_ranges
from .maps import map_region, upsample
from .maps_file import MapsFile

CHUNK = 16  # frames upsampled per device call
TIME_BASE = Fraction(1, 90000)
CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".m4v": "libx264", ".avi": "mpeg4", ".webm": "libvpx-vp9"}
SDR_TAGS = {"colorspace": 6, "color_range": 1, "color_primaries": 1, "color_trc": 1}  # BT.601 matrix, limited range, BT.709 SDR
FASTSTART = {".mp4", ".mov", ".m4v"}  # index at the front: browsers start playing before the download ends


class Sink(Protocol):
    size: tuple[int, int] | None  # (width, height) of the heat it wants; None: the frame's size

    def add(self, index: int, time: float, frame: np.ndarray, heat: np.ndarray) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


def i420_frame(rgb: np.ndarray) -> av.VideoFrame:
    """A yuv420p frame of an even-sized RGB image (H, W, 3) uint8, BT.601 limited range (FFmpeg's default).

    Every byte of its planes is written, row padding included: encoders read past the width (x264 does), and
    the uninitialised padding of a frame from `VideoFrame.from_ndarray` or `reformat` made identical images
    encode to different files from run to run.
    """
    h, w = rgb.shape[:2]
    yuv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)  # (3H/2, W): Y, then U, then V
    frame = av.VideoFrame(w, h, "yuv420p")
    q = h * w // 4
    planes = (yuv[:h], yuv[h:].reshape(-1)[:q].reshape(h // 2, w // 2), yuv[h:].reshape(-1)[q:].reshape(h // 2, w // 2))
    for plane, data in zip(frame.planes, planes):
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(data.shape[0], plane.line_size)  # writable view
        rows[:, : data.shape[1]] = data
        rows[:, data.shape[1] :] = 0
    return frame


class OverlayVideo(AtomicOutput):
    """Heatmap blended on every original frame, same size, rate and timestamps, with a colour bar."""

    size = None

    def __init__(self, out: Path, width: int, height: int, fps: float, caption: str = "motion"):
        codec = CODECS.get(out.suffix.lower())
        if codec is None:
            raise ValueError(f"{out}: unsupported video type; use one of {', '.join(CODECS)}")
        tmp = self._begin(out)
        fmt = {".mkv": "matroska", ".m4v": "mp4"}.get(out.suffix.lower(), out.suffix.lower().lstrip("."))
        options = {"movflags": "+faststart"} if out.suffix.lower() in FASTSTART else {}
        with self._writing(setup=True):
            self.container = av.open(str(tmp), "w", format=fmt, options=options)
        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(25)
        self.stream = self.container.add_stream(codec, rate=rate)
        # 4:2:0 (what browsers and QuickTime play) needs even sizes: an odd one gets its last row or column
        # repeated, so every original pixel keeps its place.
        self.pad = (width % 2, height % 2)
        self.stream.width, self.stream.height = width + self.pad[0], height + self.pad[1]
        self.stream.pix_fmt = "yuv420p"
        for key, value in SDR_TAGS.items():  # what `i420_frame` writes, stated, so no player takes it for HDR
            setattr(self.stream.codec_context, key, value)
        self.notes: list[str] = []
        if any(self.pad):
            done = f"padded from {width}x{height} to {self.stream.width}x{self.stream.height} (edge repeated; yuv420p needs even sizes)"
            self.notes.append(f"overlay {done}")
            self.container.metadata["comment"] = f"mosi-tool overlay {done}"
        if codec == "libx264":
            # No macroblock tree: with it, identical frames encoded differently from one process to the next
            # (tests/test_saliency.py::test_overlay_video_is_byte_reproducible), so overlays were not reproducible.
            self.stream.options = {"crf": "20", "preset": "veryfast", "x264-params": "mbtree=0"}
        self.stream.codec_context.time_base = TIME_BASE
        self.caption = caption
        self.last_pts = -1

    def add(self, index: int, time: float, frame: np.ndarray, heat: np.ndarray) -> None:
        img = viz.draw_colorbar(viz.overlay(frame, heat), title=self.caption)
        if any(self.pad):
            img = np.pad(img, ((0, self.pad[1]), (0, self.pad[0]), (0, 0)), mode="edge")
        vf = i420_frame(img)
        pts = max(round(time / TIME_BASE), self.last_pts + 1)
        vf.pts, vf.time_base = pts, TIME_BASE
        self.last_pts = pts
        with self._writing():
            for packet in self.stream.encode(vf):
                self.container.mux(packet)

    def _finish(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)

    def _close_file(self) -> None:
        container = self.__dict__.pop("container", None)
        if container is not None:
            container.close()


class ContactSheet:
    """Key frames with overlays in a grid, labelled with frame number, time and the clip's top class."""

    size = None

    def __init__(self, out: Path, frames: int, labels: list[str], count: int = 8, cols: int = 4, tile_width: int = 320):
        self.out = out
        self.picks = set(np.linspace(0, frames - 1, min(count, frames)).round().astype(int).tolist())
        self.labels = labels
        self.cols = cols
        self.tile_width = tile_width
        self.tiles: list[np.ndarray] = []

    def add(self, index: int, time: float, frame: np.ndarray, heat: np.ndarray) -> None:
        if index not in self.picks:
            return
        from PIL import Image

        img = viz.overlay(frame, heat)
        h, w = img.shape[:2]
        scale = self.tile_width / w
        img = np.asarray(Image.fromarray(img).resize((self.tile_width, max(1, round(h * scale))), Image.BILINEAR))
        self.tiles.append(viz.label(img, f"#{index}  {time:.2f}s  {self.labels[index]}", size=max(10, img.shape[0] // 14)))

    def close(self) -> None:
        if self.tiles:
            sheet = viz.grid(self.tiles, min(self.cols, len(self.tiles)))
            viz.save_png(viz.with_colorbar(sheet), self.out)

    def abort(self) -> None:
        pass


def heat_frames(result: SaliencyResult, start: int, stop: int, width: int, height: int, device: torch.device, norm: str) -> np.ndarray:
    """Maps of frames [start, stop) at width x height (upsampled on `device`), scaled to [0, 1] by `norm`
    (`display.frame_ranges`: "bounded", "video" or "frame"), or "raw": in the maps' own units, not scaled."""
    chunk = np.asarray(result.maps[start:stop], np.float32)
    low_res = torch.from_numpy(chunk).to(device)
    region = map_region(result.geometry, width, height)
    if norm == "raw":
        return upsample(low_res, region, width, height).cpu().numpy()
    lo, hi = frame_ranges(chunk, norm, result.range)
    low = torch.from_numpy(lo).to(device).view(-1, 1, 1)
    high = torch.from_numpy(hi).to(device).view(-1, 1, 1)
    heat = ((low_res - low) / (high - low).clamp_min(1e-12)).clamp_(0, 1)
    return upsample(heat, region, width, height).clamp_(0, 1).cpu().numpy()


def _sink_norm(sink: Sink, norm: str) -> str:
    """The scale a sink gets: its own (`norm` attribute, e.g. "raw" for the masks), else `norm`; the --maps
    file keeps one scale for the whole video under "bounded" (a display choice), so its values compare
    across frames as before."""
    own = getattr(sink, "norm", None)
    if own:
        return str(own)
    return "video" if norm == "bounded" and isinstance(sink, MapsFile) else norm


def default_maps_size(result: SaliencyResult) -> tuple[int, int]:
    """(width, height) of the maps by default: the whole frame at the model's input scale (`Geometry.resize`)."""
    return result.geometry.resize


def render(
    path: str | Path,
    result: SaliencyResult,
    device: torch.device,
    overlay: Path | None = None,
    maps: Path | None = None,
    maps_size: tuple[int, int] | None = None,
    sheet: Path | None = None,
    frame_labels: list[str] | None = None,
    norm: str = "bounded",
    stream: int | None = None,
    fps: float | None = None,
    extra_sinks: list[Sink] | None = None,
) -> list[str]:
    """Decode `path` at original resolution and feed every frame with its heatmap to the requested sinks
    (and to `extra_sinks`, which render closes or aborts with its own).

    maps_size: (width, height) of the `maps` file; default `default_maps_size(result)`. Returns notes for the user:
    the decode's warnings (e.g. a truncated file), then what was done to fit the outputs' formats (e.g. an
    odd-sized overlay padded).
    """
    info = result.info
    width, height = info.width, info.height
    n = len(result.frame_times)
    sinks: list[Sink] = list(extra_sinks or [])
    try:
        if overlay:
            sinks.append(OverlayVideo(overlay, width, height, info.fps))
        if sheet:
            sinks.append(ContactSheet(sheet, n, frame_labels or [""] * n))
        if maps:
            sinks.append(MapsFile(maps, n, *(maps_size or default_maps_size(result))))
        reader = DecodeSpec(path, stream, fps).open()
        buffer: list = []

        def flush() -> None:
            start = buffer[0].index
            heat: dict[tuple[tuple[int, int], str], np.ndarray] = {}
            for sink in sinks:
                key = (sink.size or (width, height), _sink_norm(sink, norm))
                if key not in heat:
                    heat[key] = heat_frames(result, start, start + len(buffer), *key[0], device, key[1])
                for frame, h in zip(buffer, heat[key]):
                    sink.add(frame.index, frame.time, frame.image, h)
            buffer.clear()

        for frame in reader.frames():
            if frame.index >= n:
                break
            buffer.append(frame)
            if len(buffer) == CHUNK:
                flush()
        if buffer:
            flush()
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    for sink in sinks:
        sink.close()
    # The overlay's decode is the only full decode of a --method mv run, so its warnings (a truncated file) count.
    return [*reader.warnings, *(note for sink in sinks for note in getattr(sink, "notes", []))]
