"""The `mosi-tool` command line: one module per command; they stay thin and call library code."""

from __future__ import annotations

from typing import Annotated, Optional

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


@app.callback()
def _root(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    """MoSI video backbones: train, export, extract features and saliency."""


def _register() -> None:
    from . import convert, demo, evaluate, export, features, finetune, info, motions, saliency, targets, train, tune

    for module in (train, motions, features, saliency, targets, export, tune, convert, info, finetune, demo):
        module.register(app)
    app.add_typer(evaluate.app, name="eval", help="Evaluate a model: pretext accuracy, DAVIS motion saliency, a linear motion probe.")


_register()


def main() -> None:
    app()
