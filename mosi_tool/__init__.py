"""mosi-tool: MoSI video backbones, trained from static images, compiled for fast feature and saliency extraction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, overload

from .version import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from .api import features

    from .motion_targets.compute import Targets
    from .runtimes.base import Engine
    from .video.motion import MotionField


def load_model(
    path: str | Path | None = None, device: str = "auto", *, precision: str = "fp32", compile: bool = False, mode: str | None = "center"
) -> Engine:
    """Open exactly the model file `path` (default: the bundled model), in the runtime its suffix names:
    .safetensors in PyTorch, .onnx in ONNX Runtime, .engine in TensorRT, .pt2 in AOTInductor. Nothing is
    timed, exported or printed; choosing the fastest path is `mosi-tool tune` (or `mosi_tool.tune.tune`).

    Call the result with uint8 RGB clips (N, T, H, W, 3), numpy or torch, T the model's frames
    (`engine.meta.frames`). It returns `logits` (N, classes), `features` (N, D) and `cam` (class activation
    maps, (N, classes, t, h, w)), as numpy arrays for a numpy input and torch tensors for a tensor.
    Normalisation happens inside, from the file's own metadata.

    Raw decoded frames of any size are preprocessed as `mosi-tool features --mode` does, from the model's
    metadata: `mode="center"` (default) resizes the short side to 8/7 of the model's crop and takes the centre
    crop, `mode="full"` resizes the short side to the crop (long side a multiple of 16). Clips already at a
    size the project's sampling makes (crop x crop, or the short side the crop and the long side a multiple
    of 16) are used as they are, so clips from `mosi_tool.video.clips.iter_clips` pass unchanged. `mode=None`
    takes every clip as given (a fully convolutional model accepts any H, W >= 16; e.g. `saliency --size`). `precision` (bf16/fp16 autocast) and `compile`
    (torch.compile) apply to checkpoints. Raises EngineError (or CheckpointError) naming the file.
    """
    from .default_model import default_model_path
    from .runtimes import open_engine

    if mode not in (None, "center", "full"):
        raise ValueError(f"mode must be center, full or None, got {mode!r}")
    engine = open_engine(path if path is not None else default_model_path(), device, precision=precision, compile=compile)
    engine.preprocess = mode
    return engine


def default_model_path() -> Path:
    """Path of the default checkpoint used wherever `--model` is omitted."""
    from .default_model import default_model_path as _default

    return _default()


@overload
def motion(path: str | Path, stream: int | None = ..., fps: float | None = ..., camera_model: str = ..., chunk: None = ...,
           measure_references: bool = ..., letterbox: bool = ..., cuts: bool = ...) -> MotionField: ...
@overload
def motion(path: str | Path, stream: int | None = ..., fps: float | None = ..., camera_model: str = ..., *, chunk: int,
           measure_references: bool = ..., letterbox: bool = ..., cuts: bool = ...) -> Iterator[MotionField]: ...


def motion(path: str | Path, stream: int | None = None, fps: float | None = None, camera_model: str = "similarity",
           chunk: int | None = None, measure_references: bool = True, letterbox: bool = True,
           cuts: bool = True) -> MotionField | Iterator[MotionField]:  # fmt: skip
    """The motion field and camera motion of one video (`mosi_tool.video.motion`).

    Returns a `MotionField`: `vectors` (F, ceil(H/8), ceil(W/8), 2) float32 px/frame from the codec's motion
    vectors (optical flow for streams without them), `camera` (F, 2, 3) (frame t's pixels -> frame t-1's),
    `times`, `coded`, `known`. With `chunk`, an iterator of consecutive fields of `chunk` frames instead, for
    long videos (the chunks join into the same field). fps: a frame folder's rate. camera_model: similarity
    (pan, zoom, rotation), affine, or auto (the affine model on frames where it fits clearly more: the one
    `saliency` uses); another value is a ValueError naming the choices. measure_references: each codec block's
    reference frame measured on the decoded pictures (the default; the pictures are then decoded in full, which
    is slower than parsing the vectors alone), else estimated from the vectors (`mosi_tool.video.motion` module
    docstring: faster, but where the encoder pointed blocks 2 or more frames back, as x264's P-frames do, cells
    can read 2x too fast); `mosi-tool saliency --method mv` reads `motion(path, camera_model="auto",
    letterbox=False)`, `targets` `motion(path)`, and `saliency --stabilize` keeps the estimate.
    letterbox: the cells in the video's black bars (letterbox, pillarbox: `video.letterbox`, found from its
    first frames by a short decode of their own) take the camera's motion, as in `targets`. cuts: the scene cuts
    found on the decoded pictures (`MotionField.cuts`; the pictures are then decoded in full) and each shot's
    field made on its own, as `targets` and `saliency` make it; False: the video taken as one shot. Errors: `VideoError` (a
    ValueError, "PATH: reason") for a missing path, a folder without image frames or an unreadable file, as
    every call of the Python API; with `chunk`, when the iterator is first advanced.
    """
    from .saliency.shots import frame_cuts
    from .video.motion import iter_motion, read_motion

    shots = frame_cuts if cuts else None
    if chunk is not None:
        return iter_motion(path, stream, fps, model=camera_model, chunk=chunk, measure=measure_references, letterbox=letterbox, shots=shots)
    return read_motion(path, stream, fps, model=camera_model, measure=measure_references, letterbox=letterbox, shots=shots)


def targets(path: str | Path, length: int = 4, starts: int = 1, compensate: bool = True, size: tuple[int, int] | None = None,
            camera_model: str = "similarity", stream: int | None = None, fps: float | None = None, cuts: bool = True,
            measure_references: bool = True) -> Targets:  # fmt: skip
    """The motion targets of one video, the arrays `mosi-tool targets` writes (docs/TARGETS.md): a `Targets`
    with `trajectories`, `valid`, `start_frames`, `vectors`, `camera`, `patch_motion`, `frame_boxes`,
    `video_box`, `times`, `cuts` and `info`. cuts: scene cuts found and each shot's motion made on its own
    (`--cuts`, the default), else the video taken as one shot. measure_references: `--measure-references` (the
    default) or `--estimate-references` (`motion`). Errors: `VideoError` (a ValueError, "PATH: reason") for a missing path, a
    folder without image frames or an unreadable file, as every call of the Python API; ValueError for bad
    options."""
    from .motion_targets.compute import TargetOptions, compute_targets

    opts = TargetOptions(length=length, starts=starts, compensate=compensate, size=size, camera_model=camera_model, stream=stream, fps=fps,
                         cuts=cuts, measure_references=measure_references)  # fmt: skip
    return compute_targets(path, opts)


def __getattr__(name: str) -> Any:
    """`mosi_tool.features(...)` (`api.features`) and `mosi_tool.saliency(path, ...)` (the arrays `mosi-tool
    saliency` writes: `saliency.api.saliency`; the `saliency` package, calling it runs `api.saliency`), imported
    on first use: importing the package loads no numpy, so the command line can set up the libraries first
    (`cli`)."""
    if name == "features":
        from .api import features

        return features
    if name == "saliency":
        import importlib

        return importlib.import_module(".saliency", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", "features", "load_model", "default_model_path", "motion", "saliency", "targets"]
