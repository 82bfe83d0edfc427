"""The map methods of `mosi-tool eval saliency`: row names, and a registry of the model-free ones.

Every entry of `MAP_METHODS` (like `models.backbones.ARCHS`) takes a sequence's `MapInputs` (grey frames,
optical flow, the motion field and its maps, each made once when first asked for, with its time) and
returns one map per frame at any resolution (the scorer resizes them to the frame's); the rows of the
network (one per model, target and stabilisation mode, and the fusion) are made by
`saliency_eval.SaliencyEvaluation`, which needs the engine. Scoring lives in `saliency_eval`, the report's
text and charts in `saliency_report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import baselines as bl
from .timed import TimedItems

METRICS = ("auc", "sauc", "nss", "hit", "box_iou", "box_hit")
METRIC_NAMES = {"auc": "AUC-Judd", "sauc": "sAUC", "nss": "NSS", "hit": "pointing", "box_iou": "box IoU", "box_hit": "box hit"}
MV = "motion vectors"
MV_RAW = "motion vectors (uncompensated)"
MV_PLAIN = "motion vectors without the enclosed speed"  # the `mv` maps before `saliency.geodesic`


def model_row(label: str, target: str, stabilize: str) -> str:
    return f"{label} ({target})" if stabilize == "none" else f"{label} ({target}, stabilize {stabilize})"


def fused_row(target: str) -> str:
    return f"MoSI ({target}) x {MV}"


@dataclass
class MapInputs(TimedItems):
    """What the model-free methods read from one sequence, each item made once and timed (`spent`)."""

    source: Path
    fps: float | None  # frame folders only
    count: int  # frames to score
    work: tuple[int, int]  # (width, height) of the grey frames and the optical flow

    @cached_property
    def gray(self) -> np.ndarray:
        """(n, h, w) uint8 grey frames at `work`."""
        out = self._timed("gray", lambda: bl.read_gray(self.source, self.work, self.count, self.fps))
        if len(out) != self.count:
            raise ValueError(f"{self.source}: decoded {len(out)} frames but there are masks for {self.count}")
        return out

    @cached_property
    def flow(self) -> np.ndarray:
        """Farneback flow of the grey frames (`baselines.farneback_flow`)."""
        return self._timed("flow", lambda: bl.farneback_flow(self.gray))

    @cached_property
    def motion(self) -> Any:
        """The motion field (`saliency.motion.motion_field`): codec vectors or the optical-flow fallback."""
        from ..saliency.motion import motion_field

        return self._timed("motion", lambda: motion_field(self.source, fps=self.fps))

    @cached_property
    def camera_motion(self) -> Any:
        """The motion field from the vectors alone (reference distances estimated, not measured on the
        pictures): the camera `--stabilize` warps the network's clips with (`saliency.compute`)."""
        from ..saliency.motion import motion_field

        return self._timed("camera_motion", lambda: motion_field(self.source, fps=self.fps, measure=False))

    @cached_property
    def mv_maps(self) -> np.ndarray:
        """`--method mv` maps of the whole field (`mv_maps`)."""
        from ..saliency.motion import mv_maps

        out = self._timed("mv_maps", lambda: mv_maps(self.motion))
        if len(out) < self.count:
            raise ValueError(f"{self.source}: decoded {len(out)} frames but there are masks for {self.count}")
        return out



@dataclass(frozen=True)
class MapMethod:
    name: str
    kind: str  # "mv" (what `saliency --method mv` writes) or "baseline"
    maps: Callable[[MapInputs], np.ndarray]  # (n, h, w) maps, n >= the frames scored
    uses: tuple[str, ...]  # `MapInputs` items whose time is charged to the method


def _plain(x: MapInputs) -> np.ndarray:
    from ..saliency.motion import object_motion_maps

    return object_motion_maps(x.motion)


def _uncompensated(x: MapInputs) -> np.ndarray:
    from ..saliency.motion import object_motion_maps

    return object_motion_maps(x.motion, compensate=False)


MAP_METHODS: dict[str, MapMethod] = {m.name: m for m in (
    MapMethod("centre prior", "baseline", lambda x: bl.centre_prior(x.count, x.work[1], x.work[0]), ()),
    MapMethod("frame difference", "baseline", lambda x: bl.frame_difference(x.gray), ("gray",)),
    MapMethod("flow magnitude", "baseline", lambda x: bl.flow_magnitude(x.flow), ("gray", "flow")),
    MapMethod("compensated flow", "baseline", lambda x: bl.compensated_flow(x.flow), ("gray", "flow")),
    MapMethod(MV, "mv", lambda x: x.mv_maps, ("motion", "mv_maps")),
    MapMethod(MV_RAW, "baseline", _uncompensated, ("motion",)),
    MapMethod(MV_PLAIN, "baseline", _plain, ("motion",)),
)}  # fmt: skip
