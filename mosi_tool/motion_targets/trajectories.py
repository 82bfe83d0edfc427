"""Point trajectories through a motion field: MME's target, from the codec's vectors instead of optical flow.

A point starts at the centre (4 + 8j, 4 + 8i) of cell (i, j) of start frame s and is followed for L steps.
Step k moves it from frame s + k to frame s + k + 1 with the field of frame t = s + k + 1, read at the point's
current position (bilinear between cell centres). The field of frame t gives, at frame t's positions, the
velocity from frame t-1 (a pixel at q in frame t was at q - v(q) in frame t-1), so the point p of frame t-1
goes to the q that solves q = p + v(q): one fixed-point iteration from a first guess, the point's previous
step (motion is smooth in time; the first step's guess is the field at p). The error of a guess shrinks by
the field's gradient (a few hundredths for the smooth fields cells average to), so one iteration is exact
to far below the vectors' own precision.

Stored per step: the displacement q - p (`compensate=False`), or its part the camera does not explain,
A_t q - p, where A_t is frame t's camera model (it maps frame t's coordinates to frame t-1's): zero on a
static background under any pan, zoom or rotation the model fits. The point itself always follows the raw
motion (it stays on its content). A trajectory is valid while the point stays inside the frame and every
step reads a cell that had a vector of its own (not a gap filled in time or by the camera).

Fields are read bilinearly between cell centres, clamped to the frame's cells (the edge cells' values carry
on outside them); a cell's `known` flag is read at the nearest cell centre.
"""

from __future__ import annotations

from typing import no_type_check

import numba
import numpy as np

CELL = 8  # pixels: MME's grid (points at 4 + 8k)


def start_grid(height: int, width: int, cell: int = CELL) -> np.ndarray:
    """(H // cell, W // cell, 2) float32 (x, y) pixel positions of the cell centres inside the frame (cells
    that overhang the right or bottom edge are left out)."""
    ys, xs = np.mgrid[0 : height // cell, 0 : width // cell].astype(np.float32)
    return np.stack([(xs + 0.5) * cell, (ys + 0.5) * cell], axis=-1)


def track(vectors: np.ndarray, camera: np.ndarray, known: np.ndarray, starts: np.ndarray, length: int, size: tuple[int, int],
          compensate: bool = True, cell: int = CELL) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Trajectories of the cell-centre points of frames `starts` of a window of frames (module docstring).

    vectors: (n, gh, gw, 2) float32 px/frame, the window's motion field (`MotionField.vectors`, cells of `cell`
    px); camera: (n, 2, 3) its camera models; known: (n, gh, gw) bool, cells with their own vector;
    starts: (S,) int, start frames, indices into the window with starts + length < n; size: (W, H) pixels of
    the frames. Returns (steps (S, H // cell, W // cell, length, 2) float32 px, valid (S, H // cell,
    W // cell) bool). Raises ValueError for a start outside the window.
    """
    starts = np.asarray(starts, np.int64)
    if len(starts) and (starts.min() < 0 or starts.max() + length >= len(vectors)):
        raise ValueError(f"starts must lie in [0, {len(vectors) - length}) for {length} steps, got {starts.min()}..{starts.max()}")
    return _track(np.ascontiguousarray(vectors, np.float32), np.ascontiguousarray(camera, np.float32), np.ascontiguousarray(known, np.bool_),
                  starts, length, size[0], size[1], compensate, cell)  # fmt: skip


@numba.njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
@no_type_check  # numba code: numpy scalars throughout
def _track(vectors: np.ndarray, camera: np.ndarray, known: np.ndarray, starts: np.ndarray, length: int, w: int, h: int,
           compensate: bool, cell: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """`track` on checked arrays (float32 vectors and camera); w, h: the frame size (px).

    One row of points moves at a time, step by step, so the innermost loop runs over the row's points with
    no branch (the CPU overlaps their reads); the field is read through flat indices (bilinear between cell
    centres, clamped to the grid; float32 throughout).
    """
    n, gh, gw, _ = vectors.shape
    oh, ow = h // cell, w // cell
    size, inv = np.float32(cell), np.float32(1.0 / cell)
    right, bottom = np.float32(gw - 1), np.float32(gh - 1)
    field, own = vectors.reshape(-1), known.reshape(-1)  # field[((t * gh + y) * gw + x) * 2 + c]
    steps = np.empty((len(starts), oh, ow, length, 2), np.float32)
    valid = np.empty((len(starts), oh, ow), np.bool_)
    px, py, sx, sy = np.empty(ow, np.float32), np.empty(ow, np.float32), np.empty(ow, np.float32), np.empty(ow, np.float32)
    ok = np.empty(ow, np.bool_)
    for s in range(len(starts)):
        for i in range(oh):
            for j in range(ow):  # the row's points at their cells' centres, with the field there as first guess
                px[j], py[j] = (np.float32(j) + np.float32(0.5)) * size, (np.float32(i) + np.float32(0.5)) * size
                sx[j], sy[j] = vectors[starts[s] + 1, i, j, 0], vectors[starts[s] + 1, i, j, 1]
                ok[j] = True
            for k in range(length):
                t = starts[s] + k + 1
                a = camera[t]  # frame t -> frame t-1
                for j in range(ow):
                    # the field at the guess p + (previous step), bilinear: one fixed-point step of q = p + v(q)
                    gx = min(max((px[j] + sx[j]) * inv - np.float32(0.5), np.float32(0.0)), right)
                    gy = min(max((py[j] + sy[j]) * inv - np.float32(0.5), np.float32(0.0)), bottom)
                    x0, y0 = min(np.int64(gx), max(gw - 2, 0)), min(np.int64(gy), max(gh - 2, 0))
                    fx, fy = gx - np.float32(x0), gy - np.float32(y0)
                    top = ((t * gh + y0) * gw + x0) * 2
                    below = top + 2 * gw if gh > 1 else top
                    side = 2 if gw > 1 else 0
                    tx = field[top] + fx * (field[top + side] - field[top])
                    ty = field[top + 1] + fx * (field[top + side + 1] - field[top + 1])
                    bx = field[below] + fx * (field[below + side] - field[below])
                    by = field[below + 1] + fx * (field[below + side + 1] - field[below + 1])
                    sx[j], sy[j] = tx + fy * (bx - tx), ty + fy * (by - ty)
                    qx, qy = px[j] + sx[j], py[j] + sy[j]
                    if compensate:  # A_t q - p: the step less the camera's
                        steps[s, i, j, k, 0] = a[0, 0] * qx + a[0, 1] * qy + a[0, 2] - px[j]
                        steps[s, i, j, k, 1] = a[1, 0] * qx + a[1, 1] * qy + a[1, 2] - py[j]
                    else:
                        steps[s, i, j, k, 0], steps[s, i, j, k, 1] = sx[j], sy[j]
                    kx, ky = min(max(np.int64(qx * inv), 0), gw - 1), min(max(np.int64(qy * inv), 0), gh - 1)
                    ok[j] &= (qx >= 0) & (qx < w) & (qy >= 0) & (qy < h) & own[(t * gh + ky) * gw + kx]
                    px[j], py[j] = qx, qy
            for j in range(ow):
                valid[s, i, j] = ok[j]
    return steps, valid
