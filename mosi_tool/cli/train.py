"""`mosi-tool train`: MoSI pre-training."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .options import (
    AxesOpt, CameraOpt, CropOpt, DeviceOpt, FramesOpt, JitterOpt, NoMaskOpt, SourceSizeOpt, SpeedsOpt,
    handle_errors, motion_overrides,
)  # fmt: skip


def register(app: typer.Typer) -> None:
    @app.command("train")
    @handle_errors
    def train(
        data: Annotated[str, typer.Option("--data", help="imagenet (train/<wnid>/*), images (any tree) or videos (any folder).")] = "imagenet",
        root: Annotated[Optional[list[Path]], typer.Option("--root", help="Data folder; repeat it to train on several as one data set.")] = None,
        out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: checkpoints, metrics.csv, curves.png.")] = Path("runs/mosi"),
        arch: Annotated[Optional[str], typer.Option("--arch", help="r2plus1d_10 (default) or r2d3d_18.")] = None,
        width: Annotated[Optional[int], typer.Option("--width", help="Base channel width (64 = the paper's network).")] = None,
        preset: Annotated[str, typer.Option("--preset", help="paper (default) or tiny (laptop-sized, for tests and demos).")] = "paper",
        config: Annotated[Optional[Path], typer.Option("--config", help="JSON config (e.g. a run's config.json).")] = None,
        epochs: Annotated[Optional[int], typer.Option("--epochs", help="Default 100.")] = None,
        batch_size: Annotated[Optional[int], typer.Option("--batch-size", "-b", help="Source images per device per step (x9 clips).")] = None,
        lr: Annotated[Optional[float], typer.Option("--lr", help="Base learning rate (Adam). Default 1e-3.")] = None,
        warmup_epochs: Annotated[Optional[float], typer.Option("--warmup-epochs", help="Linear warm-up length. Default 10.")] = None,
        per_class: Annotated[Optional[int], typer.Option("--per-class", help="ImageNet-S<N>: N images per class, fixed seed.")] = None,
        val_fraction: Annotated[Optional[float], typer.Option("--val-fraction", help="Held-out sources. Default 0.05.")] = None,
        limit: Annotated[Optional[int], typer.Option("--limit", help="Use at most N training sources (quick runs).")] = None,
        frames_per_video: Annotated[Optional[int], typer.Option("--frames-per-video", help="--data videos: random frames per video per epoch.")] = None,
        workers: Annotated[Optional[int], typer.Option("--workers", help="Data loader processes.")] = None,
        seed: Annotated[Optional[int], typer.Option("--seed")] = None,
        device: DeviceOpt = "auto",
        precision: Annotated[Optional[str], typer.Option("--precision", help="auto (default: bf16 on CUDA and on CPUs with AMX/AVX512-BF16, else fp32), fp32 or bf16 autocast. Recorded in the checkpoint.")] = None,
        cache: Annotated[Optional[bool], typer.Option("--cache/--no-cache", help="Decode each source image once into a uint8 memory-mapped cache (in the cache folder). Default on.")] = None,
        speeds: SpeedsOpt = None,
        frames: FramesOpt = None,
        crop: CropOpt = None,
        source_size: SourceSizeOpt = None,
        no_mask: NoMaskOpt = False,
        axes: AxesOpt = None,
        jitter: JitterOpt = None,
        camera: CameraOpt = None,
        init: Annotated[Optional[Path], typer.Option("--init", help="Start from this checkpoint's weights (.safetensors of the same architecture, width and classes), e.g. to continue a model with another recipe.")] = None,
        resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last full epoch.")] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the config and data summary, then stop.")] = False,
    ) -> None:
        """Pre-train a backbone with MoSI on images or videos (no labels)."""
        from mosi_tool.training.config import TrainConfig, build_config
        from mosi_tool.training.loop import select_sources, training_loop

        top = {"arch": arch, "width": width, "epochs": epochs, "batch_size": batch_size, "seed": seed, "precision": precision,
               "init": str(init) if init else None}  # fmt: skip
        overrides: dict[str, Any] = {k: v for k, v in top.items() if v is not None}
        overrides["device"], overrides["out"] = device, str(out)
        data_over = {"kind": data, "root": (str(root[0]) if len(root) == 1 else [str(r) for r in root]) if root else None, "per_class": per_class, "val_fraction": val_fraction,
                     "limit": limit, "frames_per_video": frames_per_video, "workers": workers, "cache": cache}  # fmt: skip
        overrides["data"] = {k: v for k, v in data_over.items() if v is not None}
        optim = {"lr": lr, "warmup_epochs": warmup_epochs}
        overrides["optim"] = {k: v for k, v in optim.items() if v is not None}
        overrides["motion"] = motion_overrides(speeds, frames, crop, source_size, no_mask, axes, jitter, camera)
        if resume:
            saved = out / "config.json"
            if not saved.exists():
                raise FileNotFoundError(f"{out}: no config.json to resume from")
            cfg = TrainConfig.load(saved)
            if epochs is not None:
                cfg.epochs = epochs  # the one setting a resume may change: train longer
            cfg.device, cfg.out = device, str(out)  # a copied run folder continues in the copy
        else:
            if not root:
                raise ValueError("--root is required (the data folder)")
            cfg = build_config(preset, config, overrides)
        if dry_run:
            tr, va = select_sources(cfg)
            typer.echo(cfg.to_json())
            typer.echo(f"{len(tr)} training sources, {len(va)} held out, {cfg.motion.num_classes} classes")
            return
        run = training_loop(cfg, resume=resume, command=" ".join(["mosi-tool", *sys.argv[1:]]))
        typer.echo(f"checkpoints: {run / 'best.safetensors'}  {run / 'last.safetensors'}")
        typer.echo(f"metrics: {run / 'metrics.csv'}  curves: {run / 'curves.png'}")
