"""`mosi-tool motions`: the pseudo-motion clips of one image, as arrays or pictures."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from mosi_tool import viz
from mosi_tool.metadata import motion_label
from mosi_tool.npz import save_npz

from .data import load_image, square_crop
from .pseudo_motion import MotionConfig, PseudoMotion


def motion_clips(image: str | Path, cfg: MotionConfig, seed: int = 0, train: bool = True) -> dict[str, np.ndarray]:
    """C clips of one image: `clips` uint8 (C, T, L, L, 3) RGB, `labels` (C,), `speeds` (C, 2) as (x, y)."""
    rng = random.Random(seed) if train else None
    src = square_crop(np.asarray(load_image(str(image), cfg.source_size)), cfg.source_size, rng)
    sources = torch.from_numpy(np.ascontiguousarray(src)).permute(2, 0, 1)[None]
    gen = torch.Generator().manual_seed(seed)
    batch = PseudoMotion(cfg).__call__(sources, train=train, generator=gen, source_ids=torch.tensor([seed]), raw=True)
    labels = batch.labels.numpy().astype(np.int64)
    return {
        "clips": batch.clips.numpy(),
        "labels": labels,
        "speeds": np.array(cfg.classes, dtype=np.int64)[labels],
    }


def write_motions(out: Path, data: dict[str, np.ndarray], fps: float = 8.0) -> None:
    """.npz: the arrays. .gif: the clips animated in a grid. .png: contact sheet (a row per class)."""
    suffix = out.suffix.lower()
    if suffix == ".npz":
        save_npz(out, data)
        return
    clips, speeds = data["clips"], data["speeds"]
    c, t = clips.shape[:2]
    names = [f"{i}: {motion_label(int(s[0]), int(s[1]))}" for i, s in enumerate(speeds)]
    cols = int(np.ceil(np.sqrt(c)))
    frames = [viz.grid([viz.label(clips[k, f], names[k]) for k in range(c)], cols) for f in range(t)]
    shown = range(0, t, max(1, t // 8))
    sheet = viz.grid([viz.label(clips[k, f], names[k] if f == 0 else f"t={f}") for k in range(c) for f in shown], len(shown))
    viz.save_image_or_gif(frames, sheet, out, fps)
