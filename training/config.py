"""Training configuration: plain dataclasses, JSON in and out, with the paper's recipe as defaults."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mosi_tool.metadata import IMAGENET_MEAN, IMAGENET_STD, VIDEO_MEAN, VIDEO_STD

from .jitter import JitterConfig
from .pseudo_motion import MotionConfig

DATA_KINDS = ("imagenet", "images", "videos")


@dataclass
class DataConfig:
    kind: str = "imagenet"  # imagenet | images | videos
    root: str | list[str] = ""  # one folder, or several read as one data set
    per_class: int | None = None  # ImageNet-S<N>: N images per class, chosen with `seed`
    val_fraction: float = 0.05  # held-out sources
    frames_per_video: int = 1  # videos: random frames drawn per video per epoch
    workers: int = 4
    cache: bool = True  # decode each source once into a uint8 memory-mapped cache (image kinds)
    limit: int | None = None  # use at most this many training sources (quick runs)


@dataclass
class OptimConfig:
    """Adam, lr 1e-3, wd 1e-4 (none on BN or bias), 10-epoch linear warm-up from 1e-4, cosine decay."""

    lr: float = 1e-3
    warmup_start_lr: float = 1e-4
    warmup_epochs: float = 10
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)


@dataclass
class TrainConfig:
    arch: str = "r2plus1d_10"
    width: int = 64
    dropout: float = 0.5
    motion: MotionConfig = field(default_factory=MotionConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    epochs: int = 100
    batch_size: int = 10  # source images per device per step; each gives C clips
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto | fp32 | bf16; auto: bf16 on CUDA and on CPUs with AMX/AVX512-BF16
    channels_last: bool = True  # channels_last_3d memory format
    init: str | None = None  # start from this checkpoint's weights (same architecture, width and classes)
    val_every: int = 1
    save_every: int = 1
    out: str = "runs/mosi"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        raw = dict(raw)
        if "amp" in raw:  # configs written before --precision: amp meant bf16 autocast on CUDA only
            raw.setdefault("precision", "auto" if raw["amp"] else "fp32")
            del raw["amp"]
        motion = dict(raw.pop("motion", {}))
        color = JitterConfig(**motion.pop("color", {}))
        for key in ("mask_ratio", "mean", "std"):
            if key in motion:
                motion[key] = tuple(motion[key])
        optim = dict(raw.pop("optim", {}))
        if "betas" in optim:
            optim["betas"] = tuple(optim["betas"])
        return cls(
            motion=MotionConfig(color=color, **motion),
            data=DataConfig(**raw.pop("data", {})),
            optim=OptimConfig(**optim),
            **raw,
        )

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))


def default_stats(kind: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """ImageNet statistics for ImageNet-layout data, the video default otherwise (spec §1)."""
    return (IMAGENET_MEAN, IMAGENET_STD) if kind == "imagenet" else (VIDEO_MEAN, VIDEO_STD)


# A laptop-sized preset for tests and CPU demos: the same recipe on a narrow network and small clips.
TINY = {
    "width": 16,
    "motion": {"frames": 8, "crop": 64, "source_size": 160},
    "batch_size": 8,
    "epochs": 3,
    "optim": {"warmup_epochs": 1},
}
PRESETS: dict[str, dict[str, Any]] = {"paper": {}, "tiny": TINY}


def build_config(preset: str, config: Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """Preset, then a JSON config file, then the flags given on the command line."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    raw: dict[str, Any] = TrainConfig().to_dict()
    _merge(raw, PRESETS[preset])
    if config is not None:
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
