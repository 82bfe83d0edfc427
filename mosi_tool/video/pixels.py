"""Stored pixels as a player shows them: the sample aspect ratio (SAR) and the codec's crop.

- **SAR.** A stored pixel may be wider or narrower than tall (PAL DVD: 720x576 with SAR 16:11 is shown
  1047x576). Players scale the width by the SAR; so does the decoder here (in libswscale), so every frame,
  feature and map is computed on square pixels, and outputs keep the displayed shape.
- **Crop.** The decoder shows only the cropped part of the coded picture (an H.264 SPS crop), but the motion
  vectors it exports are placed in the coded picture: `offset` is where the shown picture starts in it.

Orientation (a display matrix) applies after both, to the square-pixel frame (`orientation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

MAX_SAR = 10  # a SAR beyond 1/10..10 is taken for a damaged header and ignored


@dataclass(frozen=True)
class PixelShape:
    """How decoded frames (before orientation) become square-pixel frames."""

    stored: tuple[int, int]  # (width, height) of the decoded frames
    sar: Fraction = Fraction(1)  # a stored pixel's width over its height
    offset: tuple[int, int] = (0, 0)  # (left, top) pixels: where the decoded frame lies in the coded picture

    @classmethod
    def of(cls, stored: tuple[int, int], sar: Fraction | None, offset: tuple[int, int] = (0, 0)) -> PixelShape:
        """A shape with the stream's SAR, ignoring an unknown (None, 0) or implausible one."""
        ok = sar is not None and Fraction(1, MAX_SAR) <= sar <= MAX_SAR
        return cls(stored, Fraction(sar) if ok and sar is not None else Fraction(1), offset)

    @property
    def square(self) -> tuple[int, int]:
        """(width, height) with square pixels: the width scaled by the SAR, as players show it."""
        w, h = self.stored
        return (max(1, round(w * self.sar)), h)

    def note(self) -> str | None:
        """What a user should know about the resampling, or None for square pixels."""
        if self.square == self.stored:
            return None
        (w, h), (sw, sh) = self.stored, self.square
        return (f"non-square pixels (SAR {self.sar.numerator}:{self.sar.denominator}): frames resampled from {w}x{h} "
                f"to {sw}x{sh}, as they are displayed")  # fmt: skip

    def square_field(self, field: np.ndarray, cell: int) -> np.ndarray:
        """(F, gh, gw, 2) displacements in stored pixels on a grid of `cell`-pixel cells over the stored frame
        -> (F, gh, gw', 2) in square pixels on the same kind of grid over the square frame: each cell takes the
        stored cell under its centre, and dx scales with the SAR (dy is unchanged)."""
        if self.square == self.stored:
            return field
        gw = -(-self.square[0] // cell)
        centres = (np.arange(gw) + 0.5) * cell / float(self.sar)  # stored x of each new cell's centre
        cols = np.minimum(field.shape[2] - 1, (centres // cell).astype(np.int64))
        out = field[:, :, cols] * np.array([float(self.sar), 1.0], np.float32)
        return np.ascontiguousarray(out, dtype=np.float32)
