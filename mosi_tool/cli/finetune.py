"""`mosi-tool finetune`: supervised action classification initialised from a MoSI checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import DeviceOpt, handle_errors


def register(app: typer.Typer) -> None:
    @app.command("finetune")
    @handle_errors
    def finetune(
        model: Annotated[Path, typer.Option("--model", "-m", help="MoSI checkpoint (.safetensors) to start from; its head is replaced.")],
        data: Annotated[Path, typer.Option("--data", help="Folder per class (<data>/<class>/*.mp4), or <data>/train/ and <data>/val/.")],
        classes: Annotated[int, typer.Option("--classes", min=2, help="Number of classes (must match the class folders).")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: best/last.safetensors, metrics.csv, config.json.")] = Path("runs/finetune"),
        epochs: Annotated[int, typer.Option("--epochs", min=1, help="Default 300 (the paper's).")] = 300,
        batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Clips per step. Default 32 (paper: 128 per GPU x 8).")] = 32,
        lr: Annotated[Optional[float], typer.Option("--lr", help="Adam learning rate. Default 0.002 x sqrt(batch / 1024).")] = None,
        warmup_epochs: Annotated[float, typer.Option("--warmup-epochs", help="Linear warm-up from lr/10. Default 10.")] = 10,
        weight_decay: Annotated[float, typer.Option("--weight-decay", help="Default 1e-3 (none on BN and biases).")] = 1e-3,
        frame_step: Annotated[int, typer.Option("--frame-step", min=1, help="Frames between sampled clip frames. Default 2.")] = 2,
        eval_clips: Annotated[int, typer.Option("--eval-clips", min=1, help="Uniformly spaced clips averaged per test video.")] = 10,
        val_fraction: Annotated[float, typer.Option("--val-fraction", help="Held-out videos per class when there is no val/ folder.")] = 0.2,
        jitter: Annotated[bool, typer.Option("--jitter/--no-jitter", help="Clip-wise colour jitter (MoSI's parameters).")] = True,
        workers: Annotated[int, typer.Option("--workers", min=0, help="Decoding processes.")] = 4,
        seed: Annotated[int, typer.Option("--seed")] = 0,
        device: DeviceOpt = "auto",
        amp: Annotated[bool, typer.Option("--amp/--no-amp", help="bf16 autocast on CUDA.")] = True,
    ) -> None:
        """Fine-tune a MoSI backbone for action classification (10-clip evaluation per video)."""
        from mosi_tool.training.finetune import FinetuneConfig, finetune as run_finetune

        cfg = FinetuneConfig(
            model=str(model), data=str(data), classes=classes, out=str(out), epochs=epochs, batch_size=batch_size, lr=lr,
            warmup_epochs=warmup_epochs, weight_decay=weight_decay, frame_step=frame_step, eval_clips=eval_clips,
            val_fraction=val_fraction, jitter=jitter, workers=workers, seed=seed, device=device, amp=amp,
        )  # fmt: skip
        run = run_finetune(cfg, command=" ".join(["mosi-tool", *sys.argv[1:]]))
        typer.echo(f"checkpoints: {run / 'best.safetensors'}  {run / 'last.safetensors'}")
        typer.echo(f"metrics: {run / 'metrics.csv'}")
