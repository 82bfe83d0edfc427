"""Motion areas from saliency maps: binary masks and boxes (`--masks`, `--boxes`), e.g. for MOFO-style masking.

Threshold rule, per frame, on the normalised map in [0, 1] (the same values the overlay shows):
1. no motion area if the frame's peak is below `MIN_PEAK` (a frame far weaker than the video's strongest);
2. the mask is every pixel at or above `RELATIVE_THRESHOLD` x the frame's peak;
3. boxes are the mask's connected components (8-connected) covering at least `MIN_AREA` of the frame, at most
   `MAX_BOXES`, strongest first (score: the sum of the map inside the component, as a share of the frame's
   total above threshold).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..atomic import AtomicOutput, reserve

RELATIVE_THRESHOLD = 0.5  # of the frame's peak
MIN_PEAK = 0.2  # of the normalised range
MIN_AREA = 0.002  # of the frame
MAX_BOXES = 3
BOX_SHORT_SIDE = 120  # pixels: boxes are found on heat at this size, then scaled to the frame


def motion_mask(heat: np.ndarray) -> np.ndarray:
    """(H, W) bool mask of the motion area of one normalised map (see the module docstring)."""
    peak = float(heat.max()) if heat.size else 0.0
    if peak < MIN_PEAK:
        return np.zeros(heat.shape, bool)
    return heat >= RELATIVE_THRESHOLD * peak


def motion_boxes(heat: np.ndarray, scale: tuple[float, float] = (1.0, 1.0)) -> list[list[float]]:
    """Boxes [x0, y0, x1, y1, score] (x1, y1 exclusive, pixels of `heat` times `scale` = (sx, sy)), strongest first."""
    import cv2

    mask = motion_mask(heat)
    if not mask.any():
        return []
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    mass = np.bincount(labels.ravel(), weights=heat.ravel(), minlength=n)[1:]
    keep = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= MIN_AREA * mask.size)
    if len(keep) == 0:
        keep = np.array([int(np.argmax(mass))])
    order = keep[np.argsort(-mass[keep], kind="stable")][:MAX_BOXES]
    total = float(mass.sum()) or 1.0
    sx, sy = scale
    out = []
    for k in order:
        x, y, w, h = (int(v) for v in stats[k + 1, :4])
        out.append([round(x * sx, 1), round(y * sy, 1), round((x + w) * sx, 1), round((y + h) * sy, 1), round(float(mass[k]) / total, 4)])
    return out


def box_size(width: int, height: int) -> tuple[int, int]:
    """The heat size boxes are found at: short side BOX_SHORT_SIDE (never upscaled)."""
    s = min(1.0, BOX_SHORT_SIDE / min(width, height))
    return max(1, round(width * s)), max(1, round(height * s))


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1), exclusive ends, of a bool mask; None if empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def box_iou(a: tuple[float, ...] | list[float], b: tuple[float, ...] | list[float]) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1, ...)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


class BoxesFile(AtomicOutput):
    """`--boxes`: JSON lines {"frame", "time", "boxes": [[x0, y0, x1, y1, score], ...]} in frame pixels."""

    def __init__(self, out: Path, width: int, height: int):
        self.size: tuple[int, int] | None = box_size(width, height)
        self.scale = (width / self.size[0], height / self.size[1])
        self._file = open(self._begin(out), "w")  # noqa: SIM115 - closed in close/abort

    def add(self, index: int, time: float, frame: np.ndarray, heat: np.ndarray) -> None:
        line = {"frame": index, "time": round(time, 6), "boxes": motion_boxes(heat, self.scale)}
        with self._writing():
            self._file.write(json.dumps(line) + "\n")


class MasksFile(AtomicOutput):
    """`--masks`: bool (frames, H, W) motion masks at the maps' resolution, streamed to a .npy."""

    def __init__(self, out: Path, frames: int, width: int, height: int):
        tmp = self._begin(out)
        with self._writing(setup=True):
            self.array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.bool_, shape=(frames, height, width))
            reserve(tmp)  # a full disk fails here, not as SIGBUS when a mapped page is written
        self.size: tuple[int, int] | None = (width, height)

    def add(self, index: int, time: float, frame: np.ndarray, heat: np.ndarray) -> None:
        self.array[index] = motion_mask(heat)

    def _close_file(self) -> None:
        array = self.__dict__.pop("array", None)
        if array is not None:
            array.flush()
