"""The `mosi-tool` command line: one module per command; they stay thin and call library code."""

from __future__ import annotations

import os

# Before numpy loads its OpenBLAS: numpy's matrix products here are small, and OpenBLAS's worker threads
# busy-wait for work after start-up (about 0.1 CPU-s each, on every process of a batch, one per core).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import logging  # noqa: E402
from typing import Annotated, Callable, Optional

import typer

from ..version import __version__

app = typer.Typer(
    name="mosi-tool",
    help="MoSI video backbones: train from static images, export compiled engines, extract features and motion saliency.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mosi-tool {__version__}")
        raise typer.Exit()


class _StderrLines(logging.Handler):
    """Each record as its own line on stderr, as the command's other status lines (`progress.info`)."""

    def emit(self, record: logging.LogRecord) -> None:
        from ..progress import info

        info(record.getMessage())


def _say_library_notes() -> Callable[[], None]:
    """Print what the library logs at INFO and above (`runtime auto: ...`, loader/__init__.py) while a command
    runs; a Python call logs it without printing. Returns the undo, run when the command ends."""
    logger = logging.getLogger("mosi_tool")
    handler, level = _StderrLines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)

    return undo


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    """MoSI video backbones: train, export, extract features and saliency."""
    from .signals import terminate_as_exit

    ctx.call_on_close(_say_library_notes())
    ctx.with_resource(terminate_as_exit())  # every command: SIGTERM removes the temporary file of an output being written


def _register() -> None:
    from . import convert, demo, evaluate, export, features, finetune, info, motions, saliency, targets, train, tune

    for module in (train, motions, features, saliency, targets, export, tune, convert, info, finetune, demo):
        module.register(app)
    app.add_typer(evaluate.app, name="eval", help="Evaluate a model: pretext accuracy, DAVIS motion saliency, a linear motion probe.")


_register()


def main() -> None:
    """The console script. A usage error (an option's value out of range, an unknown option) is one line on
    stderr, `error: ...` as every other error of the tool, with Click's exit code 2."""
    import sys

    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        print("Aborted!", file=sys.stderr)
        sys.exit(1)
    except typer.TyperException as e:  # Click's usage errors
        ctx = getattr(e, "ctx", None)
        if type(e).__name__ == "NoArgsIsHelpError":  # `mosi-tool` alone: making the error showed the help
            sys.exit(e.exit_code)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        print(f"error: {e.format_message()}{hint}", file=sys.stderr)
        sys.exit(e.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
