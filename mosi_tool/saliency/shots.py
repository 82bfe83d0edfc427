"""Scene cuts between consecutive frames, from their pictures: where the masks' colour model, the boxes' tracks and
the primary mover start afresh.

A cut changes the frame's colours at once; motion, even a whip pan, changes them little from one frame to the
next. The test is the Bhattacharyya distance between consecutive frames' HSV colour histograms (16 hue x 4
saturation x 4 value bins, of the mask step's colour picture, 214x120 at 854x480), a cut where it exceeds
CUT_DISTANCE: the content test of shot-boundary detection (as PySceneDetect's content detector, on histograms).
Measured with `python tools/shot_distances.py` on the shared videos: the cuts of bikes.mp4 (a montage) score 0.43
to 0.82 and a cut of nasa_13013.mp4 0.57; without a cut, the largest are 0.39 (a dissolve in nasa_13013.mp4),
0.36 (a corrupt frame in arm_wrestling.mp4) and 0.29 (its whip pan); every DAVIS sequence stays at or under 0.15.
A cut missed leaves the state of the shot before it (an id passed on, a colour model of the other scene); a cut
found where there is none starts them afresh (a new id, a colour model built again from that frame on).
"""

from __future__ import annotations

import numpy as np

from .pictures import Picture

CUT_DISTANCE = 0.4  # Bhattacharyya distance between consecutive frames' colour histograms
BINS = (16, 4, 4)  # hue, saturation, value


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


class CutDetector:
    """Says, frame by frame in order, whether a frame begins a new shot (module docstring)."""

    def __init__(self, threshold: float = CUT_DISTANCE):
        self.threshold = threshold
        self._previous: np.ndarray | None = None

    def is_cut(self, picture: Picture) -> bool:
        """Whether `picture` (the next frame's) is across a cut from the one before (never the first)."""
        import cv2

        hist = colour_histogram(picture)
        cut = self._previous is not None and hist.shape == self._previous.shape and cv2.compareHist(self._previous, hist, cv2.HISTCMP_BHATTACHARYYA) > self.threshold
        self._previous = hist
        return bool(cut)
