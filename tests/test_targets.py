"""Motion targets: trajectories against known motion, every array's shape and meaning, the batch command
(naming, resume, failures, shards, workers), the anchors' formats read back by readers written from the
anchors' own loaders, the masking generator and the training dataset."""

from __future__ import annotations

import gzip
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mosi_tool
from mosi_tool.cli import app
from mosi_tool.evaluation import known_motion as km
from mosi_tool.masking import motion_guided_mask
from mosi_tool.motion_targets.compute import TargetOptions, compute_targets
from mosi_tool.motion_targets.trajectories import start_grid, track

from .conftest import bugcase, encode_frames, shared, texture, write_video

SCENE = km.Scene(width=256, height=144, frames=36)


@pytest.fixture(scope="module")
def scene_video(tmp_path_factory):
    return km.encode(SCENE, tmp_path_factory.mktemp("targets") / "scene.mp4")


@pytest.fixture(scope="module")
def videos(tmp_path_factory, scene_video):
    """A folder of videos: two good ones (one in a subfolder) and one that is not a video."""
    root = tmp_path_factory.mktemp("target_videos")
    (root / "sub").mkdir()
    km.encode(km.Scene(width=128, height=96, frames=20, background=(0.5, 0.25), squares=(km.MovingSquare(30, 20, 40, (1.5, 0.5)),)), root / "a.mp4")
    (root / "sub" / "b.mp4").write_bytes(scene_video.read_bytes())
    (root / "broken.mp4").write_text("not a video\n")
    return root


def outputs(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith("failures")}


# --- tracking on fields made by hand -----------------------------------------------------------------


def test_each_step_reads_the_field_where_the_point_is_now():
    # v_x = a + b x everywhere (bilinear interpolation is exact for it): the step from p solves q = p + a + b q
    n, gh, gw = 6, 10, 16
    a, b = 1.0, 0.02
    xs = (np.arange(gw) + 0.5) * 8
    vec = np.zeros((n, gh, gw, 2), np.float32)
    vec[..., 0] = a + b * xs[None, None, :]
    steps, valid = track(vec, np.tile(np.eye(2, 3), (n, 1, 1)), np.ones((n, gh, gw), bool), np.array([0]), 4, (gw * 8, gh * 8), compensate=False)
    p = start_grid(gh * 8, gw * 8)[..., 0].astype(np.float64)
    for k in range(4):
        q = (p + a) / (1 - b)
        assert np.allclose(steps[0, 3, 2:8, k, 0], (q - p)[3, 2:8], atol=0.02), k  # grows step by step: not read at the start cell
        p = q
    assert np.allclose(steps[..., 1], 0) and valid[0, 3, 2:8].all()


def test_compensation_removes_the_camera_and_validity_follows_the_frame_and_the_coded_cells():
    n, gh, gw = 5, 6, 8
    vec = np.tile(np.array([3.0, -2.0], np.float32), (n, gh, gw, 1))
    cam = np.tile(np.array([[1.0, 0, -3.0], [0, 1.0, 2.0]]), (n, 1, 1))  # frame t -> t-1: x - 3, y + 2
    known = np.ones((n, gh, gw), bool)
    known[2, 0, 0] = False  # a gap in frame 2 at the top-left cell
    raw, valid = track(vec, cam, known, np.array([0, 1]), 3, (gw * 8, gh * 8), compensate=False)
    comp, _ = track(vec, cam, known, np.array([0, 1]), 3, (gw * 8, gh * 8), compensate=True)
    assert np.allclose(raw, [3.0, -2.0]) and np.allclose(comp, 0, atol=1e-4)
    assert not valid[:, 0].any()  # moving up by 2 px a step from y = 4: the top row leaves the frame
    assert not valid[:, :, -1].any()  # and the right column, moving right by 3
    assert valid[:, 1:, :-1].all()
    # the gap: a still point on the top-left cell reads frame 2 there
    raw2, valid2 = track(np.zeros_like(vec), cam * 0 + np.eye(2, 3), known, np.array([1]), 2, (gw * 8, gh * 8))
    assert not valid2[0, 0, 0] and valid2[0, 1:, 1:].all()


def test_a_window_too_large_for_one_call_of_the_kernel_is_tracked_in_groups_of_starts(monkeypatch):
    from mosi_tool.motion_targets import trajectories

    rng = np.random.default_rng(3)
    n, gh, gw = 30, 6, 8
    vec = (rng.normal(size=(n, gh, gw, 2)) * 2).astype(np.float32)
    cam = np.tile(np.eye(2, 3), (n, 1, 1)) + rng.normal(size=(n, 2, 3)) * [[0.01, 0.01, 0.5]]
    known = rng.random((n, gh, gw)) > 0.1
    starts = np.array([0, 3, 4, 9, 17, 25])
    whole = track(vec, cam, known, starts, 4, (gw * 8, gh * 8))
    monkeypatch.setattr(trajectories, "INDEX_LIMIT", 7 * gh * gw * 2)  # 7 frames a call: 2 starts of 4 steps
    grouped = track(vec, cam, known, starts, 4, (gw * 8, gh * 8))
    assert all(np.array_equal(a, b) for a, b in zip(whole, grouped))


# --- the whole targets of a video with known motion ------------------------------------------------


def test_targets_match_the_known_motion(scene_video):
    t = compute_targets(scene_video)
    w, h, n, L = SCENE.width, SCENE.height, SCENE.frames, 4
    assert t.trajectories.shape == (n - L, h // 8, w // 8, L, 2) and t.trajectories.dtype == np.float16
    assert t.valid.shape == (n - L, h // 8, w // 8) and t.valid.dtype == bool
    assert t.vectors.shape == (n, h // 8, w // 8, 2) and t.vectors.dtype == np.float16
    assert t.camera.shape == (n, 2, 3) and t.patch_motion.shape == (n, h // 16, w // 16)
    assert t.frame_boxes.shape == (n, 4) and t.video_box.shape == (4,) and t.times.shape == (n,)
    assert np.array_equal(t.start_frames, np.arange(n - L))
    truth, region = km.truth(SCENE, t.start_frames, L)
    err = np.linalg.norm(t.trajectories.astype(np.float32) - truth, axis=-1)  # (S, h, w, L) px/step
    background = (region == 0) & t.valid
    assert background.mean() > 0.5
    assert err[background].mean() < 0.25  # the targets, as means (measured 0.10 and 0.28, 0.29)
    for k in range(len(SCENE.squares)):
        obj = (region == k + 1) & t.valid
        assert obj.sum() > 50 and err[obj].mean() < 0.5, k
    # the camera pans with the background: raw vectors on the background are its velocity
    raw = compute_targets(scene_video, TargetOptions(compensate=False))
    bg_raw = raw.trajectories.astype(np.float32)[background]
    assert np.allclose(np.median(bg_raw, axis=0), [SCENE.background] * L, atol=0.1)
    # patch motion: the squares move against the background, so their patches carry the motion
    p = t.patch_motion.astype(np.float32)
    assert 0 <= p.min() and p.max() <= 1
    x0, y0, x1, y1 = (int(v) // 16 for v in SCENE.square_box(0, 10))
    assert p[10, y0 + 1 : y1 - 1, x0 + 1 : x1 - 1].mean() > 3 * np.median(p[10])
    # the motion area holds the squares
    box = t.video_box
    sq = SCENE.square_box(0, 0)
    assert box[0] <= sq[0] + 16 and box[1] <= sq[1] + 16


def test_size_and_starts_options(scene_video):
    t = mosi_tool.targets(scene_video, size=(128, 72), starts=3, length=2)
    assert t.trajectories.shape == (len(range(0, SCENE.frames - 2, 3)), 72 // 8, 128 // 8, 2, 2)
    assert np.array_equal(t.start_frames, np.arange(0, SCENE.frames - 2, 3))
    assert t.vectors.shape == (SCENE.frames, 9, 16, 2) and t.patch_motion.shape == (SCENE.frames, 4, 8)
    bg = np.median(t.vectors[1:].astype(np.float32).reshape(-1, 2), axis=0)
    assert np.allclose(bg, np.array(SCENE.background) / 2, atol=0.1)  # velocities scale with the frames


def test_motion_api_returns_the_field_whole_or_in_chunks(scene_video):
    whole = mosi_tool.motion(scene_video)
    parts = list(mosi_tool.motion(scene_video, chunk=10))
    assert [p.start for p in parts] == [0, 10, 20, 30]
    assert np.array_equal(np.concatenate([p.vectors for p in parts]), whole.vectors)
    assert whole.known is not None and whole.known.shape == whole.vectors.shape[:3]


def test_motion_api_gives_the_field_saliency_reads_when_asked(scene_video):
    """saliency --method mv reads the field with measured reference distances and the camera model auto;
    mosi_tool.motion gives it (measure_references, the default, whole or in chunks), the estimate when asked."""
    from mosi_tool.saliency.motion import MEASURE_REFERENCES
    from mosi_tool.video.motion import read_motion

    assert MEASURE_REFERENCES
    read = read_motion(scene_video, model="auto", measure=True)
    whole = mosi_tool.motion(scene_video, camera_model="auto", measure_references=True, letterbox=False)
    parts = list(mosi_tool.motion(scene_video, camera_model="auto", chunk=10, measure_references=True, letterbox=False))
    assert np.array_equal(whole.vectors, read.vectors) and np.array_equal(whole.camera, read.camera)
    assert np.array_equal(np.concatenate([p.vectors for p in parts]), read.vectors)
    assert np.array_equal(mosi_tool.motion(scene_video, camera_model="auto", letterbox=False).vectors, read.vectors)
    estimated = mosi_tool.motion(scene_video, camera_model="auto", measure_references=False)
    assert np.array_equal(estimated.vectors, read_motion(scene_video, model="auto").vectors)


@pytest.mark.parametrize("name", ["camel", "car-shadow"])
def test_targets_of_real_videos(name):
    path = shared("davis", "mp4", f"{name}.mp4")
    t = mosi_tool.targets(path)
    w, h = t.info["width"], t.info["height"]
    assert (w, h) == (854, 480)
    assert t.trajectories.shape[1:] == (60, 106, 4, 2) and t.vectors.shape[1:] == (60, 106, 2)
    assert len(t.trajectories) == len(t.times) - 4 and np.isfinite(t.trajectories.astype(np.float32)).all()
    assert t.valid.mean() > 0.3  # B-frames leave some blocks without vectors of their own (direct mode)
    assert np.isfinite(t.video_box).all()  # something moves in every DAVIS video


# --- the batch command ------------------------------------------------------------------------------


def test_command_writes_one_file_per_video_resumes_and_records_failures(videos, tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["targets", str(videos), "--out-dir", str(out), "-j", "0"])
    assert r.exit_code == 1, r.output
    assert sorted(outputs(out)) == ["a.mp4.npz", "sub/b.mp4.npz"]
    fails = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert [Path(f["path"]).name for f in fails] == ["broken.mp4"] and "broken.mp4: " in fails[0]["error"]
    assert "error: " in r.output and "Traceback" not in r.output
    with np.load(out / "a.mp4.npz") as d:
        assert json.loads(str(d["settings"]))["length"] == 4 and json.loads(str(d["info"]))["source"].endswith("a.mp4")
    first = outputs(out)
    r = CliRunner().invoke(app, ["targets", str(videos), "--out-dir", str(out), "-j", "0"])
    assert "0 written, 2 already done, 1 failed" in r.output
    # another option: the file is not complete for it, so it is made again
    r = CliRunner().invoke(app, ["targets", str(videos), "--out-dir", str(out), "-j", "0", "--length", "3"])
    assert "2 written" in r.output and outputs(out) != first


@pytest.mark.parametrize("fmt", ["npz", "mme"])
def test_a_replaced_video_is_made_again(tmp_path, fmt):
    """A file replaced by another video under the same name is not "already done": the .npz records the
    video's size and modification time (as `features` does); an MME or MOFO file must not be older than it."""
    import os

    folder, out = tmp_path / "videos", tmp_path / "out"
    folder.mkdir()
    video = folder / "a.mp4"
    km.encode(km.Scene(width=128, height=96, frames=20), video)
    run = lambda: CliRunner().invoke(app, ["targets", str(folder), "-o", str(out), "-j", "0", "--format", fmt])  # noqa: E731
    assert "1 written" in run().output
    assert "0 written, 1 already done" in run().output
    km.encode(km.Scene(width=128, height=96, frames=24, background=(1.0, 0.0)), video)
    later = os.stat(out / (f"a.mp4{'.npz' if fmt == 'npz' else '_4.gz'}")).st_mtime_ns + 10**9
    os.utime(video, ns=(later, later))  # newer than the output, whatever the file system's time resolution
    assert "1 written" in run().output


def test_the_command_never_imports_torch(videos, tmp_path):
    """Motion targets need no network: the command starts without torch (a second of CPU per process), also
    when it reports a bad file."""
    import subprocess
    import sys

    code = ("import sys\nfrom mosi_tool.cli import main\nsys.argv = ['mosi-tool', 'targets', sys.argv[1], '-o', sys.argv[2], '-j', '0']\n"
            "try:\n    main()\nexcept SystemExit as e:\n    print('exit', e.code)\nprint('torch' in sys.modules)")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code, str(videos), str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert r.stdout.split()[-3:] == ["exit", "1", "False"], r.stdout + r.stderr
    assert "broken.mp4: " in r.stderr and "Traceback" not in r.stderr


def test_shards_and_workers_write_the_same_bytes(videos, tmp_path):
    whole, split, pooled = tmp_path / "whole", tmp_path / "split", tmp_path / "pooled"
    assert CliRunner().invoke(app, ["targets", str(videos), "-o", str(whole), "-j", "0"]).exit_code == 1
    for i in range(2):
        CliRunner().invoke(app, ["targets", str(videos), "-o", str(split), "-j", "0", "--shard", f"{i}/2"])
    assert CliRunner().invoke(app, ["targets", str(videos), "-o", str(pooled), "-j", "2"]).exit_code == 1
    assert outputs(split) == outputs(whole) == outputs(pooled)
    assert len((split / "failures.jsonl").read_text().splitlines()) == 1


def test_bad_options_are_one_line_errors(videos, tmp_path):
    for args, words in ((["--format", "xyz"], "--format"), (["--format", "mme", "--starts", "2"], "--starts 1"), (["--size", "big"], "--size")):
        r = CliRunner().invoke(app, ["targets", str(videos), "-o", str(tmp_path), *args])
        assert r.exit_code == 2 and words in r.output and "Traceback" not in r.output, args


def test_options_are_refused_before_any_work_and_sizes_take_either_form(scene_video, tmp_path):
    out = tmp_path / "never"
    for args in (["--fps", "0"], ["--fps", "inf"], ["--backend", "dask"], ["--size", "0x10"], ["--size", "100000x100000"]):
        r = CliRunner().invoke(app, ["targets", str(scene_video), "-o", str(out), *args])
        assert r.exit_code == 2 and "error: " in r.output and not out.exists(), (args, r.output)
    assert TargetOptions(size="320x180").size == TargetOptions(size=(320, 180)).size == (320, 180)
    for bad in ({"size": "big"}, {"fps": -1.0}, {"fps": float("inf")}):  # an infinite rate made every time 0
        with pytest.raises(ValueError, match="--size|--fps"):
            TargetOptions(**bad)
    with pytest.raises(ValueError, match="chunk"):
        next(mosi_tool.motion(scene_video, chunk=0))


def test_fps_on_a_video_file_and_a_video_too_short_for_the_length_are_said(scene_video, tmp_path):
    r = CliRunner().invoke(app, ["targets", str(scene_video), "-o", str(tmp_path / "m"), "-j", "0", "--format", "mofo", "--length", "7"])
    assert r.exit_code == 0 and "--format mofo holds boxes only: --length does not apply" in r.output, r.output
    r = CliRunner().invoke(app, ["targets", str(scene_video), "-o", str(tmp_path / "a"), "-j", "0", "--fps", "12"])
    assert r.exit_code == 0 and "frame folder's rate" in r.output, r.output
    r = CliRunner().invoke(app, ["targets", str(scene_video), "-o", str(tmp_path / "s"), "-j", "0", "--size", "144x256"])
    assert r.exit_code == 0 and "--size 144x256 stretches the 256x144 picture" in r.output, r.output
    r = CliRunner().invoke(app, ["targets", str(scene_video), "-o", str(tmp_path / "b"), "-j", "0", "--length", str(SCENE.frames)])
    assert r.exit_code == 0 and "too few for trajectories" in r.output, r.output
    with np.load(tmp_path / "b" / "scene.mp4.npz") as d:
        assert d["trajectories"].shape[0] == 0 and d["vectors"].shape[0] == SCENE.frames
    r = CliRunner().invoke(app, ["targets", str(scene_video), "-o", str(tmp_path / "c"), "-j", "0", "--format", "mme", "--length", str(SCENE.frames - 1)])
    assert r.exit_code == 1 and "too few for MME's trajectories" in r.output and "Traceback" not in r.output, r.output


def test_frames_too_small_for_a_patch_have_targets_and_no_motion_area(scene_video, tmp_path):
    """A frame under 16 px on a side holds no whole 16-px patch: its cells still get vectors and trajectories,
    `patch_motion` is empty and no frame has a motion area (the boxes' blur crashed on the empty grid), for an
    8x8 video and for `--size` of that kind."""
    tiny = km.encode(km.Scene(width=8, height=8, frames=8, background=(1.0, 0.0), squares=()), tmp_path / "tiny.mp4")
    t = compute_targets(tiny)
    assert t.vectors.shape == (8, 1, 1, 2) and t.trajectories.shape == (4, 1, 1, 4, 2) and t.patch_motion.shape == (8, 0, 0)
    assert np.isnan(t.frame_boxes).all() and np.isnan(t.video_box).all()
    flat = compute_targets(scene_video, TargetOptions(size=(96, 8)))
    assert flat.patch_motion.shape == (SCENE.frames, 0, 6) and np.isnan(flat.video_box).all()
    r = CliRunner().invoke(app, ["targets", str(tiny), "-o", str(tmp_path / "out"), "-j", "0", "--format", "mofo"])
    assert r.exit_code == 0 and (tmp_path / "out" / "tiny.mp4.json").is_file(), r.output


def test_a_file_cut_short_is_said_as_features_says_it(tmp_path):
    """The codec's vectors are parsed without the reader's decode: its end-of-decode checks ran nowhere, so a
    truncated H.264 file gave targets of its first frames without a word (`features` warns); and a warning
    said by the codec's pass and again by the optical-flow fallback's decode (a 1-frame video) is said once."""
    mkv = write_video(tmp_path / "long.mkv", n=120)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(mkv.read_bytes()[: mkv.stat().st_size // 2])
    t = compute_targets(cut)
    assert 10 < len(t.times) < 120 and t.info["motion_source"] == "h264 motion vectors"
    assert [w for w in t.info["warnings"] if "truncated" in w], t.info["warnings"]
    assert not [w for w in compute_targets(mkv).info["warnings"] if "truncated" in w]
    still = write_video(tmp_path / "still.mp4", n=1)
    warnings = compute_targets(still).info["warnings"]
    assert len([w for w in warnings if "only 1 frame" in w]) == 1, warnings


def test_option_values_out_of_range_are_one_line_errors_from_the_console_script(videos, tmp_path):
    """Typer's own usage errors (a range, an unknown option) come out of `mosi-tool` as one `error:` line."""
    import subprocess
    import sys

    for args, words in ((["--length", "0"], "'--length'"), (["--bogus"], "--bogus")):
        r = subprocess.run([sys.executable, "-m", "mosi_tool", "targets", str(videos), "-o", str(tmp_path), *args],
                           capture_output=True, text=True)  # fmt: skip
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], r.stderr


# --- the anchors' formats, read as their loaders read them ----------------------------------------


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers only: what MME's `compress_pickle.load(path, 'gzip')` would
    load, without running anything else from the file."""

    def find_class(self, module: str, name: str):  # type: ignore[no-untyped-def]
        if (module, name) in {("numpy", "ndarray"), ("numpy", "dtype")} or module in {"numpy.core.multiarray", "numpy._core.multiarray"}:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused: {module}.{name}")


def read_mme(traj_root: Path, video_name: str, traj_max_len: int, traj_inds: np.ndarray, traj_len: int) -> tuple[np.ndarray, np.ndarray]:
    """MME's `PredecodeTrajLoader.get_batch` for dense trajectories (m3video/feat.py), numpy only: the file
    `<root>/<video>_<traj_max_len>.gz`, a gzip pickle {traj_feat (C, T, h, w), traj_type (T, h, w)}; columns
    `traj_inds` (clamped to what is there); '(c n) t h w -> t n h w c' with n = traj_max_len, the first traj_len
    steps kept. Returns (traj_feat (t, traj_len, h, w, 2), traj_type (t, h, w))."""
    with gzip.open(traj_root / f"{video_name}_{traj_max_len}.gz", "rb") as f:
        traj_dict = _ArraysOnly(io.BytesIO(f.read())).load()
    max_available = traj_dict["traj_feat"].shape[1]
    inds = np.clip(traj_inds, 0, max_available - 1)
    feat = traj_dict["traj_feat"][:, inds]  # (c n) t h w
    c_n, t, h, w = feat.shape
    feat = feat.reshape(2, traj_max_len, t, h, w).transpose(2, 1, 3, 4, 0)  # t n h w c
    return feat[:, :traj_len], traj_dict["traj_type"][inds]


def read_mofo_box(json_path: Path, sample: str) -> tuple[int, int, int, int]:
    """MOFO's loaders: `vid_name = sample.split('/')[-1].split('.')[0]`, then
    `bb_data[vid_name][0]['labels'][0]['box2d']` -> x1, y1, x2, y2."""
    bb_data = json.loads(json_path.read_text())
    vid_name = sample.split("/")[-1].split(".")[0]
    bbox = bb_data[vid_name][0]["labels"][0]["box2d"]
    return bbox["x1"], bbox["y1"], bbox["x2"], bbox["y2"]


def test_mme_format_reads_back_through_mmes_loader(videos, tmp_path):
    out = tmp_path / "mme"
    CliRunner().invoke(app, ["targets", str(videos / "sub"), "-o", str(out), "--format", "mme", "-j", "0"])
    assert sorted(outputs(out)) == ["b.mp4_4.gz", "b.mp4_4.gz.settings"]  # its settings beside it
    t = compute_targets(videos / "sub" / "b.mp4")
    inds = np.array([0, 2, 4, 100])  # MME samples every tubelet-th frame; past the end it clamps
    feat, kind = read_mme(out, "b.mp4", 4, inds, 4)
    assert feat.dtype == np.int8 and feat.shape == (4, 4, SCENE.height // 8, SCENE.width // 8, 2)
    last = SCENE.frames - 2 - 4  # the last start MME's extractor makes (test below)
    expect = np.clip(np.rint(t.trajectories.astype(np.float32)), -20, 20)[np.minimum(inds, last)].transpose(0, 3, 1, 2, 4)
    assert np.array_equal(feat, expect.astype(np.int8))  # (t, step, h, w, (dx, dy))
    assert np.array_equal(kind, t.valid[np.minimum(inds, last)])
    assert feat[..., 0].astype(float).mean() != feat[..., 1].astype(float).mean()  # dx and dy not swapped into one


def mme_own_file(path: Path, steps: np.ndarray, valid: np.ndarray, frames: int, traj_len: int) -> None:
    """The file MME's own extractor (m3video/extract.py, `extract_traj_dense`) writes for trajectories `steps`
    (starts 0.., h, w, L, 2) px of a video of `frames` frames: `clip_len = len(vr) - 1` flows, one trajectory
    per i in `range(clip_len - traj_len)`, each '(c n) 1 h w' and clamped to +-20, concatenated along time;
    `traj_feat` int8, `traj_type` uint8."""
    columns = range(frames - 1 - traj_len)
    feat = np.stack([np.clip(steps[i], -20, 20).transpose(3, 2, 0, 1).reshape(2 * traj_len, *steps.shape[1:3]) for i in columns], axis=1)
    kind = np.stack([valid[i] for i in columns])
    with gzip.open(path, "wb") as f:
        pickle.dump({"traj_feat": feat.astype(np.int8), "traj_type": kind.astype(np.uint8)}, f)


@pytest.mark.parametrize("length", [4, 6])
def test_mme_format_at_the_end_of_a_video_reads_as_mmes_own_file(scene_video, tmp_path, length):
    """Clips whose frames reach the video's last frames, where no trajectory starts: MME's loader clamps their
    trajectory indices to the last column of the file; our file must give what MME's own file gives there."""
    out, own = tmp_path / "ours", tmp_path / "own"
    own.mkdir()
    assert CliRunner().invoke(app, ["targets", str(scene_video), "-o", str(out), "--format", "mme", "--length", str(length), "-j", "0"]).exit_code == 0
    t = compute_targets(scene_video, TargetOptions(length=length))
    frames = len(t.times)
    assert frames == SCENE.frames and len(t.start_frames) == frames - length  # we track every start there is
    mme_own_file(own / f"{scene_video.name}_{length}.gz", np.rint(t.trajectories.astype(np.float32)), t.valid, frames, length)
    tube = 2  # MME's patch_size[0]: traj_inds = inds[0::tube_length]
    for first in (0, frames - 16, frames - 9, frames - 8):  # 16-frame clips (new_length 16, new_step 1), the last ones at the end
        inds = np.minimum(np.arange(first, first + 16), frames - 1)
        ours, ours_kind = read_mme(out, scene_video.name, length, inds[0::tube], length)
        theirs, their_kind = read_mme(own, scene_video.name, length, inds[0::tube], length)
        assert np.array_equal(ours, theirs) and ours.dtype == theirs.dtype, first
        assert np.array_equal(ours_kind, their_kind) and ours_kind.dtype == their_kind.dtype == np.uint8, first
    with gzip.open(out / f"{scene_video.name}_{length}.gz", "rb") as f:
        assert _ArraysOnly(io.BytesIO(f.read())).load()["traj_feat"].shape[1] == frames - 1 - length  # MME's columns


def test_mofo_format_reads_back_through_mofos_loader(videos, tmp_path):
    out = tmp_path / "mofo"
    CliRunner().invoke(app, ["targets", str(videos), "-o", str(out), "--format", "mofo", "-j", "0"])
    assert sorted(outputs(out)) == ["a.mp4.json", "a.mp4.json.settings", "sub/b.mp4.json", "sub/b.mp4.json.settings"]
    t = compute_targets(videos / "sub" / "b.mp4")
    x1, y1, x2, y2 = read_mofo_box(out / "sub" / "b.mp4.json", str(videos / "sub" / "b.mp4"))
    assert (x1, y1, x2, y2) == (int(np.floor(t.video_box[0])), int(np.floor(t.video_box[1])), int(np.ceil(t.video_box[2])), int(np.ceil(t.video_box[3])))
    assert len(json.loads((out / "sub" / "b.mp4.json").read_text())["b"]) == SCENE.frames  # one entry per frame


def test_a_frame_where_too_little_moves_has_no_motion_area(monkeypatch):
    """Less than MIN_AREA of the frame moving (a few noisy patches) gives no box; this grid is small, so the share
    is raised to 2% (5 of its 240 patches) to hold one lone patch and its blur under it."""
    from mosi_tool.motion_targets.compute import frame_motion_boxes
    from mosi_tool.saliency import boxes

    monkeypatch.setattr(boxes, "MIN_AREA", 0.02)
    speed = np.random.default_rng(1).uniform(0, 0.1, (12, 12, 20)).astype(np.float32)
    speed[:6, 2:5, 3:6] += 3.0  # a mover of 9 patches on frames 0 to 5
    speed[9, 8, 14] += 6.0  # one patch on frame 9
    out = frame_motion_boxes(speed, (320, 192))
    assert np.isfinite(out[1:5]).all() and np.isnan(out[8:]).all()


def test_frame_boxes_hold_every_strong_mover_and_not_the_noise():
    """`frame_motion_boxes` on patch speeds made by hand (px/frame): noise everywhere, two 3x3-patch movers,
    one faster, and a single noisy patch: one box around both movers on every frame, none on still frames,
    the same boxes whatever the chunk."""
    from mosi_tool.motion_targets.compute import frame_motion_boxes

    rng = np.random.default_rng(0)
    speed = rng.uniform(0, 0.1, (30, 12, 20)).astype(np.float32)  # (F, h, w) patches of 16 px: 320x192
    speed[:20, 2:5, 3:6] += 3.0
    speed[:20, 7:10, 12:15] += 1.5
    speed[:20, 10, 1] += 3.0  # one patch: under the 0.2% of the frame a region needs beside larger ones
    boxes = frame_motion_boxes(speed, (320, 192))
    assert boxes.shape == (30, 4) and boxes.dtype == np.float32
    assert np.array_equal(boxes[3:17], np.tile([48, 32, 240, 160], (14, 1)))  # x0, y0 of the first, x1, y1 of the second
    assert np.isnan(boxes[23:]).all()  # nothing moves above the noise
    assert np.array_equal(frame_motion_boxes(speed, (320, 192), chunk=7), boxes, equal_nan=True)
    speed[:20, 7:10, 12:15] -= 1.4  # the second mover barely above the noise: the first alone
    assert np.array_equal(frame_motion_boxes(speed, (320, 192))[3:17], np.tile([48, 32, 96, 80], (14, 1)))
    # 330x200 has a partial patch column and row, which hold no patch: a box at the last whole patch reaches the edge
    corner = rng.uniform(0, 0.1, (30, 12, 20)).astype(np.float32)
    corner[:20, 8:12, 16:20] += 3.0
    assert np.array_equal(frame_motion_boxes(corner, (330, 200))[3:17], np.tile([256, 128, 330, 200], (14, 1)))


def test_frame_boxes_with_the_enclosed_speed_leave_out_a_parallax_the_camera_model_missed():
    """A residual growing smoothly down the frame (near ground under a moving camera) outweighs a mover the camera
    follows (-2 px/frame left over): the plain speed's box reaches the bottom of the frame; with the enclosed
    speed (`saliency.geodesic`) the box is the mover's, as `saliency --masks` reads it."""
    from mosi_tool.motion_targets.compute import frame_motion_boxes
    from mosi_tool.saliency.geodesic import enclosed_speed
    from mosi_tool.video.motion import MotionField

    f, h, w = 20, 12, 20  # patches of 16 px: 320x192
    v = np.zeros((f, h, w, 2), np.float32)
    v[..., 0] = np.linspace(0, 4, h, dtype=np.float32)[:, None]  # 0.36 px/frame a row: the ground
    v[:, 3:6, 8:11] = (-2.0, 0.0)
    field = MotionField(v, np.tile(np.eye(2, 3), (f, 1, 1)), np.arange(f) / 24, np.ones(f, bool), (320, 192), 16, "test")
    speed = np.hypot(v[..., 0], v[..., 1])
    plain = frame_motion_boxes(speed, (320, 192))
    assert (plain[3:17, 3] == 192).all()  # down to the bottom edge
    boxes = frame_motion_boxes(speed, (320, 192), enclosed=enclosed_speed(field))
    assert np.array_equal(boxes[3:17], np.tile([128, 48, 176, 96], (14, 1)))


def test_targets_without_trajectories_keep_every_other_array(scene_video):
    """MOFO needs only the boxes: without the trajectories (most of the time and memory) the rest is the same."""
    full, light = compute_targets(scene_video), compute_targets(scene_video, trajectories=False)
    assert light.trajectories.shape == (0, *full.trajectories.shape[1:]) and len(light.valid) == len(light.start_frames) == 0
    for name in ("vectors", "camera", "patch_motion", "frame_boxes", "video_box", "times"):
        assert np.array_equal(getattr(full, name), getattr(light, name), equal_nan=True), name


@pytest.mark.parametrize("claimed", [0, 1, 10**12])
def test_targets_do_not_depend_on_the_frame_count_a_header_claims(scene_video, monkeypatch, claimed):
    """The arrays are filled in place, sized from the header's frame count: a header that claims too few
    frames (the arrays grow, here chunk by chunk) or far too many (the first allocation is capped) changes
    nothing."""
    from mosi_tool.motion_targets import compute
    from mosi_tool.video.motion import streaming

    honest = compute_targets(scene_video)
    monkeypatch.setattr(compute, "_expected_frames", lambda info: claimed)
    monkeypatch.setattr(streaming, "CHUNK", 8)
    told = compute_targets(scene_video)
    for name, a in honest.arrays().items():
        assert np.array_equal(a, getattr(told, name), equal_nan=True), name


def test_spilled_targets_are_the_same_arrays_mapped_from_files_already_gone(scene_video, tmp_path, monkeypatch):
    """With `spill` (how `targets` runs), the per-frame arrays are made in temporary files beside the output
    and come back as read-only memory maps, so a long video's rows are not held in memory: the same values,
    in chunks and all, and no file left in the folder, after success as after a failure."""
    from mosi_tool.motion_targets import compute
    from mosi_tool.video.motion import streaming

    held = compute_targets(scene_video)
    monkeypatch.setattr(streaming, "CHUNK", 8)  # several chunks, so several appends
    short = compute_targets(scene_video, spill=tmp_path / "out" / "scene.mp4.npz")  # under SPILL_AFTER: in memory
    assert not any(isinstance(getattr(short, k), np.memmap) for k in ("trajectories", "valid", "vectors"))
    row, frame, traj = held.trajectories[0].nbytes + held.valid[0].nbytes, held.vectors[0].nbytes, held.trajectories[0].nbytes
    # the rows of a video spill together once they pass SPILL_AFTER: from the start, and at each of the three
    # arrays' takes of the third chunk (CHUNK 8 frames: 16 frames and 12 start frames before it, 8 of each in it)
    for after in (0, 16 * frame + 12 * row + 1, 24 * frame + 12 * row + 1, 24 * frame + 12 * row + 8 * traj + 1):
        monkeypatch.setattr(compute, "SPILL_AFTER", after)
        spilled = compute_targets(scene_video, spill=tmp_path / "out" / "scene.mp4.npz")
        for name, a in held.arrays().items():
            assert np.array_equal(a, getattr(short, name), equal_nan=True), name
            assert np.array_equal(a, getattr(spilled, name), equal_nan=True), (name, after)
        assert all(isinstance(getattr(spilled, k), np.memmap) for k in ("trajectories", "valid", "vectors")), after
        assert not spilled.trajectories.flags.writeable
        assert list((tmp_path / "out").iterdir()) == []  # unlinked once mapped

    calls = []

    def fail_late(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("stopped")
        return track(*args, **kwargs)

    monkeypatch.setattr(compute, "track", fail_late)
    monkeypatch.setattr(compute, "SPILL_AFTER", 0)
    with pytest.raises(RuntimeError):
        compute_targets(scene_video, spill=tmp_path / "out" / "scene.mp4.npz")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_spill_that_cannot_be_written_names_the_output(scene_video, tmp_path, monkeypatch):
    from mosi_tool.atomic import OutputError
    from mosi_tool.motion_targets import compute

    monkeypatch.setattr(compute, "SPILL_AFTER", 0)

    (tmp_path / "file").write_text("in the way")
    with pytest.raises(OutputError, match="file/scene.mp4.npz"):
        compute_targets(scene_video, spill=tmp_path / "file" / "scene.mp4.npz")


def test_a_file_of_an_earlier_revision_is_made_again(videos, tmp_path, monkeypatch):
    """The same options can give other arrays after a change of the code (`compute.REVISION`): such a file is not
    complete, and a rerun makes it again."""
    from mosi_tool.motion_targets import compute

    out = tmp_path / "t"
    monkeypatch.setattr(compute, "REVISION", compute.REVISION - 1)
    assert CliRunner().invoke(app, ["targets", str(videos / "a.mp4"), "-o", str(out), "-j", "0"]).exit_code == 0
    monkeypatch.undo()
    r = CliRunner().invoke(app, ["targets", str(videos / "a.mp4"), "-o", str(out), "-j", "0"])
    assert r.exit_code == 0 and "1 written, 0 already done" in r.output
    assert "1 file in" in r.output and "made by another version or revision of mosi-tool" in r.output  # says why
    r = CliRunner().invoke(app, ["targets", str(videos / "a.mp4"), "-o", str(out), "-j", "0"])
    assert "0 written, 1 already done" in r.output and "another version" not in r.output
    r = CliRunner().invoke(app, ["targets", str(videos / "a.mp4"), "-o", str(out), "-j", "0", "--length", "3"])
    assert "1 written" in r.output and "another version" not in r.output  # other options: remade, not for this reason


def test_targets_leave_opencvs_threads_as_they_were(scene_video):
    """The targets run OpenCV on one thread (one video per core), and give the setting back."""
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(3)
    try:
        compute_targets(scene_video, trajectories=False)
        assert cv2.getNumThreads() == 3
    finally:
        cv2.setNumThreads(before)


@pytest.mark.parametrize("fmt, option", [("mme", "--no-compensate"), ("mofo", "--size=64x48")])
def test_mme_and_mofo_files_made_with_other_options_are_made_again(videos, tmp_path, fmt, option):
    """MME and MOFO files held no settings, so a rerun with other options ("0 written, 2 already done") kept
    the bytes of the old ones; their settings now lie beside them (`<file>.settings`), checked as an .npz's."""
    out = tmp_path / fmt
    run = lambda *a: CliRunner().invoke(app, ["targets", str(videos), "-o", str(out), "--format", fmt, "-j", "0", *a])  # noqa: E731
    assert "2 written" in run().output
    first = outputs(out)
    settings = out / f"a.mp4{'_4.gz' if fmt == 'mme' else '.json'}.settings"
    assert json.loads(settings.read_text())["settings"]["compensate"] is True
    assert "0 written, 2 already done" in run().output
    r = run(option)
    assert "2 written, 0 already done" in r.output, r.output
    assert outputs(out) != first and "0 written, 2 already done" in run(option).output
    if fmt == "mofo":  # the trajectories' options, which it does not hold
        assert "0 written, 2 already done" in run(option, "--length", "3", "--no-compensate").output


def test_a_rerun_says_when_it_keeps_files_that_do_not_record_their_options(videos, tmp_path):
    """MME and MOFO files made before their settings were recorded beside them cannot be told stale: a rerun
    keeps them, and says so."""
    out = tmp_path / "mofo"
    CliRunner().invoke(app, ["targets", str(videos), "-o", str(out), "--format", "mofo", "-j", "0"])
    for path in out.rglob("*.settings"):
        path.unlink()
    r = CliRunner().invoke(app, ["targets", str(videos), "-o", str(out), "--format", "mofo", "-j", "0", "--size", "64x48"])
    assert "0 written, 2 already done" in r.output and "2 mofo file(s) already in" in r.output and "--overwrite" in r.output


# --- masking and the dataset -------------------------------------------------------------------------


def test_motion_guided_mask_hides_the_shares_asked_for():
    motion = np.zeros((8, 6, 10), np.float32)
    motion[:, 1:4, 2:6] = 0.8  # 12 tokens in the motion area
    mask = motion_guided_mask(motion, ratio=0.9, inside_ratio=0.75, rng=0)
    assert mask.shape == (4, 6, 10) and mask.dtype == bool
    inside = np.zeros((6, 10), bool)
    inside[1:4, 2:6] = True
    for k in range(4):
        assert mask[k].sum() == 54  # 90% of 60
        assert mask[k][inside].sum() == 9  # 75% of the 12 inside
    assert not np.array_equal(mask[0], mask[1])  # drawn per time step
    assert np.array_equal(mask, motion_guided_mask(motion, rng=0))  # reproducible with the same seed
    with pytest.raises(ValueError, match="multiple of tubelet"):
        motion_guided_mask(motion[:3])
    for tubelet in (0, -2):
        with pytest.raises(ValueError, match=f"tubelet must be at least 1, got {tubelet}"):
            motion_guided_mask(motion, tubelet=tubelet)
    motion[0, 0, 0] = np.nan  # a NaN token was neither inside nor outside: never hidden, the ratio not met
    with pytest.raises(ValueError, match="1 NaN"):
        motion_guided_mask(motion)
    motion[0, 0, 0] = 0
    tubes = motion_guided_mask(motion, ratio=0.9, inside_ratio=0.75, rng=0, tube=True)  # VideoMAE's tube masking
    assert tubes.shape == (4, 6, 10) and all(np.array_equal(tubes[0], tubes[k]) for k in range(4))
    assert tubes[0].sum() == 54 and tubes[0][inside].sum() == 9


def test_dataset_yields_clips_with_their_targets(videos, tmp_path):
    from torch.utils.data import DataLoader

    from mosi_tool.motion_targets.dataset import TargetClips

    out = tmp_path / "t"
    CliRunner().invoke(app, ["targets", str(videos), "-o", str(out), "-j", "0", "--starts", "2"])
    ds = TargetClips([videos / "a.mp4", videos / "sub" / "b.mp4"], out, frames=8, stride=2, random=False)
    assert len(ds) == 1 and ds.missing == [str(videos / "sub" / "b.mp4")]  # a file given directly: DIR/<its name>.npz
    ds = TargetClips([videos], out, frames=8, stride=2, random=False)
    assert len(ds) == 2 and [Path(m).name for m in ds.missing] == ["broken.mp4"]
    clip, tg = ds[[j.path for j in ds.jobs].index(str(videos / "sub" / "b.mp4"))]
    assert tuple(clip.shape) == (8, SCENE.height, SCENE.width, 3)
    frames = tg["frames"].numpy()
    assert np.array_equal(np.diff(frames), [2] * 7)
    t = compute_targets(videos / "sub" / "b.mp4", TargetOptions(starts=2))
    assert np.array_equal(tg["vectors"].numpy(), t.vectors[frames])
    rows = [list(t.start_frames).index(f) for f in frames if f in t.start_frames]
    assert np.array_equal(tg["trajectories"].numpy()[np.isin(frames, t.start_frames)], t.trajectories[rows])
    assert not tg["valid"].numpy()[~np.isin(frames, t.start_frames)].any()
    batch = next(iter(DataLoader(TargetClips([videos / "a.mp4"], out, frames=4, stride=1), batch_size=2)))
    assert tuple(batch[0].shape) == (1, 4, 96, 128, 3) and tuple(batch[1]["trajectories"].shape)[:2] == (1, 4)


def test_dataset_draws_a_new_clip_each_time_repeatably_and_reads_the_targets_stream(scene_video, tmp_path):
    import av
    import torch

    from mosi_tool.motion_targets.dataset import TargetClips
    from mosi_tool.video.decode import VideoReader

    out = tmp_path / "t"
    CliRunner().invoke(app, ["targets", str(scene_video), "-o", str(out), "-j", "0"])
    ds = TargetClips([scene_video], out, frames=4, stride=1)  # num_workers=0: the main process draws
    torch.manual_seed(1)
    first = [int(ds[0][1]["frames"][0]) for _ in range(4)]
    torch.manual_seed(1)
    assert [int(ds[0][1]["frames"][0]) for _ in range(4)] == first and len(set(first)) > 1
    two = tmp_path / "two.mkv"  # two video streams of different sizes: the targets of the second
    with av.open(str(two), "w") as f:
        streams = [f.add_stream("libx264", rate=10) for _ in range(2)]
        for s, (w, h) in zip(streams, ((64, 48), (96, 64))):
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(12):
            for s, shift in zip(streams, (0, 100)):
                image = np.full((s.height, s.width, 3), (i * 9 + shift) % 256, np.uint8)
                f.mux(s.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        for s in streams:
            f.mux(s.encode())
    CliRunner().invoke(app, ["targets", str(two), "-o", str(out), "-j", "0", "--stream", "1"])
    clip, tg = TargetClips([two], out, frames=4, stride=2, random=False)[0]
    truth = [fr.image for fr in VideoReader(two, stream=1).frames()]
    assert tuple(clip.shape) == (4, 64, 96, 3)
    assert all(np.array_equal(clip[k].numpy(), truth[int(i)]) for k, i in enumerate(tg["frames"]))


def test_dataset_reads_a_frame_folder_whose_frames_differ_in_size(tmp_path):
    """A frame folder with one frame of another size (an export that went wrong): its targets are made, and
    every frame of a clip comes at the folder's size, as a video's frames after a resolution change do, with a
    warning (TargetClips failed in np.stack: 'all input arrays must have the same shape')."""
    from PIL import Image

    from mosi_tool.motion_targets.dataset import TargetClips
    from mosi_tool.video.decode import VideoReader

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(8):
        size = (80, 40) if i == 5 else (64, 48)
        Image.fromarray(np.full((size[1], size[0], 3), i * 20, np.uint8)).save(folder / f"{i:05d}.png")
    reader = VideoReader(folder, fps=10)
    assert {f.image.shape for f in reader.frames()} == {(48, 64, 3)}
    assert any("frame 00005.png is 80x40" in w for w in reader.warnings), reader.warnings
    out = tmp_path / "t"
    result = CliRunner().invoke(app, ["targets", str(folder), "-o", str(out), "-j", "0", "--fps", "10"])
    assert result.exit_code == 0, result.output
    clip, tg = TargetClips([folder], out, frames=8, stride=1, random=False)[0]
    assert tuple(clip.shape) == (8, 48, 64, 3) and int(clip[6, 0, 0, 0]) == 120


@pytest.mark.slow  # a local Ray cluster starts and stops: 15-30 s on 2 shared cores
def test_ray_backend_writes_the_same_bytes_and_failures(videos, tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install mosi-tool[ray])")
    from mosi_tool.motion_targets.run import make_targets

    local = make_targets([videos], tmp_path / "local", workers=0, progress=False)
    ray = make_targets([videos], tmp_path / "ray", workers=2, backend="ray", progress=False)
    assert (ray.ok, ray.failed) == (local.ok, local.failed) == (2, 1)
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")
    assert (tmp_path / "ray" / "failures.jsonl").read_text() == (tmp_path / "local" / "failures.jsonl").read_text()


def test_video_box_is_not_one_flicker_from_the_whole_frame():
    """`video_box` leaves out the outer tenth of the frame boxes' edges: a box that flickers in one frame of
    twenty (a corner, the whole frame) does not make the motion area the whole frame, as a plain union did."""
    from mosi_tool.motion_targets.compute import union_box

    boxes = np.tile(np.array([[100.0, 50.0, 200.0, 150.0]], np.float32), (20, 1))
    boxes += np.arange(20, dtype=np.float32)[:, None]  # the object drifts right and down
    boxes[7] = (0.0, 0.0, 640.0, 480.0)
    boxes[3] = np.nan  # no motion in that frame
    box = union_box(boxes)
    assert 100 <= box[0] <= 103 and 50 <= box[1] <= 53 and 216 <= box[2] <= 219 and 166 <= box[3] <= 169, box
    assert np.array_equal(union_box(boxes, share=0.0), [0, 0, 640, 480])
    assert np.isnan(union_box(np.full((3, 4), np.nan, np.float32))).all()


def test_the_float16_conversion_gives_numpys_bits():
    from mosi_tool.motion_targets.compute import to_float16

    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2**32, 2_000_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    edge = np.array([0.0, -0.0, 6.1e-5, 5.96e-8, 2.98e-8, 65504.0, 65520.0, 1e9, -1e9, 0.1, 1 / 3], np.float32)
    values = np.concatenate([bits[np.isfinite(bits)], edge, rng.normal(0, 20, 100_000).astype(np.float32)])
    with np.errstate(over="ignore"):
        want = values.astype(np.float16)
    assert np.array_equal(to_float16(values).view(np.uint16), want.view(np.uint16))
    steps = rng.normal(0, 3, (5, 4, 6, 4, 2)).astype(np.float32)
    assert to_float16(steps).shape == steps.shape and np.array_equal(to_float16(steps), steps.astype(np.float16))
    assert to_float16(np.zeros((0, 3), np.float32)).dtype == np.float16
    for shape in [(1, 1), (1, 1, 1), (3, 1, 1), (4,), (2, 2)]:  # OpenCV reads up to 4 values as a scalar
        tiny = rng.normal(0, 3, shape).astype(np.float32)
        assert np.array_equal(to_float16(tiny), tiny.astype(np.float16)), shape
    out = np.zeros((7, *steps.shape[1:]), np.float16)
    to_float16(steps, out=out[2 : 2 + len(steps)])  # a slice of a larger array, written in place
    assert np.array_equal(out[2:7], steps.astype(np.float16)) and not out[:2].any()


@pytest.mark.parametrize("case", ["mp4", "b-frames-mkv", "joined-ts", "folder"])
def test_dataset_clips_late_in_a_video_seek_and_read_the_same_frames(tmp_path, case):
    """A clip is decoded from the keyframe before it, not from the start, where the targets file says the
    times were the stream's own (`times_as_stored`); the frames are those of a decode from the start."""
    from mosi_tool.motion_targets.dataset import TargetClips, _read_frames, _seek_frames
    from mosi_tool.video.decode import VideoReader

    from .test_time_and_pixels import joined_ts, moving_square, write

    if case == "joined-ts":
        video = joined_ts(tmp_path, n=60)  # the second part's clock restarts: mended, so no seeking
    elif case == "folder":
        from PIL import Image

        video = tmp_path / "frames"
        video.mkdir()
        for i, img in enumerate(moving_square(40, 64, 48)):
            Image.fromarray(img).save(video / f"{i:05d}.png")
    else:
        video = write(tmp_path / ("v.mp4" if case == "mp4" else "v.mkv"), moving_square(120, 96, 64), options={"g": "10"})
    out = tmp_path / "t"
    result = CliRunner().invoke(app, ["targets", str(video), "-o", str(out), "-j", "0"])
    assert result.exit_code == 0, result.output
    data = np.load(next(out.glob("*.npz")))
    info = json.loads(str(data["info"]))
    assert info["times_as_stored"] is (case != "joined-ts")
    times, n = data["times"], len(data["times"])
    reader = VideoReader(video)
    size = (reader.info.width, reader.info.height)
    seeks = []
    frames_from = VideoReader.frames_from

    def counted(self, time, *a, **k):
        seeks.append(time)
        return frames_from(self, time, *a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(VideoReader, "frames_from", counted)
        for idx in (np.arange(n - 8, n), np.arange(n // 2, n // 2 + 12, 3), np.array([0, 1, 1, 2]), np.array([n - 1] * 3)):
            decoded = _read_frames(str(video), idx, size)
            assert np.array_equal(_read_frames(str(video), idx, size, times=times if info["times_as_stored"] else None), decoded)
            if info["times_as_stored"]:  # the seek itself found every frame (no fall-back to the start)
                assert np.array_equal(_seek_frames(VideoReader(video), idx, None, times), decoded)
        clip, tg = TargetClips([video], out, frames=4, stride=3, random=False)[0]
    assert np.array_equal(clip.numpy(), _read_frames(str(video), tg["frames"].numpy(), size))
    assert len(seeks) == (0 if case == "joined-ts" else 9)
    if case == "mp4":  # the seek lands at most a GOP (10 frames) before the clip: decoding skips the rest
        first = next(iter(VideoReader(video).frames_from(float(times[n - 8]))))
        assert times[n - 8] - 10.5 / 25 <= first.time <= times[n - 8] + 1e-6


def test_a_clip_whose_seek_fails_is_decoded_from_the_start(tmp_path, monkeypatch):
    from mosi_tool.motion_targets.dataset import _read_frames
    from mosi_tool.video.decode import VideoError, VideoReader

    from .test_time_and_pixels import moving_square, write

    video = write(tmp_path / "v.mp4", moving_square(30, 64, 48))
    idx = np.arange(20, 28)
    times = np.arange(30) / 25
    decoded = _read_frames(str(video), idx, (64, 48))

    def refuse(self, *a, **k):
        raise VideoError(self.path, "no timestamps to seek by")
        yield

    monkeypatch.setattr(VideoReader, "frames_from", refuse)
    assert np.array_equal(_read_frames(str(video), idx, (64, 48), times=times), decoded)


def test_dataset_pairs_a_folder_made_from_a_list_file(videos, tmp_path):
    """`targets --list` names each output from the list's folder: the dataset, given the same list, finds them."""
    from mosi_tool.motion_targets.dataset import TargetClips

    (tmp_path / "data" / "cls").mkdir(parents=True)
    (tmp_path / "data" / "cls" / "a.mp4").write_bytes((videos / "a.mp4").read_bytes())
    listed = tmp_path / "train.txt"
    listed.write_text("data/cls/a.mp4\n")
    out = tmp_path / "t"
    assert CliRunner().invoke(app, ["targets", "--list", str(listed), "-o", str(out), "-j", "0"]).exit_code == 0
    assert (out / "data" / "cls" / "a.mp4.npz").is_file()
    ds = TargetClips([], out, frames=4, stride=1, random=False, list_file=listed)
    assert len(ds) == 1 and ds.missing == []
    clip, tg = ds[0]
    assert tuple(clip.shape) == (4, 96, 128, 3)
    assert np.array_equal(tg["vectors"].numpy(), np.load(out / "data" / "cls" / "a.mp4.npz")["vectors"][tg["frames"].numpy()])


def test_dataset_refuses_a_video_changed_since_its_targets_were_made(videos, tmp_path):
    """A video replaced after `targets` ran no longer has the targets' frames: the item says so, naming both
    files, instead of yielding another video's frames (or its last frame repeated) beside the old targets."""
    import os

    from mosi_tool.motion_targets.dataset import TargetClips

    video = tmp_path / "v.mp4"
    video.write_bytes((videos / "sub" / "b.mp4").read_bytes())
    out = tmp_path / "t"
    assert CliRunner().invoke(app, ["targets", str(video), "-o", str(out), "-j", "0"]).exit_code == 0
    ds = TargetClips([video], out, frames=4, stride=2, random=False)
    assert tuple(ds[0][0].shape) == (4, SCENE.height, SCENE.width, 3)  # unchanged: read as before
    os.utime(video, ns=(0, 0))  # only its modification time changed, as a copy to another disk changes it: read
    assert tuple(ds[0][0].shape) == (4, SCENE.height, SCENE.width, 3)
    video.write_bytes((videos / "a.mp4").read_bytes())  # another, shorter video under the same name
    with pytest.raises(ValueError, match=r"v\.mp4: the video changed since its targets file .*v\.mp4\.npz was made \(size"):
        ds[0]
    assert CliRunner().invoke(app, ["targets", str(video), "-o", str(out), "-j", "0"]).exit_code == 0  # remade
    assert tuple(ds[0][0].shape) == (4, 96, 128, 3)


def test_anchor_formats_say_when_their_loaders_read_another_picture(videos, tmp_path):
    """MME's and MOFO's loaders decode with decord, which ignores non-square pixels and rotation: for such a video
    the command says that their clips and these targets (of the picture as displayed) do not line up."""
    from fractions import Fraction

    from .test_time_and_pixels import moving_square, write_sar

    (tmp_path / "in").mkdir()
    sar = write_sar(tmp_path / "in" / "pal.mp4", moving_square(12, 96, 64), Fraction(16, 11))  # shown 140x64
    (tmp_path / "in" / "a.mp4").write_bytes((videos / "a.mp4").read_bytes())  # square pixels, upright: nothing to say
    for fmt in ("mme", "mofo"):
        result = CliRunner().invoke(app, ["targets", str(tmp_path / "in"), "-o", str(tmp_path / fmt), "--format", fmt, "-j", "0"])
        said = [line for line in result.output.splitlines() if "decord" in line]
        assert len(said) == 1 and said[0].startswith(f"warning: {sar}: --format {fmt}: ") and "non-square pixels, SAR 16:11" in said[0]
        assert "140x64 picture as displayed" in said[0] and "96x64 picture as stored" in said[0]
    result = CliRunner().invoke(app, ["targets", str(tmp_path / "in"), "-o", str(tmp_path / "npz"), "-j", "0"])
    assert "decord" not in result.output  # our own file is for the picture as displayed, as its info says
    info = json.loads(str(np.load(tmp_path / "npz" / "pal.mp4.npz")["info"]))
    assert info["stored_size"] == [96, 64] and info["displayed_size"] == [140, 64]


def test_anchor_formats_say_when_a_video_is_stored_rotated(tmp_path):
    rotated = bugcase("portrait_rotated90.mp4")
    result = CliRunner().invoke(app, ["targets", str(rotated), "-o", str(tmp_path), "--format", "mme", "-j", "0"])
    assert result.exit_code == 0 and "rotated 90 degrees" in result.output
    assert "180x320 picture as displayed" in result.output and "320x180 picture as stored" in result.output


def test_a_video_whose_b_frames_carry_no_vectors_is_said_and_moves(scene_video, tmp_path):
    """MPEG-4 Part 2 (Xvid, DivX) B-frames export no vectors: their motion comes from the P-frames around them
    (not (0, 0)), a trajectory through at most 5 of them in a row stays valid (interpolated over so few frames),
    and the file's warnings say so."""
    from .conftest import encode_frames

    scene = km.Scene(width=128, height=96, frames=20, background=(1.5, 0.5), squares=())
    path = encode_frames(tmp_path / "x.avi", km.render(scene), rate=25, codec="mpeg4", options={"bf": "2", "qscale": "3", "g": "12"})
    t = compute_targets(path)
    said = [w for w in t.info["warnings"] if "carry no motion vectors of their own" in w]
    assert len(said) == 1 and "B-frames of MPEG-4 Part 2" in said[0]
    assert np.allclose(np.median(t.vectors[1:].astype(np.float32).reshape(-1, 2), axis=0), (1.5, 0.5), atol=0.3)
    # I B B P B B P B B P B B I B B ...: runs of frames without vectors are 2 (B B) or 5 (B B I B B) long and all
    # bridged; only the starts before the first P-frame are not valid, and the points in the strip the pan brings
    # in at the left edge (the first cell and its neighbour: `field.entering_cells`) or that leave at the right
    assert t.valid[2:, 2:, 2:-1].mean() > 0.9
    assert not t.valid[:2].any() and not t.valid[:, :, :2].any()
    assert not [w for w in compute_targets(scene_video).info["warnings"] if "no motion vectors" in w]  # H.264: silent


def test_dataset_names_a_targets_file_it_cannot_read(videos, tmp_path):
    """A targets file cut short (a copy interrupted) or another tool's .npz under the name: one ValueError naming
    it, not zipfile's "File is not a zip file" or a KeyError."""
    from mosi_tool.motion_targets.dataset import TargetClips

    out = tmp_path / "t"
    assert CliRunner().invoke(app, ["targets", str(videos / "a.mp4"), "-o", str(out), "-j", "0"]).exit_code == 0
    made = out / "a.mp4.npz"
    whole = made.read_bytes()
    ds = TargetClips([videos / "a.mp4"], out, frames=4, stride=1)
    made.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=r"a\.mp4\.npz: not a readable targets file \(.*\): run `mosi-tool targets` again"):
        ds[0]
    np.savez(made, features=np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"a\.mp4\.npz: not a targets file \(no trajectories, .*times"):
        ds[0]


def test_a_command_stopped_with_sigterm_leaves_no_temporary_rows(scene_video, tmp_path):
    """SIGTERM (a scheduler stopping the job, `kill`) while a video's rows are being spilled: the command ran
    without a SIGTERM handler, so Python died at once and the hidden temporary files stayed beside the output."""
    import subprocess
    import sys

    code = (
        "import os, signal, sys\nimport mosi_tool.motion_targets.compute as c\nfrom mosi_tool.cli import main\n"
        "fields, out, c.SPILL_AFTER = c.iter_fields, sys.argv[2], 0\n"
        "def stopped(*a, **k):\n    it = fields(*a, **k)\n    yield next(it)\n"
        "    print('spilled', len([n for n in os.listdir(out) if n.endswith('.tmp')]), flush=True)\n"
        "    signal.raise_signal(signal.SIGTERM)\n    yield from it\n"
        "c.iter_fields = stopped\n"
        "sys.argv = ['mosi-tool', 'targets', sys.argv[1], '-o', sys.argv[2], '-j', '0']\nmain()\n"
    )  # fmt: skip
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-c", code, str(scene_video), str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 143 and "spilled 3" in r.stdout, r.stdout + r.stderr
    assert [p.name for p in out.iterdir() if p.name != "failures.jsonl.lock"] == [], r.stderr


def test_the_targets_figure_of_a_short_video_picks_frames_it_has(scene_video, tmp_path):
    """`python tools/targets_figure.py VIDEO --out X.png` on a video shorter than 86 frames (most DAVIS
    sequences) stopped with "--frames must lie in 0..N": its default start frames 10,40,70 are camel's."""
    import runpy

    figure = runpy.run_path(str(Path(__file__).parents[1] / "tools" / "targets_figure.py"))
    assert figure["default_starts"](100) == [10, 40, 70] and figure["default_starts"](20) == [3, 10, 17]
    figure["main"]([str(scene_video), "--out", str(tmp_path / "fig.png")])  # 36 frames: starts 0..20
    assert (tmp_path / "fig.png").stat().st_size > 0


def test_info_records_the_first_frames_timestamp_and_the_frames_lost():
    """`times` count from the first frame's own timestamp: the file records it (`start_time`, as `features`'
    info does), so `times + start_time` are the container's timestamps, and `lost_frames` counts the frames a
    damaged part lost (the warning said so; the file did not)."""
    import av

    video = bugcase("damaged_middle.ts")  # MPEG-TS starting at 1.6 s, 5 frames lost to garbage in its middle
    t = mosi_tool.targets(video)
    with av.open(str(video)) as c:
        first = next(iter(c.decode(video=0))).time
    assert t.info["start_time"] == pytest.approx(first) and first > 1
    assert t.info["lost_frames"] == 5


def test_options_from_numpy_numbers_are_written_and_a_fraction_is_refused(tmp_path):
    """Options read from a numpy config (np.int64 length, np.bool_ compensate) make the same file as plain
    ones (every video failed after its whole computation: 'Object of type int64 is not JSON serializable');
    a length of 2.5 is a ValueError naming the option, not a TypeError from deep inside."""
    from mosi_tool.motion_targets.run import make_targets

    video = write_video(tmp_path / "v.mp4", n=12)
    plain = make_targets([video], tmp_path / "plain", TargetOptions(length=3, starts=2), workers=0, progress=False)
    numpy = make_targets([video], tmp_path / "numpy", TargetOptions(length=np.int64(3), starts=np.int32(2), compensate=np.bool_(True)),
                         workers=0, progress=False)  # fmt: skip
    assert (plain.ok, numpy.ok, numpy.errors) == (1, 1, [])
    assert (tmp_path / "plain" / "v.mp4.npz").read_bytes() == (tmp_path / "numpy" / "v.mp4.npz").read_bytes()
    with pytest.raises(ValueError, match="--length must be a whole number, got 2.5"):
        TargetOptions(length=2.5)


def test_targets_are_made_shot_by_shot_at_scene_cuts(tmp_path):
    """Two shots (tests.test_shots.montage, a cut at frame 16): the trajectories that would cross the cut are not
    `valid` (they followed the other shot's motion), the frame boxes' time average stops at it (without: the first
    shot's last frames boxed both movers), and `cuts` says where; `--no-cuts` takes the video as one shot."""
    from tests.test_shots import montage

    path, n = montage(tmp_path)
    shots, whole = mosi_tool.targets(path), mosi_tool.targets(path, cuts=False)
    assert np.flatnonzero(shots.cuts).tolist() == [n] and not whole.cuts.any()
    L = shots.trajectories.shape[3]
    for s in range(n - L - 1, n + 1):
        row = int(np.flatnonzero(shots.start_frames == s)[0])
        crosses = s < n <= s + L
        assert shots.valid[row].any() != crosses, s  # every point of a crossing start invalid, most of the others valid
        assert whole.valid[row].mean() > 0.9
    def iou(box: np.ndarray, t: int) -> float:  # with the mover's own box at frame t (montage's squares)
        x, y = (30 + 3 * t, 40) if t < n else (220 - 3 * (t - n), 110)
        inter = max(0, min(box[2], x + 64) - max(box[0], x)) * max(0, min(box[3], y + 64) - max(box[1], y))
        return inter / ((box[2] - box[0]) * (box[3] - box[1]) + 64 * 64 - inter)

    assert all(iou(shots.frame_boxes[t], t) >= 0.5 for t in range(n - 3, n + 3)), shots.frame_boxes[n - 3 : n + 3]
    np.testing.assert_array_equal(shots.frame_boxes[n : n + 3], [[208, 112, 288, 176]] * 3)  # 16-px patches
    assert whole.frame_boxes[n - 1].tolist() == [64, 32, 288, 176]  # both
    assert json.loads(TargetOptions().to_json())["cuts"] is True and json.loads(TargetOptions(cuts=False).to_json())["cuts"] is False
    field = mosi_tool.motion(path)  # as `targets` makes it
    assert field.cuts is not None and np.flatnonzero(field.cuts).tolist() == [n] and mosi_tool.motion(path, cuts=False).cuts is None
    np.testing.assert_array_equal(field.vectors[:, : shots.vectors.shape[1], : shots.vectors.shape[2]].astype(np.float16), shots.vectors)


def test_a_file_made_before_the_cuts_option_is_made_again_as_other_code(videos, tmp_path):
    """A file whose settings lack an option added since (`cuts`) counts as made by other code (remade, and said so),
    not as made with other options."""
    from mosi_tool.motion_targets.files import OTHER_CODE, npz_state, write_targets

    out = tmp_path / "a.npz"
    opts = TargetOptions()
    t = compute_targets(videos / "a.mp4", opts)
    old = json.loads(opts.to_json())
    del old["cuts"]
    old["revision"] -= 1

    class Before(TargetOptions):
        def to_json(self) -> str:
            return json.dumps(old, sort_keys=True)

    write_targets(out, t, Before())
    assert npz_state(out, opts) == OTHER_CODE
    assert npz_state(out, TargetOptions(length=3)) == ""


def test_dataset_clips_lie_within_one_shot(tmp_path):
    """`TargetClips` draws no clip across a scene cut when a shot is long enough, and gives the clip's `cuts`."""
    from mosi_tool.motion_targets.dataset import TargetClips
    from tests.test_shots import montage

    path, n = montage(tmp_path)
    out = tmp_path / "t"
    assert CliRunner().invoke(app, ["targets", str(path), "-o", str(out), "-j", "0"]).exit_code == 0
    ds = TargetClips([path], out, frames=6, stride=2)  # 11 frames: shots of 16 hold one
    for _ in range(40):
        _, tg = ds[0]
        frames = tg["frames"].numpy()
        assert frames[-1] < n or frames[0] >= n, frames
        assert tg["cuts"].numpy().tolist() == [f == n for f in frames]
    _, tg = TargetClips([path], out, frames=6, stride=2, random=False)[0]
    assert tg["frames"].numpy()[0] >= n or tg["frames"].numpy()[-1] < n
    long = TargetClips([path], out, frames=12, stride=2)  # 23 frames: longer than either shot, so it spans the cut
    _, tg = long[0]
    frames = tg["frames"].numpy()
    assert frames[0] < n <= frames[-1]
    at = int(np.searchsorted(frames, n))  # the first of the second shot's frames in the clip
    assert tg["cuts"].numpy().tolist() == [k == at for k in range(len(frames))]  # whether or not frame n itself is drawn


def test_vectors_of_blocks_pointing_two_frames_back_are_measured_not_doubled(tmp_path):
    """A textured square at (3, 1) px/frame, x264 P-frames only (crf 18): x264 points the square's blocks at the
    frame two back, and the estimate from the vectors alone (FFmpeg says only "past") read them as one frame
    back: (6, 2) px/frame on 66% of the square's cells (a new user's case; trajectories' steps 4-5.6 px). The
    reference frame measured on the decoded pictures (`--measure-references`, the default) gives (3, 1)."""
    h, w, n, side = 240, 320, 40, 48
    bg = (texture(h, w, seed=3, scale=8).astype(np.int16) // 2 + 40).astype(np.uint8)
    fg = np.clip(texture(side, side, seed=9, scale=4).astype(np.int16) // 2 + 120, 0, 255).astype(np.uint8)
    fg[..., 0] = 250
    frames = []
    for t in range(n):
        img = bg.copy()
        img[60 + t : 60 + t + side, 40 + 3 * t : 40 + 3 * t + side] = fg
        frames.append(img)
    path = encode_frames(tmp_path / "p.mp4", frames, 25, options={"crf": "18", "bf": "0", "x264-params": "bframes=0", "g": "50"})

    def off(vectors: np.ndarray) -> float:  # share of the square's inner cells more than 1 px/frame from (3, 1)
        cells = np.concatenate([vectors[t, (68 + t) // 8 : (100 + t) // 8, (48 + 3 * t) // 8 : (80 + 3 * t) // 8].reshape(-1, 2)
                                for t in range(1, n)])  # fmt: skip
        return float((np.linalg.norm(cells - (3, 1), axis=1) > 1).mean())

    assert off(mosi_tool.targets(path).vectors) < 0.05  # measured 0.00
    assert off(mosi_tool.targets(path, measure_references=False).vectors) > 0.3  # estimated: 0.66
    assert off(mosi_tool.motion(path).vectors) < 0.05
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["targets", str(path), "--out-dir", str(out), "--estimate-references"])
    assert r.exit_code == 0, r.output
    with np.load(out / "p.mp4.npz") as data:
        assert off(data["vectors"]) > 0.3 and json.loads(str(data["settings"]))["measure_references"] is False
