"""`ClipSpec`, the one description of how a run cuts clips, and the clip stream it makes.

Spatial modes:
- center: short side 128/112 * L, centre crop L x L (L = the model's crop, 112). The feature standard.
- full:   the whole frame at short side L, long side rounded to a multiple of 16. The saliency default:
          nothing outside a centre crop is blind, and the backbone is fully convolutional.

What `--fps` means depends on the input: a video file has timestamps and keeps its own rate, so `--fps`
resamples its frames as clips are cut; a folder of frames has none, so `--fps` is its frame rate (25 when not
given) and its frames are not resampled.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .decode import Frame, VideoReader

MODES = ("center", "full")
DECODERS = ("cpu", "nvdec")
MAX_SIDE = 16384  # pixels: the largest width or height a size option takes (8K video is 7680 wide)


def shot_ids(cuts: Sequence[bool] | np.ndarray) -> np.ndarray:
    """(F,) int64: each frame's shot, counted from 0 (or 1 where the first frame is marked), from `cuts` (F,)
    bool, the frames that begin a shot."""
    return np.cumsum(np.asarray(cuts, bool), dtype=np.int64)


def shot_spans(cuts: Sequence[bool] | np.ndarray) -> list[tuple[int, int]]:
    """[(first, end)] of the shots of frames whose `cuts` say they begin one: one span without a cut."""
    starts = sorted({0, *np.flatnonzero(np.asarray(cuts, bool)).tolist()})
    return list(zip(starts, [*starts[1:], len(cuts)]))


def parse_size(value: str | Sequence[int] | None, option: str = "--size") -> tuple[int, int] | None:
    """A (width, height) in pixels from 'WxH' (the command line's form) or a (w, h) pair (a Python caller's);
    None or '' -> None. Raises ValueError naming `option` for anything else, a side under 1 or over MAX_SIDE
    (a typo's 100000x100000 would run out of memory, or fill a disk, before saying anything)."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str):
            w, h = (int(v) for v in value.lower().split("x"))
        else:
            w, h = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{option} must be WxH (e.g. 640x360) or (width, height), got {value!r}") from None
    if w < 1 or h < 1:
        raise ValueError(f"{option} must be positive, got {w}x{h}")
    if max(w, h) > MAX_SIDE:
        raise ValueError(f"{option} {w}x{h}: at most {MAX_SIDE} pixels a side")
    return w, h


def plain_numbers(options: Any, whole: Iterable[str], real: Iterable[str] = ("fps",)) -> None:
    """In place, on a (frozen) dataclass of options: the fields named in `whole` as Python ints and those in
    `real` as floats (None stays None), so that options read with numpy (np.int64, np.float32) are recorded in
    JSON as the same options from the command line are. Raises ValueError naming the option (`--name`) for a
    `whole` value that is not a whole number (2.5)."""
    for name in whole:
        value = getattr(options, name)
        if value is not None:
            try:
                object.__setattr__(options, name, operator.index(value))
            except TypeError:
                raise ValueError(f"--{name.replace('_', '-')} must be a whole number, got {value!r}") from None
    for name in real:
        value = getattr(options, name)
        if value is not None:
            object.__setattr__(options, name, float(value))


def check_clip_values(stack: int | None = None, step: int | None = None, fps: float | None = None, mode: str | None = None,
                      size: int | None = None, stream: int | None = None, decoder: str | None = None) -> None:
    """`ClipSpec`'s checks, for callers that hold some of its values before the model fixes the rest (None:
    not given). Raises ValueError in one line naming the option, e.g. "--step must be at least 1, got 0"."""
    if mode is not None and mode not in MODES:
        raise ValueError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    if decoder is not None and decoder not in DECODERS:
        raise ValueError(f"--decode must be one of {', '.join(DECODERS)}, got {decoder!r}")
    for name, value, low in (("stack", stack, 1), ("step", step, 1), ("size", size, 16), ("stream", stream, 0)):
        if value is not None and value < low:
            raise ValueError(f"--{name} must be at least {low}, got {value}")
    if fps is not None and not fps > 0:
        raise ValueError(f"--fps must be above 0, got {fps:g}")
    if fps is not None and math.isinf(fps):  # every frame's time would be 0
        raise ValueError(f"--fps must be a finite number, got {fps:g}")


@dataclass(frozen=True)
class ClipSpec:
    """How every input of a run is decoded and cut into clips: built once (from the command line or a Python
    call), validated here, pickled whole to decode workers and stored whole in outputs (`to_dict`).

    Raises ValueError, in one line naming the option, for a value no run can honour. `step` None becomes
    `stack` (clips that touch), so two specs that cut the same clips are equal.
    """

    stack: int = 16  # frames per clip
    step: int | None = None  # frames between clip starts; None = stack
    fps: float | None = None  # --fps: a video's clips are cut at this rate; a frame folder's own rate
    mode: str = "center"
    size: int = 112  # the model's crop L (pixels)
    cover_tail: bool = False  # add a last clip ending on the last frame, so every frame is covered
    stream: int | None = None  # which video stream of a file (None: the first)
    decoder: str = "cpu"  # "cpu" (FFmpeg, resized in swscale) or "nvdec" (GPU decoder via torchcodec; experimental)

    def __post_init__(self) -> None:
        plain_numbers(self, ("stack", "step", "size", "stream"))
        check_clip_values(self.stack, self.step, self.fps, self.mode, self.size, self.stream, self.decoder)
        if self.step is None:
            object.__setattr__(self, "step", self.stack)

    @property
    def stride(self) -> int:
        """Frames between clip starts (`step`, typed as always set)."""
        return self.step or self.stack

    def to_dict(self) -> dict[str, Any]:
        """Every field, as JSON values (stored whole in each feature file's settings, under "clips")."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, fields: dict[str, Any]) -> ClipSpec:
        """The spec `to_dict` stored (validated again). Raises ValueError for unknown or invalid fields."""
        names = {f.name for f in dataclasses.fields(cls)}
        if not set(fields) <= names:
            raise ValueError(f"unknown clip settings: {', '.join(sorted(set(fields) - names))}")
        return cls(**fields)

    def open(self, path: str | Path, threads: int = 0) -> VideoReader:
        """The reader of one input (a video file or a folder of frames, read at `fps`). threads: FFmpeg decoder
        threads for the cpu decoder (0: FFmpeg's choice; the frames are the same). Errors are `VideoError`s
        naming the file."""
        if self.decoder == "nvdec":
            from .nvdec import NvdecReader  # imports torch: only when asked for

            return NvdecReader(path, stream=self.stream, fps=self.fps)
        return VideoReader(path, stream=self.stream, fps=self.fps, threads=threads)

    def clips(self, path: str | Path, threads: int = 0) -> tuple[VideoReader, Iterator[Clip]]:
        """The reader of one input and its clip stream (`iter_clips`)."""
        reader = self.open(path, threads)
        return reader, iter_clips(reader, self)


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
    for _, frame in _sampled(frames, fps, None):
        yield frame


def _sampled(frames: Iterable[Frame], fps: float | None, shots: Callable[[Frame], bool] | None) -> Iterator[tuple[bool, Frame]]:
    """(whether it begins a new shot, frame) of every sampled frame: with `fps`, for every tick of a `fps` clock
    the decoded frame nearest in time, else every frame. shots: asked of every decoded frame in order; a shot's
    clock starts at its first frame (the video's at time 0), and no tick takes a frame of another shot."""
    period = 1.0 / fps if fps else None
    origin, tick = 0.0, 0
    prev: Frame | None = None
    for cur in frames:
        new = shots is not None and shots(cur) and prev is not None
        if new:
            origin, tick, prev = cur.time, 0, None
        if period is None:
            yield new, cur
            prev = cur
            continue
        while origin + tick * period <= cur.time:
            target = origin + tick * period
            yield new, prev if prev is not None and target - prev.time < cur.time - target else cur
            new, tick = False, tick + 1
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


def iter_clips(reader: VideoReader, spec: ClipSpec, shots: Callable[[Frame], bool] | None = None) -> Iterator[Clip]:
    """Stream clips of `spec.stack` frames every `spec.stride` sampled frames, a video's frames resampled to
    `spec.fps` first (a frame folder's reader is already at that rate).

    Holds at most `stack` frames. A video shorter than one clip gives one clip padded with its last frame
    (`Clip.padded` says by how much). shots: asked of every decoded frame in order (resized, before any crop
    or resampling) whether it begins a new shot (a scene cut, `saliency.shots`); each shot is then resampled and
    clipped as a video of its own (no clip spans a cut; a shot shorter than one clip is padded), else the video
    is one shot.
    """
    geo = geometry(spec.mode, spec.size, reader.info.width, reader.info.height)
    fps = spec.fps if spec.fps and not reader.is_folder else None
    stack, stride = spec.stack, spec.stride
    window: deque[Frame] = deque(maxlen=stack)
    n = 0  # sampled frames of this shot seen
    last_start = -1
    for new, frame in _sampled(reader.frames(geo.resize), fps, shots):
        if new and n:
            yield from _shot_end(window, n, last_start, spec)
            window.clear()
            n, last_start = 0, -1
        window.append(_crop(frame, geo))
        n += 1
        start = n - stack
        if start >= 0 and start % stride == 0:
            last_start = start
            yield _make_clip(list(window), stack)
    yield from _shot_end(window, n, last_start, spec)


def _shot_end(window: deque[Frame], n: int, last_start: int, spec: ClipSpec) -> Iterator[Clip]:
    """The clip that ends a shot of `n` sampled frames whose last full clip began at `last_start`, if any: the shot
    padded when shorter than one clip, else its last `stack` frames where `spec.cover_tail` and not clipped yet."""
    if n == 0:
        return
    if n < spec.stack or (spec.cover_tail and last_start != n - spec.stack):
        yield _make_clip(list(window), spec.stack)


def count_clips(n_frames: int, spec: ClipSpec) -> int:
    """Clips `iter_clips` yields for `n_frames` sampled frames (for progress estimates and tests)."""
    if n_frames <= 0:
        return 0
    if n_frames < spec.stack:
        return 1
    full = (n_frames - spec.stack) // spec.stride + 1
    tail = spec.cover_tail and (n_frames - spec.stack) % spec.stride != 0
    return full + int(tail)
