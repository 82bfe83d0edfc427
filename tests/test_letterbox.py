"""Letterbox and pillarbox bars: found from the first frames, and motion-free in the motion field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mosi_tool
from mosi_tool.video.letterbox import Bars, find_bars
from mosi_tool.video.motion import read_motion

from .conftest import encode_frames, texture


def framed(image: np.ndarray, top: int, bottom: int, left: int = 0, right: int = 0) -> np.ndarray:
    """`image` inside black bars of these widths (px)."""
    return np.pad(image, ((top, bottom), (left, right), (0, 0)))


def test_bars_are_found_flat_black_in_pairs_and_a_dark_scene_is_no_letterbox():
    rng = np.random.default_rng(0)
    pictures = [texture(120, 200, seed=k) for k in range(10)]
    assert find_bars(framed(p, 40, 40) for p in pictures) == Bars(40, 40, 0, 0)
    assert find_bars(framed(p, 0, 0, 30, 31) for p in pictures) == Bars(0, 0, 30, 31)
    # a fade in from black: the black frames say nothing; the bars are read from the frames after them
    fade = [np.zeros((200, 200, 3), np.uint8)] * 12 + [framed(p, 40, 40) for p in pictures]
    assert find_bars(fade) == Bars(40, 40, 0, 0)
    assert find_bars([np.zeros((50, 60, 3), np.uint8)] * 5) == Bars()  # nothing shown at all
    # a night scene: edges as dark as the bars' level, but not flat (noise 0..20)
    night = [np.concatenate([rng.integers(0, 20, (40, 200, 3), dtype=np.uint8), p, rng.integers(0, 20, (40, 200, 3), dtype=np.uint8)]) for p in pictures]
    assert find_bars(night) == Bars()
    # one black strip alone (no bar on the other side), or two of very different widths: not a letterbox
    assert find_bars(framed(p, 30, 0) for p in pictures) == Bars()
    assert find_bars(framed(p, 10, 40) for p in pictures) == Bars()
    # bars that would leave less than MIN_CONTENT of the height: a dark picture
    assert find_bars(framed(p[:40], 40, 40) for p in pictures) == Bars()
    b = Bars(8, 8, 0, 0)
    cells = b.cells((6, 4), 8, (32, 48))
    assert cells[0].all() and cells[-1].all() and not cells[1:-1].any()
    assert b.content((32, 48)) == (0, 8, 32, 40)


def test_bars_are_found_after_a_slow_fade_in():
    """A 3-s fade in from black (72 frames at 24 fps): its first frames are not black all over, but so dim that
    the picture's edge past a bar is still under BAR_LEVEL in all eight of them, so the bars were not found.
    Nearly black frames (under SHOWN of the pixels lit) are skipped as black ones are."""
    gain = np.ones((120, 1, 1))
    gain[:30] = gain[-30:] = 0.5  # the picture's edges darker than its middle, as a scene's often are
    pictures = [texture(120, 200, seed=k) * gain for k in range(10)]
    fade = [(framed(pictures[k % 10], 40, 40) * min(1.0, k / 72)).astype(np.uint8) for k in range(90)]
    assert find_bars(fade) == Bars(40, 40, 0, 0)
    # a night scene's dark frames with a few lights (under SHOWN lit) say nothing either: no bars from them
    assert find_bars([framed(np.where(p > 250, p, 0).astype(np.uint8), 40, 40) for p in pictures]) == Bars()


def test_a_picture_lit_to_all_four_edges_ends_the_search_at_once():
    """The common case, no bars: once every edge line has been bright in a frame no bar can start at an edge,
    so the frames after it are not read (each costs a decode); a frame with one dark edge line reads on."""
    pictures = [texture(120, 200, seed=k) for k in range(10)]
    read: list[int] = []

    def counted(frames):
        for k, f in enumerate(frames):
            read.append(k)
            yield f

    assert find_bars(counted(pictures)) == Bars() and read == [0]
    read.clear()
    half = [p.copy() for p in pictures]
    for p in half[:3]:
        p[:, :1] = 0  # the left edge line dark in the first three frames only
    assert find_bars(counted(half)) == Bars() and read == [0, 1, 2, 3]
    read.clear()
    assert find_bars(counted([framed(p, 40, 40) for p in pictures])) == Bars(40, 40, 0, 0) and len(read) == 9


@pytest.fixture(scope="module")
def letterboxed_pan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A textured picture panning 3 px/frame right and 1 down (the content moves left and up), 320x160, as it is
    and inside black bars of 40 px above and below (320x240)."""
    root = tmp_path_factory.mktemp("letterbox")
    big = texture(260, 520, seed=3)
    frames = [big[20 + t : 180 + t, 20 + 3 * t : 340 + 3 * t] for t in range(32)]
    plain = encode_frames(root / "pan.mp4", frames)
    boxed = encode_frames(root / "letterboxed.mp4", [framed(f, 40, 40) for f in frames])
    return plain, boxed


def test_a_letterboxed_pan_has_no_motion_in_its_bars(letterboxed_pan):
    """Under a pan, the bars' vectors are zero or what the encoder predicted beside them (a flat block matches
    any vector): the bars read as motion against the camera. Before: `patch_motion` about the pan's speed on
    every bar patch, and a motion box on every frame holding the bars."""
    plain, boxed = letterboxed_pan
    field = read_motion(boxed, letterbox=True)
    assert read_motion(boxed).known[:, :5].any()  # without: the bars' cells hold vectors
    residual = field.residual_speed()  # (F, 30, 40) cells of 8 px; the bars are rows 0-4 and 25-29
    assert residual[:, :5].max() < 1e-3 and residual[:, 25:].max() < 1e-3
    assert not field.known[:, :5].any() and not field.known[:, 25:].any()
    assert field.bars == Bars(40, 40, 0, 0) and read_motion(plain, letterbox=True).bars == Bars()
    t, ref = mosi_tool.targets(boxed), mosi_tool.targets(plain)
    assert t.info["bars"] == [40, 40, 0, 0] and ref.info["bars"] == [0, 0, 0, 0]  # said in the file's info
    bars = np.r_[0:2, 13:15]  # the 16-px patch rows inside the bars (40 px: rows 0, 1 and 13, 14)
    assert float(t.patch_motion[:, bars].astype(np.float32).max()) < 1e-3  # before: about the pan's speed
    # no mover: most frames without a motion box (before: every frame had one, holding the bars), as on the same
    # pan without bars; what is left is a patch or two at the picture's edge beside a bar on a few frames
    boxed_share, plain_share = np.isfinite(t.frame_boxes[:, 0]).mean(), np.isfinite(ref.frame_boxes[:, 0]).mean()
    assert boxed_share < 0.25 and plain_share < 0.25, (boxed_share, plain_share)
    boxes = t.frame_boxes[np.isfinite(t.frame_boxes[:, 0])]
    assert not len(boxes) or ((boxes[:, 3] - boxes[:, 1]) * (boxes[:, 2] - boxes[:, 0])).max() < 0.05 * 320 * 240
    # the trajectories inside the picture are the same motion, shifted by the bar: compensated, about zero; valid
    # as on the pan without bars (0.83: its last two rows show the strip the pan brings in, as the picture's last
    # two rows above the bottom bar do), but for the picture's first row below the top bar (a macroblock across it)
    inner = t.valid[:, 5:25]
    assert inner.mean() > 0.75 and np.abs(t.trajectories[:, 5:25][inner].astype(np.float32)).mean() < 0.2
    assert not t.valid[:, :5].any() and not t.valid[:, 25:].any()


def test_bars_whose_last_lines_ring_with_the_picture_edge_are_found():
    """An encoder's ringing at the picture's edge (a chroma block spanning the bar's edge: 45-px bars) puts a few
    pixels just over BAR_LEVEL in the bar's last lines: the bar ends at the first lit line past them. Before, the
    dark run stopped at the first ringing pixel and the lines past it were not lit: a 45-px letterbox of a pan
    encoded by x264 at its defaults was no bar (one edge ringing, the other not: no pair)."""
    pictures = [texture(120, 200, seed=k) for k in range(10)]
    rung = []
    for p in pictures:
        f = framed(p, 44, 44)
        f[40:44, ::60] = 28  # a few ringing pixels in the top bar's last 4 lines, as x264's are (1 to 2% of a line)
        rung.append(f)
    assert find_bars(rung) == Bars(44, 44, 0, 0)
    side = [np.ascontiguousarray(f.transpose(1, 0, 2)) for f in rung]  # the same as a pillarbox
    assert find_bars(side) == Bars(0, 0, 44, 44)


def test_the_optical_flow_fallback_of_a_letterboxed_pan_is_found_on_the_picture_inside_the_bars(letterboxed_pan):
    """Streams without vectors (VP9, frame folders) take DIS optical flow: on the whole frame, the bars' still
    edges held the flow of the picture back (residual 0.07 px/frame inside the picture against 0.017 on the pan
    without bars; a VP9 pan in 45-px bars had a motion box on 78% of its frames against 10%). The flow is now
    found on the picture inside the bars: about as still as the pan without them."""
    plain, boxed = letterboxed_pan
    inside = read_motion(boxed, vectors=False, letterbox=True).residual_speed()[1:, 5:25]
    without = read_motion(plain, vectors=False).residual_speed()[1:]
    assert inside.mean() < 2 * without.mean(), (inside.mean(), without.mean())


def test_a_title_on_black_at_the_start_is_not_taken_for_bars(tmp_path):
    """A title card or logo centred on black, then the film at full frame: the first frames alone showed bars
    (over half of the picture, for the whole video). The picture later in the video is checked for them."""
    from mosi_tool.video.clips import ClipSpec
    from mosi_tool.video.letterbox import video_bars

    card = framed(texture(120, 160, seed=1), 60, 60, 80, 80)  # 240x320, a card in the middle
    film = [texture(240, 320, seed=10 + t) for t in range(50)]
    video = encode_frames(tmp_path / "title.mp4", [card] * 12 + film, options={"g": "10"})
    boxed = encode_frames(tmp_path / "boxed.mp4", [framed(f[:160], 40, 40) for f in film], options={"g": "10"})
    assert find_bars([card] * 8) == Bars(60, 60, 80, 80)  # what the first frames alone say
    assert video_bars(ClipSpec().open(video)) == Bars()
    assert video_bars(ClipSpec().open(boxed)) == Bars(40, 40, 0, 0)

