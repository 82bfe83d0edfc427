"""The primary mover (`saliency.primary`, `saliency --primary`): one tracked object's masks and boxes."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from mosi_tool.saliency.boxes import Components, component_boxes
from mosi_tool.saliency.primary import PrimaryMover
from tests.conftest import encode_frames, texture

H, W = 120, 200


def evidence(*blobs: tuple[int, int, int, int], halo: bool = True) -> np.ndarray:
    """(H, W) float32 evidence: 0.9 inside each blob (x0, y0, x1, y1), with a ramp below 0.5 around it (`halo`)."""
    e = np.zeros((H, W), np.float32)
    for x0, y0, x1, y1 in blobs:
        e[y0:y1, x0:x1] = 0.9
    if halo:
        e = np.maximum(e, cv2.GaussianBlur(e, (0, 0), 2) * 0.5)
    return e


def test_the_stronger_mover_is_kept_and_the_other_dropped():
    e = evidence((10, 10, 50, 60), (150, 40, 170, 60))  # 40x50 and 20x20
    kept, box = PrimaryMover().update(e, (2.0, 2.0))
    assert kept[40:60, 150:170].max() == 0 and np.array_equal(kept[10:60, 10:50], e[10:60, 10:50])
    assert box is not None and box[:4] == [20.0, 20.0, 100.0, 120.0] and box[5] == 0  # frame pixels, track 0
    assert box[4] == pytest.approx(2000 / 2400, abs=0.02)  # its share of the frame's evidence above 0.5
    # only the dropped component's pixels change: the evidence below 0.5 around the kept one stays (the mask's edge)
    changed = kept != e
    labels = Components.of(e > 0.5, e).labels  # type: ignore[union-attr]
    assert changed.any() and (labels[changed] > 0).all()


def test_parts_reaching_into_the_grown_box_are_kept_far_ones_are_not():
    body, leg, far = (40, 20, 90, 90), (92, 80, 100, 100), (150, 20, 160, 30)  # the leg 2 px right of the body
    kept, box = PrimaryMover().update(evidence(body, leg, far, halo=False))
    assert kept[80:100, 92:100].min() == 0.9 and kept[20:30, 150:160].max() == 0
    assert box is not None and box[:4] == [40.0, 20.0, 100.0, 100.0]  # the box around both parts


def test_the_primary_track_holds_until_another_clearly_outweighs_it():
    mover = PrimaryMover()
    a, b = (10, 10, 50, 50), (120, 10, 160, 50)
    ids = [mover.update(evidence(a, b))[1][5] for _ in range(5)]  # type: ignore[index]
    first = ids[0]
    assert ids == [first] * 5
    bigger_b = (120, 10, 166, 56)  # 1.3 x the area: not enough to take over
    assert all(mover.update(evidence(a, bigger_b))[1][5] == first for _ in range(10))  # type: ignore[index]
    much_bigger_b = (100, 5, 190, 110)  # 6 x: takes over within a few frames
    ids = [mover.update(evidence(a, much_bigger_b))[1][5] for _ in range(10)]  # type: ignore[index]
    assert ids[-1] != first and ids.index(ids[-1]) <= 5
    # when the primary mover stops (no component), the frames have no primary mover while its track waits
    # (`BoxTracker.max_age`), then the other one is primary, with a new id
    boxes = [mover.update(evidence(a))[1] for _ in range(mover.tracks.max_age + 2)]
    assert boxes[0] is None and boxes[-1] is not None and boxes[-1][:4] == [10.0, 10.0, 50.0, 50.0] and boxes[-1][5] == ids[-1] + 1


def test_a_frame_without_the_primary_mover_does_not_hand_it_to_another():
    """The primary mover missing on one frame (its evidence under 0.5): that frame has no box and an empty mask,
    not the other mover's, and the next frame has the same id as before."""
    mover = PrimaryMover()
    a, b = (10, 10, 70, 70), (150, 10, 170, 30)
    first = [mover.update(evidence(a, b))[1] for _ in range(5)][-1]
    kept, box = mover.update(evidence(b))
    assert box is None and kept.max() <= 0.5
    assert mover.update(evidence(a, b))[1][5] == first[5]  # type: ignore[index]


def test_an_object_whose_mask_splits_stays_whole_and_keeps_its_id():
    """The mask of one mover splits into a small part that keeps the track and a large new one (a leg apart from
    the body): both are the primary mover, and its id stays; the tracker giving the whole to another track's id
    keeps it too."""
    mover = PrimaryMover()
    body = (40, 20, 100, 100)
    first = [mover.update(evidence(body))[1] for _ in range(5)][-1]
    leg, torso = (40, 20, 52, 100), (60, 20, 100, 100)  # 8 px apart: beyond the leg's grown box
    kept, box = mover.update(evidence(leg, torso, halo=False))
    assert box is not None and box[:4] == [40.0, 20.0, 100.0, 100.0] and box[5] == first[5]  # type: ignore[index]
    assert kept[20:100, 40:52].min() == 0.9 and kept[20:100, 60:100].min() == 0.9


def test_one_frame_of_a_stronger_mover_does_not_take_over():
    """A track's score is its evidence over the last frames (DECAY): one frame where another mover has twice
    the evidence leaves the primary where it was."""
    mover = PrimaryMover()
    a, b, big_b = (10, 10, 50, 50), (120, 10, 140, 30), (120, 10, 180, 70)
    first = [mover.update(evidence(a, b))[1] for _ in range(20)][-1][5]  # type: ignore[index]
    assert mover.update(evidence(a, big_b))[1][5] == first  # type: ignore[index]


def test_no_motion_gives_no_box_and_the_evidence_unchanged():
    e = evidence(halo=False) + np.float32(0.3)
    kept, box = PrimaryMover().update(e)
    assert box is None and kept is e


def test_components_give_the_boxes_component_boxes_gives():
    e = evidence((10, 10, 50, 60), (150, 40, 170, 60))
    found = Components.of(e > 0.5, e)
    assert found is not None
    assert found.boxes(found.strongest(), (2.0, 2.0)) == component_boxes(e > 0.5, e, (2.0, 2.0))
    assert found.box_around(np.array([0, 1])) == [10.0, 10.0, 170.0, 60.0]


def test_an_object_that_grows_around_its_first_part_stays_the_same_object():
    """A cup whose top moved first: the primary mover is that small part; then the cup's body moves too, one
    component around it (its box holds the part's) that the tracker gives a new id. The body is the same object
    at once, with the part's id (it waited for 1.5 times the part's score, then took a new id)."""
    mover = PrimaryMover()
    top = (60, 30, 80, 42)
    first = [mover.update(evidence(top))[1] for _ in range(5)][-1]
    body = [(40, 20, 50, 100), (90, 20, 100, 100), (40, 90, 100, 100)]  # a U around the top, 10 px from it
    e = np.maximum(evidence(top, halo=False), evidence(*body, halo=False))
    kept, box = mover.update(e)
    assert box is not None and box[:4] == [40.0, 20.0, 100.0, 100.0] and box[5] == first[5]  # type: ignore[index]
    assert np.array_equal(kept, e)


def two_movers(tmp_path):
    """320x192, 30 frames: a 64-px square and a 24-px square 150 px apart, both at 3 px/frame, over a still
    textured background; (path, truth of the large one, truth of the small one)."""
    h, w, n = 192, 320, 30
    bg = texture(h, w, seed=5, scale=6)
    big, small = texture(64, 64, seed=21, scale=3), texture(24, 24, seed=22, scale=3)
    frames, truth = [], ([], [])
    for t in range(n):
        img = bg.copy()
        masks = []
        for fg, (x, y) in ((big, (20 + 3 * t, 60)), (small, (200 + 3 * t, 30))):
            s = fg.shape[0]
            img[y : y + s, x : x + s] = fg
            m = np.zeros((h, w), bool)
            m[y : y + s, x : x + s] = True
            masks.append(m)
        frames.append(img)
        truth[0].append(masks[0])
        truth[1].append(masks[1])
    return encode_frames(tmp_path / "two.mp4", frames), np.array(truth[0]), np.array(truth[1])


def test_saliency_primary_follows_the_large_mover_alone(tmp_path):
    """`saliency --primary`: the masks cover the large square and not the small one, one box a frame with one
    track id; without it, both are covered."""
    from typer.testing import CliRunner

    from mosi_tool.cli import app

    path, large, small = two_movers(tmp_path)
    frames = range(1, len(large) - 1)
    for primary in (True, False):
        masks, boxes = tmp_path / f"m{primary}.npy", tmp_path / f"b{primary}.jsonl"
        args = ["saliency", str(path), "--masks", str(masks), "--boxes", str(boxes), "--out", str(tmp_path / f"o{primary}.mp4")]
        result = CliRunner().invoke(app, args + (["--primary"] if primary else []))
        assert result.exit_code == 0, result.output
        m = np.load(masks)
        on_large = np.mean([(m[t] & large[t]).sum() / large[t].sum() >= 0.5 for t in frames])
        on_small = np.mean([(m[t] & small[t]).sum() / small[t].sum() >= 0.5 for t in frames])
        lines = [json.loads(line) for line in boxes.read_text().splitlines()]
        assert on_large >= 0.9, on_large
        if primary:
            assert on_small == 0, on_small
            assert all(len(line["boxes"]) <= 1 for line in lines[:-1])
            tracks = {b[5] for line in lines[1:-1] for b in line["boxes"]}
            assert len(tracks) == 1, tracks
            assert "union" in lines[-1]
            import mosi_tool  # the Python API runs the command's code

            np.testing.assert_array_equal(mosi_tool.saliency(path, masks=True, primary=True).masks, m)
            assert any("primary applies to the masks and boxes" in note for note in mosi_tool.saliency(path, primary=True).notes)
            with pytest.raises(ValueError, match="primary must be True or False"):
                mosi_tool.saliency(path, masks=True, primary="yes")
            from mosi_tool.saliency.run import SaliencyOptions

            assert SaliencyOptions(primary=np.True_).primary is True  # numpy's bool, e.g. from an array of settings
        else:
            assert on_small >= 0.9, on_small
