"""How closely two runs' clip features agree: the one comparison every benchmark reports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np


def clip_agreement(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-clip cosine similarity and relative L2 error (|x - y| / |x|) of features (n_clips, D) -> two (n_clips,)."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    nx = np.linalg.norm(x, axis=1)
    cos = (x * y).sum(1) / (nx * np.linalg.norm(y, axis=1) + 1e-12)
    return cos, np.linalg.norm(x - y, axis=1) / (nx + 1e-12)


def matched_features(a: Path, b: Path) -> Iterator[tuple[Path, np.ndarray, np.ndarray]]:
    """(path under a, features in a, features in b) for every .npz of output folder `a`, matched by path in `b`."""
    for fa in sorted(a.rglob("*.npz")):
        yield fa.relative_to(a), np.load(fa)["features"], np.load(b / fa.relative_to(a))["features"]
