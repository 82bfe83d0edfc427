"""Pass 1 of saliency: run the engine over a video's clips and keep one low-resolution map per frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..runtimes.base import Engine
from ..video.clips import Clip, Geometry, Sampling, geometry, iter_clips
from ..video.decode import VideoInfo, VideoReader
from .gradcam import grad_cam
from .maps import frame_maps
from .targets import select_maps

METHODS = ("cam", "gradcam")


@dataclass
class SaliencyResult:
    info: VideoInfo
    geometry: Geometry
    frame_times: np.ndarray  # (F,) seconds of every decoded frame
    maps: np.ndarray  # (F, h, w) per-frame maps at conv5 resolution, not normalised
    clip_logits: np.ndarray  # (N, C)
    clip_ranges: np.ndarray  # (N, 2) first and last frame index of each clip
    padded: int  # frames added to fill a video shorter than one clip
    warnings: list[str] = field(default_factory=list)

    @cached_property
    def range(self) -> tuple[float, float]:
        """The video-wide display range (low, high): (maps - low) / (high - low), clipped, lies in [0, 1].

        low is the 5th percentile of every map value, so the background level every frame shares shows as
        cold instead of washing the whole video in colour; high is the peak. Computed once (it reads every
        map; per rendered chunk it would make rendering quadratic in the video's length).
        """
        high = float(self.maps.max())
        low = min(float(np.percentile(self.maps, 5)), high)
        return low, (high if high > low else low + 1.0)


def _batches(clips: Iterator[Clip], size: int) -> Iterator[list[Clip]]:
    batch: list[Clip] = []
    for clip in clips:
        batch.append(clip)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _TimedFrames:
    """Wraps a reader so every decoded frame's timestamp is recorded while clips stream past."""

    def __init__(self, reader: VideoReader):
        self.reader = reader
        self.times: list[float] = []
        self.info = reader.info

    def frames(self, size: tuple[int, int] | None = None):  # noqa: ANN201 - mirrors VideoReader.frames
        for frame in self.reader.frames(size):
            self.times.append(frame.time)
            yield frame


def compute_saliency(
    engine: Engine,
    path: str | Path,
    target: str | int = "motion",
    step: int | None = None,
    mode: str = "full",
    batch_size: int = 8,
    stream: int | None = None,
    fps: float | None = None,
    method: str = "cam",
    layer: str = "conv5",
    size: int | None = None,
) -> SaliencyResult:
    """Decode `path` once, run every clip, and return per-frame maps (see `SaliencyResult`).

    fps: resample to this rate before cutting clips (frame folders: their frame rate). Maps are still
    produced for every original frame, by time.
    size: the input's short side (default: the model's clip size, the scale it was trained at). The backbone
    is fully convolutional, so a larger input gives finer maps and slower apparent motion.
    """
    if method not in METHODS:
        raise ValueError(f"--method must be one of {', '.join(METHODS)}")
    if method == "gradcam" and not hasattr(engine, "model"):
        raise ValueError(f"--method gradcam needs the PyTorch runtime (a .safetensors checkpoint), not {engine.name}")
    meta = engine.meta
    reader = VideoReader(path, stream=stream, fps=fps if Path(path).is_dir() else None)
    size = size or meta.crop
    sampling = Sampling(stack=meta.frames, step=step, fps=None if Path(path).is_dir() else fps, mode=mode, size=size, cover_tail=True)
    geo = geometry(mode, size, reader.info.width, reader.info.height)
    if not engine.dynamic_width and engine.input_hw and geo.input_hw != engine.input_hw:
        raise ValueError(
            f"{engine.path.name} only takes {engine.input_hw[0]}x{engine.input_hw[1]} clips; this video needs "
            f"{geo.input_hw[0]}x{geo.input_hw[1]} in '{mode}' mode: use --mode center or an engine with dynamic width"
        )
    timed = _TimedFrames(reader)
    maps, times, logits, ranges = [], [], [], []
    padded = 0
    for batch in _batches(iter_clips(timed, sampling), batch_size):  # type: ignore[arg-type]
        x = torch.from_numpy(np.stack([c.frames for c in batch]))
        if method == "gradcam":
            cam, lg = grad_cam(engine.model, x.to(engine.device), target, layer, meta.static_class)  # type: ignore[attr-defined]
        else:
            out = engine(x)
            cam, lg = select_maps(out.cam, out.logits, target, meta.static_class), out.logits
        maps.append(cam.float().cpu().numpy())
        logits.append(lg.float().cpu().numpy())
        times.extend(c.times for c in batch)
        ranges.extend((c.start, c.end) for c in batch)
        padded = max(padded, max(c.padded for c in batch))
    frame_times = np.asarray(timed.times, dtype=np.float64)
    per_frame = frame_maps(np.concatenate(maps), np.stack(times), frame_times)
    return SaliencyResult(
        reader.info, geo, frame_times, per_frame, np.concatenate(logits), np.asarray(ranges, dtype=np.int64),
        padded, list(reader.warnings),
    )  # fmt: skip
