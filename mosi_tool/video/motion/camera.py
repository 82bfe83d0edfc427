"""The camera motion of every frame: a similarity or affine model fitted robustly to the motion field, or
`auto`: the similarity unless the affine model explains clearly more of the field (a ground plane seen in
perspective, a shear)."""

from __future__ import annotations

from typing import no_type_check

import numba
import numpy as np

from .field import cell_centres, fill_in_time

RANSAC_THRESHOLD = 1.0  # px/frame: a cell farther than this from the camera model is an outlier
IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
MODELS = ("similarity", "affine", "auto")
AUTO_MARGIN = 0.05  # auto: the affine model wins when it fits this share of the cells more than the similarity


def fit_camera(velocity: np.ndarray, centres: np.ndarray, model: str = "similarity", threshold: float | None = None,
               stride: int = 2) -> np.ndarray | None:  # fmt: skip
    """Robust camera model of one frame: the 2x3 matrix A with A p ~ p - v for cell centres p and velocities v.

    velocity, centres: (gh, gw, 2); NaN velocities are ignored; every `stride`-th cell in each direction is
    used (speed). RANSAC with a `threshold` px/frame inlier band (OpenCV), then the least-squares model of
    its inliers (what OpenCV's Levenberg-Marquardt refinement converges to for these linear models, at a
    third of the cost). model "auto": both, and the affine one only if it puts AUTO_MARGIN more of the cells
    within the band (its two extra parameters otherwise fit noise, or a large mover; docs/EVALUATION.md 2c
    measures it). None when fewer than 3 cells have a vector or the fit fails.
    """
    p, q = _points(velocity, centres, stride)  # (N, 2) float32 each
    if len(p) < 3:
        return None
    band = threshold or RANSAC_THRESHOLD
    if model == "auto":
        similar = _fit(p, q, "similarity", band)
        share = _share_within(similar, p, q, band) if similar is not None else 0.0
        if share + AUTO_MARGIN >= 1:  # the affine model cannot win: not fitted (a still or clean scene)
            return similar
        affine = _fit(p, q, "affine", band)
        if similar is None or affine is None:
            return similar if similar is not None else affine
        return affine if _share_within(affine, p, q, band) > share + AUTO_MARGIN else similar
    return _fit(p, q, model, band)


def _share_within(a: np.ndarray, p: np.ndarray, q: np.ndarray, band: float) -> float:
    """The share of the points p (N, 2) that the model A (2x3) takes within `band` px of q (N, 2)."""
    d = p @ a[:, :2].T.astype(np.float32) + a[:, 2].astype(np.float32) - q
    return float(np.mean(np.einsum("ij,ij->i", d, d) < band * band))


def _fit(p: np.ndarray, q: np.ndarray, model: str, band: float) -> np.ndarray | None:
    """`fit_camera` of one model on the points p -> q (N, 2) float32."""
    import cv2

    fit = cv2.estimateAffinePartial2D if model == "similarity" else cv2.estimateAffine2D
    a, inliers = fit(p, q, method=cv2.RANSAC, ransacReprojThreshold=band, maxIters=500,
                     confidence=0.99, refineIters=0)  # fmt: skip
    if a is None:
        return None
    refit = _least_squares(p, q, inliers.ravel(), model == "similarity")
    return a.astype(np.float64) if np.isnan(refit[0, 0]) else refit


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _points(velocity: np.ndarray, centres: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Every `stride`-th cell's centre p and p - v, for the cells with a velocity (row by row): (N, 2) each."""
    gh, gw = velocity.shape[0], velocity.shape[1]
    p = np.empty((((gh + stride - 1) // stride) * ((gw + stride - 1) // stride), 2), np.float32)
    q = np.empty_like(p)
    n = 0
    for i in range(0, gh, stride):
        for j in range(0, gw, stride):
            if not np.isnan(velocity[i, j, 0]):
                p[n, 0], p[n, 1] = centres[i, j, 0], centres[i, j, 1]
                q[n, 0], q[n, 1] = p[n, 0] - np.float32(velocity[i, j, 0]), p[n, 1] - np.float32(velocity[i, j, 1])
                n += 1
    return p[:n], q[:n]


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _least_squares(p: np.ndarray, q: np.ndarray, inliers: np.ndarray, similarity: bool) -> np.ndarray:
    """The 2x3 model A minimising sum |A p - q|^2 over the points p, q (N, 2) flagged in `inliers` (N,): a
    similarity [[a, -b, tx], [b, a, ty]] or an affine map, in closed form about the centroids (what OpenCV's
    Levenberg-Marquardt refinement converges to for these linear models). NaN when the points cannot fix it."""
    out = np.full((2, 3), np.nan)
    n, px, py, qx, qy = 0, 0.0, 0.0, 0.0, 0.0
    for k in range(len(p)):
        if inliers[k]:
            n += 1
            px, py, qx, qy = px + p[k, 0], py + p[k, 1], qx + q[k, 0], qy + q[k, 1]
    if n < (2 if similarity else 3):
        return out
    px, py, qx, qy = px / n, py / n, qx / n, qy / n
    sxx = sxy = syy = uxx = uxy = uyx = uyy = 0.0  # sums of (p - pm) (p - pm)^T and (p - pm) (q - qm)^T
    for k in range(len(p)):
        if inliers[k]:
            x, y, u, v = p[k, 0] - px, p[k, 1] - py, q[k, 0] - qx, q[k, 1] - qy
            sxx, sxy, syy = sxx + x * x, sxy + x * y, syy + y * y
            uxx, uxy, uyx, uyy = uxx + x * u, uxy + x * v, uyx + y * u, uyy + y * v
    if similarity:
        norm = sxx + syy
        if norm == 0:
            return out
        a, b = (uxx + uyy) / norm, (uxy - uyx) / norm
        out[0, 0], out[0, 1], out[1, 0], out[1, 1] = a, -b, b, a
    else:
        det = sxx * syy - sxy * sxy
        if det == 0:
            return out
        # rows of L solve [[sxx, sxy], [sxy, syy]] l = (sum x u, sum y u) for u = q's x, then q's y
        out[0, 0], out[0, 1] = (syy * uxx - sxy * uyx) / det, (sxx * uyx - sxy * uxx) / det
        out[1, 0], out[1, 1] = (syy * uxy - sxy * uyy) / det, (sxx * uyy - sxy * uxy) / det
    out[0, 2] = qx - out[0, 0] * px - out[0, 1] * py
    out[1, 2] = qy - out[1, 0] * px - out[1, 1] * py
    return out


def fit_cameras(vectors: np.ndarray, cell: int, model: str = "similarity", coded: np.ndarray | None = None) -> np.ndarray:
    """Per frame camera models (F, 2, 3) for velocity fields (F, gh, gw, 2); frames whose fit fails or that
    had no vectors of their own (`coded` False) take the element-wise linear interpolation of their neighbours
    within MAX_GAP frames, else the identity (no camera motion)."""
    if model not in MODELS:
        raise ValueError(f"camera model must be one of {', '.join(MODELS)}, got {model!r}")
    centres = cell_centres(vectors.shape[1], vectors.shape[2], cell)
    cams = np.full((len(vectors), 2, 3), np.nan)
    for t in range(len(vectors)):
        if coded is not None and not coded[t]:
            continue
        a = fit_camera(vectors[t], centres, model)
        if a is not None:
            cams[t] = a
    flat = fill_in_time(cams.reshape(len(cams), 1, 6, 1)).reshape(len(cams), 2, 3)
    return np.where(np.isfinite(flat), flat, IDENTITY)
