"""Saliency metrics against a binary mask of the moving object, computed on one frame at a time.

All three are invariant to how a map is scaled, so maps need no normalisation before scoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POINTING_TOLERANCE = 15  # pixels, as in the pointing game of Zhang et al. (ECCV 2016)


def _check(sal: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if sal.shape != mask.shape:
        raise ValueError(f"map {sal.shape} and mask {mask.shape} differ in size")
    return sal.astype(np.float32, copy=False).ravel(), mask.astype(bool, copy=False).ravel()


def auc_judd(sal: np.ndarray, mask: np.ndarray) -> float:
    """Area under the ROC curve with mask pixels as positives, swept over every distinct map value.

    Tied values count half (the Mann-Whitney statistic with mid-ranks), so a constant map scores exactly
    0.5, a map that is higher on every mask pixel 1 and one that is lower 0.
    """
    s, m = _check(sal, mask)
    everything = np.sort(s)
    positives = np.sort(s[m])
    n_pos, n_neg = positives.size, s.size - positives.size
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both mask and background pixels")
    # For each positive value: background pixels below it, and background pixels equal to it.
    all_lo, all_hi = np.searchsorted(everything, positives, "left"), np.searchsorted(everything, positives, "right")
    pos_lo, pos_hi = np.searchsorted(positives, positives, "left"), np.searchsorted(positives, positives, "right")
    below = (all_lo - pos_lo).sum()
    ties = ((all_hi - all_lo) - (pos_hi - pos_lo)).sum()
    return float((below + 0.5 * ties) / (n_pos * n_neg))


def shuffled_auc(sal: np.ndarray, mask: np.ndarray, elsewhere: np.ndarray) -> float:
    """Shuffled AUC: mask pixels are the positives, and the negatives are every pixel weighted by `elsewhere`,
    where the objects of *other* videos lie (the same size as `sal`, >= 0).

    Plain AUC-Judd draws negatives uniformly, so a map that only favours the frame's centre scores well on
    data whose objects are central; drawing them from other videos' object positions cancels that: a centre
    bias alone scores about 0.5. This is the shuffled AUC of saliency benchmarks (Zhang et al., SUN, JoV
    2008; Borji et al., ICCV 2013), with other videos' object masks in place of other images' fixations.
    Ties count half. Raises ValueError without positives or negative weight.
    """
    s, m = _check(sal, mask)
    if elsewhere.shape != sal.shape:
        raise ValueError(f"map {sal.shape} and negative weights {elsewhere.shape} differ in size")
    order = np.argsort(s, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(elsewhere.ravel().astype(np.float64)[order])])  # weight below each rank
    positives = s[m]
    if positives.size == 0 or cum[-1] <= 0:
        raise ValueError("shuffled AUC needs mask pixels and negative weight")
    ranked = s[order]
    lo, hi = np.searchsorted(ranked, positives, "left"), np.searchsorted(ranked, positives, "right")
    return float((cum[lo] + 0.5 * (cum[hi] - cum[lo])).sum() / (positives.size * cum[-1]))


def nss(sal: np.ndarray, mask: np.ndarray) -> float:
    """Normalised scanpath saliency: the map standardised over the frame, averaged over mask pixels.

    A constant map scores 0.
    """
    s, m = _check(sal, mask)
    if not m.any():
        raise ValueError("NSS needs at least one mask pixel")
    std = s.std(dtype=np.float64)
    if std == 0:
        return 0.0
    return float((s[m].mean(dtype=np.float64) - s.mean(dtype=np.float64)) / std)


def pointing_hit(sal: np.ndarray, mask: np.ndarray, tolerance: int = POINTING_TOLERANCE) -> float:
    """Pointing game: 1 if the map's maximum lies on the mask (within `tolerance` pixels), else 0.

    When several pixels share the maximum, the score is the fraction of them that hit: the expected
    result of breaking the tie at random (a constant map scores the dilated mask's area fraction).
    """
    if sal.shape != mask.shape:
        raise ValueError(f"map {sal.shape} and mask {mask.shape} differ in size")
    target = mask.astype(bool)
    if tolerance > 0:
        import cv2

        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
        target = cv2.dilate(target.astype(np.uint8), disk).astype(bool)
    peaks = sal == sal.max()
    return float(target[peaks].mean())


BOX_HIT_IOU = 0.5  # a box "hits" the object when its IoU with the mask's bounding box reaches this (CorLoc)


def box_scores(sal: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(IoU, hit) of the map's strongest motion box (`saliency.regions`) against the mask's bounding box.

    The map is first scaled to [0, 1] by its own min and max. No box scores IoU 0, hit 0.
    """
    from ..saliency.regions import box_iou, mask_box, motion_boxes

    s = sal.astype(np.float32, copy=False)
    lo, hi = float(s.min()), float(s.max())
    boxes = motion_boxes((s - lo) / (hi - lo)) if hi > lo else []
    truth = mask_box(mask)
    if not boxes or truth is None:
        return 0.0, 0.0
    iou = box_iou(boxes[0], truth)
    return iou, float(iou >= BOX_HIT_IOU)


@dataclass
class FrameScores:
    auc: float
    nss: float
    hit: float
    box_iou: float = float("nan")
    box_hit: float = float("nan")
    sauc: float = float("nan")


SCORE_NAMES = ("auc", "sauc", "nss", "hit", "box_iou", "box_hit")


def score_frame(sal: np.ndarray, mask: np.ndarray, tolerance: int = POINTING_TOLERANCE,
                elsewhere: np.ndarray | None = None) -> FrameScores:  # fmt: skip
    """Every metric for one frame (the mask must hold both object and background pixels); the shuffled AUC
    only with `elsewhere` (other videos' object positions at this frame's size), else NaN."""
    sauc = shuffled_auc(sal, mask, elsewhere) if elsewhere is not None else float("nan")
    return FrameScores(auc_judd(sal, mask), nss(sal, mask), pointing_hit(sal, mask, tolerance), *box_scores(sal, mask), sauc=sauc)


def mean_scores(scores: list[FrameScores]) -> dict[str, float]:
    """Average of per-frame scores: {"auc", "sauc", "nss", "hit", "box_iou", "box_hit", "frames"}."""
    out: dict[str, float] = {k: float(np.mean([getattr(s, k) for s in scores])) if scores else float("nan") for k in SCORE_NAMES}
    out["frames"] = len(scores)
    return out
