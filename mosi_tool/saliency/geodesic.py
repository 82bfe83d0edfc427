"""How far each cell's motion is from the frame's border: the masks' background prior (`saliency --masks`).

A mover is enclosed by motion boundaries: every path from the frame's border into it crosses a change of
motion. The background touches the border, and whatever its own motion (a parallax the camera model misses,
a camera that follows the mover), some path from the border reaches it with little change. So the enclosed
speed of a cell is its geodesic distance from the border over the grid of cells (8-connected), a step
between neighbours a and b costing

    max(|r(a) - r(b)| - allow, 0)      r: the camera-compensated motion (`MotionField.residual`), px/frame,

where `allow` (ALLOW px/frame at a short side of `masks.FLOOR_SHORT_SIDE` or more, shrinking with a smaller one
as the masks' floor does, `masks.scaled_floor`) is the change the codec's noise makes between neighbours. A
border cell starts at max(|r| - level, 0), level = BORDER_FACTOR x the median |r| of the border's cells: the
border counts as background, except where it moves clearly more than the rest of it (a mover entering the
frame). This is the geodesic saliency of Wei et al., "Geodesic Saliency Using Background Priors" (ECCV 2012),
on the motion field instead of colour; the boundary-connectivity prior of Zhu et al., "Saliency Optimization
from Robust Background Detection" (CVPR 2014), is the same observation.

The masks read the geometric mean of each motion map and the same map of the enclosed speed (blurred and
averaged in time alike, `saliency.motion.iter_map_sets`): a region must move and be enclosed. Chosen on the
DAVIS development sequences (docs/EVALUATION.md 2c, "Motion enclosed by motion boundaries"). The distance is
computed by raster scans (forward and backward, PASSES times: Borgefors' chamfer propagation), which reach
every path that turns back at most PASSES - 1 times; 3 passes scored the same as 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import no_type_check

import numba
import numpy as np

from ..video.motion import MotionField
from ..video.motion.field import _camera_at
from .masks import scaled_floor

ALLOW = 0.25  # px/frame between neighbouring cells, at a short side of FLOOR_SHORT_SIDE pixels or more
BORDER_FACTOR = 3.0  # x the median motion of the border's cells: the border's own background level
PASSES = 2  # forward and backward scans


@dataclass(frozen=True)
class Enclosure:
    """Settings of `enclosed_speed` (defaults: the module constants)."""

    allow: float = ALLOW  # px/frame at a short side of FLOOR_SHORT_SIDE or more (scaled below it)
    border_factor: float = BORDER_FACTOR  # inf: every border cell is background
    passes: int = PASSES


def enclosed_speed(field: MotionField, cfg: Enclosure = Enclosure()) -> np.ndarray:
    """(F, gh, gw) float32 px/frame: each cell's geodesic distance from the frame's border over its frame's
    camera-compensated motion (module docstring)."""
    allow = np.float32(scaled_floor(min(field.size), cfg.allow))
    vectors, camera = np.ascontiguousarray(field.vectors, np.float32), np.ascontiguousarray(field.camera, np.float64)
    return _enclosed(vectors, camera, field.cell, allow, np.float32(cfg.border_factor), cfg.passes)


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _enclosed(vectors: np.ndarray, camera: np.ndarray, cell: int, allow: np.float32, factor: np.float32, passes: int) -> np.ndarray:
    """`enclosed_speed` of vectors (F, gh, gw, 2) with camera models (F, 2, 3): per frame, the residual (as
    `MotionField.residual`), the border's level and `border_distance`."""
    f, gh, gw, _ = vectors.shape
    out = np.empty((f, gh, gw), np.float32)
    residual = np.empty((gh, gw, 2), np.float32)
    border = np.empty(2 * (gh + gw) - 4 if gh > 1 and gw > 1 else gh * gw, np.float32)
    for t in range(f):
        a = camera[t]
        k = 0
        for i in range(gh):
            y = (i + 0.5) * cell
            for j in range(gw):
                cx, cy = _camera_at(a, (j + 0.5) * cell, y)
                rx, ry = np.float32(vectors[t, i, j, 0] - cx), np.float32(vectors[t, i, j, 1] - cy)
                residual[i, j, 0], residual[i, j, 1] = rx, ry
                if i == 0 or j == 0 or i == gh - 1 or j == gw - 1:
                    border[k] = np.sqrt(rx * rx + ry * ry)
                    k += 1
        level = np.float32(np.inf) if np.isinf(factor) else factor * np.float32(np.median(border[:k]))
        out[t] = border_distance(residual, allow, level, passes)
    return out


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def border_distance(residual: np.ndarray, allow: np.float32, level: np.float32, passes: int) -> np.ndarray:
    """(gh, gw) float32: the geodesic distance of every cell of residual (gh, gw, 2) px/frame from the grid's
    border, a border cell starting at max(|r| - level, 0) and a step between 8-neighbours a, b costing
    max(|r(a) - r(b)| - allow, 0); by `passes` forward and backward raster scans."""
    gh, gw, _ = residual.shape
    zero = np.float32(0)
    # cost[i, j, e]: the step from (i, j) to its neighbour right, below-left, below and below-right
    cost = np.full((gh, gw, 4), np.float32(np.inf))
    for i in range(gh):
        for j in range(gw):
            for e, (di, dj) in enumerate(((0, 1), (1, -1), (1, 0), (1, 1))):
                a, b = i + di, j + dj
                if a < gh and 0 <= b < gw:
                    dx, dy = residual[i, j, 0] - residual[a, b, 0], residual[i, j, 1] - residual[a, b, 1]
                    cost[i, j, e] = max(np.sqrt(dx * dx + dy * dy) - allow, zero)
    d = np.full((gh, gw), np.float32(np.inf))
    for i in range(gh):
        for j in range(gw):
            if i == 0 or j == 0 or i == gh - 1 or j == gw - 1:
                d[i, j] = max(np.sqrt(residual[i, j, 0] ** 2 + residual[i, j, 1] ** 2) - level, zero)
    for _ in range(passes):
        for i in range(gh):  # forward: from the neighbours above and to the left
            for j in range(gw):
                best = d[i, j]
                if j > 0:
                    best = min(best, d[i, j - 1] + cost[i, j - 1, 0])
                if i > 0:
                    best = min(best, d[i - 1, j] + cost[i - 1, j, 2])
                    if j > 0:
                        best = min(best, d[i - 1, j - 1] + cost[i - 1, j - 1, 3])
                    if j < gw - 1:
                        best = min(best, d[i - 1, j + 1] + cost[i - 1, j + 1, 1])
                d[i, j] = best
        for i in range(gh - 1, -1, -1):  # backward: from those below and to the right
            for j in range(gw - 1, -1, -1):
                best = d[i, j]
                if j < gw - 1:
                    best = min(best, d[i, j + 1] + cost[i, j, 0])
                if i < gh - 1:
                    best = min(best, d[i + 1, j] + cost[i, j, 2])
                    if j < gw - 1:
                        best = min(best, d[i + 1, j + 1] + cost[i, j, 3])
                    if j > 0:
                        best = min(best, d[i + 1, j - 1] + cost[i, j, 1])
                d[i, j] = best
    return d
