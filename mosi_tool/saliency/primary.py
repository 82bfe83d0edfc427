"""The primary mover (`saliency --primary`): the masks and boxes of one tracked object instead of every mover.

`--masks` covers every mover, as the issue of slow movers beside fast ones asked; a crowd moving behind a
dancer is in the mask. Video object segmentation benchmarks (DAVIS-2016: one annotated object per sequence),
MOFO-style training (one box per video) and video editing want the one object the video is about. Per frame:

1. every 8-connected component of the evidence above 0.5 (`masks.MaskTracker.update`) large enough for a box
   (`boxes.Components.strongest`) gets a track id (`boxes.BoxTracker`, as `--boxes` tracks them);
2. each track's **score** is its share of the frame's motion evidence, summed over frames with a decay of
   DECAY a frame (a memory of about 1 / (1 - DECAY) frames: a mover that dominated a moment ago still counts);
3. the **primary track** is the one with the highest score; it stays primary while it has a component, until
   another track's score exceeds SWITCH times its own (no flicker between two movers of equal strength);
4. the frame's **primary mover** is the primary track's component and every other component that reaches into
   its box grown by GROW of its width and height on each side (parts of one object that a thin limb no longer
   joins in the mask: a dancer's leg); every other component is dropped. Its box is the box around them.

Chosen on the DAVIS development sequences (docs/EVALUATION.md 2c, "The primary mover"): a decay of 0.5 to 0.99,
a switch margin of 1 to 3 and a growth of 0 to 0.5 all scored breakdance J 0.589 to 0.603 (0.496 for every
mover), the other three the same as every mover.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .boxes import BoxTracker, Components

DECAY = 0.9  # of a track's score per frame
SWITCH = 1.5  # another track becomes primary when its score exceeds the primary's this many times
GROW = 0.1  # of the primary component's box, on each side: the components reaching into it are its parts


@dataclass
class PrimaryMover:
    """Follows the primary mover of consecutive frames (see the module docstring)."""

    decay: float = DECAY
    switch: float = SWITCH
    grow: float = GROW
    tracks: BoxTracker = field(default_factory=BoxTracker)
    scores: dict[int, float] = field(default_factory=dict)  # track id -> decayed sum of its evidence shares
    track: int | None = None  # the primary track

    def update(self, evidence: np.ndarray, scale: tuple[float, float] = (1.0, 1.0)) -> tuple[np.ndarray, list[float] | None]:
        """One frame's evidence (h, w) float32, moving where > 0.5, in frame order -> (the evidence with every
        component but the primary mover's set to 0 (the same array when nothing is dropped), the primary
        mover's box [x0, y0, x1, y1, score, track] in frame pixels, or None when no component gets a box).

        scale: (sx, sy) from evidence pixels to frame pixels. score: the primary mover's share of the frame's
        evidence above 0.5; track: its id, which stays with it across frames.
        """
        found = Components.of(evidence > 0.5, evidence)
        order = found.strongest() if found is not None else np.zeros(0, np.int64)
        ids = [int(b[5]) for b in self.tracks.update(found.boxes(order) if found is not None else [])]
        self.scores = {i: v * self.decay for i, v in self.scores.items() if v * self.decay > 1e-4}  # ended tracks fade out
        if found is None or not ids:
            return (evidence if found is None else np.zeros_like(evidence)), None
        total = float(found.mass.sum())
        for k, i in zip(order, ids):
            self.scores[i] = self.scores.get(i, 0.0) + float(found.mass[k]) / total
        best = max(ids, key=self.scores.__getitem__)
        if self.track not in ids or self.scores[best] > self.switch * self.scores[self.track]:
            self.track = best
        k = int(order[ids.index(self.track)])
        h, w = evidence.shape
        gx, gy = self.grow * (found.right[k] - found.left[k]), self.grow * (found.bottom[k] - found.top[k])
        x0, y0 = max(int(found.left[k] - gx), 0), max(int(found.top[k] - gy), 0)
        x1, y1 = min(int(np.ceil(found.right[k] + gx)), w), min(int(np.ceil(found.bottom[k] + gy)), h)
        part = np.zeros(len(found.area) + 1, bool)  # by label (0: outside the mask)
        part[found.labels[y0:y1, x0:x1].ravel()] = True
        part[0] = False
        parts = np.flatnonzero(part) - 1  # component indices
        kept = evidence
        if len(parts) < len(found.area):  # set the others' pixels to 0; the evidence below 0.5 stays: the mask's edge
            kept = np.where(part[found.labels] | (found.labels == 0), evidence, np.float32(0))
        share = round(float(found.mass[parts].sum()) / total, 4)
        return kept, [*found.box_around(parts, scale), share, self.track]
