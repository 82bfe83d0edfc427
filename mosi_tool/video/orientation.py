"""Display orientation: the container's display matrix (phone rotation, mirroring) -> upright frames.

A phone stores a portrait clip as landscape frames plus a display matrix that tells players to rotate them.
FFmpeg decodes the stored frames; this module turns the matrix into the axis swap and flips that make them
upright, the same result as the `ffmpeg` command line's autorotate for every rotation by a multiple of 90
degrees, with or without a mirror.

The matrix (FFmpeg's `AV_FRAME_DATA_DISPLAYMATRIX`, nine int32, a b u / c d v / x y w, a..d in 16.16 fixed
point) maps a stored pixel (p, q) (column, row) to the displayed (a p + c q, b p + d q), up to a translation.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np


@dataclass(frozen=True)
class Orientation:
    """How stored frames become upright: optionally swap the axes, then flip rows and/or columns."""

    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False
    note: str | None = None  # set when the matrix was not a multiple of 90 degrees and was snapped

    @property
    def identity(self) -> bool:
        return not (self.transpose or self.flip_rows or self.flip_cols)

    def display_size(self, width: int, height: int) -> tuple[int, int]:
        """Stored (width, height) -> displayed (width, height)."""
        return (height, width) if self.transpose else (width, height)

    def stored_size(self, width: int, height: int) -> tuple[int, int]:
        """Displayed (width, height) -> stored (width, height); the same swap, as it is its own inverse."""
        return self.display_size(width, height)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """(H, W, ...) stored -> (H', W', ...) upright, contiguous (a copy unless the identity)."""
        if self.identity:
            return image
        if self.transpose:
            image = image.swapaxes(0, 1)
        if self.flip_rows:
            image = image[::-1]
        if self.flip_cols:
            image = image[:, ::-1]
        return np.ascontiguousarray(image)

    def describe(self) -> tuple[int, bool]:
        """(rotation, mirrored): degrees counter-clockwise (0, 90, 180, 270), then a horizontal mirror or not."""
        probe = np.arange(6).reshape(2, 3)
        out = self.apply(probe)
        for turns in range(4):
            for mirrored in (False, True):
                ref = np.rot90(probe, turns)
                ref = ref[:, ::-1] if mirrored else ref
                if ref.shape == out.shape and np.array_equal(ref, out):
                    return 90 * turns, mirrored
        raise AssertionError("unreachable: the eight orientations cover every axis swap and flip")


IDENTITY = Orientation()


def from_matrix(matrix: np.ndarray | list[int]) -> Orientation:
    """The orientation of a 3x3 display matrix given as nine int32 (FFmpeg's layout, row-major)."""
    m = np.asarray(matrix, dtype=np.float64).reshape(9) / 65536.0
    a, b, c, d = m[0], m[1], m[3], m[4]
    if max(abs(a), abs(b), abs(c), abs(d)) < 1e-6:
        return IDENTITY  # an all-zero matrix: nothing usable
    note = None
    axis_aligned = min(abs(a), abs(b)) < 1e-3 and min(abs(c), abs(d)) < 1e-3
    if not axis_aligned:
        angle = float(np.degrees(np.arctan2(b, a)))
        note = f"display matrix rotates by {-angle:.0f} degrees, not a multiple of 90: using the nearest"
    if abs(a) >= abs(b):  # stored columns stay columns
        return Orientation(False, bool(d < 0), bool(a < 0), note)
    return Orientation(True, bool(b < 0), bool(c < 0), note)  # stored rows become columns


def frame_orientation(frame: av.VideoFrame) -> Orientation:
    """The orientation a decoded frame's display-matrix side data asks for (identity when it has none)."""
    side = frame.side_data.get("DISPLAYMATRIX")  # by name: PyAV 18.1.0 iterates the side data, 18.1.1 their types
    if side is not None and side.buffer_size >= 36:
        return from_matrix(np.frombuffer(bytes(side), dtype="<i4", count=9))
    return IDENTITY
