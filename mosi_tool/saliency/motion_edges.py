"""Mask edges decided by which motion explains each pixel: the mover's or the camera's (`masks` rule 3b).

Codec vectors describe blocks of 8 to 16 pixels, and the maps are blurred by a cell more: a mask cut from
them spills about half a block past every moving edge (on the synthetic 40-pixel squares of `tests/test_masks.py`,
a ring of 4 px that costs a third of the union J). The pictures say where the mover ends: near the mask's
edge, a pixel of the mover is matched in the previous frame by the mover's motion, a pixel of the background
by the camera's (the layered view of motion segmentation: Wang & Adelson, "Representing Moving Images with
Layers", IEEE TIP 1994). So within BAND working pixels of the mask's edge, the evidence moves towards the
motion that predicts the pixel better:

    r_cam = |I_t(x) - I_t-1(A x)|,  r_obj = |I_t(x) - I_t-1(A x - m(x))|   (each box-filtered over BOX pixels)
    e' = clip(e + GAIN x (r_cam - r_obj) / (r_cam + r_obj + EPS), 0, 1)

A (2x3) is the frame's camera model (frame t's pixels to frame t-1's, `MotionField.camera`) and m(x) the mover's
own motion near x: of the cells within MOVER_REACH cells of x's, the one whose camera-compensated motion is
fastest (`mover_motion`), so that a background pixel beside a mover is tested against that mover's motion,
not against the background's own cell. Where the two motions are the same (a still object, or no texture),
both residuals agree and e is unchanged.

**Not the default** (`MaskConfig.assign_band` 0; the `masks-assign` row of `eval segmentation`, which reads the
motion field the saliency pass reads): it raises the synthetic movers' union J from 0.668 to 0.726 (still
camera) and from 0.687 to 0.775 (panning), leaves the DAVIS development sequences where they were (J 0.675 ->
0.678), and lowers the unseen ones, scored once, from 0.417 to 0.393 (drift-chicane 0.490 -> 0.413: behind a
fast car, where neither motion explains the pixels, and on its blurred, flat body), docs/EVALUATION.md 2c.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import no_type_check

import numba
import numpy as np

from ..video.motion import MotionField

BAND = 6  # working pixels (short side 240) either side of the mask's edge, when on (3: 0.711 still synthetic)
GAIN = 0.5  # how far the evidence moves at full certainty (1.0: lower J on both)
BOX = 5  # working pixels: the box filter of the residuals (9: no better)
EPS = 0.02  # grey levels in [0, 1]: where both residuals are this small, neither motion is preferred
MOVER_REACH = 2  # cells (16 px at 8-px cells): how far from a cell its mover's motion is looked for (1: 0.704)


@dataclass
class FrameMotion:
    """One frame's motion for `assign_edges`: mover (h, w, 2) float32, px/frame at `size`, the mover's
    camera-compensated motion near each working pixel (`mover_motion`, upsampled); camera (2, 3) mapping the
    frame's pixels at `size` = (width, height) to the previous frame's."""

    mover: np.ndarray
    camera: np.ndarray
    size: tuple[int, int]


def mover_motion(field: MotionField, reach: int = MOVER_REACH) -> np.ndarray:
    """(F, gh, gw, 2) float32 px/frame: at every cell, the camera-compensated motion (`MotionField.residual`) of
    the fastest of the cells within `reach` cells of it (a square of 2 x reach + 1)."""
    residual = np.ascontiguousarray(np.nan_to_num(field.residual()), np.float32)
    return _fastest_near(residual, reach)


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _fastest_near(residual: np.ndarray, reach: int) -> np.ndarray:
    f, gh, gw, _ = residual.shape
    out = np.empty_like(residual)
    speed = np.empty((gh, gw), np.float32)
    for t in range(f):
        for i in range(gh):
            for j in range(gw):
                speed[i, j] = residual[t, i, j, 0] ** 2 + residual[t, i, j, 1] ** 2
        for i in range(gh):
            for j in range(gw):
                bi, bj, best = i, j, speed[i, j]
                for ii in range(max(0, i - reach), min(gh, i + reach + 1)):
                    for jj in range(max(0, j - reach), min(gw, j + reach + 1)):
                        if speed[ii, jj] > best:
                            bi, bj, best = ii, jj, speed[ii, jj]
                out[t, i, j, 0] = residual[t, bi, bj, 0]
                out[t, i, j, 1] = residual[t, bi, bj, 1]
    return out


def assign_edges(e: np.ndarray, grey: np.ndarray, previous: np.ndarray, motion: FrameMotion, band: int = BAND,
                 gain: float = GAIN) -> np.ndarray:  # fmt: skip
    """Evidence e (h, w) float32 (moving where > 0.5) with the pixels within `band` of its 0.5 edge moved towards
    the motion that explains them (module docstring). grey, previous: frames t and t-1 (h, w) float32 grey
    levels in [0, 1] at the same working size. Returns a new (h, w) float32 array in [0, 1]."""
    import cv2

    h, w = e.shape
    moving = (e > 0.5).astype(np.uint8)
    if band <= 0 or not moving.any():
        return e
    sx, sy = w / motion.size[0], h / motion.size[1]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    fx, fy = (xs + 0.5) / sx - 0.5, (ys + 0.5) / sy - 0.5  # frame pixels
    a = motion.camera.astype(np.float32)
    px = a[0, 0] * fx + a[0, 1] * fy + a[0, 2]  # where the camera alone puts x in frame t-1
    py = a[1, 0] * fx + a[1, 1] * fy + a[1, 2]
    cam_x, cam_y = (px + 0.5) * sx - 0.5, (py + 0.5) * sy - 0.5
    obj_x, obj_y = cam_x - motion.mover[..., 0] * sx, cam_y - motion.mover[..., 1] * sy

    def residual(mx: np.ndarray, my: np.ndarray) -> np.ndarray:
        warped = cv2.remap(previous, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return cv2.blur(np.abs(grey - warped), (BOX, BOX))

    r_cam, r_obj = residual(cam_x, cam_y), residual(obj_x, obj_y)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    near = cv2.morphologyEx(moving, cv2.MORPH_GRADIENT, disk) > 0  # dilated and not eroded: the band
    out = e.copy()
    d = (r_cam[near] - r_obj[near]) / (r_cam[near] + r_obj[near] + EPS)
    out[near] = np.clip(e[near] + gain * d, 0, 1)
    return out
