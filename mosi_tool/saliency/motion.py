"""Saliency from the motion field alone (`--method mv`), and its fusion with a MoSI map (`--method fused`).

The map of frame t is the length of the camera-compensated motion (the field minus the fitted camera
motion, `MotionField.residual`), in px/frame per cell, blurred by a Gaussian of `BLUR_CELLS` cells and averaged
over the `2 * WINDOW + 1` frames around t (codec vectors are noisy from frame to frame; object motion is not).
Both settings were chosen on DAVIS (docs/EVALUATION.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..video.clips import Geometry
from ..video.motion_vectors import MotionField, iter_chunks, read_motion

BLUR_CELLS = 2.0  # Gaussian sigma, in cells (16 px at the default 8 px cells)
WINDOW = 2  # frames either side averaged in time


def object_motion_maps(field: MotionField, blur: float = BLUR_CELLS, window: int = WINDOW, compensate: bool = True) -> np.ndarray:
    """(F, gh, gw) float32 maps in px/frame: blurred, time-averaged length of the compensated motion
    (compensate=False: of the raw vectors, the control that shows what the camera model buys)."""
    import cv2

    speed = np.empty(field.vectors.shape[:3], np.float32)
    for start, residual in iter_chunks(field, compensate=compensate):
        mag = np.linalg.norm(residual, axis=-1)
        speed[start : start + len(mag)] = [cv2.GaussianBlur(m, (0, 0), blur) for m in mag]
    if window <= 0 or len(speed) < 2:
        return speed
    # centred moving average, shrinking at the ends
    c = np.concatenate([np.zeros((1, *speed.shape[1:]), np.float64), np.cumsum(speed, axis=0, dtype=np.float64)])
    t = np.arange(len(speed))
    lo, hi = np.maximum(t - window, 0), np.minimum(t + window + 1, len(speed))
    return ((c[hi] - c[lo]) / (hi - lo)[:, None, None]).astype(np.float32)


def field_geometry(field: MotionField) -> Geometry:
    """The maps' footprint: the cell grid laid over the whole frame (the last cells may overhang by < 1 cell)."""
    w, h = field.size
    return Geometry((w, h), (0, 0, w, h))


def motion_field(path: str | Path, stream: int | None = None, fps: float | None = None) -> MotionField:
    """The video's motion field with the default cells and camera model (one place that picks them)."""
    return read_motion(path, stream=stream, fps=fps)


def normalise_frames(maps: np.ndarray) -> np.ndarray:
    """Each frame scaled to [0, 1] by its own min and max (constant frames become 0). (F, h, w) -> same."""
    flat = maps.reshape(len(maps), -1)
    lo, hi = flat.min(1)[:, None, None], flat.max(1)[:, None, None]
    return ((maps - lo) / np.maximum(hi - lo, 1e-12)).astype(np.float32)


def fuse(mosi: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Fusion rule: the geometric mean of the two maps, each first scaled per frame to [0, 1].

    mosi (F, h, w) at conv5 resolution, motion (F, gh, gw) at cell resolution; the result is at the motion
    maps' (finer) resolution, so `mosi` must cover the whole frame (`--mode full`). A region must be salient in
    both to stay salient: compensated vectors remove the camera, MoSI removes codec noise.
    """
    import cv2

    gh, gw = motion.shape[1:]
    up = np.stack([cv2.resize(m, (gw, gh), interpolation=cv2.INTER_LINEAR) for m in normalise_frames(mosi)])
    return np.sqrt(np.clip(up, 0, None) * normalise_frames(motion)).astype(np.float32)
