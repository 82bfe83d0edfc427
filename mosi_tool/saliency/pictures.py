"""A frame's pixels as the motion masks read them (`masks.MaskTracker`): grey levels at the working size (the
texture confidence and the guided filter's guide) and colour at the colour step's size (`appearance`).

Both are made from the decoded yuv420p planes where the frame has them (`video.decode.Frame.planes`): the grey
levels are the luma plane shrunk and stretched to full range, the colour OpenCV's full-range YCrCb conversion of
the planes shrunk and stretched likewise (BT.601, within a few levels of FFmpeg's RGB). No full-size RGB image is
made, which cost the mask step more than any of its rules at 854x480. A frame without planes (rotated, odd-sized,
full-range, 10-bit, ...) and an RGB array take the RGB route: the image shrunk by area averaging, its grey
levels OpenCV's, its colour shrunk again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..video.decode import Frame

WORK_SHORT_SIDE = 240  # pixels: the masks' working size (never upscaled)
# BT.601 limited range (luma 16..235, chroma 16..240 about 128) to full range, rounded
LUMA_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
CHROMA_FULL = np.clip(np.round((np.arange(256) - 128) * 255 / 224 + 128), 0, 255).astype(np.uint8)
GREY = LUMA_FULL.astype(np.float32) / 255  # luma to grey levels in [0, 1], in one table look-up


@dataclass(frozen=True)
class Picture:
    """grey: (h, w) float32 in [0, 1] at the working size; colour: (h', w', 3) uint8 RGB at the colour step's
    size, None where no step reads it."""

    grey: np.ndarray
    colour: np.ndarray | None


def work_size(width: int, height: int, short: int = WORK_SHORT_SIDE) -> tuple[int, int]:
    """(width, height) of the working resolution: short side `short`, never upscaled."""
    s = min(1.0, short / min(width, height))
    return max(1, round(width * s)), max(1, round(height * s))


def shrunk_size(width: int, height: int, short: int) -> tuple[int, int]:
    """(width, height) that `shrink` gives an array of width x height."""
    factor = min(width, height) / short
    if factor <= 1:
        return width, height
    if factor.is_integer():  # OpenCV's size for a resize by a factor: each side times 1 / factor, rounded
        return max(1, round(width / factor)), max(1, round(height / factor))
    return work_size(width, height, short)


def shrink(x: np.ndarray, short: int) -> np.ndarray:
    """`x` (h, w[, c]) resized (area average) to a short side of `short` pixels, never enlarged. A short side
    that is a whole multiple of `short` (240 to 120, the masks' case at 480p and above) is averaged over
    whole blocks: OpenCV's fast path, ten times faster than its general one (the long side rounds up)."""
    h, w = x.shape[:2]
    return _area(x, shrunk_size(w, h, short))


def picture(source: Frame | np.ndarray, frame_size: tuple[int, int], work_short: int = WORK_SHORT_SIDE,
            colour_short: int | None = None) -> Picture:  # fmt: skip
    """The mask step's `Picture` of a decoded frame (from its planes where it has them, see the module
    docstring) or of an (H, W, 3) uint8 RGB array at the video's size or already at the working size.
    frame_size: the video's (width, height); colour_short: the colour's short side, shrunk from the working
    size as `shrink` would (None: no colour)."""
    import cv2

    work = work_size(*frame_size, work_short)
    colour_size = shrunk_size(*work, colour_short) if colour_short else None
    planes = None if isinstance(source, np.ndarray) else source.planes
    if planes is not None:  # whether or not its RGB image was made: the masks must not depend on other outputs
        y, u, v = planes
        luma = _area(y, work)
        grey = cv2.LUT(luma, GREY)
        colour = None
        if colour_size:  # the luma from the working size's (2x2 blocks of 2x2 blocks at 480p: 4x4 blocks)
            ycc = cv2.merge([cv2.LUT(_area(p, colour_size), lut) for p, lut in ((luma, LUMA_FULL), (v, CHROMA_FULL), (u, CHROMA_FULL))])
            colour = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
        return Picture(grey, colour)
    image = source if isinstance(source, np.ndarray) else source.image
    small = _area(image, work)
    grey = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    return Picture(grey, shrink(small, colour_short) if colour_short else None)


def _area(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`x` at `size` = (width, height) by area averaging (itself at its own size); by a whole factor of the short
    side where that gives `size` (OpenCV's fast path over whole blocks, as `shrink` takes it: several times
    faster than a resize to a size, and on the same grid in portrait as in landscape)."""
    import cv2

    h, w = x.shape[:2]
    if (w, h) == tuple(size):
        return x
    short = min(size)
    factor = min(h, w) / short
    if factor.is_integer() and shrunk_size(w, h, short) == tuple(size):
        return cv2.resize(x, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA)
    return cv2.resize(x, size, interpolation=cv2.INTER_AREA)
