"""Rule 3b of the masks (`saliency.motion_edges`): the mover's motion near each cell, and mask edges moved
towards the motion that explains each pixel (by default only towards the background: where the camera's does)."""

from __future__ import annotations

import numpy as np
import pytest

from mosi_tool.saliency.motion_edges import FrameMotion, assign_edges, mover_motion
from mosi_tool.video.motion import MotionField

from .conftest import texture

IDENTITY = np.array([[1.0, 0, 0], [0, 1.0, 0]])


def test_each_cell_takes_the_fastest_object_motion_within_reach():
    vectors = np.zeros((1, 9, 9, 2), np.float32)
    vectors[0, 4, 4] = (3.0, -1.0)  # one moving cell
    vectors[0, 0, 0] = (0.5, 0.0)  # a slower one, far from it
    camera = np.repeat(IDENTITY[None], 1, 0)
    field = MotionField(vectors, camera, np.zeros(1), np.ones(1, bool), (72, 72), 8, "test")
    m = mover_motion(field, reach=2)
    assert m.shape == (1, 9, 9, 2)
    assert np.all(m[0, 2:7, 2:7] == (3.0, -1.0))  # within 2 cells of it
    assert np.all(m[0, 0, 0] == (0.5, 0.0)) and np.all(m[0, 8, 8] == 0) and np.all(m[0, 4, 1] == 0)
    # compensated: under a camera that moves every cell by (1, 0), the same field has one mover at (2, -1)
    shifted = MotionField(vectors + np.float32([1.0, 0.0]), np.array([[[1.0, 0, -1.0], [0, 1.0, 0]]]), np.zeros(1),
                          np.ones(1, bool), (72, 72), 8, "test")  # fmt: skip
    np.testing.assert_allclose(mover_motion(shifted, reach=2)[0, 4, 4], (3.0, -1.0), atol=1e-6)


def _scene(shift: int):
    """Frames t-1 and t (grey, 96x96) of a textured 32-px square moving right by `shift` px over a still
    textured background, and the square's mask at t."""
    bg = texture(96, 96, seed=1, scale=3)[..., 0].astype(np.float32) / 255
    fg = texture(32, 32, seed=2, scale=3)[..., 1].astype(np.float32) / 255
    frames = []
    for x in (30, 30 + shift):
        img = bg.copy()
        img[32:64, x : x + 32] = fg
        frames.append(img)
    truth = np.zeros((96, 96), bool)
    truth[32:64, 30 + shift : 62 + shift] = True
    return frames, truth


def test_a_halo_around_a_mover_is_taken_back_and_the_mover_kept():
    (previous, grey), truth = _scene(3)
    halo = np.zeros_like(truth)
    halo[27:69, 28:70] = True  # 5 px too wide on every side
    e = np.where(halo, 0.8, 0.1).astype(np.float32)
    mover = np.zeros((96, 96, 2), np.float32)
    mover[..., 0] = 3.0  # the square's motion, found near every cell
    out = assign_edges(e, grey, previous, FrameMotion(mover, IDENTITY, (96, 96)), side="both")
    # the halo above, below and ahead of the square is seen in both frames: the camera explains it, and most of
    # it is background again; behind the square the background was covered in frame t-1, so neither motion
    # explains it and it stays
    seen = halo & ~truth
    seen[32:64, 28:33] = False  # the trailing side
    assert (out[seen] > 0.5).mean() < 0.35, (out[seen] > 0.5).mean()
    assert (out[truth] > 0.5).mean() > 0.95
    # where the mover's motion is the camera's (no motion), neither explains a pixel better: nothing changes
    same = assign_edges(e, grey, grey, FrameMotion(np.zeros_like(mover), IDENTITY, (96, 96)), side="both")
    np.testing.assert_array_equal(same > 0.5, e > 0.5)


def test_the_default_rule_only_gives_edges_the_camera_explains_to_the_background():
    """Side "background" (the default): the halo the camera's motion explains is taken back as both ways, a
    mover's pixel with low evidence is not raised (both ways raised it), and where no motion explains the
    pixels (noise in frame t: motion blur, a flat shiny body) nothing moves (`FIT`)."""
    (previous, grey), truth = _scene(3)
    halo = np.zeros_like(truth)
    halo[27:69, 28:70] = True
    e = np.where(halo, 0.8, 0.1).astype(np.float32)
    e[44:52, 56:64] = 0.3  # a weak patch on the square's leading edge, within the band
    mover = np.zeros((96, 96, 2), np.float32)
    mover[..., 0] = 3.0
    motion = FrameMotion(mover[::8, ::8], IDENTITY, (96, 96))  # the movers' motion at 8-px cells, upsampled
    seen = halo & ~truth
    seen[32:64, 28:33] = False
    out = assign_edges(e, grey, previous, motion)
    assert (out[seen] > 0.5).mean() < 0.35, (out[seen] > 0.5).mean()
    assert np.all(out <= e + 1e-7)  # never raised
    both = assign_edges(e, grey, previous, motion, side="both")
    assert both[44:52, 56:64].mean() > e[44:52, 56:64].mean() + 0.1 and np.allclose(out[44:52, 56:64], e[44:52, 56:64])
    noisy = np.clip(grey + np.random.default_rng(0).normal(0, 0.15, grey.shape).astype(np.float32), 0, 1)
    assert np.abs(assign_edges(e, noisy, previous, motion) - e).max() < 0.05  # no motion explains these pixels
    with pytest.raises(ValueError, match="side must be one of"):
        assign_edges(e, grey, previous, motion, side="towards")


def test_no_mask_or_no_band_leaves_the_evidence_as_it_is():
    (previous, grey), _ = _scene(3)
    motion = FrameMotion(np.zeros((96, 96, 2), np.float32), IDENTITY, (96, 96))
    e = np.full((96, 96), 0.2, np.float32)
    assert assign_edges(e, grey, previous, motion) is e
    e[40:50, 40:50] = 0.9
    assert assign_edges(e, grey, previous, motion, band=0) is e


def test_the_eval_row_takes_back_the_spill_around_the_synthetic_movers(tmp_path):
    from mosi_tool.evaluation.segmentation import METHODS, Inputs, jaccard

    from .conftest import encode_frames
    from .test_masks import N, movers

    frames, truth = movers(0)
    x = Inputs(encode_frames(tmp_path / "m.mp4", frames), None, N)
    union = {}
    for key in ("masks", "masks-no-camera-edges", "masks-assign"):
        masks, _ = METHODS[key].run(x)
        union[key] = np.mean([jaccard(masks[t], np.any(truth[t], axis=0)) for t in range(1, N - 1)])
    assert union["masks"] > union["masks-no-camera-edges"] + 0.05, union  # 0.779 against 0.696 measured
    assert union["masks-assign"] > union["masks-no-camera-edges"] + 0.03, union  # both ways: 0.741


def test_rule_3c_adds_evidence_only_where_the_camera_explains_a_pixel_badly():
    """`raise_gain` (rule 3c, off by default): a mover's pixels with weak evidence gain it where the camera's
    residual is large (the square moved 6 px over a different texture), the still background gains none; off,
    the evidence is rule 3b's alone."""
    (previous, grey), truth = _scene(6)
    e = np.where(truth, 0.45, 0.1).astype(np.float32)  # the square just under the mask's threshold ...
    e[40:48, 40:48] = 0.8  # ... but for a confident patch: the frame has a mask
    motion = FrameMotion(np.zeros((96, 96, 2), np.float32), IDENTITY, (96, 96))
    off = assign_edges(e, grey, previous, motion)
    on = assign_edges(e, grey, previous, motion, raise_gain=0.5)
    raised = on - off
    assert raised.min() >= 0
    assert (on[truth] > 0.5).mean() > 0.5 > (off[truth] > 0.5).mean()
    background = np.ones_like(truth)
    background[24:72, 22:78] = False  # away from where the square was and is
    assert np.all(raised[background] == 0)
    np.testing.assert_array_equal(assign_edges(e, grey, previous, motion, raise_gain=0.0), off)
