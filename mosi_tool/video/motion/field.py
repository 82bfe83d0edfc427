"""The motion field of a video (`MotionField`), the geometry of its cells, and filling its gaps in time."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import no_type_check

import numba
import numpy as np

from ..letterbox import Bars

CELL = 8  # pixels
MAX_GAP = 16  # frames: the farthest a cell's or camera's value is carried in time to fill a gap


@dataclass
class MotionField:
    """Motion of every frame of a video on a grid of cells.

    vectors[t, i, j] is the velocity (dx, dy) in px/frame at frame resolution, from frame t-1 to t, of the
    cell whose centre is ((j + 0.5) * cell, (i + 0.5) * cell); frame 0 copies frame 1.
    camera[t] (2x3) maps frame t's pixel coordinates to frame t-1's (frame 0: frame 1's model).
    known[t, i, j] says the cell had a vector of its own in frame t, or frame t is in a run of at most 5 frames
    without any vector between two frames whose cell had one (`streaming.bridge_short_gaps`); False: filled over
    a longer gap, or by the camera.
    cuts[t] says frame t begins a new shot (a scene cut between frames t-1 and t, `saliency.shots`): no vector
    pointing into another shot is kept (`streaming.within_shots`), no step of the field reaches across the cut
    (`streaming._finish_shots`), and frame t's vectors are its next frame's, as frame 0's are. None: not looked for.
    """

    vectors: np.ndarray  # (F, gh, gw, 2) float32 px/frame
    camera: np.ndarray  # (F, 2, 3) float64
    times: np.ndarray  # (F,) seconds, from PTS
    coded: np.ndarray  # (F,) bool: the frame had its own vectors (not interpolated)
    size: tuple[int, int]  # (width, height) of the frames
    cell: int
    source: str  # "h264 motion vectors", "optical flow (DIS)", ...
    start: int = 0  # index of the first frame (a chunk of `iter_motion`)
    known: np.ndarray | None = None  # (F, gh, gw) bool: the cell's own vector, or 1-5 frames without any between two
    bars: Bars = Bars()  # px: the black bars found (`letterbox`; none: all 0)
    cuts: np.ndarray | None = None  # (F,) bool: the frame begins a new shot; None: not looked for

    @property
    def grid(self) -> tuple[int, int]:
        """(gh, gw) cells."""
        return self.vectors.shape[1], self.vectors.shape[2]

    def centres(self) -> np.ndarray:
        """(gh, gw, 2) pixel coordinates (x, y) of the cell centres."""
        return cell_centres(*self.grid, self.cell)

    def camera_flow(self) -> np.ndarray:
        """(F, gh, gw, 2) px/frame: the velocity the camera model alone predicts at every cell."""
        return camera_velocity(self.camera, self.centres())

    def camera_only(self) -> MotionField:
        """This field without its cell vectors (an empty (F, 0, 0, 2) array), holding no reference to them:
        what clip stabilisation needs, ~60 bytes per frame."""
        empty = np.zeros((len(self.vectors), 0, 0, 2), np.float32)
        return dataclasses.replace(self, vectors=empty, camera=self.camera.copy(), times=self.times.copy(), coded=self.coded.copy(),
                                   known=None, cuts=self.cuts.copy() if self.cuts is not None else None)  # fmt: skip

    def residual(self) -> np.ndarray:
        """(F, gh, gw, 2) px/frame: the vectors minus the camera's motion (object motion)."""
        return self.vectors - self.camera_flow()

    def residual_speed(self) -> np.ndarray:
        """(F, gh, gw) float32 px/frame: the length of `residual`, without making it (one pass, no temporaries)."""
        return _residual_speed(np.ascontiguousarray(self.vectors, np.float32), np.ascontiguousarray(self.camera, np.float64), self.cell)


def cell_centres(gh: int, gw: int, cell: int) -> np.ndarray:
    """(gh, gw, 2) float32 (x, y) pixel centres of a gh x gw grid of cell x cell cells."""
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float32)
    return np.stack([(xs + 0.5) * cell, (ys + 0.5) * cell], axis=-1)


def camera_velocity(camera: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Velocity p - A p (px/frame) that transforms A (F, 2, 3) give points (..., 2): shape (F, ..., 2)."""
    p = points.reshape(-1, 2).astype(np.float64)
    prev = camera[:, :, :2] @ p.T + camera[:, :, 2:]  # (F, 2, N): a matrix product, far faster than einsum here
    return (p.T[None] - prev).transpose(0, 2, 1).reshape(len(camera), *points.shape).astype(np.float32)


ENTERING_TOLERANCE = 0.5  # px: how far outside the previous frame a cell's corner must map to count as entering


def entering_cells(camera: np.ndarray, grid: tuple[int, int], cell: int, size: tuple[int, int],
                   tolerance: float = ENTERING_TOLERANCE, area: tuple[int, int, int, int] | None = None) -> np.ndarray:  # fmt: skip
    """(F, gh, gw) bool: the cells of each frame that show content the previous frame did not, by the camera
    alone: some corner of the cell (clipped to the frame of `size` = (W, H)) maps, by the frame's camera model
    (F, 2, 3; frame t's pixels to frame t-1's), more than `tolerance` px outside frame t-1 (outside `area`,
    (x0, y0, x1, y1) px, where the picture lies within black bars; default the whole frame); and the cells
    next to those (a codec's 16-px block spans two cells, and its vector is one for both). The codec finds no
    match for such a block (on a pan, the strip entering at one edge), and its vector is whatever the encoder
    settled for: on a textured pan, speeds of several px/frame against the camera's in one column and row."""
    gh, gw = grid
    w, h = size
    x0, y0, x1, y1 = area if area is not None else (0, 0, w, h)
    xs = np.minimum(np.arange(gw + 1, dtype=np.float64) * cell, w)[None, :]  # cell edges, clipped to the frame
    ys = np.minimum(np.arange(gh + 1, dtype=np.float64) * cell, h)[:, None]
    entering = np.zeros((len(camera), gh, gw), bool)
    for t, a in enumerate(camera.astype(np.float64)):  # a frame at a time: the corners of a window are 100 MB
        px = a[0, 0] * xs + a[0, 1] * ys + a[0, 2]  # where each corner lands in frame t-1: (gh + 1, gw + 1)
        py = a[1, 0] * xs + a[1, 1] * ys + a[1, 2]
        out = (px < x0 - tolerance) | (px > x1 + tolerance) | (py < y0 - tolerance) | (py > y1 + tolerance)
        if out.any():
            entering[t] = out[:-1, :-1] | out[1:, :-1] | out[:-1, 1:] | out[1:, 1:]
    grown = entering.copy()  # and their neighbours: a 16-px macroblock spans two 8-px cells
    grown[:, 1:] |= entering[:, :-1]
    grown[:, :-1] |= entering[:, 1:]
    grown[:, :, 1:] |= entering[:, :, :-1]
    grown[:, :, :-1] |= entering[:, :, 1:]
    return grown


def fill_from_inside(vectors: np.ndarray, cells: np.ndarray, rounds: int = 8) -> None:
    """In place: each of `cells` (F, gh, gw) bool of (F, gh, gw, 2) float32 velocities takes the mean of its
    4-neighbours that are finite and not among `cells`, round after round inwards out (a strip of n cells takes
    n rounds), so the strip a pan brings in carries on the motion beside it: the camera's on the background,
    an object's where the object reaches the edge. Cells no round reaches (after `rounds`) become NaN."""
    _fill_from_inside(vectors, np.ascontiguousarray(cells, np.bool_), rounds)


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _fill_from_inside(vectors: np.ndarray, cells: np.ndarray, rounds: int) -> None:
    """`fill_from_inside`, a frame at a time over its cells to fill only (a whole window's arrays a round cost
    seconds a minute of video); neighbours summed in float32 in the order right, left, below, above."""
    f, gh, gw, _ = vectors.shape
    pending = cells.copy()
    take_i = np.empty(gh * gw, np.int64)
    take_j = np.empty(gh * gw, np.int64)
    take_v = np.empty((gh * gw, 2), np.float32)
    for t in range(f):
        for _ in range(rounds):
            n = 0
            for i in range(gh):
                for j in range(gw):
                    if not pending[t, i, j]:
                        continue
                    sx, sy, count = np.float32(0.0), np.float32(0.0), 0
                    for di, dj in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                        ii, jj = i + di, j + dj
                        if 0 <= ii < gh and 0 <= jj < gw and not pending[t, ii, jj] and np.isfinite(vectors[t, ii, jj, 0]):
                            sx += vectors[t, ii, jj, 0]
                            sy += vectors[t, ii, jj, 1]
                            count += 1
                    if count:
                        take_i[n], take_j[n] = i, j
                        take_v[n, 0], take_v[n, 1] = sx / np.float32(count), sy / np.float32(count)
                        n += 1
            if n == 0:
                break
            for k in range(n):
                vectors[t, take_i[k], take_j[k], 0] = take_v[k, 0]
                vectors[t, take_i[k], take_j[k], 1] = take_v[k, 1]
                pending[t, take_i[k], take_j[k]] = False
        for i in range(gh):
            for j in range(gw):
                if pending[t, i, j]:
                    vectors[t, i, j, 0] = np.nan
                    vectors[t, i, j, 1] = np.nan


def fill_in_time(vectors: np.ndarray, max_gap: int | None = MAX_GAP, in_place: bool = False) -> np.ndarray:
    """Replace NaN cells by linear interpolation along time from the same cell's nearest valid frames no more
    than `max_gap` frames away (None: any distance); with a valid frame on one side only, its value. Cells with
    none stay NaN. (F, gh, gw, k) -> same (`vectors` itself, filled, when `in_place`; it must then be
    C-contiguous). The bound keeps every frame's result a function of its neighbourhood, so a video can be
    processed in chunks (`iter_motion`)."""
    f = len(vectors)
    if f == 0 or not np.isnan(vectors).any():
        return vectors
    out = vectors if in_place else vectors.copy()
    _fill(out.reshape(f, -1), f if max_gap is None else max_gap)
    return out


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _fill(flat: np.ndarray, max_gap: int) -> None:
    """`fill_in_time` on (F, C) values, in place: one pass over the frames, each gap filled when the value after
    it is met (or the video ends). Only NaN entries are written and only valid ones read, so in place is safe."""
    f, c = flat.shape
    last = np.full(c, -1, np.int64)  # per column, the last valid frame so far
    for t in range(f + 1):
        for j in range(c):
            if t < f and np.isnan(flat[t, j]):
                continue
            b = last[j]
            for u in range(b + 1, t):  # the gap (b, t); b = -1: none before, t = f: none after
                near_b, near_a = b >= 0 and u - b <= max_gap, t < f and t - u <= max_gap
                if near_b and near_a:
                    flat[u, j] = flat[b, j] + (flat[t, j] - flat[b, j]) * ((u - b) / (t - b))
                elif near_b:
                    flat[u, j] = flat[b, j]
                elif near_a:
                    flat[u, j] = flat[t, j]
            last[j] = t


@numba.njit(inline="always")
@no_type_check  # numba code: numpy scalars throughout
def camera_at(a: np.ndarray, x: float, y: float) -> tuple[float, float]:
    """The velocity p - A p (px/frame) the camera model A (2, 3) gives at p = (x, y): `camera_velocity` for one
    point, inside the kernels."""
    return x - (a[0, 0] * x + a[0, 1] * y + a[0, 2]), y - (a[1, 0] * x + a[1, 1] * y + a[1, 2])


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def fill_by_camera(vectors: np.ndarray, camera: np.ndarray, cell: int) -> None:
    """In place: each NaN cell of (F, gh, gw, 2) float32 velocities takes the velocity p - A p its frame's
    camera model A (F, 2, 3) gives at its centre p (what `camera_velocity` gives, only where needed)."""
    f, gh, gw, _ = vectors.shape
    for t in range(f):
        a = camera[t]
        for i in range(gh):
            y = (i + 0.5) * cell
            for j in range(gw):
                if np.isnan(vectors[t, i, j, 0]) or np.isnan(vectors[t, i, j, 1]):
                    vectors[t, i, j, 0], vectors[t, i, j, 1] = camera_at(a, (j + 0.5) * cell, y)


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _residual_speed(vectors: np.ndarray, camera: np.ndarray, cell: int) -> np.ndarray:
    """`MotionField.residual_speed`: per cell, |v - (p - A p)| at its centre p."""
    f, gh, gw, _ = vectors.shape
    out = np.empty((f, gh, gw), np.float32)
    for t in range(f):
        a = camera[t]
        for i in range(gh):
            y = (i + 0.5) * cell
            for j in range(gw):
                cx, cy = camera_at(a, (j + 0.5) * cell, y)
                dx, dy = vectors[t, i, j, 0] - cx, vectors[t, i, j, 1] - cy
                out[t, i, j] = np.sqrt(dx * dx + dy * dy)
    return out
