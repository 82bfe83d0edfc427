"""Saliency metrics against hand-computed cases and a brute-force reference."""

import numpy as np
import pytest

from mosi_tool.evaluation.metrics import auc_judd, mean_scores, nss, pointing_hit, score_frame, shuffled_auc


def brute_auc(sal, mask):
    pos, neg = sal[mask], sal[~mask]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size


def test_auc_extremes_and_constant():
    mask = np.zeros((6, 8), bool)
    mask[2:4, 3:6] = True
    assert auc_judd(mask.astype(float), mask) == 1.0
    assert auc_judd(1.0 - mask, mask) == 0.0
    assert auc_judd(np.full((6, 8), 0.7), mask) == 0.5


def test_auc_hand_computed_with_and_without_ties():
    # positives {0.35, 0.8} vs negatives {0.1, 0.4}: 3 of 4 pairs ordered correctly
    assert auc_judd(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1], bool)) == pytest.approx(0.75)
    # positives {1, 2} vs negatives {1, 0}: one tie (half), three wins -> 3.5 / 4
    assert auc_judd(np.array([1.0, 1.0, 2.0, 0.0]), np.array([1, 0, 1, 0], bool)) == pytest.approx(0.875)


def test_auc_matches_brute_force_on_random_maps_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        sal = rng.integers(0, 5, (7, 9)).astype(np.float32)  # few levels: many ties
        mask = rng.random((7, 9)) < 0.3
        if mask.any() and not mask.all():
            assert auc_judd(sal, mask) == pytest.approx(brute_auc(sal.ravel(), mask.ravel()))


def test_auc_is_invariant_to_monotonic_rescaling():
    rng = np.random.default_rng(1)
    sal, mask = rng.random((10, 10)), rng.random((10, 10)) < 0.2
    assert auc_judd(sal, mask) == pytest.approx(auc_judd(3 * sal**2 + 1, mask))


def test_nss_known_values():
    sal = np.array([0.0, 0.0, 0.0, 4.0])  # mean 1, std sqrt(3)
    assert nss(sal, np.array([0, 0, 0, 1], bool)) == pytest.approx(3 / np.sqrt(3))
    assert nss(sal, np.array([1, 0, 0, 0], bool)) == pytest.approx(-1 / np.sqrt(3))
    assert nss(np.ones(4), np.array([1, 0, 0, 0], bool)) == 0.0


def test_pointing_game_hit_miss_tolerance_and_ties():
    mask = np.zeros((50, 50), bool)
    mask[10:20, 10:20] = True
    sal = np.zeros((50, 50))
    sal[15, 15] = 1
    assert pointing_hit(sal, mask, tolerance=0) == 1.0
    sal = np.zeros((50, 50))
    sal[40, 40] = 1
    assert pointing_hit(sal, mask, tolerance=0) == 0.0
    sal = np.zeros((50, 50))
    sal[15, 24] = 1  # 5 px right of the mask
    assert pointing_hit(sal, mask, tolerance=0) == 0.0
    assert pointing_hit(sal, mask, tolerance=5) == 1.0
    # a constant map: every pixel ties for the maximum -> the mask's area fraction
    assert pointing_hit(np.ones((50, 50)), mask, tolerance=0) == pytest.approx(100 / 2500)


def test_errors_and_averages():
    with pytest.raises(ValueError, match="both mask and background"):
        auc_judd(np.ones(4), np.zeros(4, bool))
    with pytest.raises(ValueError, match="differ in size"):
        nss(np.ones((2, 3)), np.ones((3, 2), bool))
    mask = np.array([[0, 1], [0, 0]], bool)
    scores = [score_frame(np.array([[0, 1], [0, 0.0]]), mask, 0), score_frame(np.ones((2, 2)), mask, 0)]
    m = mean_scores(scores)
    assert m["frames"] == 2 and m["auc"] == pytest.approx(0.75) and m["hit"] == pytest.approx((1 + 0.25) / 2)


def brute_weighted_auc(sal, mask, weight):
    pos = sal[mask]
    diff = pos[:, None] - sal.ravel()[None, :]
    w = weight.ravel()[None, :]
    return (((diff > 0) + 0.5 * (diff == 0)) * w).sum() / (len(pos) * weight.sum())


def test_shuffled_auc_matches_a_weighted_brute_force():
    rng = np.random.default_rng(2)
    for _ in range(10):
        sal = rng.integers(0, 6, (7, 9)).astype(np.float32)
        mask = rng.random((7, 9)) < 0.3
        weight = rng.random((7, 9))
        if mask.any():
            assert shuffled_auc(sal, mask, weight) == pytest.approx(brute_weighted_auc(sal, mask, weight))
    # uniform negatives over the background only: the plain AUC-Judd
    sal, mask = rng.random((6, 6)), rng.random((6, 6)) < 0.3
    assert shuffled_auc(sal, mask, (~mask).astype(float)) == pytest.approx(auc_judd(sal, mask))


def test_shuffled_auc_discounts_a_centre_bias():
    """Objects that are central in every video: sAUC takes most of a centre map's AUC-Judd away, and leaves
    a map that is high on this frame's object ahead of it."""
    yy, xx = np.mgrid[0:60, 0:80]
    centre = np.exp(-(((xx - 40) / 15) ** 2 + ((yy - 30) / 12) ** 2))
    mask = (abs(xx - 45) < 8) & (abs(yy - 28) < 6)  # this frame's object, near the centre
    elsewhere = (abs(xx - 40) < 15) & (abs(yy - 30) < 10)  # where the other videos' objects lie
    judd, shuffled = auc_judd(centre, mask), shuffled_auc(centre, mask, elsewhere.astype(float))
    assert judd > 0.95 and shuffled < judd - 0.2
    assert shuffled_auc(mask.astype(float), mask, elsewhere.astype(float)) > shuffled + 0.1
    assert shuffled_auc(np.full((60, 80), 0.3), mask, elsewhere.astype(float)) == 0.5
    with pytest.raises(ValueError, match="negative weight"):
        shuffled_auc(centre, mask, np.zeros((60, 80)))
