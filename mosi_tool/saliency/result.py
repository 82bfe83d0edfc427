"""What a saliency pass hands to rendering: per-frame maps, their geometry and the video's timing (no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..video.clips import Geometry
from ..video.decode import VideoInfo
from .map_store import MapStore, array_range

if TYPE_CHECKING:
    from .motion_edges import MotionTrack


@dataclass
class SaliencyResult:
    info: VideoInfo
    geometry: Geometry
    frame_times: np.ndarray  # (F,) seconds of every decoded frame
    maps: np.ndarray | MapStore  # (F, h, w) per-frame maps (conv5 or motion-cell resolution), not normalised
    clip_logits: np.ndarray  # (N, C); (0, 0) for --method mv
    clip_ranges: np.ndarray  # (N, 2) first and last frame index of each clip
    padded: int  # frames added to fill a video (or a shot, with cuts) shorter than one clip
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the maps were made (motion source, stabilised clips)
    motion_source: str = ""  # --method mv: where the motion came from (`MotionField.source`)
    mask_maps: np.ndarray | MapStore | None = None  # --method mv: `maps` at the masks' narrower blur, when asked
    # (`motion.MASK_BLUR_CELLS`, with the enclosed speed alike); None: the masks read `maps` alone
    display_floor: float = 0.0  # the least top of the scale under --norm bounded and video, in the maps' units
    # (--method mv: the masks' floor, px/frame, `defaults.scaled_floor`; 0: none, maps in arbitrary units)
    cuts: np.ndarray | None = None  # (F,) bool: the frame begins a new shot, as the motion pass found (`shots`), or
    # where the network's clips start a shot (`compute_saliency`); None: not looked for
    movers: MotionTrack | None = None  # --method mv with `mask_maps`: each frame's movers' motion and camera, for the
    # masks' rule 3b (`motion_edges`); None: the rule is not applied

    @cached_property
    def range(self) -> tuple[float, float]:
        """The video-wide display range (low, high), `map_store.display_range`. Computed once (it reads every
        map; per rendered chunk it would make rendering quadratic in the video's length)."""
        return self.maps.range() if isinstance(self.maps, MapStore) else array_range(self.maps)
