"""How far each cell's motion is from the frame's border: the `mv` maps' background prior (`saliency --method mv`).

A mover is enclosed by motion boundaries: every path from the frame's border into it crosses a change of
motion. The background touches the border, and whatever its own motion (a parallax the camera model misses,
a camera that follows the mover), some path from the border reaches it with little change. So the enclosed
speed of a cell is its geodesic distance from the border over the grid of cells (8-connected), a step
between neighbours a and b costing

    max(|r(a) - r(b)| - allow, 0)      r: the camera-compensated motion (`MotionField.residual`), px/frame,

where `allow` (ALLOW px/frame at a short side of `defaults.FLOOR_SHORT_SIDE` or more, shrinking with a smaller one
as the masks' floor does, `defaults.scaled_floor`) is the change the codec's noise makes between neighbours. A
border cell starts at max(|r| - level, 0), level = BORDER_FACTOR x the median |r| of the border's cells: the
border counts as background, except where it moves clearly more than the rest of it (a mover entering the
frame). This is the geodesic saliency of Wei et al., "Geodesic Saliency Using Background Priors" (ECCV 2012),
on the motion field instead of colour; the boundary-connectivity prior of Zhu et al., "Saliency Optimization
from Robust Background Detection" (CVPR 2014), is the same observation.

The `mv` maps are the geometric mean of each motion map and the same map of the enclosed speed (blurred and
averaged in time alike, `saliency.motion`): a region must move and be enclosed. Chosen for the masks on the
DAVIS development sequences (docs/EVALUATION.md 2c, "Motion enclosed by motion boundaries"), then for the maps
(AUC-Judd 0.917 -> 0.950 on the 10 sequences). The distance is
computed by raster scans (forward and backward, PASSES times: Borgefors' chamfer propagation), which reach
every path that turns back at most PASSES - 1 times; 3 passes scored the same as 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import no_type_check

import numba
import numpy as np

from ..video.motion import MotionField
from ..video.motion.field import camera_at  # numba: inlined in the kernel
from .defaults import scaled_floor

ALLOW = 0.25  # px/frame between neighbouring cells, at a short side of FLOOR_SHORT_SIDE pixels or more
BORDER_FACTOR = 3.0  # x the median motion of the border's cells: the border's own background level
PASSES = 2  # forward and backward scans
FAR = 1e30  # px/frame: no path yet


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
                cx, cy = camera_at(a, (j + 0.5) * cell, y)
                rx, ry = np.float32(vectors[t, i, j, 0] - cx), np.float32(vectors[t, i, j, 1] - cy)
                residual[i, j, 0], residual[i, j, 1] = rx, ry
                if i == 0 or j == 0 or i == gh - 1 or j == gw - 1:
                    border[k] = np.sqrt(rx * rx + ry * ry)
                    k += 1
        level = np.float32(FAR) if np.isinf(factor) else factor * np.float32(np.median(border[:k]))
        out[t] = border_distance(residual, allow, level, passes)
    return out


@numba.njit(cache=True, nogil=True, fastmath=True)  # finite values throughout (FAR for no path): lets LLVM vectorise
@no_type_check  # numba code: numpy scalars throughout
def border_distance(residual: np.ndarray, allow: np.float32, level: np.float32, passes: int) -> np.ndarray:
    """(gh, gw) float32: the geodesic distance of every cell of residual (gh, gw, 2) px/frame from the grid's
    border, a border cell starting at max(|r| - level, 0) and a step between 8-neighbours a, b costing
    max(|r(a) - r(b)| - allow, 0); by `passes` forward and backward raster scans, each row first from the row
    before it (no dependency along the row), then along itself."""
    gh, gw, _ = residual.shape
    zero, far = np.float32(0), np.float32(FAR)
    h, w = gh + 2, gw + 2  # padded by a cell that no step reaches (its steps cost FAR)
    rx, ry = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
    rx[1:-1, 1:-1], ry[1:-1, 1:-1] = residual[:, :, 0], residual[:, :, 1]
    # the step from (i, j) to its neighbour right (c0), below-left (c1), below (c2) and below-right (c3)
    c0, c1, c2, c3 = np.full((h, w), far), np.full((h, w), far), np.full((h, w), far), np.full((h, w), far)
    for i in range(1, h - 1):
        for j in range(1, w - 2):
            c0[i, j] = max(np.sqrt((rx[i, j] - rx[i, j + 1]) ** 2 + (ry[i, j] - ry[i, j + 1]) ** 2) - allow, zero)
    for i in range(1, h - 2):
        for j in range(2, w - 1):
            c1[i, j] = max(np.sqrt((rx[i, j] - rx[i + 1, j - 1]) ** 2 + (ry[i, j] - ry[i + 1, j - 1]) ** 2) - allow, zero)
        for j in range(1, w - 1):
            c2[i, j] = max(np.sqrt((rx[i, j] - rx[i + 1, j]) ** 2 + (ry[i, j] - ry[i + 1, j]) ** 2) - allow, zero)
        for j in range(1, w - 2):
            c3[i, j] = max(np.sqrt((rx[i, j] - rx[i + 1, j + 1]) ** 2 + (ry[i, j] - ry[i + 1, j + 1]) ** 2) - allow, zero)
    d = np.full((h, w), far)
    start = min(level, far)
    for i in range(1, h - 1):
        for j in range(1, w - 1):
            if i == 1 or j == 1 or i == h - 2 or j == w - 2:
                d[i, j] = max(np.sqrt(rx[i, j] ** 2 + ry[i, j] ** 2) - start, zero)
    row = np.empty(w, np.float32)
    for _ in range(passes):
        for i in range(1, h - 1):  # forward: from the row above, then from the left
            for j in range(1, w - 1):
                row[j] = min(d[i, j], d[i - 1, j] + c2[i - 1, j], d[i - 1, j - 1] + c3[i - 1, j - 1], d[i - 1, j + 1] + c1[i - 1, j + 1])
            for j in range(1, w - 1):
                d[i, j] = min(row[j], d[i, j - 1] + c0[i, j - 1])
        for i in range(h - 2, 0, -1):  # backward: from the row below, then from the right
            for j in range(1, w - 1):
                row[j] = min(d[i, j], d[i + 1, j] + c2[i, j], d[i + 1, j + 1] + c3[i, j], d[i + 1, j - 1] + c1[i, j])
            for j in range(w - 2, 0, -1):
                d[i, j] = min(row[j], d[i, j + 1] + c0[i, j])
    return d[1:-1, 1:-1].copy()
