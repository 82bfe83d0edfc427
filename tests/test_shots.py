"""Scene cuts (`saliency.shots`): where the masks' colour model, the boxes' tracks and the primary mover start afresh."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mosi_tool.saliency.pictures import Picture
from mosi_tool.saliency.shots import CutDetector
from tests.conftest import encode_frames, texture


def pic(image: np.ndarray) -> np.ndarray:
    return image


def test_a_change_of_scene_is_a_cut_and_motion_fades_and_flashes_are_not():
    """A cut changes the colours and the layout at once; a pan changes neither much, a fade or a flash the
    colours only (with colours alone a fade to black made a cut every few frames, and a flash two)."""
    a, b = texture(120, 214, seed=1, scale=6), texture(120, 214, seed=2, scale=6)
    cuts = CutDetector()
    assert not cuts.is_cut(pic(a))  # the first frame
    assert not cuts.is_cut(pic(np.roll(a, 12, axis=1)))  # a pan of 12 px a frame
    assert not cuts.is_cut(pic(a))
    for k in (0.8, 0.6, 0.4, 0.2):  # a fade
        assert not cuts.is_cut(pic((a * k).astype(np.uint8))), k
    flashes = CutDetector()
    for frame in (a, np.clip(a.astype(np.int16) + 150, 0, 255).astype(np.uint8), a):
        assert not flashes.is_cut(pic(frame))
    graded = CutDetector()  # the same scene in other colours
    assert not graded.is_cut(pic(a))
    assert not graded.is_cut(pic(np.clip(a.astype(np.int16) * [1.0, 0.5, 0.3] + [60, 0, 0], 0, 255).astype(np.uint8)))
    assert cuts.is_cut(pic(b))  # another scene with the same palette
    black, white = np.zeros_like(a), np.full_like(a, 255)
    for flat in (black, white):  # a flat frame within a shot (a blanked frame, a dip to black, a white flash) is no cut
        within = CutDetector()
        assert not any(within.is_cut(pic(frame)) for frame in (a, flat, flat, a))
    across = CutDetector()  # out of one shot through black into another: one cut, where the next shot shows
    assert [across.is_cut(pic(frame)) for frame in (a, (a * 0.3).astype(np.uint8), black, b)] == [False, False, False, True]
    grey_only = CutDetector()  # a picture without a colour image: its grey levels
    assert not grey_only.is_cut(Picture(a.mean(axis=2).astype(np.float32) / 255, None))
    assert grey_only.is_cut(Picture(b.mean(axis=2).astype(np.float32) / 255, None))


def test_black_bars_are_left_out_of_the_comparison():
    """Bars both frames have made any two frames alike (their layouts correlate through the bars): pillarbox
    bars of 30 or 60 px either side of a 160x120 picture hid its cut. `bars` finds them; a dark scene is not
    taken for bars beyond BAR_MOST of a side."""
    from mosi_tool.saliency.shots import bars

    a, b = texture(120, 160, seed=1, scale=6), texture(120, 160, seed=2, scale=6)
    for bar in (0, 30, 60):
        for logo in (False, True):  # a white logo in a bar (it stopped the bars at its lines)
            def boxed(x: np.ndarray) -> np.ndarray:
                y = np.pad(x, ((0, 0), (bar, bar), (0, 0)))
                if logo and bar:
                    y[10:30, 5:15] = 255
                return y

            cuts = CutDetector()
            found = [cuts.is_cut(boxed(x)) for x in (a, np.roll(a, 5, axis=1), b, np.roll(b, 5, axis=1))]
            assert found == [False, False, True, False], (bar, logo)
    grey = np.pad(np.full((100, 180), 128, np.uint8), ((10, 10), (5, 15)))
    assert bars(grey) == (10, 10, 5, 15)
    assert bars(np.full((120, 200), 10, np.uint8)) == (36, 36, 60, 60)  # all dark: at most 30% of a side each


def davis_frames(name: str, n: int, size: tuple[int, int]) -> list[np.ndarray]:
    import cv2

    from tests.conftest import shared

    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in read_frames(shared("davis", "mp4", f"{name}.mp4"))[:n]]


def blend(x: np.ndarray, y: np.ndarray, a: float) -> np.ndarray:
    return np.clip(x.astype(np.float32) * (1 - a) + y.astype(np.float32) * a, 0, 255).astype(np.uint8)


def test_subtitles_in_a_bar_do_not_hide_a_cut():
    """DAVIS camel cut to dog (and goat to dog, camel to goat), letterboxed with a line of subtitles in the bottom
    bar that stays across the cut: the bar stopped at the subtitles' rows (each under 60% dark), the black rows
    above them and the text joined the comparison and hid every cut. A bar now goes on past rows of bright text to
    its innermost solid row; a dark scene's rows (not bright beside the dark) do not extend a bar."""
    import cv2

    from mosi_tool.saliency.shots import bars

    def subtitled(frame: np.ndarray) -> np.ndarray:
        out = frame.copy()
        out[380:] = 0
        cv2.putText(out, "I told you we would be late again", (60, 440), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (255, 255, 255), 2)
        return out

    for a, b in (("camel", "dog"), ("goat", "dog"), ("camel", "goat")):
        frames = [subtitled(f) for f in davis_frames(a, 6, (854, 480)) + davis_frames(b, 6, (854, 480))]
        cuts = CutDetector()
        assert [k for k, f in enumerate(frames) if cuts.is_cut(pic(f))] == [6], (a, b)
    grey = np.full((120, 200), 128, np.uint8)
    grey[90:] = 0
    grey[100:106, 10:190:2] = 255  # a line of text: 45% of its rows lit
    assert bars(grey)[1] == 30
    grey[100:106, 10:190:2] = 90  # a dark scene's grey, not text
    assert bars(grey)[1] == 14


def test_a_fade_through_black_into_another_scene_is_one_cut_and_a_dim_shot_is_not_flat():
    """DAVIS camel fading to black over 8 frames, then dog fading in (a new user's case at 480x272): the two dim
    frames either side of the black one looked alike (d 0.25), so no cut was found; the dim dog frame is now
    compared with the camel's last frame before the fade too. A dip to black within one shot stays no cut. A
    shot at 6% contrast counted as flat (never a cut)."""
    A, B = davis_frames("camel", 28, (480, 272)), davis_frames("dog", 20, (480, 272))
    for level in (0, 255):  # through black, and through white (a new user's second trial: missed)
        flat = np.full_like(A[0], level)
        across = A[:12] + [blend(A[12 + i], flat, (i + 1) / 8) for i in range(8)] + [blend(B[i], flat, 1 - (i + 1) / 8) for i in range(8)] + B[8:20]
        cuts = CutDetector()
        assert [k for k, f in enumerate(across) if cuts.is_cut(pic(f))] == [20], level
        dip = A[:12] + [blend(A[12 + i], flat, (i + 1) / 8) for i in range(8)] + [blend(A[20 + i], flat, 1 - (i + 1) / 8) for i in range(8)]
        cuts = CutDetector()
        assert not any(cuts.is_cut(pic(f)) for f in dip), level
    still = B[:1] * 6 + [blend(B[0], np.zeros_like(B[0]), (i + 1) / 6) for i in range(6)] + [blend(B[0], np.zeros_like(B[0]), 1 - (i + 1) / 6) for i in range(6)]
    cuts = CutDetector()  # a dip of a still shot: its near-black frames were taken for bars on every side (a cut)
    assert not any(cuts.is_cut(pic(f)) for f in still)
    faint = [blend(f, np.full_like(f, 128), 0.94) for f in B[:12]]  # 6% contrast
    cuts = CutDetector()
    assert [k for k, f in enumerate(A[:12] + faint) if cuts.is_cut(pic(f))] == [12]


def montage(tmp_path, options: dict[str, str] | None = None):
    """Two shots of 16 frames, 320x192: a 64-px square moving right at 3 px/frame over a textured background,
    then another scene (other colours) with a 64-px square moving left lower down. options: libx264's."""
    h, w, n = 192, 320, 16
    frames = []
    for shot in range(2):
        bg = texture(h, w, seed=5 + shot, scale=6)
        fg = texture(64, 64, seed=21 + shot, scale=3)
        if shot:
            bg = np.clip(bg.astype(np.int16) * [1.0, 0.5, 0.3] + [70, 0, 0], 0, 255).astype(np.uint8)
        for t in range(n):
            img = bg.copy()
            x, y = (30 + 3 * t, 40) if shot == 0 else (220 - 3 * t, 110)
            img[y : y + 64, x : x + 64] = fg
            frames.append(img)
    return encode_frames(tmp_path / "montage.mp4", frames, options=options), n


def test_boxes_and_the_primary_mover_start_afresh_at_a_cut(tmp_path):
    """Across the cut the box tracker handed the first shot's id to the second shot's mover (it matched by the
    distance of their centres), and the primary mover waited for the first shot's object for 5 frames."""
    from typer.testing import CliRunner

    from mosi_tool.cli import app

    path, n = montage(tmp_path)
    ids = {}
    for primary in (False, True):
        boxes = tmp_path / f"b{primary}.jsonl"
        args = ["saliency", str(path), "--boxes", str(boxes), "--out", str(tmp_path / "o.mp4")] + (["--primary"] if primary else [])
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        lines = [json.loads(line) for line in boxes.read_text().splitlines()][:-1]
        assert [line["frame"] for line in lines if line.get("cut")] == [n]  # the line of the second shot's first frame
        first = {b[5] for line in lines[2 : n - 1] for b in line["boxes"]}
        second = {b[5] for line in lines[n : 2 * n - 1] for b in line["boxes"]}
        assert first and second and not first & second, (first, second)
        ids[primary] = (first, second)
        if primary:
            # the second shot's mover is primary from the cut on (the first frame of a shot has no motion yet)
            assert all(line["boxes"] and line["boxes"][0][1] > 90 for line in lines[n + 2 : 2 * n - 1]), lines[n : n + 4]
            assert len(first) == len(second) == 1
    import mosi_tool

    assert np.flatnonzero(mosi_tool.saliency(path).cuts).tolist() == [n]  # the Python API says where, too


@pytest.mark.parametrize("keyframe", [True, False], ids=["keyframe-at-cut", "cut-within-gop"])
def test_the_motion_pass_keeps_each_shot_to_itself(tmp_path, keyframe):
    """The maps average 5 frames and the field fills its gaps over frames: the first shot's mover showed in the
    second shot's first frames (a ghost mask where nothing moves). The motion pass finds the cut (the masks'
    detector on the same pictures) and makes each shot's field and maps on its own, whatever the chunks. Where
    the encoder put no keyframe at the cut, the B-frames after it and the shot's first P-frame refer to the
    shot before: those vectors are dropped."""
    from mosi_tool.saliency.motion import CAMERA_MODEL, motion_field, mv_maps
    from mosi_tool.saliency.shots import frame_cuts
    from mosi_tool.video.motion import iter_motion, join, read_motion

    path, n = montage(tmp_path, {"bf": "2", "sc_threshold": "40" if keyframe else "0"})
    field = motion_field(path)
    assert field.cuts is not None and np.flatnonzero(field.cuts).tolist() == [n]
    cell = field.cell
    last = (slice(40 // cell, 104 // cell), slice((30 + 3 * (n - 1)) // cell, (94 + 3 * (n - 1)) // cell))  # the first square's last place
    maps = mv_maps(field)
    before = mv_maps(read_motion(path, model=CAMERA_MODEL, measure=True))  # the field and maps across the cut
    for t in (n, n + 1):  # the first shot's mover gone from where it was
        assert maps[t][last].max() < 0.1 < 0.5 < before[t][last].max(), (t, maps[t][last].max(), before[t][last].max())
    for t in (n - 1, n):  # each shot's mover at full speed up to its last frame and from its first
        assert maps[t].max() > 0.9 * maps[n + 3].max() > before[t].max(), (t, maps[t].max(), before[t].max(), maps[n + 3].max())
    chunked = join(iter_motion(path, model=CAMERA_MODEL, measure=True, chunk=7, shots=frame_cuts))
    assert np.array_equal(chunked.cuts, field.cuts)
    np.testing.assert_array_equal(chunked.vectors, field.vectors)



def test_vectors_that_refer_to_another_shot_are_dropped():
    """Display order P0 B1 B2 P3 | B4 B5 P6 B7 B8 P9, a cut at frame 4 inside the group: B4 and B5 refer back to
    P3 (the shot before) and P6's past is P3 too; B1 and B2 keep both directions, P3's future is none anyway."""
    from mosi_tool.video.motion.codec import PICT_B, PICT_P, RawFrame
    from mosi_tool.video.motion.streaming import within_shots

    v = np.zeros((2, 2, 2), np.float32)
    types = [PICT_P, PICT_B, PICT_B, PICT_P, PICT_B, PICT_B, PICT_P, PICT_B, PICT_B, PICT_P]
    window = [RawFrame(v, v, k, float(t), cut=t == 4) for t, k in enumerate(types)]
    out = within_shots(window)
    assert [r.past is not None for r in out] == [True, True, True, True, False, False, False, True, True, True]
    assert [r.future is not None for r in out] == [True, True, True, False, True, True, True, True, True, True]
    plain = [r._replace(cut=False) for r in window]
    assert within_shots(plain) is plain  # no cut: the window as it is


def test_the_network_s_clips_never_span_a_cut(tmp_path, energy_ckpt):
    """`--method fused` reads the same motion pass: its result says where the shots begin, for the masks, and the
    network's clips are cut there too; `--method cam` finds the cuts in its clips' frames. Each shot joined
    bit-exactly with another gets the maps it has alone (the clips spanned the cut: fused maps up to 0.85 apart)."""
    from mosi_tool import load_model
    from mosi_tool.saliency.compute import compute_saliency
    from tests.conftest import join_videos

    path, n = montage(tmp_path)
    engine = load_model(energy_ckpt, device="cpu", mode="full")
    for method in ("fused", "cam"):
        result = compute_saliency(engine, path, "motion", method=method, step=3)  # clips of 8 frames every 3
        assert result.cuts is not None and np.flatnonzero(result.cuts).tolist() == [n], method
        assert all(end < n or start >= n for start, end in result.clip_ranges), result.clip_ranges
    frames = read_frames(path)
    shots = [encode_frames(tmp_path / f"shot{k}.mp4", frames[k * n : (k + 1) * n], options={"bf": "2"}) for k in range(2)]
    joined = join_videos(shots, tmp_path / "joined.mp4")
    for method, fps in (("cam", None), ("fused", None), ("cam", 10.0), ("fused", 10.0)):
        # with --fps each shot is resampled from its own first frame (the cut was found late, at the first frame
        # sampled after it, and the frames between took the other shot's map)
        whole = compute_saliency(engine, joined, "motion", method=method, step=3, fps=fps)
        alone = [compute_saliency(engine, p, "motion", method=method, step=3, fps=fps) for p in shots]
        assert whole.cuts is not None and np.flatnonzero(whole.cuts).tolist() == [n], (method, fps)
        np.testing.assert_allclose(np.asarray(whole.maps[:]), np.concatenate([np.asarray(r.maps[:]) for r in alone]), atol=1e-5)


def test_shots_joined_without_reencoding_give_each_shot_s_own_output(tmp_path):
    """Each shot encoded alone, the two joined packet by packet: every frame decodes as in its shot alone, so any
    difference in the maps or masks comes from the other shot. Across the cut the reference distances were
    measured on the other shot's pictures and the per-cell checks read its frames (raw maps up to 0.9 px/frame
    apart, masks on 6 frames either side); now nothing differs."""
    import mosi_tool
    from mosi_tool.saliency.compute import compute_motion_saliency
    from tests.conftest import join_videos

    path, n = montage(tmp_path)
    frames = read_frames(path)
    shots = [encode_frames(tmp_path / f"shot{k}.mp4", frames[k * n : (k + 1) * n], options={"bf": "2"}) for k in range(2)]
    joined = join_videos(shots, tmp_path / "joined.mp4")
    assert np.array_equal(np.stack(read_frames(joined)), np.stack(read_frames(shots[0]) + read_frames(shots[1])))
    whole = compute_motion_saliency(joined, mask_maps=True)
    alone = [compute_motion_saliency(p, mask_maps=True) for p in shots]
    assert np.flatnonzero(whole.cuts).tolist() == [n]
    for name in ("maps", "mask_maps"):
        np.testing.assert_array_equal(np.asarray(getattr(whole, name)[:]), np.concatenate([np.asarray(getattr(r, name)[:]) for r in alone]))
    masks = mosi_tool.saliency(joined, masks=True).masks
    np.testing.assert_array_equal(masks, np.concatenate([mosi_tool.saliency(p, masks=True).masks for p in shots]))


def read_frames(path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
