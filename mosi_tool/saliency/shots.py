"""Scene cuts between consecutive frames, from their pictures: where the masks' colour model, the boxes' tracks and
the primary mover start afresh.

A cut changes both the frame's colours and what is where in it at once; motion, even a whip pan, changes the
colours little from one frame to the next, and a fade or a flash changes the colours but not what is where. So
each frame gets two changes from the frame before: its HSV colour histogram's (16 hue x 4 saturation x 4 value
bins of its `colour_picture`, 214x120 at 854x480; Bhattacharyya distance d, 0 to 1) and its layout's (the grey
levels at the same points, `grey_picture`, shrunk to 64x36; 1 - r, r their correlation, 0 to 2; 1 where either is
flat, a black frame),
and a cut is where d x (1 - r) exceeds CUT_SCORE: the content test of shot-boundary detection (as PySceneDetect's
content detector) checked by the picture's structure. Measured with `python tools/shot_distances.py` on the
shared videos, and with `--joins` on DAVIS sequences played one after another: the cuts of bikes.mp4 (a montage)
score 0.37 to 1.0, a cut of nasa_13013.mp4 0.31, DAVIS dog to goat (similar colours, d 0.35) 0.41, camel to goat
0.35, goat to dog 0.33; without a cut the largest are 0.24 (a corrupt frame of arm_wrestling.mp4), 0.21 (DAVIS dog
jumping back to its first frame: the same scene), 0.12 (motocross-jump's fastest frame), 0.01 (nasa's dissolve);
a fade and a flash change the colours, not the layout, and a flat frame is skipped (tests/test_shots.py).
A cut missed leaves the state of the shot before it (an id passed on, a colour model of the other scene); a cut
found where there is none starts them afresh (a new id, a colour model built again from that frame on).
The motion pass finds the cuts first (`frame_cuts`, on the pictures it decodes): the motion field and its maps are made shot by shot (`video.motion.iter_motion`'s `shots`), and the
masks read the same cuts (`SaliencyResult.cuts`); where the encoder put no keyframe at the cut, the vectors
that point into the other shot are dropped (`video.motion.streaming.within_shots`; docs/EVALUATION.md 2c).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Union

import numpy as np

from .appearance import SHORT_SIDE as COLOUR_SHORT_SIDE
from .pictures import CHROMA_FULL, LUMA_FULL, Picture, shrink

if TYPE_CHECKING:
    from ..video.decode import Frame

CUT_SCORE = 0.3  # colour change x layout change between consecutive frames (module docstring)
BINS = (16, 4, 4)  # hue, saturation, value
LAYOUT = (64, 36)  # (width, height) of the grey picture whose correlation is the layout's change
FLAT = 0.01  # grey levels (0 to 1): a layout's standard deviation below this is a flat frame (`CutDetector.is_cut`)
Source = Union["Frame", Picture, np.ndarray]  # a decoded frame, the mask step's picture, or an (H, W, 3) uint8 RGB image
Features = tuple[np.ndarray, np.ndarray]  # (`colour_histogram`, `layout`) of one frame


def colour_picture(source: Source) -> np.ndarray:
    """(h, w, 3) uint8 RGB: the frame at a short side of about COLOUR_SHORT_SIDE (the mask step's colour size). A
    decoded frame with its yuv420p planes: every s-th pixel of every s-th row (s = short side // 120, 4 at 480p;
    its chroma at the same places), converted as `pictures.picture` converts the planes (the mask step's
    area-averaged pictures cost the motion pass 0.7 CPU ms a frame at 854x480 with the histogram and layout; the
    cut test makes this picture only where the layouts differ enough for a cut). Otherwise the image shrunk by
    area averaging,
    or a `Picture`'s colour image as it is (`features` reads one without its grey levels)."""
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


def features(source: Source) -> Features:
    """(`histogram`, `layout` of the `grey_picture`) of a frame."""
    return histogram(source), layout(grey_picture(source))


def histogram(source: Source) -> np.ndarray:
    """The `colour_histogram` of a frame's `colour_picture`; of a `Picture` without colour, of its grey levels."""
    grey = isinstance(source, Picture) and source.colour is None
    return colour_histogram(grey_picture(source) if grey else colour_picture(source))


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


def changes(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """(d, r) between two frames' (`colour_histogram`, `layout`): the histograms' Bhattacharyya distance and the
    layouts' correlation (0 where either is flat)."""
    return cv2_bhattacharyya(a[0], b[0]), correlation(a[1], b[1])


def cv2_bhattacharyya(a: np.ndarray, b: np.ndarray) -> float:
    """The Bhattacharyya distance (0 to 1) of two histograms, OpenCV's."""
    import cv2

    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """The correlation of two `layout`s (each less its mean), 0 where either is flat."""
    norm = float(np.sqrt(float((a * a).sum()) * float((b * b).sum())))
    return float((a * b).sum()) / norm if norm > 1e-6 else 0.0  # a flat frame: nothing to compare


def cut_score(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """d x (1 - r) between two frames' (`colour_histogram`, `layout`) (`changes`, module docstring)."""
    d, r = changes(a, b)
    return d * (1.0 - r)


class CutDetector:
    """Says, frame by frame in order, whether a frame begins a new shot (module docstring)."""

    def __init__(self, threshold: float = CUT_SCORE):
        self.threshold = threshold
        self._previous: tuple[Source, np.ndarray, list[np.ndarray]] | None = None  # (source, layout, [histogram] once made)

    def is_cut(self, source: Source) -> bool:
        """Whether the next frame (`source`: its decoded frame, picture or image) is across a cut from the one
        before (never the first). A flat frame (a black or white frame, the bottom of a dip to black) is never a
        cut, and the frame after it is compared with the last frame before it: a dip within one shot is no cut,
        a fade out of one shot and into another one cut, where the next shot shows. The colour histograms are
        made only where the layouts differ enough for a cut (d <= 1, so 1 - r must exceed the threshold): most
        frames cost their layout alone (the previous frame is held until then)."""
        now = layout(grey_picture(source))
        if float(np.sqrt(np.mean(now * now))) < FLAT:
            return False
        previous, self._previous = self._previous, (source, now, [])
        if previous is None:
            return False
        r = correlation(previous[1], now)
        if 1.0 - r <= self.threshold:
            return False
        a, b = _histogram(previous), _histogram(self._previous)
        if a.shape != b.shape:
            return False
        return float(cv2_bhattacharyya(a, b)) * (1.0 - r) > self.threshold


def _histogram(seen: tuple[Source, np.ndarray, list[np.ndarray]]) -> np.ndarray:
    """A `CutDetector` frame's `histogram`, made on first use."""
    if not seen[2]:
        seen[2].append(histogram(seen[0]))
    return seen[2][0]


def frame_cuts() -> Callable[[Frame], bool]:
    """A fresh `CutDetector` of a video's decoded frames, in order (`video.motion.iter_motion`'s `shots`)."""
    return CutDetector().is_cut


def known_cuts(cuts: np.ndarray) -> Callable[[Frame], bool]:
    """The test of `video.clips.iter_clips`'s `shots` from cuts already found, (F,) bool by frame index (the motion
    pass's, `MotionField.cuts`): a frame begins a new shot where a cut lies after the frame asked before it, up to
    its own index (a cut between resampled frames starts the shot at the next frame sampled)."""
    shot = np.cumsum(cuts)
    last: list[int] = []  # the shot of the frame asked before

    def is_cut(frame: Frame) -> bool:
        now = int(shot[min(frame.index, len(shot) - 1)]) if len(shot) else 0
        new = bool(last) and now != last[0]
        last[:] = [now]
        return new

    return is_cut
