"""`mosi-tool train`: MoSI pre-training."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .options import (
    AxesOpt, CropOpt, DeviceOpt, FramesOpt, JitterOpt, NoMaskOpt, SourceSizeOpt, SpeedsOpt,
    handle_errors, motion_overrides,
)  # fmt: skip


def build_config(preset: str, config: Path | None, overrides: dict[str, Any]) -> Any:
    """Preset, then a JSON config file, then the flags given on the command line."""
    from training.config import PRESETS, TrainConfig, default_stats

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    raw: dict[str, Any] = TrainConfig().to_dict()
    _merge(raw, PRESETS[preset])
    if config is not None:
        import json

        _merge(raw, json.loads(Path(config).read_text()))
    _merge(raw, overrides)
    if "mean" not in overrides.get("motion", {}) and config is None:
        mean, std = default_stats(raw["data"]["kind"])
        raw["motion"]["mean"], raw["motion"]["std"] = list(mean), list(std)
    return TrainConfig.from_dict(raw)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v


def register(app: typer.Typer) -> None:
    @app.command("train")
    @handle_errors
    def train(
        data: Annotated[str, typer.Option("--data", help="imagenet (train/<wnid>/*), images (any tree) or videos (any folder).")] = "imagenet",
        root: Annotated[Optional[Path], typer.Option("--root", help="Data folder.")] = None,
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
        amp: Annotated[Optional[bool], typer.Option("--amp/--no-amp", help="bf16 autocast on CUDA. Default on.")] = None,
        speeds: SpeedsOpt = None,
        frames: FramesOpt = None,
        crop: CropOpt = None,
        source_size: SourceSizeOpt = None,
        no_mask: NoMaskOpt = False,
        axes: AxesOpt = None,
        jitter: JitterOpt = None,
        resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last full epoch.")] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the config and data summary, then stop.")] = False,
    ) -> None:
        """Pre-train a backbone with MoSI on images or videos (no labels)."""
        from training.config import TrainConfig
        from training.data import find_sources, split_sources, subsample_per_class
        from training.loop import training_loop

        top = {"arch": arch, "width": width, "epochs": epochs, "batch_size": batch_size, "seed": seed, "amp": amp}
        overrides: dict[str, Any] = {k: v for k, v in top.items() if v is not None}
        overrides["device"], overrides["out"] = device, str(out)
        data_over = {"kind": data, "root": str(root) if root else None, "per_class": per_class, "val_fraction": val_fraction,
                     "limit": limit, "frames_per_video": frames_per_video, "workers": workers}  # fmt: skip
        overrides["data"] = {k: v for k, v in data_over.items() if v is not None}
        optim = {"lr": lr, "warmup_epochs": warmup_epochs}
        overrides["optim"] = {k: v for k, v in optim.items() if v is not None}
        overrides["motion"] = motion_overrides(speeds, frames, crop, source_size, no_mask, axes, jitter)
        if resume:
            saved = out / "config.json"
            if not saved.exists():
                raise FileNotFoundError(f"{out}: no config.json to resume from")
            cfg = TrainConfig.load(saved)
            if epochs is not None:
                cfg.epochs = epochs  # the one setting a resume may change: train longer
            cfg.device = device
        else:
            if root is None:
                raise ValueError("--root is required (the data folder)")
            cfg = build_config(preset, config, overrides)
        if dry_run:
            sources = find_sources(cfg.data.kind, cfg.data.root)
            if cfg.data.per_class:
                sources = subsample_per_class(sources, cfg.data.per_class, cfg.seed)
            tr, va = split_sources(sources, cfg.data.val_fraction, cfg.seed)
            typer.echo(cfg.to_json())
            typer.echo(f"{len(tr)} training sources, {len(va)} held out, {cfg.motion.num_classes} classes")
            return
        run = training_loop(cfg, resume=resume, command=" ".join(["mosi-tool", *sys.argv[1:]]))
        typer.echo(f"checkpoints: {run / 'best.safetensors'}  {run / 'last.safetensors'}")
        typer.echo(f"metrics: {run / 'metrics.csv'}  curves: {run / 'curves.png'}")
