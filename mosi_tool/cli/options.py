"""Options shared by several commands, defined once."""

from __future__ import annotations

import contextlib
import functools
import sys
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Optional, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])

# --- model and runtime -------------------------------------------------------------------------
ModelOpt = Annotated[
    Optional[Path],
    typer.Option("--model", "-m", help="Checkpoint (.safetensors) or engine (.onnx, .engine, .pt2). Default: the bundled model."),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]
RuntimeOpt = Annotated[
    Optional[str],
    typer.Option(
        "--runtime",
        help="auto (default for checkpoints on CPU: the path `mosi-tool tune` measured fastest here, measured once, cached and "
        "reported in one line; may run bf16 or int8 within their documented bounds), torch, onnx, tensorrt or aoti. "
        "Default otherwise: the runtime the file's suffix names.",
    ),
]
CompileOpt = Annotated[bool, typer.Option("--compile", help="Checkpoints only: run through torch.compile.")]
BatchOpt = Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Clips per engine call.")]

# --- clip sampling -----------------------------------------------------------------------------
StackOpt = Annotated[Optional[int], typer.Option("--stack", min=1, help="Frames per clip. Default: the model's.")]
StepOpt = Annotated[Optional[int], typer.Option("--step", min=1, help="Frames between clip starts. Default: --stack.")]
FpsOpt = Annotated[
    Optional[float], typer.Option("--fps", help="Resample videos to this frame rate first; for frame folders, their rate.")
]
SizeOpt = Annotated[
    Optional[int],
    typer.Option("--size", min=16, help="Input short side in pixels (default: the model's clip size). Larger: finer maps, slower."),
]
StreamOpt = Annotated[Optional[int], typer.Option("--stream", min=0, help="Which video stream of a file (default: the first).")]

# --- pseudo-motion generator (train, motions) ---------------------------------------------------
SpeedsOpt = Annotated[Optional[int], typer.Option("--speeds", help="K: speeds per axis (3, 5, 7, 9). Default 5.")]
FramesOpt = Annotated[Optional[int], typer.Option("--frames", help="T: frames per clip. Default 16.")]
CropOpt = Annotated[Optional[int], typer.Option("--crop", help="L: clip size in pixels. Default 112.")]
SourceSizeOpt = Annotated[Optional[int], typer.Option("--source-size", help="Ls: source square size. Default 320.")]
NoMaskOpt = Annotated[bool, typer.Option("--no-mask", help="Unmasked MoSI: the whole frame moves.")]
AxesOpt = Annotated[Optional[str], typer.Option("--axes", help="xy (default), or x / y for the one-axis ablations.")]
JitterOpt = Annotated[Optional[bool], typer.Option("--jitter/--no-jitter", help="Per-frame colour jitter. Default on.")]
CameraOpt = Annotated[Optional[int], typer.Option("--camera", min=0, help="Camera pan: the masked clip's background pans by up to N source pixels per axis and the label is the square's motion relative to it. Default 0 (a still camera, as in the paper).")]

# The batch commands' inputs (features, targets): what they read and whether they redo finished outputs.
InputsArg = Annotated[Optional[list[Path]], typer.Argument(help="Videos, frame folders, or folders to search recursively.")]
ShardOpt = Annotated[Optional[str], typer.Option("--shard", help="i/n: process only part i of n deterministic parts, counted from 0.")]
BackendOpt = Annotated[str, typer.Option("--backend", help="local (default) or ray (Ray tasks; the output folder must be reachable from the workers).")]
ListOpt = Annotated[Optional[Path], typer.Option("--list", help="A text file with one video path per line (relative to its folder; a whole-number label after the path, as training lists write it, is left out).")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Recompute outputs that already exist.")]
JsonOpt = Annotated[Optional[Path], typer.Option("--json", help="Also write all figures to this JSON file.")]


def motion_overrides(
    speeds: int | None, frames: int | None, crop: int | None, source_size: int | None,
    no_mask: bool, axes: str | None, jitter: bool | None, camera: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The generator options a user actually gave, as MotionConfig fields."""
    given = {"speeds": speeds, "frames": frames, "crop": crop, "source_size": source_size, "axes": axes, "jitter": jitter,
             "camera": camera}  # fmt: skip
    out = {k: v for k, v in given.items() if v is not None}
    if no_mask:
        if camera:
            raise ValueError("--camera pans the background outside the static mask; it cannot be used with --no-mask")
        out["mask"] = False
    return out


# The project's own error types, by module: a command that never imported a module cannot have raised its
# error, so none of them is imported just to be caught (checkpoint's would import torch into every command).
_ERROR_TYPES = {"checkpoint": "CheckpointError", "metadata": "MetadataError", "runtimes.base": "EngineError", "video.decode": "VideoError"}


def user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that are the user's to fix (a bad file or option), of the modules loaded so far."""
    root = __name__.rsplit(".", 2)[0]
    loaded = [getattr(sys.modules[f"{root}.{m}"], name) for m, name in _ERROR_TYPES.items() if f"{root}.{m}" in sys.modules]
    return (*loaded, FileNotFoundError, FileExistsError, ValueError)


def error_line(e: BaseException) -> str:
    """One line for the user: an OS error as "PATH: REASON" (e.g. "out/x.npz: cannot write (No space left on
    device)"), anything else as its message (a data loader worker's error as the worker's own message)."""
    from ..atomic import OutputError, target_of

    if isinstance(e, OSError) and not isinstance(e, OutputError) and e.filename is not None and e.strerror:
        target = target_of(e.filename)  # an error writing a temporary file is about the file it stands for
        return f"{target}: cannot write ({e.strerror})" if target else f"{e.filename}: {e.strerror}"
    text = str(e) or type(e).__name__
    if text.startswith("Caught ") and "\nOriginal Traceback" in text:  # a DataLoader worker's error, its traceback appended
        last = text.rstrip().splitlines()[-1]  # "ValueError: the message"
        text = last.split(": ", 1)[1] if ": " in last else last
    return text


def handle_errors(func: F) -> F:
    """Turn expected failures (bad files, bad options, a read-only or full disk) into one 'error: ...' line
    and exit code 2, and Ctrl-C into one 'interrupted' line and exit code 130 (a batch command's `resumable`
    says more)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            typer.echo("interrupted: the output being written was abandoned; finished files are kept", err=True)
            raise typer.Exit(130) from None
        except Exception as e:
            if not isinstance(e, (*user_errors(), OSError)):
                raise
            typer.echo(f"error: {error_line(e)}", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def resumable(out_dir: Path) -> Iterator[None]:
    """A batch run into `out_dir`: Ctrl-C ends it with one line, that the finished files are kept and the same
    command resumes, and exit code 130."""
    try:
        yield
    except KeyboardInterrupt:
        typer.echo(f"interrupted: the finished files in {out_dir} are kept; run the same command again to resume", err=True)
        raise typer.Exit(130) from None


def say_failure_log(failed: int, out_dir: Path) -> None:
    """Point at the batch's failures.jsonl when videos failed and the log holds them (a folder that refused the
    log was said already, as a warning, and the failures were printed instead)."""
    log = out_dir / "failures.jsonl"
    if failed and log.is_file():
        typer.echo(f"failures: {log}", err=True)
