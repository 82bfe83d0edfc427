"""Letterbox and pillarbox bars: black borders coded into the picture (a 2.39:1 film in a 16:9 frame, a phone's
portrait video in a landscape one), as many web videos and datasets scraped from them hold.

A bar does not move with the scene: under a pan its codec vectors are zero, or whatever the encoder predicted
from the blocks beside it (a flat block matches any vector), so the motion field would read it as motion against
the camera. `find_bars` finds the bars from the first frames' pixels, as FFmpeg's `cropdetect` does (rows and
columns at the edges no brighter than `BAR_LEVEL` in any of them), and flat as coded black is (within
`BAR_SPREAD`: the dark edges of a night scene vary more); the motion field then treats the cells whose centres
lie in a bar as having no vector of their own (`streaming._finish`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import av
import numpy as np

from .decode import VideoError

if TYPE_CHECKING:
    from .decode import VideoReader

BAR_LEVEL = 24  # 8-bit: a bar's pixels are no brighter than this in every frame sampled (cropdetect's limit)
BAR_SPREAD = 6  # 8-bit: and differ by no more than this along a bar's row (column), over the frames sampled
SAMPLES = 8  # frames sampled: the first ones that are not black all over (a fade in from black is skipped)
SHOWN = 0.1  # of a frame's pixels brighter than BAR_LEVEL: fewer, and it is (nearly) black, as a fade's first frames
LOOK = 90  # frames read at most to find them
MIN_CONTENT = 0.4  # bars that leave less than this share of the picture's height (width) are no bars: a dark picture
SYMMETRY = 4  # px, or 10% of the wider bar: how far a pair of bars may differ (a picture is centred between them)
LIT_EDGE = 0.25  # of one of the first lines past a bar brighter than BAR_LEVEL in some frame: the picture starts there
EDGE_LINES = 8  # the lines past a bar's dark run looked at: the picture's edge rings into the last ones (a chroma block across it)


@dataclass(frozen=True)
class Bars:
    """Black bars at the picture's edges, in pixels of the upright picture; all 0: none."""

    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0

    def __bool__(self) -> bool:
        return bool(self.top or self.bottom or self.left or self.right)

    def within(self, other: Bars) -> Bars:
        """The bars both show: each side's narrower width, and a pair whose side is gone (0) gone whole."""
        top, bottom, left, right = (min(a, b) for a, b in ((self.top, other.top), (self.bottom, other.bottom),
                                                           (self.left, other.left), (self.right, other.right)))  # fmt: skip
        if not (top and bottom):
            top = bottom = 0
        if not (left and right):
            left = right = 0
        return Bars(top, bottom, left, right)

    def content(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): the picture inside the bars, of a frame of `size` = (W, H) (x1, y1 exclusive)."""
        w, h = size
        return self.left, self.top, w - self.right, h - self.bottom

    def cells(self, grid: tuple[int, int], cell: int, size: tuple[int, int]) -> np.ndarray:
        """(gh, gw) bool: the cells of `grid` whose centres lie in a bar, for frames of `size` = (W, H)."""
        gh, gw = grid
        x0, y0, x1, y1 = self.content(size)
        ys = (np.arange(gh) + 0.5) * cell
        xs = (np.arange(gw) + 0.5) * cell
        return ((ys < y0) | (ys >= y1))[:, None] | ((xs < x0) | (xs >= x1))[None, :]


def find_bars(images: Iterable[np.ndarray], level: int = BAR_LEVEL, spread: int = BAR_SPREAD, samples: int = SAMPLES,
              look: int = LOOK) -> Bars:  # fmt: skip
    """The black bars of a video from its first frames, (H, W, 3) uint8 RGB upright: the rows (columns) that run
    unbroken from an edge, no brighter than `level` in every one of the first `samples` frames that are not
    black all over, nor nearly (of the first `look`; `_shown`: a slow fade's dim first frames are skipped too), at
    least half of them from the edge also within `spread` of their darkest pixel (`_bar`), ending where the
    picture starts (the first of the EDGE_LINES lines past them with LIT_EDGE of it bright: the lines before it
    ring with the picture's edge and are bar; a dark scene fades out instead), in pairs of about one width on
    opposite edges (`SYMMETRY`). None (Bars()) where no frame shows anything, or where the bars would leave less
    than MIN_CONTENT of the picture's height (width)."""
    taken: list[np.ndarray] = []  # each frame's brightest channel (H, W), and its darkest
    darkest: list[np.ndarray] = []
    lit = np.zeros(4, bool)  # the top, bottom, left and right edge lines: brighter than `level` in a frame taken
    for k, image in enumerate(images):
        if k >= look or len(taken) >= samples:
            break
        bright = _channels(np.maximum, image)
        if not _shown(bright, level):
            continue  # black all over, or nearly (a fade in): says nothing of the bars
        lit |= [bright[0].max() > level, bright[-1].max() > level, bright[:, 0].max() > level, bright[:, -1].max() > level]
        if lit.all():  # a bar starts at an edge dark in every frame: none can now, so the frames to come are not read
            return Bars()
        taken.append(bright)
        darkest.append(_channels(np.minimum, image))
    if not taken:
        return Bars()
    hi, lo = np.max(taken, axis=0), np.min(darkest, axis=0)  # (H, W) over the frames
    widths = []
    for axis in (1, 0):  # rows (a line along x), then columns
        brightest = hi.max(axis=axis)
        dark, flat = brightest <= level, brightest.astype(np.int16) - lo.min(axis=axis) <= spread
        pair = []
        for order in (slice(None), slice(None, None, -1)):
            width = _bar(dark[order], flat[order])
            n = len(dark)
            ends = np.zeros(0, np.int64)
            if 0 < width < n - EDGE_LINES:  # the picture's first lines past the bar (the first may ring with its edge)
                inner = np.arange(width, width + EDGE_LINES) if order.step is None else n - 1 - np.arange(width, width + EDGE_LINES)
                # each line's share of bright pixels, in the frame where it is largest: (EDGE_LINES,)
                lit = np.max([(np.take(b, inner, axis=1 - axis) > level).mean(axis=axis) for b in taken], axis=0)
                ends = np.flatnonzero(lit >= LIT_EDGE)
            # the bar ends at the first lit line: the lines before it ring with the picture's edge (a few pixels just
            # over `level` where an encoder's block spans the edge), still bar
            pair.append(width + int(ends[0]) if len(ends) else 0)
        widths.append(pair)
    (top, bottom), (left, right) = widths
    rows, cols = hi.shape
    if top + bottom > (1 - MIN_CONTENT) * rows or not _pair(top, bottom):
        top = bottom = 0
    if left + right > (1 - MIN_CONTENT) * cols or not _pair(left, right):
        left = right = 0
    return Bars(top, bottom, left, right)


CHECKS = (0.25, 0.5, 0.75)  # of the video's duration: where the bars of its first frames are looked for again


def video_bars(reader: VideoReader) -> Bars:
    """The bars of the video `reader` reads: `find_bars` on its first frames (a short decode of their own),
    then kept only as far as the picture at each of CHECKS of its duration (the keyframe there: a seek and one
    picture) shows them too, so that a title or logo on black at the start is not taken for bars over the
    whole video; a check that shows nothing (black all over) or cannot seek is left out. None where the first
    frames cannot be decoded (the caller's own decode then says why, or decodes past what it can)."""
    try:
        with contextlib.closing(reader.frames(threads=1)) as first:
            bars = find_bars(f.image for f in first)
    except (VideoError, av.FFmpegError):
        return Bars()
    duration = reader.info.duration
    for share in CHECKS if bars and duration else ():
        try:
            with contextlib.closing(reader.frames_from(share * duration, threads=1)) as later:
                image = next(later, None)
        except (VideoError, av.FFmpegError):
            continue
        if image is None or not _shown(_channels(np.maximum, image.image)):
            continue
        bars = bars.within(find_bars([image.image], samples=1))
    return bars


def _channels(pick: np.ufunc, image: np.ndarray) -> np.ndarray:
    """(H, W): `pick` (np.maximum, np.minimum) of an (H, W, 3) image's channels, elementwise (20x faster than
    numpy's reduction along the short last axis); a grey (H, W) image as it is."""
    if image.ndim == 2:
        return image
    return pick(pick(image[..., 0], image[..., 1]), image[..., 2])


def _shown(bright: np.ndarray, level: int = BAR_LEVEL) -> bool:
    """Whether a frame, (H, W) its brightest channel, shows a picture: at least SHOWN of its pixels brighter than
    `level`. A frame black all over, or nearly (the first second or two of a slow fade in from black, where even
    the picture's edge past a bar is still under `level`), says nothing of the bars."""
    return np.count_nonzero(bright > level) >= SHOWN * bright.size


def _pair(a: int, b: int) -> bool:
    """Whether two bars on opposite edges frame a centred picture: both there, of about one width (a dark
    scene's edges are seldom so; a one-sided black strip is left alone)."""
    return a > 0 and b > 0 and abs(a - b) <= max(SYMMETRY, 0.1 * max(a, b))


def _bar(dark: np.ndarray, flat: np.ndarray) -> int:
    """The width of the bar at the start of the lines `dark` and `flat` (bool, from the edge inwards): the lines
    dark from the edge, where the flat ones among them run from the edge for at least half of them (a coded
    black bar is flat; the last lines before the picture ring with its edges, dark but not flat)."""
    width, core = _run(dark), _run(dark & flat)
    return width if core >= width / 2 else 0


def _run(lines: np.ndarray) -> int:
    """The length of the run of True at the start of `lines`."""
    return int(np.argmin(lines)) if not lines.all() else len(lines)
