"""Scene cuts between consecutive frames, from their pictures: where the masks' colour model, the boxes' tracks and
the primary mover start afresh.

A cut changes both the frame's colours and what is where in it at once; motion, even a whip pan, changes the
colours little from one frame to the next, and a fade or a flash changes the colours but not what is where. So
each frame gets two changes from the frame before: its HSV colour histogram's (16 hue x 4 saturation x 4 value
bins of the mask step's colour picture, 214x120 at 854x480; Bhattacharyya distance d, 0 to 1) and its layout's
(the grey picture shrunk to 64x36; 1 - r, r their correlation, 0 to 2; 1 where either is flat, a black frame),
and a cut is where d x (1 - r) exceeds CUT_SCORE: the content test of shot-boundary detection (as PySceneDetect's
content detector) checked by the picture's structure. Measured with `python tools/shot_distances.py` on the
shared videos, and with `--joins` on DAVIS sequences played one after another: the cuts of bikes.mp4 (a montage)
score 0.38 to 1.0, a cut of nasa_13013.mp4 0.32, DAVIS dog to goat (similar colours, d 0.35) 0.41, camel to goat
0.37, goat to dog 0.32; without a cut the largest are 0.24 (a corrupt frame of arm_wrestling.mp4), 0.22 (DAVIS dog
jumping back to its first frame: the same scene), 0.15 (a whip pan), 0.12 (motocross-jump's fastest frame), 0.01
(nasa's dissolve); a fade and a flash change the colours, not the layout (tests/test_shots.py).
A cut missed leaves the state of the shot before it (an id passed on, a colour model of the other scene); a cut
found where there is none starts them afresh (a new id, a colour model built again from that frame on).
The motion pass finds the cuts first (`frame_cuts`, on the pictures it decodes, made as the mask step makes
them): the motion field and its maps are made shot by shot (`video.motion.iter_motion`'s `shots`), and the
masks read the same cuts (`SaliencyResult.cuts`); where the encoder put no keyframe at the cut, the vectors
that point into the other shot are dropped (`video.motion.streaming.within_shots`; docs/EVALUATION.md 2c).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from .appearance import SHORT_SIDE as COLOUR_SHORT_SIDE
from .pictures import WORK_SHORT_SIDE, Picture, picture

if TYPE_CHECKING:
    from ..video.decode import Frame

CUT_SCORE = 0.3  # colour change x layout change between consecutive frames (module docstring)
BINS = (16, 4, 4)  # hue, saturation, value
LAYOUT = (64, 36)  # (width, height) of the grey picture whose correlation is the layout's change
FLAT = 0.01  # grey levels (0 to 1): a layout's standard deviation below this is a flat frame (`CutDetector.is_cut`)


def colour_histogram(picture: Picture) -> np.ndarray:
    """(16, 4, 4) float32 HSV histogram of the picture's colour image (its grey levels' if it has none), summing to 1."""
    import cv2

    if picture.colour is not None:
        hsv = cv2.cvtColor(picture.colour, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1, 2], None, list(BINS), [0, 180, 0, 256, 0, 256])
    else:
        grey = np.clip(picture.grey * 255, 0, 255).astype(np.uint8)
        hist = cv2.calcHist([grey], [0], None, [BINS[0] * BINS[1] * BINS[2]], [0, 256])
    return hist / max(float(hist.sum()), 1.0)


def layout(picture: Picture) -> np.ndarray:
    """(36, 64) float32: the picture's grey levels shrunk (area average), less their mean."""
    import cv2

    # from every other pixel of every other row: the area average of the whole picture cost 0.14 ms, this 0.05
    small = cv2.resize(np.ascontiguousarray(picture.grey[::2, ::2]), LAYOUT, interpolation=cv2.INTER_AREA).astype(np.float32)
    return small - small.mean()


def changes(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """(d, r) between two frames' (`colour_histogram`, `layout`): the histograms' Bhattacharyya distance and the
    layouts' correlation (0 where either is flat)."""
    import cv2

    d = float(cv2.compareHist(a[0], b[0], cv2.HISTCMP_BHATTACHARYYA))
    norm = float(np.sqrt(float((a[1] * a[1]).sum()) * float((b[1] * b[1]).sum())))
    r = float((a[1] * b[1]).sum()) / norm if norm > 1e-6 else 0.0  # a flat frame: nothing to compare
    return d, r


def cut_score(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """d x (1 - r) between two frames' (`colour_histogram`, `layout`) (`changes`, module docstring)."""
    d, r = changes(a, b)
    return d * (1.0 - r)


class CutDetector:
    """Says, frame by frame in order, whether a frame begins a new shot (module docstring)."""

    def __init__(self, threshold: float = CUT_SCORE):
        self.threshold = threshold
        self._previous: tuple[np.ndarray, np.ndarray] | None = None

    def is_cut(self, picture: Picture) -> bool:
        """Whether `picture` (the next frame's) is across a cut from the one before (never the first). A flat
        frame (a black or white frame, the bottom of a dip to black) is never a cut, and the frame after it is
        compared with the last frame before it: a dip within one shot is no cut, a fade out of one shot and into
        another one cut, where the next shot shows."""
        now = colour_histogram(picture), layout(picture)
        if float(np.sqrt(np.mean(now[1] * now[1]))) < FLAT:
            return False
        previous, self._previous = self._previous, now
        if previous is None or previous[0].shape != now[0].shape or previous[1].shape != now[1].shape:
            return False
        return cut_score(previous, now) > self.threshold


def frame_cuts() -> Callable[[Frame], bool]:
    """A fresh `CutDetector` of a video's decoded frames, in order (`video.motion.iter_motion`'s `shots`): each
    frame's picture made as the mask step makes it with its default sizes (`pictures.picture`)."""
    detector = CutDetector()

    def is_cut(frame: Frame) -> bool:
        size = frame.planes[0].shape[1::-1] if frame.planes is not None else frame.image.shape[1::-1]
        return detector.is_cut(picture(frame, size, WORK_SHORT_SIDE, COLOUR_SHORT_SIDE))

    return is_cut
