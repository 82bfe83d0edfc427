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
frame). But the camera's parallax is background wherever it touches the border: a cell moves as parallax
when it moves in the direction of the camera model's motion there (cosine above PARALLAX_COS) and faster by at
least the masks' floor, while the camera moves at least that floor (`defaults.scaled_floor`): near ground,
rocks or poles under a camera translating sideways move so (nearer, so faster, the same way), a static layer the
camera model cannot hold. Such cells start at 0 where they form a stretch of the border at least PARALLAX_SHARE
of its side long, and so does every cell of a region of them (8-connected) that touches two opposite sides of the
frame (a band of near ground along the bottom, a pole from top to bottom). A mover entering the frame covers a
short stretch of the border and no such span (or moves its own way); a mover the camera follows barely moves
in the picture, slower than the camera's motion there; a still camera has no parallax.

This is the geodesic saliency of Wei et al., "Geodesic Saliency Using Background Priors" (ECCV 2012),
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
PARALLAX_COS = 0.9  # cosine of the angle between a cell's motion and the camera model's there (0.8: the same)
PARALLAX_SHARE = 0.5  # of its side: the least stretch of the border taken as parallax (a quarter dropped a slow
# mover near the edge on the panning synthetic video; docs/EVALUATION.md 2c, "Parallax along the border")
FAR = 1e30  # px/frame: no path yet


@dataclass(frozen=True)
class Enclosure:
    """Settings of `enclosed_speed` (defaults: the module constants)."""

    allow: float = ALLOW  # px/frame at a short side of FLOOR_SHORT_SIDE or more (scaled below it)
    border_factor: float = BORDER_FACTOR  # inf: every border cell is background
    passes: int = PASSES
    parallax_cos: float = PARALLAX_COS
    parallax_share: float = PARALLAX_SHARE  # 0: no border stretch is taken as parallax
    parallax_spanning: bool = True  # regions of parallax touching two opposite sides start at 0 (False: not)


def enclosed_speed(field: MotionField, cfg: Enclosure = Enclosure()) -> np.ndarray:
    """(F, gh, gw) float32 px/frame: each cell's geodesic distance from the frame's border over its frame's
    camera-compensated motion (module docstring)."""
    return speed_and_enclosed(field, cfg)[1]


def speed_and_enclosed(field: MotionField, cfg: Enclosure = Enclosure()) -> tuple[np.ndarray, np.ndarray]:
    """((F, gh, gw), (F, gh, gw)) float32 px/frame: each cell's compensated speed (`MotionField.residual_speed`,
    the same values) and its enclosed speed (`enclosed_speed`), from one pass over the field."""
    allow = np.float32(scaled_floor(min(field.size), cfg.allow))
    moving = np.float32(scaled_floor(min(field.size)) if cfg.parallax_share > 0 or cfg.parallax_spanning else FAR)
    vectors, camera = np.ascontiguousarray(field.vectors, np.float32), np.ascontiguousarray(field.camera, np.float64)
    return _enclosed(vectors, camera, field.cell, allow, np.float32(cfg.border_factor), cfg.passes, moving,
                     np.float32(cfg.parallax_cos), cfg.parallax_share, cfg.parallax_spanning)  # fmt: skip


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _enclosed(vectors: np.ndarray, camera: np.ndarray, cell: int, allow: np.float32, factor: np.float32, passes: int,
              moving: np.float32, cos: np.float32, share: float, spanning: bool) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """`speed_and_enclosed` of vectors (F, gh, gw, 2) with camera models (F, 2, 3): per frame, the residual (as
    `MotionField.residual`) and its length, the border's level, the cells that move as parallax (the camera moving
    at least `moving` px/frame there, the cell `moving` faster), their stretches of the border (`parallax_stretches`)
    and regions spanning the frame (`spanning_regions`, if `spanning`), and `border_distance`."""
    f, gh, gw, _ = vectors.shape
    out = np.empty((f, gh, gw), np.float32)
    speed = np.empty((f, gh, gw), np.float32)
    residual = np.empty((gh, gw, 2), np.float32)
    parallax = np.zeros((gh, gw), np.bool_)
    border = np.empty(2 * (gh + gw) - 4 if gh > 1 and gw > 1 else gh * gw, np.float32)
    for t in range(f):
        a = camera[t]
        k = 0
        for i in range(gh):
            y = (i + 0.5) * cell
            for j in range(gw):
                cx, cy = camera_at(a, (j + 0.5) * cell, y)
                vx, vy = vectors[t, i, j, 0], vectors[t, i, j, 1]
                dx, dy = vx - cx, vy - cy
                speed[t, i, j] = np.sqrt(dx * dx + dy * dy)  # as `MotionField.residual_speed`, to the bit
                rx, ry = np.float32(dx), np.float32(dy)
                residual[i, j, 0], residual[i, j, 1] = rx, ry
                if i == 0 or j == 0 or i == gh - 1 or j == gw - 1:
                    border[k] = np.sqrt(rx * rx + ry * ry)
                    k += 1
                c, v = np.sqrt(cx * cx + cy * cy), np.sqrt(vx * vx + vy * vy)
                parallax[i, j] = c >= moving and v >= c + moving and vx * cx + vy * cy > cos * v * c
        level = np.float32(FAR) if np.isinf(factor) else factor * np.float32(np.median(border[:k]))
        background = parallax_stretches(parallax, share)
        if spanning:
            background |= spanning_regions(parallax)
        out[t] = border_distance(residual, allow, level, passes, background)
    return speed, out


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def parallax_stretches(flags: np.ndarray, share: float) -> np.ndarray:
    """(gh, gw) bool: the border cells of `flags` (gh, gw) bool (its border cells read) that lie in a run of
    flagged cells along one side of the grid at least `share` of that side long (at least 2 cells; share 0:
    none)."""
    gh, gw = flags.shape
    out = np.zeros((gh, gw), np.bool_)
    if share <= 0:
        return out
    for side in range(4):  # top, bottom (along a row), left, right (along a column)
        n = gw if side < 2 else gh
        need = max(2, int(np.ceil(share * n)))
        start = 0  # of the current run
        for k in range(n + 1):
            if k < n and flags[_side_cell(side, k, gh, gw)]:
                continue
            if k - start >= need:
                for m in range(start, k):
                    out[_side_cell(side, m, gh, gw)] = True
            start = k + 1
    return out


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def spanning_regions(flags: np.ndarray) -> np.ndarray:
    """(gh, gw) bool: the cells of the 8-connected regions of `flags` (gh, gw) bool that touch two opposite sides
    of the grid (top and bottom, or left and right)."""
    gh, gw = flags.shape
    out = np.zeros((gh, gw), np.bool_)
    seen = np.zeros((gh, gw), np.bool_)
    stack = np.empty((gh * gw, 2), np.int64)
    region = np.empty((gh * gw, 2), np.int64)
    for i0 in range(gh):
        for j0 in range(gw):
            if not flags[i0, j0] or seen[i0, j0]:
                continue
            seen[i0, j0] = True
            stack[0, 0], stack[0, 1] = i0, j0
            stack_n = 1
            n = 0
            top_side = bottom_side = left_side = right_side = False
            while stack_n:
                stack_n -= 1
                i, j = stack[stack_n, 0], stack[stack_n, 1]
                region[n, 0], region[n, 1] = i, j
                n += 1
                top_side |= i == 0
                bottom_side |= i == gh - 1
                left_side |= j == 0
                right_side |= j == gw - 1
                for a in range(max(i - 1, 0), min(i + 2, gh)):
                    for b in range(max(j - 1, 0), min(j + 2, gw)):
                        if flags[a, b] and not seen[a, b]:
                            seen[a, b] = True
                            stack[stack_n, 0], stack[stack_n, 1] = a, b
                            stack_n += 1
            if (top_side and bottom_side) or (left_side and right_side):
                for m in range(n):
                    out[region[m, 0], region[m, 1]] = True
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _side_cell(side: int, k: int, gh: int, gw: int) -> tuple[int, int]:
    """(row, column) of the k-th cell along side 0 (top), 1 (bottom), 2 (left) or 3 (right) of a gh x gw grid."""
    if side < 2:
        return (0 if side == 0 else gh - 1), k
    return k, (0 if side == 2 else gw - 1)


@numba.njit(cache=True, nogil=True, fastmath=True)  # finite values throughout (FAR for no path): lets LLVM vectorise
@no_type_check  # numba code: numpy scalars throughout
def border_distance(residual: np.ndarray, allow: np.float32, level: np.float32, passes: int, background: np.ndarray) -> np.ndarray:
    """(gh, gw) float32: the geodesic distance of every cell of residual (gh, gw, 2) px/frame from the grid's
    border, a border cell starting at max(|r| - level, 0), or at 0 where `background` (gh, gw) bool says so,
    and a step between 8-neighbours a, b costing
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
            if background[i - 1, j - 1]:
                d[i, j] = zero
            elif i == 1 or j == 1 or i == h - 2 or j == w - 2:
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
