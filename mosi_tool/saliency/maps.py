"""From per-clip low-resolution maps to one map per original frame.

Trilinear upsampling is separable: linear in time, then bilinear in space. So each frame's map is the
time-interpolated conv5 map of every clip that covers the frame (averaged where clips overlap), kept at
conv5 resolution (flat memory: ~40 MB per hour of video), and upsampled in space only when a frame is
rendered, in chunks (`render.heat_frames`).
"""

from __future__ import annotations

import numpy as np

from ..video.clips import Geometry, shot_ids


def temporal_weights(positions: np.ndarray, frames: int, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For fractional clip-frame positions p in [0, frames-1], the two conv5 time steps and the weight of the
    second, matching `F.interpolate(mode="trilinear", align_corners=False)` along time."""
    s = np.clip((positions + 0.5) * steps / frames - 0.5, 0, steps - 1)
    lo = np.floor(s).astype(np.int64)
    hi = np.minimum(lo + 1, steps - 1)
    return lo, hi, s - lo


def frame_maps(clip_maps: np.ndarray, clip_times: np.ndarray, frame_times: np.ndarray, cuts: np.ndarray | None = None) -> np.ndarray:
    """Per-frame maps (F, h, w) from clip maps (N, t, h, w) and their frame times (N, T).

    A frame inside a clip's time span gets that clip's map at its position in the clip; overlapping clips
    are averaged. A frame outside every clip (e.g. between resampled frames at the very end) takes the
    nearest covered frame's map, of its own shot where `cuts` (F,) bool (the frames that begin a shot) say
    where the shots are and the shot has one.
    """
    n_clips, steps, h, w = clip_maps.shape
    n_frames = len(frame_times)
    total = np.zeros((n_frames, h, w), np.float64)
    count = np.zeros(n_frames, np.int64)
    order = np.argsort(frame_times, kind="stable")
    sorted_times = frame_times[order]
    t_len = clip_times.shape[1]
    for c in range(n_clips):
        times = clip_times[c]
        a = np.searchsorted(sorted_times, times[0], "left")
        b = np.searchsorted(sorted_times, times[-1], "right")
        if a == b:
            continue
        idx = order[a:b]
        # position of each frame inside the clip (times may repeat where a short clip was padded)
        uniq, first = np.unique(times, return_index=True)
        pos = np.interp(frame_times[idx], uniq, first.astype(np.float64)) if len(uniq) > 1 else np.zeros(len(idx))
        lo, hi, frac = temporal_weights(pos, t_len, steps)
        total[idx] += clip_maps[c, lo] * (1 - frac)[:, None, None] + clip_maps[c, hi] * frac[:, None, None]
        count[idx] += 1
    if not count.any():
        raise ValueError("no frame is covered by any clip")
    out = total / np.maximum(count, 1)[:, None, None]
    shot = shot_ids(cuts) if cuts is not None and len(cuts) == n_frames else np.zeros(n_frames, np.int64)
    for s in np.unique(shot[count == 0]):
        in_shot = shot == s
        covered = np.flatnonzero(count.astype(bool) & in_shot)
        if len(covered) == 0:  # a shot no clip covers: the nearest covered frame of any shot
            covered = np.flatnonzero(count)
        missing = np.flatnonzero((count == 0) & in_shot)
        nearest = covered[np.clip(np.searchsorted(covered, missing), 0, len(covered) - 1)]
        before = covered[np.clip(np.searchsorted(covered, missing) - 1, 0, len(covered) - 1)]
        use_before = np.abs(missing - before) < np.abs(nearest - missing)
        out[missing] = out[np.where(use_before, before, nearest)]
    return out.astype(np.float32)


def map_region(geo: Geometry, width: int, height: int) -> tuple[int, int, int, int]:
    """The model input's footprint (x0, y0, w, h) in an output frame of width x height."""
    rw, rh = geo.resize
    cx, cy, cw, ch = geo.crop
    sx, sy = width / rw, height / rh
    x0, y0 = round(cx * sx), round(cy * sy)
    return x0, y0, max(1, min(width - x0, round(cw * sx))), max(1, min(height - y0, round(ch * sy)))
