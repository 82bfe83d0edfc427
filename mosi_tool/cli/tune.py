"""`mosi-tool tune`: measure which path runs a checkpoint fastest on this CPU, and cache the choice."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import BatchOpt, handle_errors


def register(app: typer.Typer) -> None:
    @app.command("tune")
    @handle_errors
    def tune(
        model: Annotated[Optional[Path], typer.Option("--model", "-m", help="Checkpoint (.safetensors); engines run as they are. Default: the bundled model.")] = None,
        batch_size: BatchOpt = 16,
        threads: Annotated[Optional[int], typer.Option("--threads", min=1, help="Intra-op threads to measure with (default: torch's).")] = None,
        again: Annotated[bool, typer.Option("--again", help="Measure again even if a choice is cached.")] = False,
    ) -> None:
        """Time PyTorch fp32/bf16 and ONNX Runtime fp32/int8 on this CPU for a checkpoint, compare their outputs
        with PyTorch fp32, and cache the fastest within bounds: what `--runtime auto` then runs. One line."""
        from ..tune import tune as measure

        measure(model or _default(), batch_size, threads, log=typer.echo, again=again)


def _default():  # the bundled model, where --model is omitted
    from ..default_model import default_model_path

    return default_model_path()
