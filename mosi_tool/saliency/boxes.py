"""Motion boxes from a frame's motion mask, with track ids that stay with each object (`--boxes`).

Per frame, every 8-connected component of the mask (`saliency.masks`) covering at least `MIN_AREA` of the
frame is a box [x0, y0, x1, y1, score] (x1, y1 exclusive), score = the component's share of the frame's
evidence inside the mask (the boxes of a frame sum to 1; the strongest first; `--boxes` tracks every box
and then writes the strongest `--max-boxes`, so a capped box keeps its score and its id). No cap on the count unless one
is asked for. `BoxTracker` then gives each box a track id: each live track's box is first moved by the
track's last velocity (constant-velocity prediction, so a small fast object that moves more than its own
width per frame still overlaps its prediction), boxes are matched to the predictions greedily by IoU
(highest first, at least `MATCH_IOU`), then the boxes left to the tracks left by the distance of their centres
(nearest first, at most `MATCH_DISTANCE` x the box's longer side: a new track has no velocity yet); a track
survives `MAX_AGE` frames without a box, and an unmatched box starts a new track. `union_box` is the box around every box of the video (what MOFO-style masking
crops to).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import no_type_check

import numba
import numpy as np

MIN_AREA = 0.002  # of the frame
FALLBACK_PIXELS = 4  # of the mask: the least a frame's strongest component needs for a box when none reaches MIN_AREA
# (one pixel of the masks' evidence can vanish when the mask is resized to the video's size, leaving a box on nothing)
MATCH_IOU = 0.2  # least IoU between a box and its track's last box
MATCH_DISTANCE = 1.5  # x the box's longer side: the farthest a centre may move when no IoU matched
MAX_AGE = 5  # frames a track waits for its object


def box_iou(a: tuple[float, ...] | list[float], b: tuple[float, ...] | list[float]) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1, ...)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1), exclusive ends, of a bool mask; None if empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def component_boxes(mask: np.ndarray, weight: np.ndarray, scale: tuple[float, float] = (1.0, 1.0),
                    min_area: float = MIN_AREA, limit: int | None = None, fallback: int = FALLBACK_PIXELS) -> list[list[float]]:  # fmt: skip
    """Boxes [x0, y0, x1, y1, score] of the mask's components (see the module docstring), strongest first.

    mask: (h, w) bool; weight: (h, w) evidence (same shape); scale: (sx, sy) from mask pixels to frame pixels;
    limit: keep at most this many (None: all). If no component is large enough, the strongest one of at least
    `fallback` pixels is kept.
    """
    found = Components.of(mask, weight)
    return found.boxes(found.strongest(min_area, fallback)[:limit], scale) if found is not None else []


@dataclass(frozen=True)
class Components:
    """The 8-connected components of a mask with their statistics, each (n,) for components 0 .. n-1."""

    labels: np.ndarray  # (h, w) int32: 0 outside the mask, k + 1 in component k
    area: np.ndarray  # pixels
    left: np.ndarray  # bounding box, right and bottom exclusive, in mask pixels
    top: np.ndarray
    right: np.ndarray
    bottom: np.ndarray
    mass: np.ndarray  # summed weight

    @staticmethod
    def of(mask: np.ndarray, weight: np.ndarray) -> Components | None:
        """mask: (h, w) bool; weight: (h, w) evidence. None when the mask is empty."""
        import cv2

        if not mask.any():
            return None
        n, labels = cv2.connectedComponents(mask.view(np.uint8) if mask.dtype == np.bool_ else mask.astype(np.uint8), connectivity=8)
        return Components(labels, *_component_stats(labels, np.ascontiguousarray(weight), n))

    def strongest(self, min_area: float = MIN_AREA, fallback: int = FALLBACK_PIXELS) -> np.ndarray:
        """Indices of the components covering at least `min_area` of the mask's pixels, by summed weight
        (strongest first); none large enough: the strongest of at least `fallback` pixels (or none)."""
        keep = np.flatnonzero(self.area >= min_area * self.labels.size)
        if len(keep) == 0 and self.area.max() >= fallback:
            keep = np.array([int(np.argmax(np.where(self.area >= fallback, self.mass, -1.0)))])
        return keep[np.argsort(-self.mass[keep], kind="stable")]

    def boxes(self, order: np.ndarray, scale: tuple[float, float] = (1.0, 1.0)) -> list[list[float]]:
        """[x0, y0, x1, y1, score] of components `order` in frame pixels (scale: (sx, sy) from mask pixels),
        score: the component's share of their summed weight."""
        total = float(self.mass[order].sum()) or 1.0
        sx, sy = scale
        return [[round(int(self.left[k]) * sx, 1), round(int(self.top[k]) * sy, 1), round(int(self.right[k]) * sx, 1),
                 round(int(self.bottom[k]) * sy, 1), round(float(self.mass[k]) / total, 4)] for k in order]  # fmt: skip

    def box_around(self, which: np.ndarray, scale: tuple[float, float] = (1.0, 1.0)) -> list[float]:
        """[x0, y0, x1, y1] around components `which` (indices, at least one), in frame pixels (scale as `boxes`)."""
        sx, sy = scale
        x0, y0, x1, y1 = int(self.left[which].min()), int(self.top[which].min()), int(self.right[which].max()), int(self.bottom[which].max())
        return [round(x0 * sx, 1), round(y0 * sy, 1), round(x1 * sx, 1), round(y1 * sy, 1)]


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _component_stats(labels: np.ndarray, weight: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Per component 1..n-1 of a label image (h, w) (0: background): pixel count, bounding box (left, top,
    right and bottom exclusive) and summed weight (row-major order, as np.bincount sums), each (n - 1,). One
    pass: OpenCV's connectedComponentsWithStats costs seven times its labelling here."""
    h, w = labels.shape
    m = max(n - 1, 0)
    area = np.zeros(m, np.int64)
    left, top = np.full(m, w, np.int64), np.full(m, h, np.int64)
    right, bottom = np.zeros(m, np.int64), np.zeros(m, np.int64)
    mass = np.zeros(m, np.float64)
    for y in range(h):
        for x in range(w):
            k = labels[y, x] - 1
            if k >= 0:
                area[k] += 1
                mass[k] += np.float64(weight[y, x])
                left[k], right[k] = min(left[k], x), max(right[k], x + 1)
                top[k], bottom[k] = min(top[k], y), max(bottom[k], y + 1)
    return area, left, top, right, bottom, mass


@dataclass
class _Track:
    id: int
    box: list[float]
    age: int = 0  # frames since it last had a box
    velocity: tuple[float, float] = (0.0, 0.0)  # px/frame of the box's centre

    def predicted(self) -> list[float]:
        """The box moved by its velocity to the next frame (`age` frames after its last box, plus one)."""
        k = self.age + 1
        dx, dy = self.velocity[0] * k, self.velocity[1] * k
        return [self.box[0] + dx, self.box[1] + dy, self.box[2] + dx, self.box[3] + dy]

    def follow(self, box: list[float]) -> None:
        """Take the frame's matched box; the velocity is the centre's shift per frame since the last box."""
        k = self.age + 1
        self.velocity = ((box[0] + box[2] - self.box[0] - self.box[2]) / (2 * k), (box[1] + box[3] - self.box[1] - self.box[3]) / (2 * k))
        self.box = box


@dataclass
class BoxTracker:
    """Track ids for the boxes of consecutive frames (see the module docstring)."""

    match_iou: float = MATCH_IOU
    match_distance: float = MATCH_DISTANCE
    max_age: int = MAX_AGE
    _tracks: list[_Track] = field(default_factory=list)
    _next: int = 0

    def update(self, boxes: list[list[float]]) -> list[list[float]]:
        """boxes [x0, y0, x1, y1, score] of one frame -> the same boxes with their track id appended."""
        predicted = [t.predicted() for t in self._tracks]
        pairs = sorted(((box_iou(b, p), i, j) for i, b in enumerate(boxes) for j, p in enumerate(predicted)), reverse=True)
        ids: dict[int, int] = {}
        used: set[int] = set()
        for iou, i, j in pairs:
            if iou < self.match_iou:
                break
            if i in ids or j in used:
                continue
            ids[i] = j
            used.add(j)
        near = sorted((_centre_distance(b, p) / max(b[2] - b[0], b[3] - b[1], 1e-6), i, j)
                      for i, b in enumerate(boxes) if i not in ids for j, p in enumerate(predicted) if j not in used)  # fmt: skip
        for d, i, j in near:
            if d > self.match_distance:
                break
            if i in ids or j in used:
                continue
            ids[i] = j
            used.add(j)
        for i, j in ids.items():
            self._tracks[j].follow(boxes[i])
        for j, t in enumerate(self._tracks):
            t.age = 0 if j in used else t.age + 1
        out = []
        for i, b in enumerate(boxes):
            if i in ids:
                track = self._tracks[ids[i]]
            else:
                track = _Track(self._next, b)
                self._next += 1
                self._tracks.append(track)
            out.append([*b, track.id])
        self._tracks = [t for t in self._tracks if t.age <= self.max_age]
        return out

    def restart(self) -> None:
        """Forget every track (a scene cut); new ids go on from the last one given."""
        self._tracks = []

    @property
    def issued(self) -> int:
        """How many ids have been given out: the next new track's id."""
        return self._next

    def live(self) -> set[int]:
        """The ids of the tracks still waiting for their object (at most `max_age` frames without a box)."""
        return {t.id for t in self._tracks}


def _centre_distance(a: list[float], b: list[float]) -> float:
    return float(np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2))


def union_box(boxes: list[list[float]], current: list[float] | None = None) -> list[float] | None:
    """[x0, y0, x1, y1] around `boxes` (and `current`, a union so far); None when both are empty."""
    rows = [b[:4] for b in boxes] + ([current] if current else [])
    if not rows:
        return None
    a = np.asarray(rows, np.float64)
    return [float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 2].max()), float(a[:, 3].max())]
