"""The `mosi-tool` command line: one module per command; they stay thin and call library code."""

from __future__ import annotations

import logging
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
    ctx.call_on_close(_say_library_notes())


def _register() -> None:
    from . import convert, demo, evaluate, export, features, finetune, info, motions, saliency, targets, train, tune

    for module in (train, motions, features, saliency, targets, export, tune, convert, info, finetune, demo):
        module.register(app)
    app.add_typer(evaluate.app, name="eval", help="Evaluate a model: pretext accuracy, DAVIS motion saliency, a linear motion probe.")


_register()


def main() -> None:
    app()
