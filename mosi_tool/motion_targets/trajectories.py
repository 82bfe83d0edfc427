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
INDEX_LIMIT = 2**31 - 1  # values of the field one call of the kernel reads (its indices are 32-bit)


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
    # the kernel indexes the field in 32 bits: groups of starts whose frames hold at most INDEX_LIMIT values
    group = max(1, INDEX_LIMIT // max(1, int(np.prod(vectors.shape[1:]))) - length - 1)
    parts = []
    for g in range(0, max(len(starts), 1), group):
        part = starts[g : g + group]
        lo, hi = (int(part.min()), int(part.max()) + length + 1) if len(part) else (0, 0)  # the frames these starts read
        parts.append(_track(np.ascontiguousarray(vectors[lo:hi], np.float32), np.ascontiguousarray(camera[lo:hi], np.float32),
                            np.ascontiguousarray(known[lo:hi], np.bool_), part - lo, length, size[0], size[1], compensate, cell))  # fmt: skip
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


@numba.njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
@no_type_check  # numba code: numpy scalars throughout
def _track(vectors: np.ndarray, camera: np.ndarray, known: np.ndarray, starts: np.ndarray, length: int, w: int, h: int,
           compensate: bool, cell: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """`track` on checked arrays (float32 vectors and camera, fewer than 2**31 values); w, h: the frame size (px).

    One row of points moves at a time, step by step, in three loops over the row's points: where each point
    reads the field (arithmetic only), the reads (bilinear between cell centres, clamped to the grid, through
    flat 32-bit indices), and the step, its camera compensation and the cell read for `known` (arithmetic
    only). The loops without the reads are vectorised by the compiler (a loop holding the field's reads is
    not: x86 gathers are priced too high), 2x faster than one loop doing it all, the same bits (float32
    throughout); the steps go to row buffers first, written out after the row's step.
    """
    n, gh, gw, _ = vectors.shape
    oh, ow = h // cell, w // cell
    size, inv = np.float32(cell), np.float32(1.0 / cell)
    right, bottom = np.float32(gw - 1), np.float32(gh - 1)
    field, own = vectors.reshape(-1), known.reshape(-1)  # field[((t * gh + y) * gw + x) * 2 + c]
    steps = np.empty((len(starts), oh, ow, length, 2), np.float32)
    valid = np.empty((len(starts), oh, ow), np.bool_)
    rows = np.empty((8, ow), np.float32)
    px, py, sx, sy, ox, oy, fx, fy = rows[0], rows[1], rows[2], rows[3], rows[4], rows[5], rows[6], rows[7]  # the row's points, their last step, this step (compensated), weights
    cells = np.empty((2, ow), np.int32)
    top, read = cells[0], cells[1]  # the field's index each point reads at, and the cell its step reads `known` at
    ok = np.empty(ow, np.bool_)
    xmax, ymax = np.int32(max(gw - 2, 0)), np.int32(max(gh - 2, 0))
    side, down = np.int32(2 if gw > 1 else 0), np.int32(2 * gw if gh > 1 else 0)
    gw32, gh32, one, two = np.int32(gw), np.int32(gh), np.int32(1), np.int32(2)
    zero, half = np.float32(0.0), np.float32(0.5)
    wf, hf = np.float32(w), np.float32(h)
    for s in range(len(starts)):
        for i in range(oh):
            for j in range(ow):  # the row's points at their cells' centres, with the field there as first guess
                px[j], py[j] = (np.float32(j) + half) * size, (np.float32(i) + half) * size
                sx[j], sy[j] = vectors[starts[s] + 1, i, j, 0], vectors[starts[s] + 1, i, j, 1]
                ok[j] = True
            for k in range(length):
                t = starts[s] + k + 1
                a00, a01, a02 = camera[t, 0, 0], camera[t, 0, 1], camera[t, 0, 2]  # frame t -> frame t-1
                a10, a11, a12 = camera[t, 1, 0], camera[t, 1, 1], camera[t, 1, 2]
                row0 = np.int32(t) * gh32
                for j in range(ow):  # the guess p + (previous step) on the grid: one fixed-point step of q = p + v(q)
                    gx = min(max((px[j] + sx[j]) * inv - half, zero), right)
                    gy = min(max((py[j] + sy[j]) * inv - half, zero), bottom)
                    x0, y0 = min(np.int32(gx), xmax), min(np.int32(gy), ymax)
                    fx[j], fy[j] = gx - np.float32(x0), gy - np.float32(y0)
                    top[j] = ((row0 + y0) * gw32 + x0) * two
                for j in range(ow):  # the field there, bilinear
                    a, b = top[j], top[j] + down
                    tx = field[a] + fx[j] * (field[a + side] - field[a])
                    ty = field[a + 1] + fx[j] * (field[a + side + 1] - field[a + 1])
                    bx = field[b] + fx[j] * (field[b + side] - field[b])
                    by = field[b + 1] + fx[j] * (field[b + side + 1] - field[b + 1])
                    sx[j], sy[j] = tx + fy[j] * (bx - tx), ty + fy[j] * (by - ty)
                for j in range(ow):
                    qx, qy = px[j] + sx[j], py[j] + sy[j]
                    if compensate:  # A_t q - p: the step less the camera's
                        ox[j] = a00 * qx + a01 * qy + a02 - px[j]
                        oy[j] = a10 * qx + a11 * qy + a12 - py[j]
                    else:
                        ox[j], oy[j] = sx[j], sy[j]
                    kx = min(max(np.int32(qx * inv), np.int32(0)), gw32 - one)
                    ky = min(max(np.int32(qy * inv), np.int32(0)), gh32 - one)
                    read[j] = (row0 + ky) * gw32 + kx
                    ok[j] &= (qx >= zero) & (qx < wf) & (qy >= zero) & (qy < hf)
                    px[j], py[j] = qx, qy
                for j in range(ow):
                    steps[s, i, j, k, 0], steps[s, i, j, k, 1] = ox[j], oy[j]
                    ok[j] &= own[read[j]]
            for j in range(ow):
                valid[s, i, j] = ok[j]
    return steps, valid
