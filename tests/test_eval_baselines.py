"""Baselines on synthetic motion: motion cues beat the centre prior; compensation removes a camera pan."""

import numpy as np
import pytest

from mosi_tool.evaluation import baselines as bl
from mosi_tool.evaluation.metrics import auc_judd

from .conftest import texture, write_video

W, H, SQ, SPEED = 128, 96, 24, 3


def square_masks(n, w=W, h=H, square=SQ, speed=SPEED):
    masks = np.zeros((n, h, w), bool)
    for i in range(n):
        x, y = (4 + i * speed) % (w - square), (h - square) // 2
        masks[i, y : y + square, x : x + square] = True
    return masks


def mean_auc(maps, masks):
    return np.mean([auc_judd(m, k) for m, k in zip(maps, masks)])


def test_motion_baselines_beat_the_centre_prior_on_a_moving_square(tmp_path):
    n = 30
    video = write_video(tmp_path / "sq.mp4", n=n, size=(W, H), square=SQ, speed=SPEED)
    gray = bl.read_gray(video, (W, H))
    assert gray.shape == (n, H, W)
    masks = square_masks(n)
    centre = mean_auc(bl.centre_prior(n, H, W), masks)
    diff = mean_auc(bl.frame_difference(gray), masks)
    flow = bl.farneback_flow(gray)
    mag = mean_auc(bl.flow_magnitude(flow), masks)
    comp = mean_auc(bl.compensated_flow(flow), masks)
    assert diff > centre + 0.1 and mag > centre + 0.1 and comp > centre + 0.1
    assert bl.background_motion(flow, masks).max() < 0.5  # a static camera


def panning_clip(n=12, pan=4):
    """A textured background panning left by `pan` px/frame, and a square moving down over it."""
    bg = texture(H, W + n * pan, seed=5).mean(2).astype(np.uint8)
    fg = texture(SQ, SQ, seed=6, scale=3).mean(2).astype(np.uint8)
    frames, masks = np.zeros((n, H, W), np.uint8), np.zeros((n, H, W), bool)
    for i in range(n):
        frames[i] = bg[:, i * pan : i * pan + W]
        y, x = 10 + 4 * i, 50
        frames[i, y : y + SQ, x : x + SQ] = fg
        masks[i, y : y + SQ, x : x + SQ] = True
    return frames, masks


def test_camera_compensation_and_background_motion_under_a_pan():
    frames, masks = panning_clip()
    flow = bl.farneback_flow(frames)
    raw, comp = mean_auc(bl.flow_magnitude(flow)[1:], masks[1:]), mean_auc(bl.compensated_flow(flow)[1:], masks[1:])
    assert comp > raw + 0.1 and comp > 0.8
    assert np.median(bl.background_motion(flow, masks)[1:]) == pytest.approx(4, abs=1)


def test_centre_prior_and_sizes():
    prior = bl.centre_prior(2, 9, 15)
    assert prior.shape == (2, 9, 15) and prior[0].argmax() == 4 * 15 + 7
    assert bl.working_size(854, 480) == (427, 240) and bl.working_size(100, 60) == (100, 60)
    one = bl.frame_difference(np.zeros((1, 4, 4), np.uint8))
    assert one.shape == (1, 4, 4) and not one.any()
