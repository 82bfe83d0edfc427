import numpy as np
import pytest

from mosi_tool.video.clips import ClipSpec, count_clips, geometry, iter_clips, resample
from mosi_tool.video.decode import Frame, VideoReader

from .conftest import write_video


@pytest.mark.parametrize("stack, step, tail", [(8, None, False), (8, 4, False), (8, 3, True), (16, 16, True), (5, 20, False)])
def test_clip_ranges(moving_square_video, stack, step, tail):
    s = ClipSpec(stack=stack, step=step, mode="center", size=32, cover_tail=tail)
    clips = list(iter_clips(VideoReader(moving_square_video), s))
    assert len(clips) == count_clips(40, s)
    stride = step or stack
    for k, c in enumerate(clips):
        assert c.frames.shape == (stack, 32, 32, 3) and c.padded == 0
        assert c.end - c.start == stack - 1
        np.testing.assert_array_equal(c.indices, np.arange(c.start, c.end + 1))
        np.testing.assert_allclose(c.times, c.indices / 12)
        if not (tail and k == len(clips) - 1):
            assert c.start == k * stride
    if tail:
        assert clips[-1].end == 39


def test_short_video_is_padded(tmp_path):
    path = write_video(tmp_path / "short.mp4", n=5)
    clips = list(iter_clips(VideoReader(path), ClipSpec(stack=8, size=32)))
    assert len(clips) == 1 and clips[0].padded == 3
    assert clips[0].indices.tolist() == [0, 1, 2, 3, 4, 4, 4, 4]
    np.testing.assert_array_equal(clips[0].frames[4], clips[0].frames[7])


def test_each_shot_is_clipped_as_a_video_of_its_own(moving_square_video):
    """With `shots` (a cut at frames 10 and 13 of 40), no clip spans a cut: each shot has the clips of a video of
    its own, its tail covered, a 3-frame shot padded; the test is asked of every frame once, in order."""
    asked: list[int] = []

    def shots(frame: Frame) -> bool:
        asked.append(frame.index)
        return frame.index in (10, 13)

    spec = ClipSpec(stack=8, step=4, mode="center", size=32, cover_tail=True)
    clips = list(iter_clips(VideoReader(moving_square_video), spec, shots))
    assert asked == list(range(40))
    assert [(c.start, c.end, c.padded) for c in clips] == [
        (0, 7, 0), (2, 9, 0),  # frames 0-9: one clip at 0, the tail at 2
        (10, 12, 5),  # frames 10-12, padded with frame 12
        (13, 20, 0), (17, 24, 0), (21, 28, 0), (25, 32, 0), (29, 36, 0), (32, 39, 0),  # frames 13-39
    ]  # fmt: skip
    assert clips[2].indices.tolist() == [10, 11, 12, 12, 12, 12, 12, 12]
    whole = list(iter_clips(VideoReader(moving_square_video), spec, lambda f: False))
    assert [(c.start, c.end) for c in whole] == [(c.start, c.end) for c in iter_clips(VideoReader(moving_square_video), spec)]


def test_known_cuts_start_a_shot_at_the_next_frame_sampled():
    """`shots.known_cuts`: the motion pass's cuts by frame index; a cut on a frame the resampling skipped starts the
    shot at the next frame asked."""
    from mosi_tool.saliency.shots import known_cuts

    cuts = np.zeros(12, bool)
    cuts[[5, 9]] = True
    is_cut = known_cuts(cuts)
    assert [is_cut(Frame(i, i / 25, np.zeros((1, 1, 3), np.uint8))) for i in (0, 2, 4, 6, 8, 8, 10, 11)] == [
        False, False, False, True, False, False, True, False]  # fmt: skip


def test_geometry_modes():
    center = geometry("center", 112, 640, 480)
    assert center.resize == (171, 128) and center.crop == (29, 8, 112, 112)
    full = geometry("full", 112, 640, 480)
    assert full.resize == (144, 112) and full.crop == (0, 0, 144, 112)
    portrait = geometry("full", 112, 480, 854)
    assert portrait.resize[0] == 112 and portrait.resize[1] % 16 == 0
    assert geometry("full", 112, 854, 480).resize == (192, 112)


def test_full_mode_clip_shape(moving_square_video):
    clip = next(iter_clips(VideoReader(moving_square_video), ClipSpec(stack=4, mode="full", size=32)))
    assert clip.frames.shape == (4, 32, 48, 3)


def test_resample_to_target_fps():
    frames = [Frame(i, i / 30, np.zeros((1, 1, 3), np.uint8)) for i in range(30)]
    picked = list(resample(frames, 10))
    assert [f.index for f in picked] == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]
    up = list(resample(frames[:4], 50))  # upsampling repeats frames; each tick takes the nearest
    assert [f.index for f in up][:5] == [0, 1, 1, 2, 2]


def test_variable_frame_rate_resampling(tmp_path):
    pts = [0, 100, 200, 700, 800, 900, 1000, 1100]  # ms: a 0.5 s gap
    path = write_video(tmp_path / "vfr.mkv", n=len(pts), pts=pts, time_base=(1, 1000))
    s = ClipSpec(stack=2, fps=10, size=32)
    clips = list(iter_clips(VideoReader(path), s))
    times = np.concatenate([c.times for c in clips])
    # 10 Hz ticks over 1.1 s; each tick takes the nearest real frame by time
    assert times.tolist()[:8] == [0.0, 0.1, 0.2, 0.2, 0.2, 0.7, 0.7, 0.7]


def test_a_spec_from_numpy_numbers_is_the_spec_of_python_numbers():
    """`mosi_tool.features(path, step=np.int64(4))` (a config read with numpy) failed after its whole run with
    'Object of type int64 is not JSON serializable' as the settings were written: the spec holds Python's
    numbers, equal to the spec of the same plain values, and a fractional step is a ValueError naming it."""
    import json

    spec = ClipSpec(stack=np.int64(8), step=np.int32(4), fps=np.float32(12.5), size=np.int64(32), stream=np.int64(0))
    assert spec == ClipSpec(stack=8, step=4, fps=12.5, size=32, stream=0)
    assert json.loads(json.dumps(spec.to_dict())) == spec.to_dict()
    with pytest.raises(ValueError, match="--step must be a whole number, got 2.5"):
        ClipSpec(step=2.5)


def test_shot_ids_and_spans_from_cuts():
    from mosi_tool.video.clips import shot_ids, shot_spans

    cuts = np.array([False, False, True, False, True])
    assert shot_ids(cuts).tolist() == [0, 0, 1, 1, 2]
    assert shot_spans(cuts) == [(0, 2), (2, 4), (4, 5)]
    assert shot_spans(np.zeros(3, bool)) == [(0, 3)] and shot_ids(np.zeros(3, bool)).tolist() == [0, 0, 0]
    assert shot_spans([True, False]) == [(0, 2)]  # a first frame marked is still the one shot
