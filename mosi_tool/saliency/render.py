"""The pixel pass of saliency: decode the original frames (once) and write the outputs users look at.

Sinks: an overlay video (original resolution, frame rate, timestamps and frame count, with a colour bar),
the raw maps as float16 .npy (`maps_file`), and a contact sheet of key frames. The overlay is blended on the
decoded yuv420p planes and handed to the encoder as they are (`overlay_i420`), with its heat as 8-bit colour
indices (`heat_indices`); a frame whose planes are not such a picture (odd size, full range, BT.709, rotated,
non-square pixels) is blended in RGB and converted. Measured with `python bench/saliency_vs_ffmpeg.py`
(docs/BENCHMARKS.md).

Every file is written to a temporary name and renamed when complete. An output that fails (full disk, a
folder gone read-only) is abandoned alone, its temporary file removed: the others are still written
(`OutputsFailed` names it).
"""

from __future__ import annotations

import contextlib
import dataclasses
from fractions import Fraction
from pathlib import Path
from typing import Callable, Protocol

import av
import cv2
import numpy as np

from .. import viz
from ..atomic import AtomicOutput
from ..hardware import opencv_without_ipp
from ..video.clips import ClipSpec
from ..video.decode import Frame, VideoReader
from ..video.i420 import i420_canvas, i420_frame
from ..video.kept_frames import KeptFrames
from .display import frame_ranges
from .maps import map_region
from .maps_file import MapsFile
from .overlay_i420 import draw_colorbar_i420, overlay_i420
from .result import SaliencyResult

CHUNK = 16  # frames upsampled per device call
TIME_BASE = Fraction(1, 90000)
SDR_TAGS = {"colorspace": 6, "color_range": 1, "color_primaries": 1, "color_trc": 1}  # BT.601 matrix, limited range, BT.709 SDR
CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".m4v": "libx264", ".avi": "mpeg4", ".webm": "libvpx-vp9"}
FASTSTART = {".mp4", ".mov", ".m4v"}  # index at the front: browsers start playing before the download ends


class Sink(Protocol):
    """An output fed frame by frame: `add` gets each decoded `Frame` (its RGB `image` converted on first
    use; its yuv420p `planes` when the decode kept them) with its heat map: float32 (H, W) (`heat_frames`),
    or uint8 colour-table indices (`heat_indices`) for a sink with a true `indices` attribute. A sink with a
    `norm` attribute gets its heat at that scale (`_sink_norm`)."""

    size: tuple[int, int] | None  # (width, height) of the heat it wants; None: the frame's size

    def add(self, frame: Frame, heat: np.ndarray) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class OutputsFailed(OSError):
    """Some outputs could not be written (the others were): `failed` maps each path to its one-line reason."""

    def __init__(self, failed: dict[Path, str], notes: list[str]):
        self.failed, self.notes = failed, notes
        super().__init__("; ".join(f"{path}: {why}" for path, why in failed.items()))


def write_error(e: BaseException) -> str:
    """The reason of a failed write in a few words: 'cannot write (No space left on device)'."""
    return f"cannot write ({getattr(e, 'strerror', None) or e})"


class OverlayVideo(AtomicOutput):
    """Heatmap blended on every original frame, same size, rate and timestamps, with a colour bar."""

    size = None
    indices = True  # its heat as colour-table indices (`heat_indices`): all the blend needs

    def __init__(self, out: Path, width: int, height: int, fps: float, caption: str = "motion"):
        codec = CODECS.get(out.suffix.lower())
        if codec is None:
            raise ValueError(f"{out}: unsupported video type; use one of {', '.join(CODECS)}")
        tmp = self._begin(out)
        fmt = {".mkv": "matroska", ".m4v": "mp4"}.get(out.suffix.lower(), out.suffix.lower().lstrip("."))
        options = {"movflags": "+faststart"} if out.suffix.lower() in FASTSTART else {}
        with self._writing(setup=True):  # any error, or SIGTERM, before the constructor returns: no temporary file left
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
            elif codec == "libvpx-vp9":
                # libvpx's default (deadline good, cpu-used 0) took 15.9 CPU-s for 90 frames of 854x480, 7x the
                # whole rest of the run; realtime at speed 8: 0.7 CPU-s, mean pixel error 1.95 against 1.86
                self.stream.options = {"deadline": "realtime", "cpu-used": "8"}
            # MPEG-4 Part 2 (.avi) allows a time base denominator of at most 65535: it counts in frames
            self.time_base = (1 / rate).limit_denominator(65535) if codec == "mpeg4" else TIME_BASE
            self.stream.codec_context.time_base = self.time_base
            self.caption = caption
            self.last_pts = -1
            if viz.colorbar_stamp(height, width, title=caption) is None:
                self.notes.append(f"overlay without a colour bar: {width}x{height} frames are too small to hold one")

    def add(self, frame: Frame, heat: np.ndarray) -> None:
        """Blend and encode one frame: on its decoded yuv420p planes when it has them (`overlay_i420`: no
        colour conversion either way), else on its RGB image, converted to yuv420p for the encoder. heat:
        (H, W) uint8 colour-table indices (`heat_indices`), or float in [0, 1]."""
        if frame.planes is not None and frame.planes[0].shape == (self.stream.height, self.stream.width):
            vf, planes = i420_canvas(self.stream.width, self.stream.height)
            overlay_i420(frame.planes, heat, planes)
            draw_colorbar_i420(planes, title=self.caption)
        else:
            img = viz.draw_colorbar(viz.overlay(frame.image, heat), title=self.caption)
            if any(self.pad):
                img = np.pad(img, ((0, self.pad[1]), (0, self.pad[0]), (0, 0)), mode="edge")
            vf = i420_frame(img)
        pts = max(round(frame.time / self.time_base), self.last_pts + 1)
        vf.pts, vf.time_base = pts, self.time_base
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

    def add(self, frame: Frame, heat: np.ndarray) -> None:
        index, time = frame.index, frame.time
        if index not in self.picks:
            return
        from PIL import Image

        img = viz.overlay(frame.image, heat)
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


def _scaled_maps(result: SaliencyResult, start: int, stop: int, norm: str) -> np.ndarray:
    """The low-resolution maps of frames [start, stop), float32 (n, h, w), scaled to [0, 1] by `norm`, or
    as they are for "raw"."""
    low_res = np.asarray(result.maps[start:stop], dtype=np.float32)
    if norm == "raw":
        return low_res
    lo, hi = frame_ranges(low_res, norm, result.range, result.display_floor)
    low, high = np.asarray(lo, np.float32).reshape(-1, 1, 1), np.asarray(hi, np.float32).reshape(-1, 1, 1)
    return np.clip((low_res - low) / np.maximum(high - low, 1e-12), 0, 1).astype(np.float32)


def _upsample(maps: np.ndarray, result: SaliencyResult, width: int, height: int) -> np.ndarray:
    """Low-resolution maps (n, h, w) upsampled bilinearly (OpenCV, half-pixel centres as
    `F.interpolate(align_corners=False)`) into the model input's footprint (`map_region`) of a width x height
    frame, zero outside it: (n, height, width), the maps' dtype. OpenCV's IPP paths are off: the float maps
    are then the same bytes whatever else a run makes (masks turn them off, `hardware.opencv_without_ipp`)."""
    x0, y0, w, h = map_region(result.geometry, width, height)
    whole = (x0, y0, w, h) == (0, 0, width, height)
    out = (np.empty if whole else np.zeros)((len(maps), height, width), maps.dtype)
    with opencv_without_ipp():
        for i, m in enumerate(maps):
            if whole:
                cv2.resize(m, (w, h), dst=out[i], interpolation=cv2.INTER_LINEAR)
            else:
                out[i, y0 : y0 + h, x0 : x0 + w] = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def heat_frames(result: SaliencyResult, start: int, stop: int, width: int, height: int, norm: str) -> np.ndarray:
    """Maps of frames [start, stop) at width x height, float32 (n, height, width), scaled to [0, 1] by `norm`
    (`display.frame_ranges`: "bounded", "video" or "frame"), or "raw": in the maps' own units, not scaled.

    The low-resolution maps are scaled, then upsampled bilinearly (OpenCV, half-pixel centres as
    `F.interpolate(align_corners=False)`) into the model input's footprint (`map_region`); zero outside it.
    """
    out = _upsample(_scaled_maps(result, start, stop, norm), result, width, height)
    return out if norm == "raw" else np.clip(out, 0, 1, out=out)


def mask_heat(result: SaliencyResult) -> Callable[[int, int, int], np.ndarray] | None:
    """The masks' own maps (`SaliencyResult.mask_maps`) as a function (frame index, width, height) -> that
    frame's map at width x height, un-normalised, read as `heat_frames` reads the maps; None without them."""
    if result.mask_maps is None:
        return None
    sharp = dataclasses.replace(result, maps=result.mask_maps)
    return lambda index, width, height: heat_frames(sharp, index, index + 1, width, height, "raw")[0]


def heat_indices(result: SaliencyResult, start: int, stop: int, width: int, height: int, norm: str) -> np.ndarray:
    """`heat_frames` as colour-table indices, uint8 (n, height, width), round(255 x heat) (`viz.heat_index`):
    the low-resolution maps are scaled and rounded to 0..255, then upsampled in 8 bits (OpenCV's fixed-point
    bilinear), within half a level of indexing the float maps, and several times cheaper at full size than
    `heat_frames` then `viz.heat_index` (no float frames of the full size are made). norm: not "raw"."""
    if norm == "raw":
        raise ValueError("colour-table indices need a scale in [0, 1]: norm 'raw' has none")
    scaled = _scaled_maps(result, start, stop, norm)
    return _upsample(np.stack([viz.heat_index(m) for m in scaled]), result, width, height)


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
    source: str | Path | VideoReader | KeptFrames,
    result: SaliencyResult,
    overlay: Path | None = None,
    maps: Path | None = None,
    maps_size: tuple[int, int] | None = None,
    sheet: Path | None = None,
    frame_labels: list[str] | None = None,
    norm: str = "bounded",
    stream: int | None = None,
    fps: float | None = None,
    extra_sinks: dict[Path, Sink] | None = None,
) -> list[str]:
    """Decode `source` (a path, or a reader already opened on it; or replay the frames a pass kept,
    `video.kept_frames`) at original resolution, once, and feed every
    frame with its heatmap to the requested sinks (and to `extra_sinks`, keyed by their output path, which
    render closes or aborts with its own).

    maps_size: (width, height) of the `maps` file; default `default_maps_size(result)`. Returns notes for the user:
    the decode's warnings (e.g. a truncated file), then what was done to fit the outputs' formats (e.g. an
    odd-sized overlay padded). An output that fails to be made or written (OSError) is abandoned, its
    temporary file removed, and the others go on; `OutputsFailed` then names it (with the notes). Any other
    error, or an interruption (SIGTERM raised as SystemExit), abandons every output.
    """
    info = result.info
    width, height = info.width, info.height
    n = len(result.frame_times)
    sinks: dict[Path, Sink] = dict(extra_sinks or {})
    failed: dict[Path, str] = {}

    def fail(path: Path, e: OSError) -> None:
        failed[path] = write_error(e)
        sink = sinks.pop(path, None)
        if sink is not None:
            with contextlib.suppress(Exception):
                sink.abort()

    makers = {overlay: lambda p: OverlayVideo(p, width, height, info.fps), sheet: lambda p: ContactSheet(p, n, frame_labels or [""] * n),
              maps: lambda p: MapsFile(p, n, *(maps_size or default_maps_size(result)))}  # fmt: skip
    reader = None if isinstance(source, (str, Path)) else source
    try:
        for path, make in makers.items():
            if path:
                try:
                    sinks[path] = make(path)
                except OSError as e:
                    fail(path, e)
        reader = reader or ClipSpec(fps=fps, stream=stream).open(source)  # type: ignore[arg-type]
        buffer: list = []

        def flush() -> None:
            start = buffer[0].index
            heat: dict[tuple[tuple[int, int], str, bool], np.ndarray] = {}
            for path, sink in list(sinks.items()):
                key = (sink.size or (width, height), _sink_norm(sink, norm), bool(getattr(sink, "indices", False)))
                if key not in heat:
                    make = heat_indices if key[2] else heat_frames
                    heat[key] = make(result, start, start + len(buffer), *key[0], key[1])
                try:
                    for frame, h in zip(buffer, heat[key]):
                        sink.add(frame, h)
                except OSError as e:
                    fail(path, e)
            buffer.clear()

        # planes kept whatever the outputs: the overlay draws on them, the masks shrink their pictures from them
        # (`pictures.picture`), so the masks are the same with or without the overlay
        for frame in reader.frames(planes=True):
            if frame.index >= n:
                break
            buffer.append(frame)
            if len(buffer) == CHUNK:
                flush()
        if buffer:
            flush()
    except BaseException:
        for sink in sinks.values():
            with contextlib.suppress(Exception):
                sink.abort()
        raise
    for path, sink in list(sinks.items()):
        try:
            sink.close()
        except OSError as e:
            fail(path, e)
    # The overlay's decode is the only full decode of a --method mv run, so its warnings (a truncated file) count.
    notes = [*reader.warnings, *(note for sink in sinks.values() for note in getattr(sink, "notes", []))]
    if failed:
        raise OutputsFailed(failed, notes)
    return notes
