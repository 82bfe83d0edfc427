"""`mosi-tool convert`: the authors' released MoSI checkpoints (.pyth) as mosi-tool checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import handle_errors


def register(app: typer.Typer) -> None:
    @app.command("convert")
    @handle_errors
    def convert(
        checkpoint: Annotated[Path, typer.Argument(help="An official MoSI checkpoint (.pyth) from the authors' MODEL_ZOO.md.")],
        out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Where to write the .safetensors checkpoint. Default: beside the input.")] = None,
        dataset: Annotated[Optional[str], typer.Option("--dataset", help="ucf101 or hmdb51: the training data, when neither the file's cfg nor its name says.")] = None,
        class_names: Annotated[Optional[Path], typer.Option("--class-names", help="Fine-tuned models: a text file with one class name per line, in label order.")] = None,
    ) -> None:
        """Convert an official MoSI checkpoint (R(2+1)D-10 or R-2D3D-18, pre-trained or fine-tuned) for every --model.

        The file is read with torch.load(weights_only=True) only: a file that needs code to load is refused.
        Every tensor must map onto exactly one of ours with the same shape, or nothing is written.
        """
        from ..convert import convert as run_convert, read_class_names

        names = read_class_names(class_names) if class_names is not None else None
        target = out if out is not None else checkpoint.with_suffix(".safetensors")
        done = run_convert(checkpoint, target, dataset=dataset, class_names=names)
        meta = done.meta
        kind = "MoSI pretext" if meta.task == "mosi" else "action"
        typer.echo(
            f"{checkpoint} -> {done.out}: {meta.arch}, {meta.num_classes} {kind} classes, "
            f"{len(done.mapping.names)} tensors mapped; model id {meta.model_id}"
        )
        for note in done.notes:
            typer.echo(f"note: {note}")
