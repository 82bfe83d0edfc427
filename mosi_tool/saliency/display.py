"""How the overlay scales a frame's raw map into [0, 1] (`saliency --norm`).

- "video": one range (low, high) for the whole video (`map_store.display_range`). A strong stretch of the
  video (a fast pan) sets `high`, and weaker frames stay uncoloured. `high` is at least `low` + `floor` (below).
- "frame": each frame to its own min..max: every frame is coloured, a still one too (its noise).
- "bounded" (the default): each frame's own top (the 99.5th percentile of its map), bounded below by
  `MIN_SHARE` of the video's `high` (a still frame stays dark) and by `low` + `NOISE_FACTOR` x the frame's
  median (the background's residual noise stays below the colour threshold), and above by `high`; and never
  below `low` + `floor`, the least speed called motion for maps in px/frame (`--method mv`: the masks' floor,
  `SaliencyResult.display_floor`): a video in which nothing moves has only codec noise for its `high`
  (hundredths of a px/frame), which the overlay would otherwise colour in full.

Chosen on DAVIS (docs/EVALUATION.md 2c, `python bench/overlay_norm.py`): the object is coloured (a quarter of
it at 0.5 or more) on 77% of the development sequences' frames with "bounded", 34% with "video" and 90% with
"frame", which colours almost three times the background of the other two (3.7% against 1.4% and 1.2%); with
the motion field of today the bench gives 79%, 42% and 91% (1.7%, 1.3% and 3.1% of the background).
MIN_SHARE was an eighth at first (the same development score); on a still road with passing cars that
coloured the noise of frames without a car, so it is a quarter.
"""

from __future__ import annotations

import numpy as np

from .defaults import NORMS

MIN_SHARE = 0.25  # of the video's high
NOISE_FACTOR = 6.0  # x the frame's median
TOP_PERCENTILE = 99.5


def frame_ranges(maps: np.ndarray, norm: str, video_range: tuple[float, float], floor: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) per frame, each (n,) float32, for maps (n, h, w) in their raw units (see the module
    docstring); video_range: the video-wide (low, high); floor: under "bounded" and "video", the least
    high - low, in the maps' units (0: none). The display is clip((map - low) / (high - low), 0, 1)."""
    n = len(maps)
    flat = maps.reshape(n, -1).astype(np.float32, copy=False)
    lo, hi = video_range
    if norm == "video":
        return np.full(n, lo, np.float32), np.full(n, max(hi, lo + floor), np.float32)
    if norm == "frame":
        return flat.min(axis=1), flat.max(axis=1)
    if norm != "bounded":
        raise ValueError(f"--norm must be one of {', '.join(NORMS)}, got {norm!r}")
    top = np.percentile(flat, TOP_PERCENTILE, axis=1)
    high = np.maximum(np.clip(top, MIN_SHARE * hi, hi), lo + np.maximum(NOISE_FACTOR * np.median(flat, axis=1), floor))
    return np.full(n, lo, np.float32), high.astype(np.float32)
