"""Cancel the camera's motion inside a clip: warp every frame to the clip's reference (middle) frame.

The per-frame camera models of a `MotionField` (frame t -> frame t-1, at frame resolution) are chained inside
the clip, moved to the model input's pixel grid (resize and crop of `Geometry`), and applied with bilinear
resampling. **Border:** where a warped frame does not reach (the camera moved in new content or left old
content behind), the reference frame's own pixels show through, so the uncovered border holds no motion of
its own instead of black edges or smeared copies that would move from frame to frame.

Maps computed on a stabilised clip are in the reference frame's coordinates; `unwarp_maps` moves each
time step's map back onto its own frames.
"""

from __future__ import annotations

import numpy as np

from .clips import Geometry
from .motion import camera_velocity

MODES = ("none", "mv", "auto")
AUTO_MIN_SPEED = 1.0  # px/frame at frame resolution: "auto" stabilises clips whose camera moves faster


def _h(a: np.ndarray) -> np.ndarray:
    """2x3 -> 3x3 (stacked over leading axes)."""
    out = np.zeros((*a.shape[:-2], 3, 3))
    out[..., :2, :] = a
    out[..., 2, 2] = 1.0
    return out


def to_reference(camera: np.ndarray, indices: np.ndarray, ref: int) -> np.ndarray:
    """(T, 3, 3) transforms taking each listed frame's pixel coordinates to frame `indices[ref]`'s.

    camera: (F, 2, 3) per frame models (frame t -> t-1); indices: (T,) original frame indices, ascending
    (repeats allowed, for padded or resampled clips).
    """
    r = int(indices[ref])
    cam = _h(camera)
    out = np.empty((len(indices), 3, 3))
    for k, t in enumerate(indices):
        m: np.ndarray = np.eye(3)
        if t > r:  # t -> t-1 -> ... -> r
            for s in range(r + 1, int(t) + 1):
                m = m @ cam[s]
        elif t < r:  # r -> ... -> t, inverted
            for s in range(int(t) + 1, r + 1):
                m = m @ cam[s]
            m = np.linalg.inv(m)
        out[k] = m
    return out


def input_transforms(transforms: np.ndarray, geo: Geometry, size: tuple[int, int]) -> np.ndarray:
    """The same transforms (T, 3, 3) in the model input's pixel coordinates (frames of `size` = (w, h))."""
    (rw, rh), (cx, cy, _, _) = geo.resize, geo.crop
    g = np.array([[rw / size[0], 0.0, -cx], [0.0, rh / size[1], -cy], [0.0, 0.0, 1.0]])
    return g @ transforms @ np.linalg.inv(g)


def camera_speed(camera: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(F,) mean camera speed in px/frame over the frame's corners and centre."""
    w, h = size
    pts = np.array([[0, 0], [w, 0], [0, h], [w, h], [w / 2, h / 2]], np.float32)
    return np.linalg.norm(camera_velocity(camera, pts), axis=-1).mean(axis=1)


def stabilize_clip(frames: np.ndarray, transforms: np.ndarray, ref: int) -> np.ndarray:
    """Warp every frame (T, H, W, 3) uint8 onto frame `ref` with `transforms` (T, 3, 3) in its pixel grid;
    uncovered pixels keep the reference frame's values. Returns a new (T, H, W, 3) uint8 array."""
    import cv2

    h, w = frames.shape[1:3]
    out = np.empty_like(frames)
    for t in range(len(frames)):
        if t == ref or np.allclose(transforms[t], np.eye(3), atol=1e-6):
            out[t] = frames[t]
            continue
        dst = frames[ref].copy()
        cv2.warpAffine(frames[t], transforms[t][:2], (w, h), dst=dst, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
        out[t] = dst
    return out


def unwarp_maps(maps: np.ndarray, transforms: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """Move maps (t, h, w), in the reference frame's coordinates, back onto their own frames.

    transforms: (T, 3, 3) frame -> reference in input pixels; time step k stands for the clip frames
    [k * T / t, (k + 1) * T / t) and takes the transform of their middle one.
    """
    import cv2

    steps, h, w = maps.shape
    frames = len(transforms)
    s = np.diag([w / input_hw[1], h / input_hw[0], 1.0])
    out = np.empty_like(maps)
    for k in range(steps):
        m = s @ transforms[min(frames - 1, int((k + 0.5) * frames / steps))] @ np.linalg.inv(s)
        # dst(x) = src(M x): the map of this frame at x is the reference map where x lands
        out[k] = cv2.warpAffine(maps[k], m[:2], (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return out
