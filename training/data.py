"""Source images for MoSI: find them, split them, and decode + resize + crop them on CPU workers.

The loader only produces uint8 (3, Ls, Ls) squares; pseudo-motion clips are built on the training device.
"""

from __future__ import annotations

import hashlib
import os
import logging
import random
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from mosi_tool.video.decode import VIDEO_SUFFIXES, grab_frame

from .images import load_image, resize_short_side
from .source_cache import SourceCache

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    path: str
    group: str  # class folder (imagenet), parent folder (images) or "" (videos)


def roots_of(root: str | Path | Sequence[str | Path]) -> list[Path]:
    """One data folder or several (`train --root A --root B`), as a list of paths."""
    return [Path(root)] if isinstance(root, (str, Path)) else [Path(r) for r in root]


def find_sources(kind: str, root: str | Path | Sequence[str | Path]) -> list[Source]:
    """List source files for `--data imagenet|images|videos`: each folder's, sorted, folders in the order given."""
    if not isinstance(root, (str, Path)):
        return [s for r in roots_of(root) for s in find_sources(kind, r)]
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: data folder not found")
    if kind == "imagenet":
        base = root / "train" if (root / "train").is_dir() else root
        found = [
            Source(str(p), d.name)
            for d in sorted(base.iterdir())
            if d.is_dir()
            for p in sorted(d.iterdir())
            if p.suffix.lower() in IMAGE_SUFFIXES
        ]
        what = "ImageNet layout (<root>/train/<wnid>/*.JPEG or <root>/<wnid>/*)"
    elif kind in ("images", "videos"):
        suffixes = IMAGE_SUFFIXES if kind == "images" else VIDEO_SUFFIXES
        found = [Source(str(p), p.parent.name) for p in walk_files(root, suffixes)]
        what = f"{kind} under the folder"
    else:
        raise ValueError(f"unknown data kind {kind!r}")
    if not found:
        raise FileNotFoundError(f"{root}: no {what}")
    return found


def walk_files(root: Path, suffixes: set[str]) -> list[Path]:
    """Files under `root` (following symlinked folders) whose suffix is in `suffixes`, sorted."""
    found = []
    for folder, _, files in os.walk(root, followlinks=True):
        found += [Path(folder) / f for f in files if Path(f).suffix.lower() in suffixes]
    return sorted(found)


def subsample_per_class(sources: list[Source], per_class: int, seed: int) -> list[Source]:
    """ImageNet-S<N>: keep `per_class` sources of each class, chosen with a fixed seed."""
    groups: dict[str, list[Source]] = defaultdict(list)
    for s in sources:
        groups[s.group].append(s)
    rng = random.Random(seed)
    picked = []
    for g in sorted(groups):
        items = groups[g]
        picked += items if len(items) <= per_class else rng.sample(items, per_class)
    return sorted(picked, key=lambda s: s.path)


def split_sources(sources: list[Source], val_fraction: float, seed: int) -> tuple[list[Source], list[Source]]:
    """Hold out a fixed fraction of sources, chosen by a seeded hash of each path (stable across runs)."""
    if not 0 <= val_fraction < 1:
        raise ValueError("val_fraction must be in [0, 1)")
    n_val = round(len(sources) * val_fraction)
    if val_fraction > 0 and len(sources) > 1:
        n_val = max(1, n_val)

    def key(s: Source) -> str:
        return hashlib.sha256(f"{seed}:{s.path}".encode()).hexdigest()

    ranked = sorted(sources, key=key)
    val = sorted(ranked[:n_val], key=lambda s: s.path)
    train = sorted(ranked[n_val:], key=lambda s: s.path)
    return train, val


def square_crop(arr: np.ndarray, size: int, rng: random.Random | None) -> np.ndarray:
    """Random (rng given) or centred size x size crop of an (H, W, 3) array."""
    h, w = arr.shape[:2]
    if rng is None:
        top, left = (h - size) // 2, (w - size) // 2
    else:
        top, left = rng.randint(0, h - size), rng.randint(0, w - size)
    return np.array(arr[top : top + size, left : left + size])  # writable, contiguous copy


class SourceDataset(Dataset):
    """uint8 (3, Ls, Ls) source squares with their index.

    With a `cache` (image kinds), sources come from the decoded cache instead of the files: the same pixels.
    Training draws random crops (and random video frames) from a seed that depends on (seed, epoch, index),
    so a resumed run sees exactly what an uninterrupted one would. Validation uses centre crops and, for
    videos, the middle frame.
    """

    def __init__(
        self, sources: list[Source], kind: str, size: int, train: bool, seed: int = 0, frames_per_video: int = 1,
        cache: SourceCache | None = None,
    ):
        if cache is not None and cache.paths != [s.path for s in sources]:
            raise ValueError("the source cache does not hold these sources in this order")
        self.cache = cache
        self.sources = sources
        self.kind = kind
        self.size = size
        self.train = train
        self.seed = seed
        self.repeat = frames_per_video if kind == "videos" else 1
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.sources) * self.repeat

    def _rng(self, index: int) -> random.Random:
        return random.Random(f"{self.seed}:{self.epoch}:{index}")

    def _load(self, index: int) -> np.ndarray:
        source = self.sources[index // self.repeat]
        rng = self._rng(index) if self.train else None
        if self.cache is not None:
            return square_crop(self.cache[index], self.size, rng)
        if self.kind == "videos":
            frame = grab_frame(source.path, rng.random() if rng else 0.5)
            img = resize_short_side(Image.fromarray(frame), self.size)
        else:
            img = load_image(source.path, self.size)
        return square_crop(np.asarray(img), self.size, rng)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        """The source square (3, Ls, Ls) uint8 and the index it was loaded from: `index`, or past a damaged
        file the next readable one's (so a caller that must not count a source twice, as evaluation, can tell)."""
        # A damaged file must not stop a long run: warn and use the next source instead.
        for attempt in range(len(self)):
            i = (index + attempt) % len(self)
            try:
                arr = self._load(i)
                break
            except Exception as e:  # noqa: BLE001 - any decoder failure means "skip this file"
                path, reason = self.sources[i // self.repeat].path, e
                warnings.warn(f"{path}: skipped, cannot read ({e})", stacklevel=1)
        else:  # a ValueError: the user's to fix, printed as one line
            raise ValueError(f"{path}: no readable source images (none of {len(self.sources)} can be read; this one: {reason})")
        return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1), i
