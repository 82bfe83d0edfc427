"""`mosi-tool demo`: everything on the bundled sample video, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .options import DeviceOpt, ModelOpt, handle_errors


def register(app: typer.Typer) -> None:
    @app.command("demo")
    @handle_errors
    def demo(
        out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="Where to write the results.")] = Path("mosi_demo"),
        model: ModelOpt = None,
        device: DeviceOpt = "auto",
    ) -> None:
        """Saliency overlay, contact sheet and features of the bundled sample video."""
        from ..demo import run_demo

        for path in run_demo(out_dir, model=model, device=device):
            typer.echo(f"wrote {path}")
