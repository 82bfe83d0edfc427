"""Mask edges decided by which motion explains each pixel: the mover's or the camera's (`masks` rule 3b).

Codec vectors describe blocks of 8 to 16 pixels, and the maps are blurred by a cell more: a mask cut from
them spills about half a block past every moving edge (on the synthetic 40-pixel squares of `tests/test_masks.py`,
a ring of 4 px that costs a third of the union J). The pictures say where the mover ends: near the mask's
edge, a pixel of the mover is matched in the previous frame by the mover's motion, a pixel of the background
by the camera's (the layered view of motion segmentation: Wang & Adelson, "Representing Moving Images with
Layers", IEEE TIP 1994). So within BAND working pixels of the mask's edge, the evidence moves towards the
motion that predicts the pixel better:

    r_cam = |I_t(x) - I_t-1(A x)|,  r_obj = |I_t(x) - I_t-1(A x - m(x))|   (each box-filtered over BOX pixels)
    d = (r_cam - r_obj) / (r_cam + r_obj + EPS)

A (2x3) is the frame's camera model (frame t's pixels to frame t-1's, `MotionField.camera`) and m(x) the mover's
own motion near x: of the cells within MOVER_REACH cells of x's, the one whose camera-compensated motion is
fastest (`mover_motion`), so that a background pixel beside a mover is tested against that mover's motion,
not against the background's own cell. Where the two motions are the same (a still object, or no texture),
both residuals agree and e is unchanged.

**The default, one way, every pixel** (side "background", band -1): e' = clip(e + GAIN x min(d, 0) x w, 0, 1),
w = clip(2 - r_cam / FIT, 0, 1): only pixels the camera's motion explains better, and well (r_cam up to FIT in
full, none from 2 x FIT), lose evidence; a pixel no motion explains (motion blur, a flat shiny body) keeps its
own. On every pixel, not only near the mask's edge: the colour step (`masks` rule 4) reads the evidence outside
the mask too. Synthetic movers' union J 0.696 -> 0.795 (still camera) and 0.688 -> 0.770 (panning), DAVIS
development J 0.697 -> 0.703, unseen 0.498 -> 0.507 (docs/EVALUATION.md 2c, "Pixels the camera's motion
explains"). **Both ways** within 6 pixels of the edge (side "both", e' = clip(e + GAIN x d, 0, 1), the rule
tried first): unseen 0.458, lower where neither motion explains the pixels (drift-chicane 0.466 -> 0.403:
behind a fast car, and on its blurred, flat body). **Rule 3c** (`raise_gain`, tried, off by default): the
mirror of the default, e' = e + RAISE_GAIN x clip((r_cam - RAISE_FROM) / (RAISE_FULL - RAISE_FROM), 0, 1) where
the camera's motion explains a pixel badly: development J 0.703 -> 0.717 (the fast limbs the vectors miss),
unseen 0.507 -> 0.464 (a fast camera's residual is large on the background too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import no_type_check

import numba
import numpy as np

from ..video.motion import MotionField
from ..video.motion.field import camera_at
from .map_store import MapStore

BAND = -1  # working pixels (short side 240) either side of the mask's edge where the rule applies; -1: every pixel
GAIN = 0.5  # how far the evidence moves at full certainty (1.0: lower J on both)
BOX = 5  # working pixels: the box filter of the residuals (9: no better)
EPS = 0.02  # grey levels in [0, 1]: where both residuals are this small, neither motion is preferred
FIT = 0.02  # grey levels in [0, 1]: side "background" moves a pixel fully where the camera's residual is at most this
RAISE_GAIN = 0.5  # rule 3c (tried, off by default): evidence added at full strength where the camera's motion
# explains a pixel badly (development J 0.703 -> 0.717, unseen 0.507 -> 0.464: under a fast camera the background's
# residual is large too; docs/EVALUATION.md 2c)
RAISE_FROM = 0.1  # grey levels in [0, 1]: the camera's residual from which evidence is added ...
RAISE_FULL = 0.3  # ... rising linearly to the gain at this residual
MOVER_REACH = 2  # cells (16 px at 8-px cells): how far from a cell its mover's motion is looked for (1: 0.704)


@dataclass
class FrameMotion:
    """One frame's motion for `assign_edges`: mover (gh, gw, 2) float32, px/frame at `size`, the mover's
    camera-compensated motion near each cell of the field (`mover_motion`; or at the evidence's own size, (h, w,
    2)), upsampled to the evidence's size; camera (2, 3) mapping the frame's pixels at `size` = (width, height)
    to the previous frame's."""

    mover: np.ndarray
    camera: np.ndarray
    size: tuple[int, int]


@dataclass
class MotionTrack:
    """Every frame's `FrameMotion` of a video, what `saliency --masks/--boxes` hand rule 3b: movers (F, gh, 2 gw),
    each frame's `mover_motion` x then y side by side, kept on disk (a `MapStore`, float16: memory flat in the
    video's length); camera (F, 2, 3); size: the frame's (width, height)."""

    movers: MapStore
    camera: np.ndarray
    size: tuple[int, int]

    @staticmethod
    def pack(movers: np.ndarray) -> np.ndarray:
        """(n, gh, gw, 2) -> (n, gh, 2 gw): what `movers` holds."""
        return np.concatenate([movers[..., 0], movers[..., 1]], axis=2)

    def __getitem__(self, index: int) -> FrameMotion:
        packed = self.movers[index]
        gw = packed.shape[1] // 2
        return FrameMotion(np.stack([packed[:, :gw], packed[:, gw:]], axis=-1), self.camera[index], self.size)

    def nearest(self, index: int) -> FrameMotion:
        """Frame `index`'s motion, or the last frame's past the end (the field may end a frame before the decode)."""
        return self[min(index, len(self.movers) - 1)]


def mover_motion(field: MotionField, reach: int = MOVER_REACH) -> np.ndarray:
    """(F, gh, gw, 2) float32 px/frame: at every cell, the camera-compensated motion (`MotionField.residual`, 0
    where unknown) of the fastest of the cells within `reach` cells of it (a square of 2 x reach + 1)."""
    vectors = np.ascontiguousarray(field.vectors, np.float32)
    return _fastest_near(vectors, np.ascontiguousarray(field.camera, np.float64), field.cell, reach)


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _fastest_near(vectors: np.ndarray, camera: np.ndarray, cell: int, reach: int) -> np.ndarray:
    # each frame's residual made here (no (F, gh, gw, 2) temporaries); the square's fastest as the fastest of its
    # columns' fastest (rows first, then columns): 2 (2 reach + 1) comparisons a cell instead of (2 reach + 1)^2;
    # the cell itself wins ties, then the first in scan order
    f, gh, gw, _ = vectors.shape
    out = np.empty_like(vectors)
    residual = np.empty((gh, gw, 2), np.float32)
    speed = np.empty((gh, gw), np.float32)
    row_best, col_best = np.empty((gh, gw), np.float32), np.empty((gh, gw), np.float32)
    row_at, col_at = np.empty((gh, gw), np.int64), np.empty((gh, gw), np.int64)
    for t in range(f):
        for i in range(gh):
            for j in range(gw):
                cx, cy = camera_at(camera[t], (j + 0.5) * cell, (i + 0.5) * cell)
                dx, dy = vectors[t, i, j, 0] - cx, vectors[t, i, j, 1] - cy
                if not (np.isfinite(dx) and np.isfinite(dy)):
                    dx, dy = 0.0, 0.0
                residual[i, j, 0], residual[i, j, 1] = dx, dy
                speed[i, j] = dx * dx + dy * dy
        _fastest_in_rows(speed, reach, row_best, row_at)
        _fastest_in_rows(row_best.T, reach, col_best.T, col_at.T)  # the columns: the same pass, transposed
        for i in range(gh):
            for j in range(gw):
                bi = col_at[i, j]
                bj = row_at[bi, j]
                out[t, i, j, 0] = residual[bi, bj, 0]
                out[t, i, j, 1] = residual[bi, bj, 1]
    return out


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _fastest_in_rows(values: np.ndarray, reach: int, best: np.ndarray, at: np.ndarray) -> None:
    # best[i, j], at[i, j]: the largest of values[i, j - reach .. j + reach] and its column (the cell itself on ties)
    h, w = values.shape
    for i in range(h):
        for j in range(w):
            bj, b = j, values[i, j]
            for jj in range(max(0, j - reach), min(w, j + reach + 1)):
                if values[i, jj] > b:
                    bj, b = jj, values[i, jj]
            best[i, j], at[i, j] = b, bj


SIDES = ("background", "both")  # where the evidence may move: only towards the background (the default), or either way


def assign_edges(e: np.ndarray, grey: np.ndarray, previous: np.ndarray, motion: FrameMotion, band: int = BAND,
                 gain: float = GAIN, side: str = "background", fit: float = FIT, box: int = BOX,
                 raise_gain: float = 0.0) -> np.ndarray:  # fmt: skip
    """Evidence e (h, w) float32 (moving where > 0.5) with the pixels within `band` evidence pixels of its 0.5 edge
    (-1: every pixel; 0: none) moved towards the motion that explains them (module docstring). grey, previous:
    frames t and t-1 (h, w) float32 grey levels in [0, 1] at e's size; motion: frame t's (`FrameMotion`). side
    "background": only towards the background, where the camera's motion explains the pixel better than the
    mover's, by up to `gain` where the camera's residual is at most `fit` grey levels and not at all from 2 x fit
    (0: any residual); "both": either way, wherever (`fit` unused). raise_gain: rule 3c (tried; RAISE_GAIN), evidence
    added where the camera's residual is large (up to `raise_gain`, from RAISE_FROM to RAISE_FULL grey levels; 0: none). box: the
    residuals' box filter, pixels. A band is computed on its bounding box only. Returns a new (h, w) float32 array
    in [0, 1] (e itself where nothing moves: no mask, no rule); ValueError for another side."""
    import cv2

    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, not {side!r}")
    h, w = e.shape
    moving = (e > 0.5).astype(np.uint8)
    if band == 0 or not moving.any():
        return e
    near: np.ndarray | None = None  # band < 0: every pixel (the colour step reads the evidence outside the mask too)
    x0, y0, x1, y1 = 0, 0, w, h
    if band > 0:
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
        near = cv2.morphologyEx(moving, cv2.MORPH_GRADIENT, disk)  # dilated and not eroded: the band
        x0, y0, bw, bh = cv2.boundingRect(near)
        pad = box // 2  # the residuals' box filter reads this far past the band
        x0, y0, x1, y1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x0 + bw + pad), min(h, y0 + bh + pad)
    sx, sy = w / motion.size[0], h / motion.size[1]
    fx = ((np.arange(x0, x1, dtype=np.float32) + 0.5) / sx - 0.5)[None, :]  # frame pixels, (1, w')
    fy = ((np.arange(y0, y1, dtype=np.float32) + 0.5) / sy - 0.5)[:, None]  # (h', 1)
    a = motion.camera.astype(np.float32)
    cam_x = (a[0, 0] * fx + a[0, 1] * fy + a[0, 2] + 0.5) * sx - 0.5  # where the camera alone puts x in frame t-1
    cam_y = (a[1, 0] * fx + a[1, 1] * fy + a[1, 2] + 0.5) * sy - 0.5
    mover = (motion.mover if motion.mover.shape[:2] == (h, w) else cv2.resize(motion.mover, (w, h), interpolation=cv2.INTER_LINEAR))[y0:y1, x0:x1]
    obj_x, obj_y = cam_x - mover[..., 0] * sx, cam_y - mover[..., 1] * sy
    now = grey[y0:y1, x0:x1]

    def residual(mx: np.ndarray, my: np.ndarray) -> np.ndarray:
        warped = cv2.remap(previous, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return cv2.blur(cv2.absdiff(now, warped), (box, box))

    r_cam, r_obj = residual(cam_x, cam_y), residual(obj_x, obj_y)
    inside = near[y0:y1, x0:x1] > 0 if near is not None else slice(None)
    r_c, r_o = r_cam[inside], r_obj[inside]
    d = (r_c - r_o) / (r_c + r_o + np.float32(EPS))
    if side == "background":
        d = np.minimum(d, 0)
        if fit > 0:
            d *= np.clip(2 - r_c / np.float32(fit), 0, 1)
    d *= np.float32(gain)
    if raise_gain > 0:  # rule 3c: no motion of the camera's explains the pixel (side "background": d is 0 there)
        d += np.float32(raise_gain) * np.clip((r_c - np.float32(RAISE_FROM)) / np.float32(RAISE_FULL - RAISE_FROM), 0, 1)
    out = e.copy()
    crop = out[y0:y1, x0:x1]
    crop[inside] = np.clip(crop[inside] + d, 0, 1)
    return out
