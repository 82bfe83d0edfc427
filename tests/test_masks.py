"""Motion masks, boxes with track ids, the overlay's display scale and the segmentation measures."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from mosi_tool import viz
from mosi_tool.evaluation.segmentation import boundary_f, box_scores, jaccard, score_sequence
from mosi_tool.saliency.boxes import BoxTracker, component_boxes, union_box
from mosi_tool.saliency.appearance import ColourModel, fill_holes, solid
from mosi_tool.saliency.compute import compute_motion_saliency
from mosi_tool.saliency.display import frame_ranges
from mosi_tool.saliency.maps_file import NpyRows
from mosi_tool.saliency.masks import (MaskConfig, MaskTracker, evidence, guided_filter, map_size, median_and_percentile, motion_threshold,
                                      shrink, work_size)
from mosi_tool.saliency.pictures import picture
from mosi_tool.saliency.regions import BoxesFile, MasksFile, Regions, motion_mask
from mosi_tool.saliency.render import mask_heat, render
from mosi_tool.video.decode import Frame

from .conftest import encode_frames, texture

# --- the threshold -----------------------------------------------------------------------------------------


def test_a_slow_mover_beside_a_fast_one_is_kept():
    raw = np.full((60, 100), 0.05, np.float32)  # background noise
    raw[10:25, 10:25] = 6.0  # fast
    raw[35:50, 60:75] = 1.0  # slow: a sixth of the peak, twenty times the noise
    mask = evidence(raw) > 0.5
    assert mask[10:25, 10:25].all() and mask[35:50, 60:75].all() and not mask[0:5].any()
    old = motion_mask(raw / raw.max())  # half of the frame's peak: the slow one vanished
    assert not old[35:50, 60:75].any()


def test_the_threshold_follows_the_noise_not_the_peak():
    rng = np.random.default_rng(0)
    quiet, noisy = rng.gamma(2, 0.02, (60, 100)), rng.gamma(2, 0.5, (60, 100))
    quiet[20:30, 20:30] = noisy[20:30, 20:30] = 8.0
    assert motion_threshold(quiet) == pytest.approx(MaskConfig().floor)  # a clean still background: the floor
    assert motion_threshold(noisy) > 3 * motion_threshold(quiet)
    assert (evidence(noisy) > 0.5).mean() < 0.05  # noise stays out


@pytest.mark.parametrize("seed", range(4))
def test_median_and_percentile_from_one_partition_are_numpys_to_the_bit(seed):
    """The threshold's two statistics come from one partition; the values are exactly numpy's, for maps
    (float32) of odd and even sizes, with ties and without."""
    rng = np.random.default_rng(seed)
    for n in [1, 2, 3, 199, 200, *rng.integers(1, 50_000, 40)]:
        for a in (rng.gamma(1.0, 0.3, n).astype(np.float32), (rng.integers(0, 4, n) / 3).astype(np.float32)):
            for q in (99.5, 50.0, 0.0, 100.0, 12.34):
                assert median_and_percentile(a, q) == (float(np.median(a)), float(np.percentile(a, q))), (n, q)
    wide = rng.random(301)  # float64: numpy's own two calls
    assert median_and_percentile(wide, 99.5) == (float(np.median(wide)), float(np.percentile(wide, 99.5)))


def test_a_stack_of_maps_gets_each_maps_own_threshold_and_evidence_to_the_bit():
    """`MaskTracker.update_stack` (motion targets' boxes) gives what `update` gives frame by frame, and the
    rows' statistics are numpy's per row, to the bit."""
    from mosi_tool.saliency.masks import medians_and_percentiles, motion_thresholds

    rng = np.random.default_rng(5)
    rows = rng.gamma(1.0, 0.3, (7, 1590)).astype(np.float32)
    median, top = medians_and_percentiles(rows, 99.5)
    assert [float(x) for x in median] == [float(np.median(r)) for r in rows]
    assert [float(x) for x in top] == [float(np.percentile(r, 99.5)) for r in rows]
    for size, shape in (((854, 480), (30, 53)), ((320, 180), (11, 20)), ((1920, 1080), (67, 120))):
        display = rng.gamma(1.0, 0.4, (9, *shape)).astype(np.float32)
        display[3] *= 8  # a fast mover's frame: its own threshold
        display[4] = 0  # a still frame: the floor
        own = (display * rng.uniform(0.5, 1.5, display.shape)).astype(np.float32)
        cfg = MaskConfig(refine="none", texture_scale=0.0, guide_radius=0)
        stacked = MaskTracker(cfg).update_stack(display, size, own)
        one = MaskTracker(cfg)
        each = np.stack([one.update(d, frame_size=size, sharp=o) for d, o in zip(display, own)])
        assert stacked.dtype == np.float32 and np.array_equal(stacked, each), size
        assert np.array_equal(motion_thresholds(display, cfg), [motion_threshold(d, cfg) for d in display])
    with pytest.raises(ValueError, match="carry"):
        MaskTracker(MaskConfig(carry=0.5)).update_stack(display, (854, 480), own)


def test_component_boxes_match_opencvs_component_statistics():
    """Boxes from one labelling and one pass of statistics are OpenCV's connectedComponentsWithStats boxes,
    with the same masses (np.bincount's sums)."""
    import cv2

    rng = np.random.default_rng(3)
    for _ in range(20):
        weight = cv2.GaussianBlur(rng.random((90, 160)).astype(np.float32), (0, 0), float(rng.uniform(1, 6)))
        mask = weight > np.quantile(weight, rng.uniform(0.5, 0.95))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        mass = np.bincount(labels[mask], weights=weight[mask], minlength=n)[1:]
        keep = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= 0.002 * mask.size)
        keep = keep if len(keep) else np.array([int(np.argmax(mass))])
        order = keep[np.argsort(-mass[keep], kind="stable")]
        total = float(mass[order].sum())
        expected = [[float(x), float(y), float(x + w), float(y + h), round(float(mass[k]) / total, 4)]
                    for k in order for x, y, w, h in [stats[k + 1, :4]]]  # fmt: skip
        assert component_boxes(mask, weight) == expected


def test_shrink_averages_whole_blocks_and_never_enlarges():
    x = np.arange(240 * 427, dtype=np.float32).reshape(240, 427)
    half = shrink(x, 120)  # 240 = 2 x 120: 2x2 blocks (the long side rounds up)
    assert half.shape == (120, 214) and half[3, 5] == x[6:8, 10:12].mean()
    assert shrink(x[:192, :320], 120).shape == (120, 200)  # not a whole multiple: the general area resize
    assert shrink(x[:100, :50], 120) is not None and shrink(x[:100, :50], 120).shape == (100, 50)


def test_a_portrait_frames_picture_from_its_planes_is_its_landscape_ones_turned():
    """The planes of a portrait frame are shrunk over the same whole blocks as those of a landscape one (the
    colour step's 120-pixel short side from the 240-pixel working size): its picture is the transpose."""
    rng = np.random.default_rng(0)
    y, u, v = (rng.integers(16, 236, s, dtype=np.uint8) for s in ((480, 854), (240, 427), (240, 427)))
    landscape = picture(Frame(0, 0.0, planes=(y, u, v), convert=lambda: y), (854, 480), 240, 120)
    portrait = picture(Frame(0, 0.0, planes=(y.T, u.T, v.T), convert=lambda: y), (480, 854), 240, 120)
    assert portrait.colour is not None and landscape.colour is not None
    assert np.array_equal(portrait.grey, landscape.grey.T)
    assert np.array_equal(portrait.colour, landscape.colour.transpose(1, 0, 2))


def test_npy_rows_write_in_any_order_and_leave_unwritten_rows_zero(tmp_path):
    out = tmp_path / "rows.npy"
    rows = NpyRows(out, 4, 5, 3, np.dtype(np.bool_))
    rows.write_row(2, np.eye(3, 5, dtype=bool))
    rows.write_row(0, np.ones((3, 5), bool))
    with pytest.raises(IndexError):
        rows.write_row(4, np.ones((3, 5), bool))
    rows.close()
    got = np.load(out)
    assert got.shape == (4, 3, 5) and got.dtype == np.bool_
    assert got[0].all() and np.array_equal(got[2], np.eye(3, 5, dtype=bool)) and not got[1].any() and not got[3].any()


def test_the_floor_shrinks_with_a_small_picture():
    """The same motion is fewer pixels a frame in a smaller picture: below a short side of 480 px the floor
    scales with it, so a slow walker at 192x144 is still found (it was not: no mask on any frame)."""
    tracker = MaskTracker()
    assert tracker.floor_scaled(480) is tracker.cfg and tracker.floor_scaled(1080).floor == 0.5
    assert tracker.floor_scaled(240).floor == pytest.approx(0.25) and tracker.floor_scaled(144).floor == pytest.approx(0.15)
    assert MaskTracker(MaskConfig(floor_short_side=0)).floor_scaled(144).floor == 0.5
    raw = np.full((144, 192), 0.02, np.float32)
    raw[60:80, 90:110] = 0.3  # 0.3 px/frame: clear of the noise, under the fixed floor
    image = np.random.default_rng(0).integers(0, 256, (144, 192, 3), dtype=np.uint8)  # texture: the map is trusted
    assert (MaskTracker(MaskConfig(refine="none")).update(raw, image) > 0.5)[60:80, 90:110].mean() > 0.5
    assert not (MaskTracker(MaskConfig(refine="none", floor_short_side=0)).update(raw, image) > 0.5).any()


def _two_squares(sigma: float) -> np.ndarray:
    """(96, 160) map: two 30-px squares 15 px apart moving at 2 px/frame, blurred by `sigma` pixels."""
    import cv2

    m = np.full((96, 160), 0.02, np.float32)
    m[33:63, 40:70] = m[33:63, 85:115] = 2.0
    return cv2.GaussianBlur(m, (0, 0), sigma)


def test_the_masks_own_map_keeps_each_mover_tight():
    """Under the display maps' 16-px blur the mask of two movers 15 px apart spills around and between them;
    with the masks' own map (half the blur, `update(sharp=)`) it spills a third as much, and both stay covered."""
    image = np.random.default_rng(1).integers(0, 256, (96, 160, 3), dtype=np.uint8)
    truth = np.zeros((96, 160), bool)
    truth[33:63, 40:70] = truth[33:63, 85:115] = True
    cfg = MaskConfig(refine="none")
    wide = MaskTracker(cfg).update(_two_squares(16), image) > 0.5
    tight = MaskTracker(cfg).update(_two_squares(16), image, sharp=_two_squares(8)) > 0.5
    assert jaccard(wide, truth) < 0.6 and jaccard(tight, truth) > 0.7
    assert (tight & ~truth).sum() < 0.4 * (wide & ~truth).sum()
    assert tight[38:58, 45:65].all() and tight[38:58, 90:110].all()
    assert np.array_equal(MaskTracker(MaskConfig(refine="none", sharp=False)).update(_two_squares(16), image, sharp=_two_squares(8)) > 0.5, wide)


def test_valley_cuts_separate_two_peaks_and_keep_one_whole():
    import cv2

    from mosi_tool.saliency.valleys import valley_cuts

    two = _two_squares(16)  # one component above half its peak, with a dip between the squares
    mask = two > 0.5 * two.max() * 0.5
    assert cv2.connectedComponents(mask.astype(np.uint8))[0] - 1 == 1
    cut = valley_cuts(two, mask, 0.95)
    assert cut.any() and cut[:, 70:85].any() and not cut[:, :65].any() and not cut[:, 90:].any()
    assert cv2.connectedComponents((mask & ~cut).astype(np.uint8))[0] - 1 == 2
    assert not valley_cuts(two, mask, 0.3).any()  # the dip is shallower than that: one mover
    one = cv2.GaussianBlur(np.pad(np.ones((30, 30), np.float32), 30), (0, 0), 8)
    assert not valley_cuts(one, one > 0.1, 0.95).any()  # a single peak, plateau on top: never cut
    assert not valley_cuts(one, np.zeros(one.shape, bool)).any()


def test_a_still_frame_has_no_mask():
    assert not (evidence(np.full((40, 60), 0.1, np.float32)) > 0.5).any()


def test_guided_filter_moves_a_blocky_edge_onto_the_image_edge():
    h, w = 96, 128
    yy, xx = np.mgrid[0:h, 0:w]
    truth = (xx - 64) ** 2 + (yy - 48) ** 2 < 30**2
    image = np.where(truth[..., None], 200, 40).astype(np.uint8).repeat(3, axis=2)
    blocky = truth.reshape(h // 16, 16, w // 16, 16).mean(axis=(1, 3)).repeat(16, 0).repeat(16, 1).astype(np.float32)
    grey = image[..., 0].astype(np.float32) / 255
    refined = guided_filter(grey, blocky, 8, 1e-3) > 0.5
    assert jaccard(refined, truth) > jaccard(blocky > 0.5, truth) + 0.05


def test_fast_guided_filter_takes_its_input_at_its_own_reduced_size():
    """The fast guided filter computes its coefficients at 1/s of the size: an input already at that size (the
    masks' evidence, made at `map_size`) gives what the full-size input shrunk there gives, to the bit."""
    rng = np.random.default_rng(0)
    grey = rng.random((96, 127), np.float32)
    src = cv2.GaussianBlur(rng.random((96, 127), np.float32), (0, 0), 4)
    half = cv2.resize(src, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    assert half.shape == (48, 64) and map_size(127 * 4, 96 * 4, MaskConfig(work_short_side=96)) == (64, 48)
    assert np.array_equal(guided_filter(grey, half, 8, 1e-3, 2), guided_filter(grey, src, 8, 1e-3, 2))
    exact = guided_filter(grey, half, 8, 1e-3)  # the exact filter upsamples a smaller input first
    assert exact.shape == grey.shape and np.array_equal(exact, guided_filter(grey, cv2.resize(half, (127, 96)), 8, 1e-3))
    assert map_size(854, 480) == (214, 120) and map_size(854, 480, MaskConfig(guide_subsample=1)) == work_size(854, 480)


def test_masks_can_be_carried_along_the_motion():
    raw = np.zeros((32, 32), np.float32)
    raw[8:16, 8:16] = 5.0
    tracker = MaskTracker(MaskConfig(carry=0.5, guide_radius=0, floor=0.5))
    tracker.update(raw, frame_size=(32, 32))
    flow = np.zeros((4, 4, 2), np.float32)
    flow[..., 0] = 8.0  # everything moved 8 px right
    carried = tracker.update(np.zeros((32, 32), np.float32) + 0.01, flow=flow, frame_size=(32, 32))
    assert carried[8:16, 16:24].mean() > carried[8:16, 0:8].mean() + 0.2  # the old evidence moved with the field


# --- boxes and tracks --------------------------------------------------------------------------------------


def test_every_mover_gets_a_box_and_keeps_its_track():
    tracker = BoxTracker()
    seen = []
    for t in range(12):
        mask = np.zeros((100, 200), bool)
        for i in range(4):  # four movers: no cap of three
            x = 10 + 45 * i + 2 * t
            mask[10 + 20 * i : 25 + 20 * i, x : x + 15] = True
        boxes = component_boxes(mask, mask.astype(np.float32))
        assert len(boxes) == 4 and abs(sum(b[4] for b in boxes) - 1) < 1e-3
        if t == 6:
            boxes = boxes[1:]  # one object missed for a frame
        seen.append({round(b[1]): b[5] for b in tracker.update(boxes)})
    for y in (10, 30, 50, 70):
        ids = {frame[y] for frame in seen if y in frame}
        assert len(ids) == 1, (y, ids)  # each object one id, through the missed frame
    assert len({i for frame in seen for i in frame.values()}) == 4
    assert component_boxes(np.zeros((5, 5), bool), np.zeros((5, 5))) == []


def test_a_frame_whose_only_region_is_a_pixel_gets_no_box():
    """The strongest of a frame's small regions gets a box when none reaches MIN_AREA, but not a single pixel of
    the evidence: resized to the video's size, the mask may lose it, and the box would stand on nothing."""
    mask = np.zeros((120, 214), bool)
    mask[50, 60] = True
    assert component_boxes(mask, mask.astype(np.float32)) == []
    assert component_boxes(mask, mask.astype(np.float32), fallback=1) == [[60.0, 50.0, 61.0, 51.0, 1.0]]
    mask[10:12, 100:102] = True  # 4 pixels: weaker than the pixel, but it is the one kept
    weight = mask.astype(np.float32)
    weight[50, 60] = 9.0
    assert component_boxes(mask, weight) == [[100.0, 10.0, 102.0, 12.0, 1.0]]


def test_union_box_covers_every_box():
    u = union_box([[10, 20, 30, 40, 0.5, 0], [5, 25, 20, 60, 0.5, 1]])
    assert u == [5, 20, 30, 60]
    assert union_box([[0, 0, 1, 1]], u) == [0, 0, 30, 60] and union_box([]) is None


# --- the overlay's scale -----------------------------------------------------------------------------------


def test_bounded_display_colours_a_weak_mover_but_not_a_still_frame():
    maps = np.full((3, 20, 20), 0.1, np.float32)
    maps[0, 5:10, 5:10] = 10.0  # a fast stretch sets the video's high
    maps[1, 5:10, 5:10] = 3.0  # a slower mover later
    video = (0.1, 10.0)
    lo, hi = frame_ranges(maps, "bounded", video)
    heat = np.clip((maps - lo[:, None, None]) / (hi - lo)[:, None, None], 0, 1)
    assert heat[1, 5:10, 5:10].min() > 0.9  # coloured on its own frame
    assert heat[2].max() < 0.1  # the still frame stays dark
    vlo, vhi = frame_ranges(maps, "video", video)
    assert ((maps[1] - vlo[1]) / (vhi[1] - vlo[1])).max() < viz.OVERLAY_LOW  # the video-wide scale hid it
    with pytest.raises(ValueError, match="--norm"):
        frame_ranges(maps, "peak", video)


# --- the measures ------------------------------------------------------------------------------------------


def test_boundaries_are_drawn_as_the_davis_toolkit_draws_them():
    """DAVIS's boundary map (seg2bmap): a pixel differing from its east, south or south-east neighbour, on both
    sides of the edge, and no boundary along the image's border. The map before (mask pixels with a 4-neighbour
    outside, the border counted as outside) differed in both, and F with it (goat 0.119 against the toolkit's
    0.168 on 40 frames of the `masks` method)."""
    from mosi_tool.evaluation.segmentation import boundary

    a = np.zeros((6, 7), bool)
    a[2:4, 2:5] = True  # a 2 x 3 block
    want = np.zeros_like(a)
    want[1, 1:5] = True  # above it (its south or south-east neighbour differs); (1, 5): only south-west: no
    want[2:4, 1] = True  # left of it
    want[2, 4] = want[3, 2:5] = True  # its own last column and last row
    assert np.array_equal(boundary(a), want)
    edge = np.zeros((4, 5), bool)
    edge[:, 3:] = True  # touches the top, right and bottom borders: only the left edge is a boundary
    assert np.array_equal(boundary(edge), np.pad(np.ones((4, 1), bool), ((0, 0), (2, 2))))
    assert not boundary(np.ones((5, 5), bool)).any()


def test_segmentation_measures():
    a = np.zeros((48, 64), bool)
    a[10:30, 10:40] = True
    assert jaccard(a, a) == 1 and boundary_f(a, a) == 1 and jaccard(a, np.zeros_like(a)) == 0
    assert jaccard(np.zeros_like(a), np.zeros_like(a)) == 1 and boundary_f(np.zeros_like(a), a) == 0
    shifted = np.roll(a, 12, axis=1)
    assert boundary_f(np.roll(a, 1, axis=1), a) == 1  # within the tolerance (0.008 x diagonal: 1 px here)
    assert boundary_f(shifted, a) < 0.5 and jaccard(shifted, a) == pytest.approx(18 * 20 / (42 * 20))
    assert box_scores([10, 10, 40, 30], a) == (1.0, 1.0, 1.0) and box_scores(None, a) == (0.0, 0.0, 0.0)
    s = score_sequence([a, a, shifted, a], [None] * 4, np.stack([a] * 4))  # frames 1 and 2 are scored
    assert score_sequence([a, a, shifted, a], [None] * 4, np.stack([a] * 4), cut=True)["frames"] == 3  # and 3: not the last
    assert s["frames"] == 2 and s["j_recall"] == 0.5 and s["box_hit"] == 0


def test_box_measures_leave_out_the_frames_without_the_object():
    """J counts an empty mask on a frame without the object as right (1, as DAVIS does); a box cannot hit what
    is not there, so the box measures are over the frames with the object only, as `eval saliency` scores them."""
    from mosi_tool.evaluation.segmentation import report_dict

    a = np.zeros((48, 64), bool)
    a[10:30, 10:40] = True
    empty = np.zeros_like(a)
    box = [10, 10, 40, 30, 1.0]
    truth = np.stack([a, a, empty, empty, a, a])  # frames 1 .. 4 scored: two with the object, two without
    s = score_sequence([a, a, empty, empty, a, a], [box, box, None, None, box, box], truth)
    assert s["box_hit"] == 1 and s["box_iou"] == 1 and s["centre_hit"] == 1  # found on every frame it could be
    assert s["j"] == 1 and s["frames"] == 4 and s["box_frames"] == 2
    gone = score_sequence([empty] * 4, [None] * 4, np.stack([empty] * 4))
    assert gone["j"] == 1 and np.isnan(gone["box_hit"]) and gone["box_frames"] == 0
    report = report_dict({"m": {"x": s, "y": gone}}, {"m": 1.0}, {"m": 8}, {}, ["x", "y"], ())
    assert report["methods"][0]["summary"]["all"]["box_hit"] == 1  # the sequence without the object is left out


# --- appearance -------------------------------------------------------------------------------------------


def object_scene(h: int = 120, w: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A textured reddish rectangle on a textured greenish background, the true mask, and a rough motion map:
    an ellipse inside the rectangle that misses its corners and edges and spills a little on its left (as
    blurred codec motion does)."""
    bg, fg = texture(h, w, seed=3, scale=4) // 2, texture(h, w, seed=4, scale=4) // 2
    bg[..., 1] += 128
    fg[..., 0] += 128
    truth = np.zeros((h, w), bool)
    truth[30:90, 50:120] = True
    image = np.where(truth[..., None], fg, bg).astype(np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    raw = np.where((xx - 78) ** 2 / 34**2 + (yy - 60) ** 2 / 24**2 < 1, 3.0, 0.05).astype(np.float32)
    return image, truth, raw


@pytest.mark.parametrize(("refine", "gain"), [("colour", 0.05), ("grabcut", 0.3)])  # measured: +0.08, +0.43
def test_appearance_grows_a_rough_motion_blob_onto_the_object(refine, gain):
    image, truth, raw = object_scene()
    masks = {}
    for name in ("none", refine):
        tracker = MaskTracker(MaskConfig(refine=name))
        for _ in range(4):  # the colour model accumulates over frames
            e = tracker.update(raw, image)
        masks[name] = MaskTracker.mask(e, (160, 120))
    assert jaccard(masks[refine], truth) > jaccard(masks["none"], truth) + gain


def test_the_colour_model_waits_for_samples_and_separates_colours():
    model = ColourModel()
    image, truth, _ = object_scene()
    bins = model.quantise(image)
    assert model.posterior(bins) is None
    assert np.array_equal(model.feed(image, truth.astype(np.float32), 0.5, truth.astype(np.uint8)), bins)  # fg: truth; bg: the rest
    p = model.posterior(bins)
    assert p is not None and p[truth].mean() > 0.9 and p[~truth].mean() < 0.1


def test_solid_fills_holes_and_drops_components_without_motion():
    c = np.zeros((60, 80), np.float32)
    c[10:40, 10:40] = 0.8
    c[20:30, 20:30] = 0.2  # a hole inside a moving object
    c[45:55, 60:75] = 0.8  # a blob of the colour model's with no confident motion in it
    e = np.zeros_like(c)
    e[12:18, 12:18] = 0.9
    m = solid(c, e) > 0.5
    assert m[10:40, 10:40].all() and not m[45:55, 60:75].any()
    assert solid(np.zeros_like(c), e).max() == 0  # nothing to keep


def test_mask_config_checks_the_refinement():
    with pytest.raises(ValueError, match="refine"):
        MaskConfig(refine="snake")


# --- three movers end to end -------------------------------------------------------------------------------

W, H, N, S = 320, 192, 36, 40
SPEEDS = (1, 2, 3)  # px/frame, relative to the scene


def movers(pan: int) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Frames with three textured squares moving right at SPEEDS over a textured background whose camera
    pans left by `pan` px/frame (the content moves right), and each square's mask per frame."""
    bg = texture(H, W + pan * N + 8, seed=11, scale=6)
    fgs = [texture(S, S, seed=20 + i, scale=3) for i in range(3)]
    frames, truth = [], []
    for t in range(N):
        x0 = pan * (N - 1 - t)
        img = bg[:, x0 : x0 + W].copy()
        objs = []
        for i, v in enumerate(SPEEDS):
            x, y = 10 + (v + pan) * t, 20 + 55 * i
            img[y : y + S, x : x + S] = fgs[i]
            m = np.zeros((H, W), bool)
            m[y : y + S, x : x + S] = True
            objs.append(m)
        frames.append(img)
        truth.append(objs)
    return frames, truth


def run_masks(tmp_path, pan, measure=True):
    frames, truth = movers(pan)
    path = encode_frames(tmp_path / f"movers{pan}.mp4", frames)
    result = compute_motion_saliency(path, mask_maps=True, measure=measure)  # as `saliency --masks` makes them
    regions = Regions(W, H, sharp=mask_heat(result), motion=result.movers)
    masks, boxes = tmp_path / "m.npy", tmp_path / "b.jsonl"
    render(path, result, extra_sinks={masks: MasksFile(masks, N, W, H, regions), boxes: BoxesFile(boxes, regions)})
    m = np.load(masks)
    union = [jaccard(m[t], np.any(truth[t], axis=0)) for t in range(1, N - 1)]
    covered = np.array([[(m[t] & o).sum() / o.sum() >= 0.5 for o in truth[t]] for t in range(1, N - 1)])
    lines = [json.loads(line) for line in boxes.read_text().splitlines()]
    return float(np.mean(union)), covered, lines


def test_three_movers_on_a_still_camera_are_all_covered(tmp_path):
    union, covered, lines = run_masks(tmp_path, 0)
    assert covered.all(axis=1).mean() >= 0.95, covered.mean(axis=0)  # every object at least half covered
    # the target (union J >= 0.7): 0.795 measured with the pixels the camera's motion explains given to the
    # background (rule 3b; 0.696 without, 0.670 before the enclosed speed, 0.668 before the mask step read the
    # decoded planes, 0.61 before the masks' own map)
    assert union >= 0.7
    assert lines[-1]["union"] is not None and lines[-1]["union"][0] <= 12


def test_three_movers_under_a_panning_camera(tmp_path):
    # x264 codes some blocks against the frame two back; with the estimated reference distances, background
    # cells right of the middle square read 4 px/frame instead of 2 (a false motion region) and the 1 and 2
    # px/frame squares sit near the residual noise: all three on 85% of frames, union J 0.56. With each block's
    # reference measured on the pictures (as `saliency --masks` decodes them): all three on every frame, union
    # J 0.770 with rule 3b (the target, 0.7, met; 0.684 without, 0.677 to 0.689 over runs: libx264's bitstream of
    # this video varies from run to run; 0.679 before the enclosed speed, 0.671 before the mask step read the
    # decoded planes).
    union, covered, _ = run_masks(tmp_path, 2)
    assert covered.all(axis=1).mean() >= 0.95, covered.mean(axis=0)
    assert union >= 0.7
    estimated, covered, _ = run_masks(tmp_path, 2, measure=False)  # the estimated distances: where pictures are not decoded
    assert estimated < union - 0.05, (estimated, union)  # 0.664 against 0.770 measured


@pytest.mark.parametrize("scale", [1, 2])
def test_a_mover_about_the_edge_filters_size_is_kept_when_asked(tmp_path, scale):
    """A 24-px square at 6 px/frame over a still textured background, 640x360 (and the same video at twice the
    size): the edge filter lowers its evidence's peak under the solid rule's share (0.6 to 0.7 against 0.75), so
    with the filtered evidence alone (the default) every frame loses it; with `MaskConfig.confident_unfiltered`
    (`saliency --small-movers`) the confident core of rule 2's evidence, before the filter, is kept
    (`masks._keep_small_cores`; at 1280x720 counting it as confident for the solid rule alone kept the square on
    no frame)."""
    h, w, n, side = 360, 640, 24, 24
    bg, fg = texture(h, w, seed=3, scale=6), texture(side, side, seed=9, scale=3)
    frames, truth = [], []
    for t in range(n):
        img = bg.copy()
        img[160 : 160 + side, 100 + 6 * t : 100 + 6 * t + side] = fg
        m = np.zeros((h, w), bool)
        m[160 : 160 + side, 100 + 6 * t : 100 + 6 * t + side] = True
        frames.append(cv2.resize(img, (w * scale, h * scale), interpolation=cv2.INTER_LINEAR))
        truth.append(cv2.resize(m.view(np.uint8), (w * scale, h * scale), interpolation=cv2.INTER_NEAREST) > 0)
    h, w = h * scale, w * scale
    path = encode_frames(tmp_path / "small.mp4", frames)
    result = compute_motion_saliency(path, mask_maps=True)
    made = {}
    for name, cfg in (("now", MaskConfig(confident_unfiltered=True)), ("before", MaskConfig())):
        out = tmp_path / f"{name}.npy"
        render(path, result, extra_sinks={out: MasksFile(out, n, w, h, Regions(w, h, cfg, mask_heat(result), motion=result.movers))})
        made[name] = np.load(out)
    covered = {k: np.mean([(m[t] & truth[t]).sum() / truth[t].sum() >= 0.5 for t in range(1, n - 1)]) for k, m in made.items()}
    assert covered["now"] >= 0.9 and covered["before"] <= 0.1, covered  # measured 100% and 0% (95% and 0% at 2x)
    assert max((made["now"][t] & ~truth[t]).mean() for t in range(n)) < 0.002  # nothing else
    if scale == 1:  # `saliency --small-movers` (here through the Python API, the command's code) asks for it
        import mosi_tool

        asked = mosi_tool.saliency(path, masks=True, boxes=True, small_movers=True)
        np.testing.assert_array_equal(asked.masks, made["now"])
        assert sum(bool(line["boxes"]) for line in asked.boxes[:n]) >= n - 2
        np.testing.assert_array_equal(mosi_tool.saliency(path, masks=True).masks, made["before"])
        assert any("ignored" in note for note in mosi_tool.saliency(path, small_movers=True).notes)  # no masks or boxes
        with pytest.raises(ValueError, match="small_movers must be True or False"):
            mosi_tool.saliency(path, masks=True, small_movers="no")


# --- the commands ------------------------------------------------------------------------------------------


def test_saliency_cli_masks_size_max_boxes_and_norm(tmp_path):
    from typer.testing import CliRunner

    from mosi_tool.cli import app

    frames, _ = movers(0)
    path = encode_frames(tmp_path / "v.mp4", frames[:12])
    masks, boxes = tmp_path / "m.npy", tmp_path / "b.jsonl"
    r = CliRunner().invoke(app, ["saliency", str(path), "--out", str(tmp_path / "o.mp4"), "--masks", str(masks),
                                 "--masks-size", "160x96", "--boxes", str(boxes), "--max-boxes", "1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert np.load(masks).shape == (12, 96, 160)
    lines = [json.loads(line) for line in boxes.read_text().splitlines()]
    assert all(len(line["boxes"]) <= 1 for line in lines[:-1]) and "union" in lines[-1]
    bad = CliRunner().invoke(app, ["saliency", str(path), "--out", str(tmp_path / "o.mp4"), "--norm", "peak"])
    assert bad.exit_code == 2 and "bounded" in bad.output and "peak" in bad.output  # Typer lists the choices
    alone = CliRunner().invoke(app, ["saliency", str(path), "--out", str(tmp_path / "o2.mp4"), "--masks-size", "160x96"])
    assert alone.exit_code == 0 and "--masks-size applies to the masks output, which was not asked for" in alone.output
    bad = CliRunner().invoke(app, ["saliency", str(path), "--masks", str(masks), "--masks-size", "big"])
    assert bad.exit_code != 0 and "--masks-size must be WxH" in bad.output


def test_masks_and_boxes_are_the_same_asked_alone_or_together(tmp_path):
    """The renderer gives each output a batch of frames in turn; the mask tracker carries state from frame to
    frame, so it must see each frame once, in order, however many outputs read it (it saw each batch twice,
    out of order, when --masks and --boxes were both asked)."""
    from typer.testing import CliRunner

    from mosi_tool.cli import app

    frames, _ = movers(0)
    path = encode_frames(tmp_path / "v.mp4", frames[:40])
    runs = {"masks": ["--masks", str(tmp_path / "a.npy")], "boxes": ["--boxes", str(tmp_path / "a.jsonl")],
            "both": ["--masks", str(tmp_path / "b.npy"), "--boxes", str(tmp_path / "b.jsonl")]}  # fmt: skip
    for args in runs.values():
        r = CliRunner().invoke(app, ["saliency", str(path), "--out", str(tmp_path / "o.mp4"), *args])
        assert r.exit_code == 0, r.output
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()


def test_saliency_masks_read_the_masks_own_map(tmp_path):
    """`saliency --masks` makes the masks' own maps in its motion pass and hands them to the mask step: its
    masks are those of the own map, not those of the display map alone."""
    from typer.testing import CliRunner

    from mosi_tool.cli import app

    frames, _ = movers(0)
    path = encode_frames(tmp_path / "v.mp4", frames[:12])
    r = CliRunner().invoke(app, ["saliency", str(path), "--out", str(tmp_path / "o.mp4"), "--masks", str(tmp_path / "m.npy")])
    assert r.exit_code == 0, r.output
    got = np.load(tmp_path / "m.npy")
    made = {}
    for name, sharp in (("own", True), ("display", False)):
        result = compute_motion_saliency(path, mask_maps=sharp)
        assert (result.mask_maps is not None) == sharp
        out = tmp_path / f"{name}.npy"
        render(path, result, extra_sinks={out: MasksFile(out, 12, W, H, Regions(W, H, sharp=mask_heat(result), motion=result.movers))})
        made[name] = np.load(out)
    assert np.array_equal(got, made["own"]) and not np.array_equal(got, made["display"])


def test_eval_segmentation_on_davis(tmp_path):
    from typer.testing import CliRunner

    from mosi_tool.cli import app

    from .conftest import shared

    davis = shared("davis")
    out = tmp_path / "seg.json"
    r = CliRunner().invoke(app, ["eval", "segmentation", "--davis", str(davis), "--source", "mp4", "--sequences", "car-shadow",
                                 "--max-frames", "8", "--methods", "masks,half-peak,centre-box", "--json", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    report = json.loads(out.read_text())
    rows = {m["name"]: m["summary"]["development"] for m in report["methods"]}
    assert set(rows) == {"motion masks (saliency --masks)", "half of the frame's peak (before)", "centre-prior box"}
    assert rows["motion masks (saliency --masks)"]["j"] > rows["centre-prior box"]["j"]  # the car moves, the box does not
    assert all(0 <= v["j"] <= 1 and 0 <= v["f"] <= 1 for v in rows.values())
    bad = CliRunner().invoke(app, ["eval", "segmentation", "--davis", str(davis), "--methods", "magic"])
    assert bad.exit_code != 0 and "unknown method 'magic'" in bad.output


def test_maps_file_keeps_the_video_scale_under_the_bounded_overlay(tmp_path):
    from mosi_tool.saliency.render import heat_frames

    frames, _ = movers(0)
    path = encode_frames(tmp_path / "v.mp4", frames[:10])
    result = compute_motion_saliency(path)
    maps = tmp_path / "maps.npy"
    render(path, result, maps=maps, maps_size=(80, 48))  # default --norm bounded
    expected = heat_frames(result, 0, 10, 80, 48, "video")
    assert np.allclose(np.load(maps).astype(np.float32), expected, atol=2e-3)


def test_a_small_fast_object_keeps_its_track():
    tracker = BoxTracker()
    ids = set()
    for t in range(10):  # a 10-pixel box moving 12 px/frame: no overlap from one frame to the next
        x = 5 + 12 * t
        out = tracker.update([[x, 40, x + 10, 50, 1.0], [300 - x, 100, 310 - x, 110, 1.0]])
        ids.add((out[0][5], out[1][5]))
    assert len(ids) == 1  # two objects, each one id for all ten frames


def test_a_video_in_which_nothing_moves_gets_no_colour(tmp_path):
    """The codec's noise on a still scene (a few quarter-pixel vectors) is the whole video's motion; the
    bounded scale must not stretch it to full colour: its top is at least the masks' floor (px/frame)."""
    import cv2

    from mosi_tool.saliency import masks
    from mosi_tool.saliency.render import heat_frames

    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(texture(180, 320, seed=3, scale=8).astype(np.float32), (0, 0), 4)
    frames = [np.clip(scene + rng.integers(-3, 4, scene.shape), 0, 255).astype(np.uint8) for _ in range(16)]  # sensor noise
    result = compute_motion_saliency(encode_frames(tmp_path / "still.mp4", frames))
    raw = heat_frames(result, 0, 16, 320, 180, "raw")
    assert 0 < raw.max() < 0.1  # codec noise (px/frame), far below any motion worth colouring
    for norm in ("bounded", "video"):  # the overlay's scales; the --maps file keeps "video"
        assert heat_frames(result, 0, 16, 320, 180, norm).max() < viz.OVERLAY_LOW, norm
    assert result.display_floor == masks.scaled_floor(180)


def test_the_bounded_and_video_scales_have_a_floor_in_the_maps_units():
    maps = np.full((2, 20, 20), 0.001, np.float32)
    maps[:, 5:10, 5:10] = 0.01  # the "peak" of a still video: noise
    for norm in ("bounded", "video"):
        lo, hi = frame_ranges(maps, norm, (0.001, 0.01), floor=0.5)
        assert np.all(hi - lo >= 0.5), norm
    assert np.all(frame_ranges(maps, "bounded", (0.001, 0.01))[1] <= 0.01)  # no floor: the noise fills the scale


def test_max_boxes_keeps_each_movers_track_id_and_score(tmp_path):
    """`--max-boxes` caps what is written, not what is tracked: two movers that take turns being the stronger
    keep their ids (each got a new one after 5 frames out of the cap) and their scores (they were renormalised
    over the written boxes, 1.0 for a lone box)."""
    from mosi_tool.video.decode import Frame

    h, w = 60, 200

    class Stub:
        size = frame_size = (w, h)

        def evidence(self, frame: Frame, raw: np.ndarray) -> np.ndarray:
            index = frame.index
            e = np.zeros((h, w), np.float32)
            a, b = (0.9, 0.6) if (index // 10) % 2 == 0 else (0.6, 0.9)  # the stronger one changes every 10 frames
            e[5:25, 10 + index : 30 + index] = a  # A moves right
            e[35:55, 170 - index : 190 - index] = b  # B moves left
            return e

        def scale(self, evidence: np.ndarray) -> tuple[float, float]:
            return 1.0, 1.0

        def primary_boxes(self, index: int) -> None:
            return None  # every mover

        def begins_shot(self, index: int) -> bool:
            return False  # no scene cut

    for limit, written, scores in ((None, 2, {0.6, 0.4}), (1, 1, {0.6})):
        out = tmp_path / f"b{limit}.jsonl"
        sink = BoxesFile(out, Stub(), limit)  # type: ignore[arg-type]
        image = np.zeros((h, w, 3), np.uint8)
        for i in range(40):
            sink.add(Frame(i, i / 25, image), np.zeros((h, w), np.float32))
        sink.close()
        lines = [json.loads(line) for line in out.read_text().splitlines()][:-1]
        assert all(len(line["boxes"]) == written for line in lines)
        ids = {("A" if box[1] < 30 else "B", box[5]) for line in lines for box in line["boxes"]}
        assert ids == {("A", 0), ("B", 1)}, ids  # one id per mover for all 40 frames
        got = {round(box[4], 2) for line in lines for box in line["boxes"]}
        assert got == scores, got  # each box's share of both movers' evidence, capped or not


def test_eval_segmentation_refuses_an_unknown_dev_sequence(tmp_path):
    """A typo in --dev-sequences matched no sequence, so every sequence was silently reported as unseen."""
    from typer.testing import CliRunner

    from mosi_tool.cli import app

    import cv2

    davis = tmp_path / "davis"
    masks = davis / "Annotations" / "480p" / "walk"
    masks.mkdir(parents=True)
    (davis / "mp4").mkdir()
    frames, truth = movers(0)
    encode_frames(davis / "mp4" / "walk.mp4", frames[:4])
    for i in range(4):
        cv2.imwrite(str(masks / f"{i:05d}.png"), np.any(truth[i], axis=0).astype(np.uint8) * 255)
    ok = CliRunner().invoke(app, ["eval", "segmentation", "--davis", str(davis), "--methods", "centre-box", "--dev-sequences", "walk"])
    assert ok.exit_code == 0 and "development (1 sequences: walk)" in ok.output, ok.output
    r = CliRunner().invoke(app, ["eval", "segmentation", "--davis", str(davis), "--methods", "centre-box", "--dev-sequences", "wlak"])
    assert r.exit_code != 0 and "--dev-sequences: no sequence 'wlak'" in r.output and "(have: walk)" in r.output, r.output


def test_optical_flow_maps_find_a_mover_under_a_panning_camera():
    """`MaskConfig.optical_flow`'s maps (`saliency.flow_maps`): nothing on the first frame; then the camera's pan is taken
    out and the square moving against it stands out, in px/frame at the frame's scale."""
    from mosi_tool.saliency.flow_maps import FlowMaps

    h, w = 240, 320
    scene, square = texture(h, w + 40, seed=5, scale=4), texture(60, 60, seed=6, scale=4)

    def frame(t: int) -> np.ndarray:  # the camera pans 2 px/frame; the square moves 4 px/frame the other way
        img = scene[:, 2 * t : 2 * t + w].copy()
        img[90:150, 100 + 4 * t : 160 + 4 * t] = square
        return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255

    maps = FlowMaps()
    assert maps.update(frame(0), (w, h), (w // 2, h // 2)) is None
    display, own = maps.update(frame(1), (w, h), (w // 2, h // 2))
    assert display.shape == own.shape == (h // 2, w // 2)
    inside, outside = own[50:70, 60:80].mean(), np.median(own)
    assert inside > 3 and outside < 0.5, (inside, outside)  # the square's 6 px/frame against the camera; background still


def test_masks_with_optical_flow_maps_still_cover_the_movers(tmp_path):
    """`MaskConfig(optical_flow=True)` through the masks' pipeline on the synthetic movers: every square covered."""
    frames, truth = movers(0)
    path = encode_frames(tmp_path / "m.mp4", frames)
    result = compute_motion_saliency(path, mask_maps=True)
    out = tmp_path / "m.npy"
    render(path, result, extra_sinks={out: MasksFile(out, N, W, H, Regions(W, H, MaskConfig(optical_flow=True), sharp=mask_heat(result)))})
    m = np.load(out)
    covered = np.array([[(m[t] & o).sum() / o.sum() >= 0.5 for o in truth[t]] for t in range(1, N - 1)])
    assert covered.all(axis=1).mean() >= 0.95, covered.mean(axis=0)


def test_rule_ones_evidence_is_numpys_formula_to_the_bit():
    """`evidence` (one numba pass) gives clip(raw / max(T, share x local peak), 0, 2) / 2 as numpy computes it."""
    rng = np.random.default_rng(1)
    raw = cv2.GaussianBlur(rng.gamma(2, 0.5, (120, 214)).astype(np.float32), (0, 0), 3)
    cfg = MaskConfig()
    t = motion_threshold(raw, cfg)
    k = max(3, int(cfg.local_window * 0.25) | 1)
    peaks = cv2.dilate(raw, np.ones((k, k), np.uint8))
    expected = (np.clip(raw / np.maximum(t, cfg.local_share * peaks), 0, 2) / 2).astype(np.float32)
    assert np.array_equal(evidence(raw, cfg, 0.25), expected)
    assert np.array_equal(evidence(raw, MaskConfig(local_share=0.0)), (np.clip(raw / np.float32(t), 0, 2) / 2).astype(np.float32))


def test_the_colour_models_one_pass_gives_numpys_bins_histograms_and_posterior():
    """`ColourModel.feed` and `posterior` (numba passes) against the numpy formulas they replace, over frames."""
    rng = np.random.default_rng(2)
    model = ColourModel()
    fg, bg = np.zeros(model.bins), np.zeros(model.bins)
    for _ in range(3):
        image = rng.integers(0, 256, (60, 80, 3), np.uint8)
        e = rng.random((60, 80)).astype(np.float32)
        near = (rng.random((60, 80)) < 0.5).astype(np.uint8)
        bins = model.feed(image, e, 0.75, near)
        q = (image >> 3).astype(np.int32)
        assert np.array_equal(bins, (q[..., 0] << 10) | (q[..., 1] << 5) | q[..., 2])
        fg = model.cfg.decay * fg + np.bincount(bins[e > 0.75], minlength=model.bins)
        bg = model.cfg.decay * bg + np.bincount(bins[near == 0], minlength=model.bins)
        assert np.array_equal(model.fg, fg) and np.array_equal(model.bg, bg)
        pf, pb = (fg + 0.1) / (fg.sum() + 0.1 * model.bins), (bg + 0.1) / (bg.sum() + 0.1 * model.bins)
        assert np.array_equal(model.posterior(bins), (pf / (pf + pb)).astype(np.float32)[bins])


def test_fill_holes_fills_what_the_background_labels_say_is_enclosed():
    """`fill_holes` (one flood fill) against the background's 4-connected components that touch no border."""
    rng = np.random.default_rng(3)
    for _ in range(300):
        h, w = (int(x) for x in rng.integers(1, 40, 2))
        mask = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), float(rng.uniform(0.3, 3))) > rng.uniform(0.3, 0.7)
        n, labels = cv2.connectedComponents((~mask).astype(np.uint8), connectivity=4)
        outside = np.zeros(n, bool)
        outside[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = True
        assert np.array_equal(fill_holes(mask), mask | ~outside[labels])


def test_near_ground_at_half_the_size_is_not_masked_either(tmp_path):
    """The "band" scene at 320x180 (`bench/masks_synthetic.py --scenes parallax --scale 0.5`): the floor and the
    free change scale with the picture, and the rocks are still background (the mover's J 0.71 to 0.78 over runs,
    the rocks' rows masked 0 to 11%: libx264's bitstream of this video varies from run to run; 0.05 and all of
    them without the parallax rules)."""
    from mosi_tool.evaluation.segmentation import METHODS, Inputs

    from .parallax_scenes import parallax_scene

    frames, truth = parallax_scene("band")
    frames = [cv2.resize(f, (320, 180), interpolation=cv2.INTER_AREA) for f in frames]
    truth = np.array([cv2.resize(t.view(np.uint8), (320, 180), interpolation=cv2.INTER_NEAREST) > 0 for t in truth])
    masks, _ = METHODS["masks"].run(Inputs(encode_frames(tmp_path / "band.mp4", frames), None, len(frames)))
    scored = range(1, len(truth) - 1)
    assert np.mean([jaccard(masks[t], truth[t]) for t in scored]) >= 0.6
    assert np.mean([masks[t][int(0.82 * 180) :].mean() for t in scored]) <= 0.25


@pytest.mark.parametrize("scene, least, before", [("band", 0.75, 0.110), ("poles", 0.7, 0.313)])
def test_near_ground_or_poles_under_a_sideways_camera_are_not_masked(tmp_path, scene, least, before):
    """A camera translating sideways over rocks close to the lens along the bottom edge, or past poles from the
    top edge to the bottom (moving the camera's way, faster: `tests.parallax_scenes`): the mover the camera follows
    is masked, the rocks and poles are not (the mover's J 0.840 and 0.766 measured; `before` without the parallax
    rules of `saliency.geodesic`)."""
    from mosi_tool.evaluation.segmentation import METHODS, Inputs

    from .parallax_scenes import H, P, W, parallax_scene

    frames, truth = parallax_scene(scene)
    masks, _ = METHODS["masks"].run(Inputs(encode_frames(tmp_path / f"{scene}.mp4", frames), None, len(frames)))
    scored = range(1, len(truth) - 1)
    assert np.mean([jaccard(masks[t], truth[t]) for t in scored]) >= least > before
    if scene == "band":
        rocks = np.mean([masks[t][int(0.82 * H) :].mean() for t in scored])
        assert rocks <= 0.05, rocks
    else:  # the first pole's columns, away from the mover
        pole = [masks[t][:100, max(0, int(W - 40 - 2.6 * P * t)) : int(W - 16 - 2.6 * P * t)].mean() for t in scored]
        assert np.mean(pole) <= 0.1, np.mean(pole)
