"""The model metadata: the one source of truth saved in every checkpoint and engine.

Everything a downstream command needs (architecture, clip geometry, normalisation, class table) is here,
so no command ever asks for the training flags again.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .version import __version__

FORMAT_VERSION = 2  # 2: `camera` (the training clips' camera pan)
METADATA_KEY = "mosi_tool"  # key of the JSON entry in safetensors / ONNX metadata / sidecars

VIDEO_MEAN = (0.45, 0.45, 0.45)
VIDEO_STD = (0.225, 0.225, 0.225)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class MetadataError(ValueError):
    """A checkpoint or engine whose metadata is missing, unknown or from a newer format."""


def read_safetensors_meta(path: str | Path) -> ModelMeta | None:
    """The `ModelMeta` in a safetensors file's header (None when it has none), reading only the header and
    importing no torch (`checkpoint.read_meta` is this with its errors named). Raises safetensors'
    SafetensorError or OSError for an unreadable file, MetadataError for bad metadata."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        raw = (f.metadata() or {}).get(METADATA_KEY)
    return None if raw is None else ModelMeta.from_json(raw, source=str(path))


def label_pool(speeds: int, axes: str = "xy") -> list[tuple[int, int]]:
    """The MoSI classes as (x, y) speeds, in the official order.

    For K=5 and both axes: (-2,0) (-1,0) (1,0) (2,0) (0,-2) (0,-1) (0,1) (0,2) (0,0).
    Only one axis moves per class; the static class is last.
    """
    if speeds < 3 or speeds % 2 == 0:
        raise ValueError(f"speeds must be odd and >= 3, got {speeds}")
    if axes not in ("xy", "x", "y"):
        raise ValueError(f"axes must be xy, x or y, got {axes!r}")
    half = speeds // 2
    moving = [s for s in range(-half, half + 1) if s != 0]
    pool: list[tuple[int, int]] = []
    if "x" in axes:
        pool += [(s, 0) for s in moving]
    if "y" in axes:
        pool += [(0, s) for s in moving]
    return pool + [(0, 0)]


@dataclass
class ModelMeta:
    """What a trained model is and how to feed it."""

    arch: str = "r2plus1d_10"
    width: int = 64
    num_classes: int = 9
    task: str = "mosi"  # "mosi" (pretext classes) or "action" (fine-tuned)
    class_names: list[str] = field(default_factory=list)
    frames: int = 16
    crop: int = 112
    source_size: int = 320
    speeds: int = 5
    axes: str = "xy"
    mask: bool = True
    mask_ratio: tuple[float, float] = (0.3, 0.5)
    camera: int = 0  # camera pan of the training clips, in source pixels (MotionConfig.camera)
    mean: tuple[float, float, float] = VIDEO_MEAN
    std: tuple[float, float, float] = VIDEO_STD
    feature_dim: int = 512
    training: dict[str, Any] = field(default_factory=dict)  # data summary, epochs, val accuracy, command
    model_id: str = ""
    weights_sha256: str = ""
    package_version: str = __version__
    format_version: int = FORMAT_VERSION

    @property
    def static_class(self) -> int | None:
        """Index of the no-motion class, or None for fine-tuned action models."""
        return self.num_classes - 1 if self.task == "mosi" else None

    def speed_table(self) -> list[tuple[int, int]]:
        return label_pool(self.speeds, self.axes) if self.task == "mosi" else []

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "metadata") -> ModelMeta:
        try:
            raw = json.loads(text)
        except ValueError as e:  # JSONDecodeError, or UnicodeDecodeError for bytes that are not UTF-8 (a damaged file)
            raise MetadataError(f"{source}: metadata is not valid JSON ({e})") from None
        if not isinstance(raw, dict):
            raise MetadataError(f"{source}: metadata is not a JSON object")
        version = raw.get("format_version")
        if not isinstance(version, int):
            raise MetadataError(f"{source}: metadata has no format_version; not a mosi-tool file")
        if version > FORMAT_VERSION:
            raise MetadataError(
                f"{source}: metadata format {version} is newer than this mosi-tool understands "
                f"({FORMAT_VERSION}); upgrade mosi-tool"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise MetadataError(f"{source}: unknown metadata fields {unknown}")
        for key in ("mask_ratio", "mean", "std"):
            if key in raw:
                raw[key] = tuple(raw[key])
        return cls(**raw)


def motion_label(x: int, y: int) -> str:
    """A MoSI class as people read it: the crop window's speed on its axis ("x-2", "y+1") and an arrow for
    where the content moves on screen, against the window ("->", "^"); (0, 0) is "static"."""
    if x == y == 0:
        return "static"
    content = ("<-" if x > 0 else "->") if x else ("^" if y > 0 else "v")
    return f"x{x:+d} {content}" if x else f"y{y:+d} {content}"
