"""The motion field of a video (`MotionField`), the geometry of its cells, and filling its gaps in time."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

CELL = 8  # pixels
MAX_GAP = 16  # frames: the farthest a cell's or camera's value is carried in time to fill a gap


@dataclass
class MotionField:
    """Motion of every frame of a video on a grid of cells.

    vectors[t, i, j] is the velocity (dx, dy) in px/frame at frame resolution, from frame t-1 to t, of the
    cell whose centre is ((j + 0.5) * cell, (i + 0.5) * cell); frame 0 copies frame 1.
    camera[t] (2x3) maps frame t's pixel coordinates to frame t-1's (frame 0: frame 1's model).
    known[t, i, j] says the cell had a vector of its own in frame t (False: filled in time or by the camera).
    """

    vectors: np.ndarray  # (F, gh, gw, 2) float32 px/frame
    camera: np.ndarray  # (F, 2, 3) float64
    times: np.ndarray  # (F,) seconds, from PTS
    coded: np.ndarray  # (F,) bool: the frame had its own vectors (not interpolated)
    size: tuple[int, int]  # (width, height) of the frames
    cell: int
    source: str  # "h264 motion vectors", "optical flow (DIS)", ...
    start: int = 0  # index of the first frame (a chunk of `iter_motion`)
    known: np.ndarray | None = None  # (F, gh, gw) bool: the cell's own vector, not a filled gap

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
                                   known=None)  # fmt: skip

    def residual(self) -> np.ndarray:
        """(F, gh, gw, 2) px/frame: the vectors minus the camera's motion (object motion)."""
        return self.vectors - self.camera_flow()


def cell_centres(gh: int, gw: int, cell: int) -> np.ndarray:
    """(gh, gw, 2) float32 (x, y) pixel centres of a gh x gw grid of cell x cell cells."""
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float32)
    return np.stack([(xs + 0.5) * cell, (ys + 0.5) * cell], axis=-1)


def camera_velocity(camera: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Velocity p - A p (px/frame) that transforms A (F, 2, 3) give points (..., 2): shape (F, ..., 2)."""
    p = points.reshape(-1, 2).astype(np.float64)
    prev = camera[:, :, :2] @ p.T + camera[:, :, 2:]  # (F, 2, N): a matrix product, far faster than einsum here
    return (p.T[None] - prev).transpose(0, 2, 1).reshape(len(camera), *points.shape).astype(np.float32)


def fill_in_time(vectors: np.ndarray, max_gap: int | None = MAX_GAP) -> np.ndarray:
    """Replace NaN cells by linear interpolation along time from the same cell's nearest valid frames no more
    than `max_gap` frames away (None: any distance); with a valid frame on one side only, its value. Cells with
    none stay NaN. (F, gh, gw, k) -> same. The bound keeps every frame's result a function of its
    neighbourhood, so a video can be processed in chunks (`iter_motion`)."""
    f = len(vectors)
    flat = vectors.reshape(f, -1)
    valid = np.isfinite(flat)
    if valid.all() or not valid.any():
        return vectors
    out = flat.copy()
    cols = np.flatnonzero(~valid.all(axis=0))
    out[:, cols] = _fill_columns(flat[:, cols], valid[:, cols], max_gap)
    return out.reshape(vectors.shape)


def _nearest_valid(valid: np.ndarray, order: range, none: int) -> np.ndarray:
    """(F, C) int32: per entry, the frame index of the nearest valid entry of its column met walking the frames
    in `order` (itself included), `none` where there is none yet. One pass with whole rows at a time: far
    cheaper than accumulating (F, C) index arrays."""
    idx = np.empty(valid.shape, np.int32)
    last = np.full(valid.shape[1], none, np.int32)
    for t in order:
        np.copyto(last, t, where=valid[t])
        idx[t] = last
    return idx


def _fill_columns(flat: np.ndarray, valid: np.ndarray, max_gap: int | None) -> np.ndarray:
    """`fill_in_time` on (F, C) values with their validity."""
    f, c = flat.shape
    pos = np.flatnonzero(~valid)  # the gaps, as flat positions
    t, col = pos // c, pos % c
    b = _nearest_valid(valid, range(f), -1).ravel()[pos].astype(np.int64)
    a = _nearest_valid(valid, range(f - 1, -1, -1), f).ravel()[pos].astype(np.int64)
    has_b, has_a = b >= 0, a < f
    if max_gap is not None:
        has_b &= t - b <= max_gap
        has_a &= a - t <= max_gap
    values = flat.ravel()
    vb = values[np.clip(b, 0, f - 1) * c + col]
    va = values[np.clip(a, 0, f - 1) * c + col]
    frac = (t - b) / np.maximum(a - b, 1)
    out = flat.copy()
    out.ravel()[pos] = np.where(has_b & has_a, vb + (va - vb) * frac, np.where(has_b, vb, np.where(has_a, va, np.nan)))
    return out
