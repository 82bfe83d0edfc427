"""The control for every learned figure: the same architecture and metadata with seeded random weights."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ..checkpoint import save_checkpoint
from ..metadata import ModelMeta
from ..models.backbones import build_backbone
from ..runtimes.base import Engine

RANDOM_SEED = 0


def random_init_checkpoint(meta: ModelMeta, path: Path, seed: int = RANDOM_SEED) -> Path:
    """Write a checkpoint of `meta`'s architecture with weights from `torch.manual_seed(seed)`."""
    fork_devices: list[int] = []
    with torch.random.fork_rng(devices=fork_devices):  # leave the caller's random state untouched
        torch.manual_seed(seed)
        model = build_backbone(meta.arch, meta.num_classes, width=meta.width)
    random_meta = dataclasses.replace(meta, training={"random_init": True, "seed": seed}, model_id="", weights_sha256="")
    save_checkpoint(path, model, random_meta)
    return path


def random_init_engine(meta: ModelMeta, workdir: Path, device: torch.device | str, seed: int = RANDOM_SEED) -> Engine:
    """A PyTorch engine for the random-init control (whatever runtime the model under test uses)."""
    from ..runtimes import open_engine

    path = random_init_checkpoint(meta, Path(workdir) / f"random_init_{meta.arch}_{seed}.safetensors", seed)
    return open_engine(path, device)
