"""Clip sampling: decoded frames -> fixed-length uint8 clips with their frame ranges and times.

Spatial modes:
- center: short side 128/112 * L, centre crop L x L (L = the model's crop, 112). The feature standard.
- full:   the whole frame at short side L, long side rounded to a multiple of 16. The saliency default:
          nothing outside a centre crop is blind, and the backbone is fully convolutional.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np

from .decode import Frame, VideoReader

MODES = ("center", "full")


@dataclass(frozen=True)
class Sampling:
    stack: int = 16  # frames per clip
    step: int | None = None  # frames between clip starts; None = stack
    fps: float | None = None  # resample to this rate first (None: every decoded frame)
    mode: str = "center"
    size: int = 112  # the model's crop L
    cover_tail: bool = False  # add a last clip ending on the last frame, so every frame is covered

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.stack < 1 or (self.step is not None and self.step < 1):
            raise ValueError("stack and step must be >= 1")
        if self.fps is not None and self.fps <= 0:
            raise ValueError("fps must be > 0")

    @property
    def stride(self) -> int:
        return self.step or self.stack


@dataclass(frozen=True)
class Geometry:
    """How each decoded frame becomes model input: resize (in swscale) to `resize`, then crop."""

    resize: tuple[int, int]  # (width, height)
    crop: tuple[int, int, int, int]  # (x0, y0, width, height) inside the resized frame

    @property
    def input_hw(self) -> tuple[int, int]:
        return self.crop[3], self.crop[2]


def geometry(mode: str, size: int, width: int, height: int) -> Geometry:
    if mode == "center":
        short = round(size * 128 / 112)
        scale = short / min(width, height)
        rw, rh = max(size, round(width * scale)), max(size, round(height * scale))
        return Geometry((rw, rh), ((rw - size) // 2, (rh - size) // 2, size, size))
    if mode == "full":
        if width >= height:
            rh, rw = size, max(16, round(width * size / height / 16) * 16)
        else:
            rw, rh = size, max(16, round(height * size / width / 16) * 16)
        return Geometry((rw, rh), (0, 0, rw, rh))
    raise ValueError(f"unknown mode {mode!r}")


def sampled(height: int, width: int, size: int) -> bool:
    """Whether frames of this size are what `geometry` makes at `size`: size x size (center), or the short
    side `size` and the long side a multiple of 16 (full)."""
    return min(height, width) == size and (height == width or max(height, width) % 16 == 0)


def prepare(clips: Any, mode: str, size: int) -> Any:
    """Raw uint8 RGB clips (B, T, H, W, 3), a torch tensor, as `iter_clips` would make them from those frames:
    resized by `geometry(mode, size, W, H)` (bilinear with antialiasing, as swscale's downscaling), then
    cropped. Clips already at a size this project's sampling makes at `size` (`sampled`) are returned as they are."""
    import torch
    import torch.nn.functional as F

    b, t, h, w, _ = clips.shape
    if sampled(h, w, size):
        return clips
    geo = geometry(mode, size, w, h)
    (rw, rh), (x0, y0, cw, ch) = geo.resize, geo.crop
    out = torch.empty((b, t, ch, cw, 3), dtype=torch.uint8, device=clips.device)
    for i in range(b):  # one clip at a time: a float copy of a batch of full frames is large
        x = clips[i].permute(0, 3, 1, 2).float()  # (T, 3, H, W)
        x = F.interpolate(x, size=(rh, rw), mode="bilinear", antialias=True, align_corners=False)
        out[i] = x[:, :, y0 : y0 + ch, x0 : x0 + cw].round().clamp(0, 255).permute(0, 2, 3, 1).to(torch.uint8)
    return out


@dataclass
class Clip:
    frames: np.ndarray  # (T, H, W, 3) uint8
    indices: np.ndarray  # (T,) int64 original frame index of each clip frame
    times: np.ndarray  # (T,) float64 seconds
    padded: int = 0  # how many trailing frames repeat the last real frame

    @property
    def start(self) -> int:
        return int(self.indices[0])

    @property
    def end(self) -> int:
        return int(self.indices[-1])


def resample(frames: Iterable[Frame], fps: float) -> Iterator[Frame]:
    """Pick, for every tick of a `fps` clock, the decoded frame nearest in time (by PTS)."""
    period = 1.0 / fps
    tick = 0
    prev: Frame | None = None
    for cur in frames:
        while tick * period <= cur.time:
            target = tick * period
            yield prev if prev is not None and target - prev.time < cur.time - target else cur
            tick += 1
        prev = cur


def _crop(frame: Frame, geo: Geometry) -> Frame:
    x0, y0, w, h = geo.crop
    if (x0, y0, w, h) == (0, 0, *geo.resize):
        return frame
    return Frame(frame.index, frame.time, frame.image[y0 : y0 + h, x0 : x0 + w])


def _make_clip(window: list[Frame], stack: int) -> Clip:
    padded = stack - len(window)
    window = window + [window[-1]] * padded
    return Clip(
        np.stack([f.image for f in window]),
        np.array([f.index for f in window], dtype=np.int64),
        np.array([f.time for f in window], dtype=np.float64),
        padded,
    )


def iter_clips(reader: VideoReader, sampling: Sampling) -> Iterator[Clip]:
    """Stream clips of `sampling.stack` frames every `sampling.stride` sampled frames.

    Holds at most `stack` frames. A video shorter than one clip gives one clip padded with its last frame
    (`Clip.padded` says by how much).
    """
    geo = geometry(sampling.mode, sampling.size, reader.info.width, reader.info.height)
    frames: Iterable[Frame] = reader.frames(geo.resize)
    if sampling.fps:
        frames = resample(frames, sampling.fps)
    stack, stride = sampling.stack, sampling.stride
    window: deque[Frame] = deque(maxlen=stack)
    n = 0  # sampled frames seen
    last_start = -1
    for frame in frames:
        window.append(_crop(frame, geo))
        n += 1
        start = n - stack
        if start >= 0 and start % stride == 0:
            last_start = start
            yield _make_clip(list(window), stack)
    if n == 0:
        return
    if n < stack:
        yield _make_clip(list(window), stack)
    elif sampling.cover_tail and last_start != n - stack:
        yield _make_clip(list(window), stack)


def count_clips(n_frames: int, sampling: Sampling) -> int:
    """Clips `iter_clips` yields for `n_frames` sampled frames (for progress estimates and tests)."""
    if n_frames <= 0:
        return 0
    if n_frames < sampling.stack:
        return 1
    full = (n_frames - sampling.stack) // sampling.stride + 1
    tail = sampling.cover_tail and (n_frames - sampling.stack) % sampling.stride != 0
    return full + int(tail)
