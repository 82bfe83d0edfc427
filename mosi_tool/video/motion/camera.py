"""The camera motion of every frame: a similarity or affine model fitted robustly to the motion field."""

from __future__ import annotations

import numpy as np

from .field import cell_centres, fill_in_time

RANSAC_THRESHOLD = 1.0  # px/frame: a cell farther than this from the camera model is an outlier
IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
MODELS = ("similarity", "affine")


def fit_camera(velocity: np.ndarray, centres: np.ndarray, model: str = "similarity", threshold: float | None = None,
               stride: int = 2) -> np.ndarray | None:  # fmt: skip
    """Robust camera model of one frame: the 2x3 matrix A with A p ~ p - v for cell centres p and velocities v.

    velocity, centres: (gh, gw, 2); NaN velocities are ignored; every `stride`-th cell in each direction is
    used (speed). RANSAC with a `threshold` px/frame inlier band (OpenCV), then the least-squares model of
    its inliers (what OpenCV's Levenberg-Marquardt refinement converges to for these linear models, at a
    third of the cost). None when fewer than 3 cells have a vector or the fit fails.
    """
    import cv2

    velocity, centres = velocity[::stride, ::stride], centres[::stride, ::stride]
    ok = np.isfinite(velocity[..., 0])
    if ok.sum() < 3:
        return None
    p = centres[ok].astype(np.float32)  # (N, 2)
    q = p - velocity[ok].astype(np.float32)
    fit = cv2.estimateAffinePartial2D if model == "similarity" else cv2.estimateAffine2D
    a, inliers = fit(p, q, method=cv2.RANSAC, ransacReprojThreshold=threshold or RANSAC_THRESHOLD, maxIters=500,
                     confidence=0.99, refineIters=0)  # fmt: skip
    if a is None:
        return None
    keep = inliers.ravel() > 0
    return _least_squares(p[keep].astype(np.float64), q[keep].astype(np.float64), model, a.astype(np.float64))


def _least_squares(p: np.ndarray, q: np.ndarray, model: str, fallback: np.ndarray) -> np.ndarray:
    """The 2x3 model A minimising sum |A p - q|^2 over points p, q (N, 2): a similarity [[a, -b, tx], [b, a,
    ty]] or an affine map; `fallback` when the points cannot fix it (fewer than the model's unknowns)."""
    n = len(p)
    if model == "similarity":
        if n < 2:
            return fallback
        # closed form (Umeyama without the scale constraint): about the centroids, a and b solve the normal equations
        pm, qm = p.mean(axis=0), q.mean(axis=0)
        pc, qc = p - pm, q - qm
        norm = float((pc * pc).sum())
        if norm == 0:
            return fallback
        a = float((pc * qc).sum()) / norm
        b = float((pc[:, 0] * qc[:, 1] - pc[:, 1] * qc[:, 0]).sum()) / norm
        tx = qm[0] - a * pm[0] + b * pm[1]
        ty = qm[1] - b * pm[0] - a * pm[1]
        return np.array([[a, -b, tx], [b, a, ty]])
    if n < 3:
        return fallback
    m = np.concatenate([p, np.ones((n, 1))], 1)  # (N, 3)
    rows, *_ = np.linalg.lstsq(m, q, rcond=None)  # (3, 2)
    return rows.T.copy()


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
