"""Scene cuts between consecutive frames, from their pictures: where the masks' colour model, the boxes' tracks and
the primary mover start afresh.

A cut changes both the frame's colours and what is where in it at once; motion, even a whip pan, changes the
colours little from one frame to the next, and a fade or a flash changes the colours but not what is where. So
each frame gets two changes from the frame before: its HSV colour histogram's (16 hue x 4 saturation x 4 value
bins of its `colour_picture`, 214x120 at 854x480; Bhattacharyya distance d, 0 to 1) and its layout's (the grey
levels at the same points, `grey_picture`, shrunk to 64x36; 1 - r, r their correlation, 0 to 2; 1 where either is
flat, a black frame),
and a cut is where d x (1 - r) exceeds CUT_SCORE: the content test of shot-boundary detection (as PySceneDetect's
content detector) checked by the picture's structure. Two frames are compared on what both show: black bars
both have (letterbox, pillarbox, window box, with or without a logo or subtitles in them: `bars`) are left out,
as they made any two frames alike (60-px bars on 854x480 hid every cut). Measured with `python tools/shot_distances.py` on the
shared videos, and with `--joins` on DAVIS sequences played one after another: the cuts of bikes.mp4 (a montage)
score 0.37 to 1.0, a cut of nasa_13013.mp4 0.31, DAVIS dog to goat (similar colours, d 0.35) 0.41, camel to goat
0.35, goat to dog 0.33; without a cut the largest are 0.24 (a corrupt frame of arm_wrestling.mp4), 0.21 (DAVIS dog
jumping back to its first frame: the same scene), 0.12 (motocross-jump's fastest frame), 0.01 (nasa's dissolve);
a fade and a flash change the colours, not the layout, and a flat frame is skipped (tests/test_shots.py). Two
faded frames look alike whatever they show, so a fade through black or white from one scene into another
compares the incoming frame with the most contrasted frame of the picture that faded too, both stretched to
the same contrast (`CutDetector.is_cut`).
A cut missed leaves the state of the shot before it (an id passed on, a colour model of the other scene); a cut
found where there is none starts them afresh (a new id, a colour model built again from that frame on).
The motion pass finds the cuts first (`frame_cuts`, on the pictures it decodes): the motion field and its maps are made shot by shot (`video.motion.iter_motion`'s `shots`), and the
masks read the same cuts (`SaliencyResult.cuts`); where the encoder put no keyframe at the cut, the vectors
that point into the other shot are dropped (`video.motion.streaming.within_shots`; docs/EVALUATION.md 2c).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, NamedTuple, Union

import numpy as np

from ..video.clips import shot_ids
from .appearance import SHORT_SIDE as COLOUR_SHORT_SIDE
from .pictures import CHROMA_FULL, LUMA_FULL, Picture, shrink

if TYPE_CHECKING:
    from ..video.decode import Frame

CUT_SCORE = 0.3  # colour change x layout change between consecutive frames (module docstring)
BINS = (16, 4, 4)  # hue, saturation, value
LAYOUT = (64, 36)  # (width, height) of the grey picture whose correlation is the layout's change
FLAT = 0.004  # grey levels (0 to 1): a layout's standard deviation below this is a flat frame (`CutDetector.is_cut`)
BAR_DARK = 48  # grey levels (0 to 255): an edge line with BAR_SHARE of its pixels at most this dark is a black bar (`bars`)
BAR_SHARE = 0.6  # ... (text or a logo in a bar leaves most of its lines dark)
BAR_SOLID = 0.95  # ... and a top or bottom bar goes on to its innermost row this dark, past rows of subtitles: at
BAR_TEXT = 0.3  # least this share dark, the rest bright (a mean grey level of BAR_TEXT_GREY or more)
BAR_TEXT_GREY = 128
BAR_MOST = 0.3  # the most of a side taken as bars on each edge
BAR_CONTENT = 60  # mean grey level the picture within the bars must reach for them to be told apart (else the last bars found)
FADED = 0.5  # a frame whose contrast is below this share of the most contrasted frame of its picture's is faded (`CutDetector`)
Source = Union["Frame", Picture, np.ndarray]  # a decoded frame, the mask step's picture, or an (H, W, 3) uint8 RGB image


def colour_picture(source: Source) -> np.ndarray:
    """(h, w, 3) uint8 RGB: the frame at a short side of about COLOUR_SHORT_SIDE (the mask step's colour size). A
    decoded frame with its yuv420p planes: every s-th pixel of every s-th row (s = short side // 120, 4 at 480p;
    its chroma at the same places), converted as `pictures.picture` converts the planes (the mask step's
    area-averaged pictures cost the motion pass 0.7 CPU ms a frame at 854x480 with the histogram and layout; the
    cut test makes this picture only where the layouts differ enough for a cut). Otherwise the image shrunk by
    area averaging,
    or a `Picture`'s colour image as it is (a `Picture` without colour is read by its grey levels, `grey_picture`)."""
    import cv2

    if isinstance(source, Picture):
        assert source.colour is not None
        return source.colour
    planes = None if isinstance(source, np.ndarray) else source.planes
    if planes is None:
        return shrink(source if isinstance(source, np.ndarray) else source.image, COLOUR_SHORT_SIDE)
    y, u, v = planes
    step = max(1, min(y.shape) // COLOUR_SHORT_SIDE)
    if step % 2 == 0:  # the chroma sample of each luma sample (4:2:0)
        u, v = u[:: step // 2, :: step // 2], v[:: step // 2, :: step // 2]
    else:
        at = np.ix_(np.arange(0, y.shape[0], step) // 2, np.arange(0, y.shape[1], step) // 2)
        u, v = u[at], v[at]
    luma = np.ascontiguousarray(y[::step, ::step])
    ycc = cv2.merge([cv2.LUT(luma, LUMA_FULL), cv2.LUT(np.ascontiguousarray(v[: luma.shape[0], : luma.shape[1]]), CHROMA_FULL),
                     cv2.LUT(np.ascontiguousarray(u[: luma.shape[0], : luma.shape[1]]), CHROMA_FULL)])  # fmt: skip
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def grey_picture(source: Source) -> np.ndarray:
    """(h, w) uint8 grey levels of a frame at the size of its `colour_picture`: a decoded frame's luma plane sampled
    at the same points (stretched to full range), else the colour picture's grey levels (OpenCV's), or a `Picture`
    without colour's own."""
    import cv2

    if isinstance(source, Picture) and source.colour is None:
        return np.clip(source.grey * 255 + 0.5, 0, 255).astype(np.uint8)
    planes = None if isinstance(source, (np.ndarray, Picture)) else source.planes
    if planes is None:
        return cv2.cvtColor(colour_picture(source), cv2.COLOR_RGB2GRAY)
    y = planes[0]
    step = max(1, min(y.shape) // COLOUR_SHORT_SIDE)
    return cv2.LUT(np.ascontiguousarray(y[::step, ::step]), LUMA_FULL)


def colour_histogram(image: np.ndarray) -> np.ndarray:
    """(16, 4, 4) float32 HSV histogram of an RGB picture (h, w, 3) uint8, summing to 1; of grey levels (h, w) uint8,
    their histogram of as many bins."""
    import cv2

    if image.ndim == 2:
        hist = cv2.calcHist([image], [0], None, [BINS[0] * BINS[1] * BINS[2]], [0, 256])
    else:
        hist = cv2.calcHist([cv2.cvtColor(image, cv2.COLOR_RGB2HSV)], [0, 1, 2], None, list(BINS), [0, 180, 0, 256, 0, 256])
    return hist / max(float(hist.sum()), 1.0)


def layout(grey: np.ndarray) -> np.ndarray:
    """(36, 64) float32: grey levels (h, w) uint8, in [0, 1], shrunk (area average), less their mean."""
    import cv2

    small = cv2.resize(grey, LAYOUT, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    return small - small.mean()


def bhattacharyya(a: np.ndarray, b: np.ndarray) -> float:
    """The Bhattacharyya distance (0 to 1) of two histograms, OpenCV's."""
    import cv2

    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """The correlation of two `layout`s (each less its mean), 0 where either is flat."""
    norm = float(np.sqrt(float((a * a).sum()) * float((b * b).sum())))
    return float((a * b).sum()) / norm if norm > 1e-6 else 0.0  # a flat frame: nothing to compare


class Seen(NamedTuple):
    """A frame as the `CutDetector` compares it: its source, `grey_picture` and `bars`, and the layouts and colour
    histograms made of it so far, by crop (`seen`, `compare`)."""

    source: Source
    grey: np.ndarray
    bars: tuple[int, int, int, int]
    contrast: float  # the standard deviation of the grey levels (0 to 1) of what it shows, at the layout's size
    layouts: dict[tuple[int, int, int, int], np.ndarray]
    histograms: dict[tuple[tuple[int, int, int, int], bool], np.ndarray]

    def layout(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """The `layout` of the grey picture less `box` (top, bottom, left, right) along its edges, made once."""
        if box not in self.layouts:
            self.layouts[box] = layout(_crop(self.grey, box))
        return self.layouts[box]

    def histogram(self, box: tuple[int, int, int, int], stretch: bool = False) -> np.ndarray:
        """The `colour_histogram` of the colour picture less `box` (of the grey levels of a `Picture` without
        colour), made once; stretch: the picture's grey levels' 1st to 99th percentile stretched to 0..255 first
        (a frame faded to black or white compared by its colours, not by how faded it is)."""
        if (box, stretch) not in self.histograms:
            import cv2

            grey = isinstance(self.source, Picture) and self.source.colour is None
            picture = self.grey if grey else colour_picture(self.source)
            picture = _crop(picture, box) if picture.shape[:2] == self.grey.shape else picture
            if stretch:
                low, high = np.percentile(_crop(self.grey, box), (1, 99))
                gain = 255.0 / max(float(high - low), 1.0)
                picture = cv2.convertScaleAbs(picture, alpha=gain, beta=-float(low) * gain)
            self.histograms[box, stretch] = colour_histogram(picture)
        return self.histograms[box, stretch]

    @property
    def flat(self) -> bool:
        """Whether what the frame shows (within its bars) is flat: a black or white frame (FLAT)."""
        return self.contrast < FLAT


def seen(source: Source, known_bars: tuple[int, int, int, int] = (0, 0, 0, 0)) -> Seen:
    """A frame's `Seen`: its grey picture, bars, contrast and layout within them. known_bars: the bars to take
    where the picture is too dark to tell its own (a fade, a night scene: `bars`)."""
    grey = grey_picture(source)
    box = bars(grey)
    if box != (0, 0, 0, 0) and float(_crop(grey, box).mean()) < BAR_CONTENT:
        box = known_bars
    lay = layout(_crop(grey, box))
    return Seen(source, grey, box, float(np.sqrt(np.mean(lay * lay))), {box: lay}, {})


def compare(a: Seen, b: Seen, threshold: float | None = None, stretch: bool = False) -> tuple[float, float, float]:
    """(score, d, r) from frame a to frame b, on what both show (the black bars both have left out): d the
    colour histograms' Bhattacharyya distance, r the layouts' correlation, the score d x (1 - r). threshold: when
    1 - r is at most this, no score can pass it (d <= 1) and the histograms are not made: (1 - r, nan, r).
    stretch: the histograms of the pictures' contrast stretched (`Seen.histogram`)."""
    box = _shown_by_both(a, b)
    r = correlation(a.layout(box), b.layout(box))
    if threshold is not None and 1.0 - r <= threshold:
        return 1.0 - r, float("nan"), r
    ha, hb = a.histogram(box, stretch), b.histogram(box, stretch)
    d = bhattacharyya(ha, hb) if ha.shape == hb.shape else 0.0
    return d * (1.0 - r), d, r


class CutDetector:
    """Says, frame by frame in order, whether a frame begins a new shot (module docstring)."""

    def __init__(self, threshold: float = CUT_SCORE):
        self.threshold = threshold
        self._previous: Seen | None = None
        self._reference: Seen | None = None  # the most contrasted frame since the layout last changed (a fade's start)
        self._bars: tuple[int, int, int, int] = (0, 0, 0, 0)  # the last bars told apart

    def is_cut(self, source: Source) -> bool:
        """Whether the next frame (`source`: its decoded frame, picture or image) is across a cut from the one
        before (never the first). Two frames are compared on what they show: the black bars both have (`bars`:
        letterbox, pillarbox) are left out, as they would make any two frames alike. A flat frame (a black or
        white frame, the bottom of a dip to black) is never a cut, and the frame after it is compared with the
        last frame before it, and, where that one was faded (`FADED`: the end of a fade out to black or white),
        with the most contrasted frame of the picture that faded too, their contrasts stretched alike (two faded
        frames' colours look alike whatever they show): a dip within one shot is no cut, a fade out of one shot
        and into another one cut, where the next shot shows. The colour histograms are made only where the
        layouts differ enough for a cut (`compare`'s threshold): most frames cost their layout alone (the
        previous frame is held until then)."""
        now = seen(source, self._bars)
        if now.flat:
            return False
        previous, self._previous = self._previous, now
        if now.bars != (0, 0, 0, 0) or float(now.grey.mean()) >= BAR_CONTENT:
            self._bars = now.bars  # the bars of a picture bright enough to tell them
        if previous is None or previous.grey.shape != now.grey.shape:
            self._reference = now
            return False
        reference = self._reference if self._reference is not None and self._reference.grey.shape == now.grey.shape else previous
        cut = compare(previous, now, self.threshold)[0] > self.threshold
        if not cut and reference is not previous and previous.contrast < FADED * reference.contrast:
            cut = compare(reference, now, self.threshold, stretch=True)[0] > self.threshold
        # the reference of a fade: the most contrasted frame of the picture being faded (the layout unchanged)
        if cut or now.contrast >= reference.contrast or _layouts_differ(reference, now, self.threshold):
            self._reference = now
        return cut


def _layouts_differ(a: Seen, b: Seen, threshold: float) -> bool:
    """Whether two frames' layouts differ enough for a cut between them (1 - r over `threshold`, `compare`)."""
    box = _shown_by_both(a, b)
    return 1.0 - correlation(a.layout(box), b.layout(box)) > threshold


def _shown_by_both(a: Seen, b: Seen) -> tuple[int, int, int, int]:
    """The bars (top, bottom, left, right) both frames have: what is left out when they are compared."""
    top, bottom, left, right = (min(x, y) for x, y in zip(a.bars, b.bars))
    return top, bottom, left, right


def bars(grey: np.ndarray, dark: int = BAR_DARK, share: float = BAR_SHARE, most: float = BAR_MOST) -> tuple[int, int, int, int]:
    """(top, bottom, left, right): the rows and columns of black bars along each edge of grey levels (h, w) uint8:
    the edge's run of lines with at least `share` of their pixels at most `dark` (text or a logo in a bar leaves
    most of its lines dark), up to `most` of the side; a top or bottom bar goes on past rows of subtitles (at least
    BAR_TEXT dark, the rest at least BAR_TEXT_GREY on average) to its innermost row at least BAR_SOLID dark. `seen`
    takes them only where the picture within is bright enough to tell them from a dark scene (BAR_CONTENT)."""
    h, w = grey.shape
    black = grey <= dark
    rows_dark = black.sum(axis=1, dtype=np.int32) / w  # each line's share of dark pixels
    cols_dark = black.sum(axis=0, dtype=np.int32) / h
    rows, cols = int(most * h), int(most * w)

    def run(lines: np.ndarray, limit: int, pixels: np.ndarray | None = None) -> int:
        light = np.flatnonzero(lines[:limit] < share)
        bar = int(light[0]) if len(light) else limit
        if pixels is None or bar == limit or lines[bar] < BAR_TEXT or not (lines[bar:limit] >= BAR_SOLID).any():
            return bar
        for k in range(bar, limit):  # rows of subtitles (dark at least BAR_TEXT, the rest bright) or dark ones
            if lines[k] < share and (lines[k] < BAR_TEXT or pixels[k][pixels[k] > dark].mean() < BAR_TEXT_GREY):
                break
            if lines[k] >= BAR_SOLID:
                bar = k + 1
        return bar

    return run(rows_dark, rows, grey), run(rows_dark[::-1], rows, grey[::-1]), run(cols_dark, cols), run(cols_dark[::-1], cols)


def _crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """`image` (h, w[, c]) less `box` = (top, bottom, left, right) lines along its edges."""
    top, bottom, left, right = box
    return image[top : image.shape[0] - bottom, left : image.shape[1] - right]


def frame_cuts() -> Callable[[Frame], bool]:
    """A fresh `CutDetector` of a video's decoded frames, in order (`video.motion.iter_motion`'s `shots`)."""
    return CutDetector().is_cut


def known_cuts(cuts: np.ndarray) -> Callable[[Frame], bool]:
    """The test of `video.clips.iter_clips`'s `shots` from cuts already found, (F,) bool by frame index (the motion
    pass's, `MotionField.cuts`): a frame begins a new shot where a cut lies after the frame asked before it, up to
    its own index (a cut between resampled frames starts the shot at the next frame sampled)."""
    shot = shot_ids(cuts)
    last: list[int] = []  # the shot of the frame asked before

    def is_cut(frame: Frame) -> bool:
        now = int(shot[min(frame.index, len(shot) - 1)]) if len(shot) else 0
        new = bool(last) and now != last[0]
        last[:] = [now]
        return new

    return is_cut
