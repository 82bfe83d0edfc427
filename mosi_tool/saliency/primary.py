"""The primary mover (`saliency --primary`): the masks and boxes of one object instead of every mover.

`--masks` covers every mover, as the issue of slow movers beside fast ones asked; a crowd moving behind a
dancer is in the mask. Video object segmentation benchmarks (DAVIS-2016: one annotated object per sequence),
MOFO-style training (one box per video) and video editing want the one object the video is about. Per frame:

1. every 8-connected component of the evidence above 0.5 (`masks.MaskTracker.update`) large enough for a box
   (`boxes.Components.strongest`) gets a track id (`boxes.BoxTracker`, as `--boxes` tracks them), and each
   track a **score**: its share of the frame's motion evidence, summed over frames with a decay of DECAY a
   frame (a memory of about 1 / (1 - DECAY) frames);
2. the primary object is a **family** of tracks: the track it started from, and every track that starts inside
   its last box or around it (grown by GROW a side; at least INSIDE of the smaller box within the other), or, on
   a frame where none of the family's tracks has a component, any such track: a mover whose mask splits (a leg
   apart from the body), whose parts join into a larger component (a cup whose top moved first), or whose parts
   the tracker gives to other ids stays one object. The family's score is the object's share of each frame's
   evidence (all its tracks'), with the same decay;
3. the family stays primary until a track outside it scores SWITCH times the family's score, or until none
   of its tracks is left (`BoxTracker.max_age` frames without a box); then the track with the highest score
   starts a new family. A frame on which no track of the family has a component has no primary mover (an empty
   mask, no box), rather than another mover for a frame;
4. the frame's primary mover is the family's largest component (its **anchor**), every other component that
   reaches into the anchor's box grown by GROW on each side (parts that a thin limb no longer joins in the mask)
   and the components of the family's tracks that reach into it grown by MEMBER_GROW; the family's tracks whose
   components do not leave the family (two objects that met and part again). Every other component is dropped.
   Its box is the box around those components, with the family's id (one id per primary object, which changes
   only when another object becomes primary, or at a scene cut: `restart`).

Chosen on the DAVIS development sequences and two new users' trials on the shared videos (docs/EVALUATION.md 2c,
"The primary mover"): breakdance J 0.621 against 0.496 for every mover.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .boxes import BoxTracker, Components

DECAY = 0.9  # of a score per frame
SWITCH = 1.5  # another track becomes primary when its score exceeds the family's this many times
GROW = 0.1  # of a box, on each side: what reaches into the anchor's box, or starts inside the last one, is the object's
INSIDE = 0.5  # of the smaller of a new track's box and the primary's last box (grown) within the other: it is the object's
MEMBER_GROW = 0.5  # of the anchor's box, on each side: how far the family's other tracks stay the object's


@dataclass
class PrimaryMover:
    """Follows the primary mover of consecutive frames (see the module docstring)."""

    decay: float = DECAY
    switch: float = SWITCH
    grow: float = GROW
    tracks: BoxTracker = field(default_factory=BoxTracker)
    scores: dict[int, float] = field(default_factory=dict)  # track id -> decayed sum of its evidence shares
    family: set[int] = field(default_factory=set)  # the primary object's track ids
    family_score: float = 0.0
    ident: int = -1  # the primary object's id (-1: none yet)
    last_box: tuple[float, float, float, float] | None = None  # the primary mover's last box, evidence pixels

    def restart(self) -> None:
        """Start afresh after a scene cut (`shots`): no tracks, scores or family; the next primary object gets a new id."""
        self.tracks.restart()
        self.scores.clear()
        self.family.clear()
        self.family_score, self.last_box = 0.0, None

    def update(self, evidence: np.ndarray, scale: tuple[float, float] = (1.0, 1.0)) -> tuple[np.ndarray, list[float] | None]:
        """One frame's evidence (h, w) float32, moving where > 0.5, in frame order -> (the evidence with every
        component but the primary mover's set to 0 (the same array when nothing is dropped), the primary
        mover's box [x0, y0, x1, y1, score, id] in frame pixels, or None when it has no component this frame).

        scale: (sx, sy) from evidence pixels to frame pixels. score: the primary mover's share of the frame's
        evidence above 0.5; id: the primary object's, the same on every frame until another object is primary.
        """
        found = Components.of(evidence > 0.5, evidence)
        order = found.strongest() if found is not None else np.zeros(0, np.int64)
        first_new = self.tracks.issued
        ids = [int(b[5]) for b in self.tracks.update(found.boxes(order) if found is not None else [])]
        component = dict(zip(ids, (int(k) for k in order)))  # track id -> component index
        total = float(found.mass.sum()) if found is not None else 1.0
        self.scores = {i: v * self.decay for i, v in self.scores.items() if v * self.decay > 1e-4}  # ended tracks fade out
        for i, k in component.items():
            self.scores[i] = self.scores.get(i, 0.0) + float(found.mass[k]) / total  # type: ignore[union-attr]
        self.family &= self.tracks.live()
        if self.last_box is not None:  # tracks that start inside the object's last box are its parts; any track once it has none
            lost = not self.family & set(ids)
            self.family |= {i for i in ids if (lost or i >= first_new) and _overlap(found, component[i], self.last_box, self.grow) >= INSIDE}  # type: ignore[arg-type]
        members = [i for i in ids if i in self.family]
        self.family_score = self.family_score * self.decay + sum(float(found.mass[component[i]]) / total for i in members)  # type: ignore[union-attr]
        others = [i for i in ids if i not in self.family]
        best = max(others, key=self.scores.__getitem__, default=None)
        if best is not None and (not self.family or self.scores[best] > self.switch * self.family_score):
            self.family, self.family_score, members = {best}, self.scores[best], [best]
            self.ident, self.last_box = self.ident + 1, None
        if found is None or not members:
            return (evidence if found is None else np.where(found.labels > 0, np.float32(0), evidence)), None
        anchor = component[max(members, key=lambda i: float(found.mass[component[i]]))]
        part = _reaching(found, anchor, self.grow)  # by label (0: outside the mask)
        near = _reaching(found, anchor, MEMBER_GROW)
        for i in members:
            if near[component[i] + 1]:
                part[component[i] + 1] = True
            else:
                self.family.discard(i)  # parted from the object
        parts = np.flatnonzero(part) - 1  # component indices
        kept = evidence
        if len(parts) < len(found.area):  # set the others' pixels to 0; the evidence below 0.5 stays: the mask's edge
            kept = np.where(part[found.labels] | (found.labels == 0), evidence, np.float32(0))
        self.last_box = (float(found.left[parts].min()), float(found.top[parts].min()), float(found.right[parts].max()), float(found.bottom[parts].max()))
        share = round(float(found.mass[parts].sum()) / total, 4)
        return kept, [*found.box_around(parts, scale), share, self.ident]


def _reaching(found: Components, k: int, grow: float) -> np.ndarray:
    """(n + 1,) bool by label (0: outside the mask, always False): the components with a pixel in component k's
    box grown by `grow` of its width and height on each side."""
    h, w = found.labels.shape
    gx, gy = grow * (found.right[k] - found.left[k]), grow * (found.bottom[k] - found.top[k])
    x0, y0 = max(int(found.left[k] - gx), 0), max(int(found.top[k] - gy), 0)
    x1, y1 = min(int(np.ceil(found.right[k] + gx)), w), min(int(np.ceil(found.bottom[k] + gy)), h)
    out = np.zeros(len(found.area) + 1, bool)
    out[found.labels[y0:y1, x0:x1].ravel()] = True
    out[0] = False
    return out


def _overlap(found: Components, k: int, box: tuple[float, float, float, float], grow: float) -> float:
    """The intersection of component k's bounding box and `box` (x0, y0, x1, y1) grown by `grow` of its size a
    side, over the smaller of the two: 1 when either lies inside the other (a part of the object, or the
    object grown into a larger component)."""
    x0, y0, x1, y1 = box
    gx, gy = grow * (x1 - x0), grow * (y1 - y0)
    x0, y0, x1, y1 = x0 - gx, y0 - gy, x1 + gx, y1 + gy
    left, top, right, bottom = (float(a[k]) for a in (found.left, found.top, found.right, found.bottom))
    iw = max(0.0, min(right, x1) - max(left, x0))
    ih = max(0.0, min(bottom, y1) - max(top, y0))
    return iw * ih / max(min((right - left) * (bottom - top), (x1 - x0) * (y1 - y0)), 1.0)
