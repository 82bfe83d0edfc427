"""Motion boxes from a frame's motion mask, with track ids that stay with each object (`--boxes`).

Per frame, every 8-connected component of the mask (`saliency.masks`) covering at least `MIN_AREA` of the
frame is a box [x0, y0, x1, y1, score] (x1, y1 exclusive), score = the component's share of the frame's
evidence inside the mask (the boxes of a frame sum to 1; the strongest first). No cap on the count unless one
is asked for. `BoxTracker` then gives each box a track id: boxes are matched to the live tracks greedily by
IoU (highest first, at least `MATCH_IOU`), a track survives `MAX_AGE` frames without a box, and an unmatched
box starts a new track. `union_box` is the box around every box of the video (what MOFO-style masking
crops to).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_AREA = 0.002  # of the frame
MATCH_IOU = 0.2  # least IoU between a box and its track's last box
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
                    min_area: float = MIN_AREA, limit: int | None = None) -> list[list[float]]:  # fmt: skip
    """Boxes [x0, y0, x1, y1, score] of the mask's components (see the module docstring), strongest first.

    mask: (h, w) bool; weight: (h, w) evidence (same shape); scale: (sx, sy) from mask pixels to frame pixels;
    limit: keep at most this many (None: all). If no component is large enough, the strongest one is kept.
    """
    import cv2

    if not mask.any():
        return []
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    mass = np.bincount(labels.ravel(), weights=np.where(mask, weight, 0).ravel(), minlength=n)[1:]
    keep = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= min_area * mask.size)
    if len(keep) == 0:
        keep = np.array([int(np.argmax(mass))])
    order = keep[np.argsort(-mass[keep], kind="stable")][:limit]
    total = float(mass[order].sum()) or 1.0
    sx, sy = scale
    out = []
    for k in order:
        x, y, w, h = (int(v) for v in stats[k + 1, :4])
        out.append([round(x * sx, 1), round(y * sy, 1), round((x + w) * sx, 1), round((y + h) * sy, 1), round(float(mass[k]) / total, 4)])
    return out


@dataclass
class _Track:
    id: int
    box: list[float]
    age: int = 0  # frames since it last had a box


@dataclass
class BoxTracker:
    """Track ids for the boxes of consecutive frames (see the module docstring)."""

    match_iou: float = MATCH_IOU
    max_age: int = MAX_AGE
    _tracks: list[_Track] = field(default_factory=list)
    _next: int = 0

    def update(self, boxes: list[list[float]]) -> list[list[float]]:
        """boxes [x0, y0, x1, y1, score] of one frame -> the same boxes with their track id appended."""
        pairs = sorted(((box_iou(b, t.box), i, j) for i, b in enumerate(boxes) for j, t in enumerate(self._tracks)), reverse=True)
        ids: dict[int, int] = {}
        used: set[int] = set()
        for iou, i, j in pairs:
            if iou < self.match_iou:
                break
            if i in ids or j in used:
                continue
            ids[i] = j
            used.add(j)
        for j, t in enumerate(self._tracks):
            t.age = 0 if j in used else t.age + 1
        out = []
        for i, b in enumerate(boxes):
            if i in ids:
                track = self._tracks[ids[i]]
                track.box = b
            else:
                track = _Track(self._next, b)
                self._next += 1
                self._tracks.append(track)
            out.append([*b, track.id])
        self._tracks = [t for t in self._tracks if t.age <= self.max_age]
        return out


def union_box(boxes: list[list[float]], current: list[float] | None = None) -> list[float] | None:
    """[x0, y0, x1, y1] around `boxes` (and `current`, a union so far); None when both are empty."""
    rows = [b[:4] for b in boxes] + ([current] if current else [])
    if not rows:
        return None
    a = np.asarray(rows, np.float64)
    return [float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 2].max()), float(a[:, 3].max())]
