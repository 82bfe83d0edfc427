"""mosi-tool: MoSI video backbones, trained from static images, compiled for fast feature and saliency extraction."""

from __future__ import annotations

from .version import __version__

from typing import TYPE_CHECKING, Iterator, overload

if TYPE_CHECKING:
    from pathlib import Path

    from .motion_targets.compute import Targets
    from .runtimes.base import Engine
    from .video.motion import MotionField


def load_model(path: str | Path | None = None, device: str = "auto", **kwargs: object) -> Engine:
    """Load a checkpoint or compiled engine; call it with uint8 RGB clips (N, T, H, W, 3), numpy or torch.

    The result returns `logits`, `features` and `cam` (class activation maps, (N, classes, t, h, w)), as numpy
    arrays for a numpy input and torch tensors for a tensor.
    Normalisation happens inside, from the file's own metadata. `path=None` uses the default model.
    """
    from .default_model import default_model_path
    from .loader import load_engine

    return load_engine(path if path is not None else default_model_path(), device=device, **kwargs)  # type: ignore[arg-type]


def default_model_path() -> Path:
    """Path of the default checkpoint used wherever `--model` is omitted."""
    from .default_model import default_model_path as _default

    return _default()


@overload
def motion(path: str | Path, stream: int | None = ..., fps: float | None = ..., camera_model: str = ..., chunk: None = ...) -> MotionField: ...
@overload
def motion(path: str | Path, stream: int | None = ..., fps: float | None = ..., camera_model: str = ..., *, chunk: int) -> Iterator[MotionField]: ...


def motion(path: str | Path, stream: int | None = None, fps: float | None = None, camera_model: str = "similarity",
           chunk: int | None = None) -> MotionField | Iterator[MotionField]:  # fmt: skip
    """The motion field and camera motion of one video (`mosi_tool.video.motion`).

    Returns a `MotionField`: `vectors` (F, ceil(H/8), ceil(W/8), 2) float32 px/frame from the codec's motion
    vectors (optical flow for streams without them), `camera` (F, 2, 3) (frame t's pixels -> frame t-1's),
    `times`, `coded`, `known`. With `chunk`, an iterator of consecutive fields of `chunk` frames instead, for
    long videos (the chunks join into the same field). fps: a frame folder's rate. Errors: `VideoError`.
    """
    from .video.motion import iter_motion, read_motion

    if chunk is not None:
        return iter_motion(path, stream, fps, model=camera_model, chunk=chunk)
    return read_motion(path, stream, fps, model=camera_model)


def targets(path: str | Path, length: int = 4, starts: int = 1, compensate: bool = True, size: tuple[int, int] | None = None,
            camera_model: str = "similarity", stream: int | None = None, fps: float | None = None) -> Targets:  # fmt: skip
    """The motion targets of one video, the arrays `mosi-tool targets` writes (docs/TARGETS.md): a `Targets`
    with `trajectories`, `valid`, `start_frames`, `vectors`, `camera`, `patch_motion`, `frame_boxes`,
    `video_box`, `times` and `info`. Errors: `VideoError` naming the file, ValueError for bad options."""
    from .motion_targets.compute import TargetOptions, compute_targets

    opts = TargetOptions(length=length, starts=starts, compensate=compensate, size=size, camera_model=camera_model, stream=stream, fps=fps)
    return compute_targets(path, opts)


__all__ = ["__version__", "load_model", "default_model_path", "motion", "targets"]
