"""Motion areas of a saliency run: `--masks` and `--boxes` sinks, and the older half-of-peak rule.

The sinks share one `Regions` per run: each frame's raw (un-normalised) map at the working size of
`saliency.masks` (with the masks' own, less blurred map, `SaliencyResult.mask_maps`, when the run made it)
and the frame's pixels give the frame's refined evidence once (`masks.MaskTracker`); the
masks file resizes it to its size (default: the video's), the boxes file takes its components
(`boxes.component_boxes`) with their track ids (`boxes.BoxTracker`) and, on its last line, the union box.
With `primary` (`saliency --primary`) the evidence keeps the primary mover's components only
(`primary.PrimaryMover`), and the boxes file writes its one box a frame.

The half-of-peak rule (`motion_mask`, `motion_boxes`) is what `--masks`/`--boxes` used before: kept as the
baseline the evaluation compares against and for the box scores of the map metrics:
1. no motion area if the frame's peak is below `MIN_PEAK` (a frame far weaker than the video's strongest);
2. the mask is every pixel at or above `RELATIVE_THRESHOLD` x the frame's peak;
3. boxes are the mask's components of at least `boxes.MIN_AREA` of the frame, at most `MAX_BOXES`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import AtomicOutput
from ..video.decode import Frame
from .boxes import BoxTracker, box_iou, component_boxes, mask_box, union_box
from .maps_file import NpyRows
from .masks import MaskConfig, MaskTracker, map_size
from .motion_edges import FrameMotion, MotionTrack
from .pictures import Picture, picture
from .primary import PrimaryMover
from .shots import CutDetector

__all__ = ["box_iou", "mask_box", "motion_mask", "motion_boxes", "Regions", "BoxesFile", "MasksFile"]

RELATIVE_THRESHOLD = 0.5  # of the frame's peak
MIN_PEAK = 0.2  # of the normalised range
MAX_BOXES = 3


def motion_mask(heat: np.ndarray) -> np.ndarray:
    """(H, W) bool mask of one normalised map by the half-of-peak rule (see the module docstring)."""
    peak = float(heat.max()) if heat.size else 0.0
    if peak < MIN_PEAK:
        return np.zeros(heat.shape, bool)
    return heat >= RELATIVE_THRESHOLD * peak


def motion_boxes(heat: np.ndarray, scale: tuple[float, float] = (1.0, 1.0)) -> list[list[float]]:
    """Boxes [x0, y0, x1, y1, score] of the half-of-peak mask (x1, y1 exclusive, pixels of `heat` times
    `scale` = (sx, sy)), strongest first, at most MAX_BOXES."""
    return component_boxes(motion_mask(heat), heat, scale, limit=MAX_BOXES)


class Regions:
    """Each frame's refined motion evidence, computed once for every sink that asks, in frame order.

    The renderer hands each sink a batch of frames in turn (the boxes' file all of them, then the masks'), so
    the evidence of the last KEEP frames is kept: the tracker, which carries state from frame to frame, sees
    each frame once and in order whatever the sinks' order.
    """

    KEEP = 64  # frames: more than a render batch (`render.CHUNK`)

    def __init__(self, width: int, height: int, cfg: MaskConfig = MaskConfig(),
                 sharp: Callable[[int, int, int], np.ndarray] | None = None, primary: bool = False,
                 cuts: np.ndarray | None = None, motion: MotionTrack | None = None):  # fmt: skip
        """sharp: (frame index, width, height) -> the masks' own map of that frame at that size
        (`render.mask_heat`; None: the masks read the maps the sinks are handed alone); primary: the primary
        mover only; cuts: (F,) bool, the frame begins a new shot, as the motion pass found them
        (`SaliencyResult.cuts`, `MotionField.cuts`: the maps' shots); None: found here from the frames' pictures
        (`shots.CutDetector`); motion: every frame's movers' motion and camera, for the masks' rule 3b
        (`SaliencyResult.movers`; None: the rule is not applied)."""
        self.frame_size = (width, height)
        self.size = map_size(width, height, cfg)  # (width, height) of the raw maps it wants
        self.tracker = MaskTracker(cfg)
        self.primary = PrimaryMover() if primary else None
        self._detector: CutDetector | None = None  # made when no cuts are given
        self._given = cuts
        self._kept: dict[int, np.ndarray] = {}
        self._boxes: dict[int, list[float] | None] = {}  # the primary mover's
        self._cuts: dict[int, bool] = {}  # frame index -> it begins a shot
        self._sharp = sharp if cfg.sharp else None
        self._motion = motion

    def evidence(self, frame: Frame, raw: np.ndarray) -> np.ndarray:
        """(h, w) float32 refined evidence of `frame` (`MaskTracker.update`: moving where > 0.5), from its
        pixels (`pictures.picture`); raw: its map at `size`. Raises ValueError for a frame older than the kept
        ones (the tracker has moved past it)."""
        index = frame.index
        if index in self._kept:
            return self._kept[index]
        if self._kept and index < max(self._kept):
            raise ValueError(f"frame {index} comes after frame {max(self._kept)}, and is no longer kept")
        sharp = self._sharp(index, *self.size) if self._sharp is not None else None
        pic = picture(frame, self.frame_size, self.tracker.cfg.work_short_side, self.tracker.colour_short)
        motion = self._motion.nearest(index) if self._motion is not None else None
        return self.evidence_of(index, pic, raw, sharp, motion=motion, cut=self._begins(index, frame))

    def evidence_of(self, index: int, pic: Picture, raw: np.ndarray, sharp: np.ndarray | None = None, flow: np.ndarray | None = None,
                    motion: FrameMotion | None = None, cut: bool | None = None) -> np.ndarray:  # fmt: skip
        """`evidence` of frame `index` from its picture (`pictures.picture`), its map `raw` and the masks' own
        `sharp` at `size` (flow, motion: `MaskTracker.update`'s, for its ablations). Frames in order, each once.
        A frame across a scene cut (`cut`; None: the `cuts` given, else `shots.CutDetector` on `pic`) starts a new
        shot: the mask step (its colour model) and the primary mover start afresh, and `begins_shot` tells the
        boxes file to."""
        cut = self._cuts[index] = self._begins(index, pic) if cut is None else cut
        if cut:
            self.tracker = MaskTracker(self.tracker.cfg)
            if self.primary is not None:
                self.primary.restart()
        e = self.tracker.update(raw, pic, flow, self.frame_size, sharp, motion)
        if self.primary is not None:
            e, self._boxes[index] = self.primary.update(e, self.scale(e))
        self._kept[index] = e
        for old in [k for k in self._kept if k <= index - self.KEEP]:
            del self._kept[old]
            self._boxes.pop(old, None)
            self._cuts.pop(old, None)
        return e

    def _begins(self, index: int, source: Frame | Picture) -> bool:
        """Whether frame `index` begins a shot: the cuts given, else the detector's on `source` (in frame order)."""
        given = self._given
        if given is not None and index < len(given):
            return bool(given[index])
        self._detector = self._detector or CutDetector()
        return self._detector.is_cut(source)

    def begins_shot(self, index: int) -> bool:
        """Whether frame `index` (after its `evidence`) is across a scene cut from the frame before."""
        return self._cuts[index]

    def scale(self, evidence: np.ndarray) -> tuple[float, float]:
        """(sx, sy) from the evidence's pixels to the frame's."""
        return self.frame_size[0] / evidence.shape[1], self.frame_size[1] / evidence.shape[0]

    def primary_boxes(self, index: int) -> list[list[float]] | None:
        """With `primary`, after `evidence` of frame `index`: the primary mover's box [x0, y0, x1, y1, score,
        track] in frame pixels as a list of one (empty when nothing moves); without: None."""
        if self.primary is None:
            return None
        box = self._boxes[index]
        return [box] if box is not None else []


class BoxesFile(AtomicOutput):
    """`--boxes`: JSON lines {"frame", "time", "boxes": [[x0, y0, x1, y1, score, track], ...]} in frame pixels,
    strongest first (with `Regions` primary: the primary mover's box alone), "cut": true on a frame that begins a
    new shot (`shots`: the tracks start afresh there), then one last line {"union": [x0, y0, x1, y1]} (null when
    nothing moved)."""

    norm = "raw"

    def __init__(self, out: Path, regions: Regions, limit: int | None = None):
        self.regions = regions
        self.size: tuple[int, int] | None = regions.size
        self.limit = limit
        self.tracks = BoxTracker()
        self.union: list[float] | None = None
        self._file = open(self._begin(out), "w")  # noqa: SIM115 - closed in close/abort

    def add(self, frame: Frame, heat: np.ndarray) -> None:
        index, time = frame.index, frame.time
        e = self.regions.evidence(frame, heat)
        cut = self.regions.begins_shot(index)
        if cut:  # a scene cut: the tracks start afresh, with new ids
            self.tracks.restart()
        boxes = self.regions.primary_boxes(index)
        if boxes is None:
            # every mover is tracked, then the strongest `limit` are written: a mover left out for a few frames keeps
            # its id, and its score (its share of all the movers' evidence) does not depend on the cap
            boxes = self.tracks.update(component_boxes(e > 0.5, e, self.regions.scale(e)))[: self.limit]
        self.union = union_box(boxes, self.union)
        with self._writing():
            line = {"frame": index, "time": round(time, 6), "boxes": boxes} | ({"cut": True} if cut else {})
            self._file.write(json.dumps(line) + "\n")

    def _finish(self) -> None:
        self._file.write(json.dumps({"union": self.union}) + "\n")


class MasksFile(NpyRows):
    """`--masks`: bool (frames, H, W) motion masks (default: the video's resolution), streamed to a .npy."""

    norm = "raw"

    def __init__(self, out: Path, frames: int, width: int, height: int, regions: Regions):
        super().__init__(out, frames, width, height, np.dtype(np.bool_))
        self.regions = regions
        self.size: tuple[int, int] | None = regions.size
        self.out_size = (width, height)

    def add(self, frame: Frame, heat: np.ndarray) -> None:
        self.write_row(frame.index, MaskTracker.mask(self.regions.evidence(frame, heat), self.out_size))
