"""`mosi-tool motions`: see what MoSI trains on."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import AxesOpt, CameraOpt, CropOpt, FramesOpt, JitterOpt, NoMaskOpt, SourceSizeOpt, SpeedsOpt, handle_errors, motion_overrides


def register(app: typer.Typer) -> None:
    @app.command("motions")
    @handle_errors
    def motions(
        image: Annotated[Path, typer.Argument(help="A source image.")],
        out: Annotated[Path, typer.Option("--out", "-o", help=".npz (arrays), .gif (animation) or .png (contact sheet).")],
        model: Annotated[Optional[Path], typer.Option("--model", "-m", help="Show the clips this MoSI checkpoint was trained on (its frames, crop, source size, speeds, axes, mask and camera pan; colour jitter only with --jitter); e.g. mosi_tool/assets/default_model.safetensors. Default: the paper's generator (16 frames of 112x112 from 320-pixel sources).")] = None,
        seed: Annotated[int, typer.Option("--seed", help="Random starts, flips, jitter and masks.")] = 0,
        val: Annotated[bool, typer.Option("--val", help="Validation mode: centred, no jitter or flip, seeded masks.")] = False,
        speeds: SpeedsOpt = None,
        frames: FramesOpt = None,
        crop: CropOpt = None,
        source_size: SourceSizeOpt = None,
        no_mask: NoMaskOpt = False,
        axes: AxesOpt = None,
        jitter: JitterOpt = None,
        camera: CameraOpt = None,
    ) -> None:
        """Write the pseudo-motion clips (one per class) that MoSI makes from one image."""
        from mosi_tool.training.preview import motion_clips, write_motions
        from mosi_tool.training.pseudo_motion import MotionConfig

        if not image.is_file():
            raise FileNotFoundError(f"{image}: no such image")
        if out.suffix.lower() not in (".npz", ".gif", ".png"):
            raise ValueError(f"{out}: use .npz, .gif or .png")
        overrides = motion_overrides(speeds, frames, crop, source_size, no_mask, axes, jitter, camera)
        if model is not None:
            from ..evaluation.pretext import motion_config
            from ..loader import read_model_meta

            meta = read_model_meta(model)
            if meta.task != "mosi":
                raise ValueError(f"{model}: a '{meta.task}' model; --model needs a MoSI checkpoint")
            cfg = dataclasses.replace(motion_config(meta, meta.mask), flip=True, **overrides)  # jitter only with --jitter: not recorded
        else:
            cfg = MotionConfig(**overrides)
        try:
            data = motion_clips(image, cfg, seed=seed, train=not val)
        except OSError as e:
            raise ValueError(f"{image}: cannot read image ({e})") from None
        write_motions(out, data)
        c, t, size = data["clips"].shape[:3]
        typer.echo(f"{out}: {c} clips of {t} frames at {size}x{size}")
        typer.echo("labels: class index, the crop window's speed (x-2: leftwards at speed 2, y+1: downwards at "
                   "speed 1), and an arrow for where the content moves on screen (against the window)")  # fmt: skip
