"""DAVIS-style saliency evaluation on a generated DAVIS-layout folder (frames, masks and mp4s)."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mosi_tool import load_model
from mosi_tool.cli import app
from mosi_tool.evaluation.davis import check_counts, find_sequences, load_masks
from mosi_tool.evaluation.saliency_eval import SaliencyEvalConfig, evaluate_saliency
from mosi_tool.evaluation.saliency_report import notes, verdict

from .conftest import encode_frames, texture

W, H, SQ, N = 128, 96, 28, 12


def sequence(kind):
    """Frames and masks: 'static' = a square moving right on a still background; 'pan' = the background
    pans left 6 px/frame while the square moves down. The last mask is empty (the object left)."""
    bg = texture(H, W + 6 * N, seed=7)
    fg = texture(SQ, SQ, seed=8, scale=3)
    frames, masks = [], []
    for i in range(N):
        img = bg[:, 6 * i : 6 * i + W].copy() if kind == "pan" else bg[:, :W].copy()
        x, y = (8 + 5 * i, 4) if kind == "static" else (8, 8 + 4 * i)
        img[y : y + SQ, x : x + SQ] = fg
        mask = np.zeros((H, W), np.uint8)
        if i < N - 1:
            mask[y : y + SQ, x : x + SQ] = 255
        frames.append(img)
        masks.append(mask)
    return frames, masks


def write_davis(root, with_mp4=True):
    for kind in ("static", "pan"):
        frames, masks = sequence(kind)
        fdir, adir = root / "JPEGImages" / "480p" / kind, root / "Annotations" / "480p" / kind
        fdir.mkdir(parents=True)
        adir.mkdir(parents=True)
        for i, (f, m) in enumerate(zip(frames, masks)):
            Image.fromarray(f).save(fdir / f"{i:05d}.jpg", quality=95)
            Image.fromarray(m).save(adir / f"{i:05d}.png")
        if with_mp4:
            (root / "mp4").mkdir(exist_ok=True)
            encode_frames(root / "mp4" / f"{kind}.mp4", frames, options={"crf": "12"})
    return root


@pytest.fixture(scope="module")
def davis(tmp_path_factory):
    return write_davis(tmp_path_factory.mktemp("davis"))


@pytest.fixture(scope="module")
def report(davis, energy_ckpt):
    engine = load_model(energy_ckpt, device="cpu")
    cfg = SaliencyEvalConfig(targets=("motion", "pred"), batch_size=4, camera_threshold=2.0)
    return evaluate_saliency(engine, find_sequences(davis), cfg)


def method(report, name):
    return next(m for m in report["methods"] if m["name"] == name)


def test_every_method_is_scored_on_every_sequence(report):
    names = [m["name"] for m in report["methods"]]
    assert names == ["MoSI (motion)", "MoSI (motion, stabilize mv)", "MoSI (motion, stabilize auto)", "MoSI (pred)",
                     "MoSI (pred, stabilize mv)", "MoSI (pred, stabilize auto)", "random init (motion)", "random init (pred)",
                     "MoSI (motion) x motion vectors", "MoSI (pred) x motion vectors", "motion vectors", "centre prior",
                     "frame difference", "flow magnitude", "compensated flow", "motion vectors (uncompensated)",
                     "motion vectors without the enclosed speed"]  # fmt: skip
    for m in report["methods"]:
        assert set(m["per_sequence"]) == {"static", "pan"}
        assert all(s["frames"] == N - 1 for s in m["per_sequence"].values())  # the empty-mask frame is skipped
        assert m["ms_per_frame"] > 0 or m["name"] == "centre prior"
    seqs = {s["name"]: s for s in report["sequences"]}
    assert seqs["static"]["scored"] == N - 1 and seqs["static"]["size"] == [W, H]


def test_camera_motion_is_detected_from_the_background(report):
    seqs = {s["name"]: s for s in report["sequences"]}
    assert seqs["pan"]["moving_camera"] and seqs["pan"]["background_motion"] == pytest.approx(6, abs=1.5)
    assert not seqs["static"]["moving_camera"] and seqs["static"]["background_motion"] < 1
    assert report["subsets"] == {"all": ["pan", "static"], "static camera": ["static"], "moving camera": ["pan"]}


def test_motion_maps_beat_the_centre_prior_where_the_camera_is_still(report):
    # The hand-built model's maps are frame differences: they must find the moving square.
    mosi = method(report, "MoSI (motion)")["per_sequence"]["static"]
    centre = method(report, "centre prior")["per_sequence"]["static"]
    assert mosi["auc"] > centre["auc"] + 0.1 and mosi["nss"] > centre["nss"]
    # Under a pan, compensated flow finds the object better than raw flow magnitude.
    pan = {m["name"]: m["per_sequence"]["pan"]["auc"] for m in report["methods"]}
    assert pan["compensated flow"] > pan["flow magnitude"]
    assert report["best_target"] in ("motion", "pred")


def test_camera_compensation_finds_the_object_under_a_pan(report):
    pan = {m["name"]: m["per_sequence"]["pan"] for m in report["methods"]}
    assert pan["motion vectors"]["auc"] > 0.9 and pan["motion vectors"]["auc"] > pan["motion vectors (uncompensated)"]["auc"] + 0.1
    # boxes land on the square; on this 128x96 frame the 16 px blur and the 5-frame window make them too tall
    assert pan["motion vectors"]["box_iou"] > 0.3 and pan["motion vectors"]["box_iou"] > pan["centre prior"]["box_iou"] + 0.1
    # the hand-built model sees frame differences: on stabilised clips the pan no longer lights up the background
    assert pan["MoSI (motion, stabilize mv)"]["auc"] > pan["MoSI (motion)"]["auc"] + 0.05
    seqs = {s["name"]: s for s in report["sequences"]}
    assert seqs["pan"]["motion_source"] == "optical flow (DIS, short side 96)"  # frame folders: the fallback
    rows = {m["name"]: m for m in report["methods"]}
    assert rows["MoSI (motion, stabilize mv)"]["stabilize"] == "mv" and rows["MoSI (motion, stabilize mv)"]["runtime"] == report["model"]["runtime"]
    best = report["best_method"]
    assert best["options"]["stabilize"] in ("none", "mv", "auto")
    assert best["options"]["method"] in ("mv", "cam", "fused") and best["auc"] == max(
        m["summary"]["all"]["auc"] for m in report["methods"] if m["kind"] in ("mosi", "stabilized", "fused", "mv"))


def test_verdicts_say_where_mosi_loses():
    assert verdict({"auc": 0.9, "nss": 2, "hit": 1}, {"auc": 0.8, "nss": 1, "hit": 0.5}) == "yes"
    assert verdict({"auc": 0.7, "nss": 1, "hit": 0.5}, {"auc": 0.8, "nss": 2, "hit": 0.6}) == "no"
    assert verdict({"auc": 0.9, "nss": 1, "hit": 0.5}, {"auc": 0.8, "nss": 2, "hit": 0.6}) == "partly (better AUC-Judd)"


def test_cli_json_chart_and_mp4_source(davis, energy_ckpt, tmp_path):
    out = tmp_path / "sal.json"
    result = CliRunner().invoke(app, ["eval", "saliency", "--davis", str(davis), "--model", str(energy_ckpt), "--source", "mp4",
                                      "--sequences", "static", "--targets", "motion", "--max-frames", "8", "--no-random-init",
                                      "--device", "cpu", "--json", str(out), "--examples", str(tmp_path / "ex.png")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ex.png").stat().st_size > 5000
    data = json.loads(out.read_text())
    assert data["sequences"][0]["frames"] == 8 and data["sequences"][0]["source"].endswith("static.mp4")
    assert data["sequences"][0]["motion_source"] == "h264 motion vectors"
    assert [m["name"] for m in data["methods"]][0] == "MoSI (motion)" and data["best_target"] == "motion"
    assert "MoSI (motion) better?" in result.output and "AUC-Judd per sequence" in result.output
    assert out.with_suffix(".png").stat().st_size > 5000


def test_bad_layouts_fail_with_one_line_naming_the_file(tmp_path, energy_ckpt):
    root = write_davis(tmp_path / "d", with_mp4=False)
    (root / "Annotations" / "480p" / "pan" / "00011.png").unlink()
    seqs = find_sequences(root, ["pan"])
    with pytest.raises(ValueError, match=r"pan: 12 frames but 11 masks"):
        check_counts(seqs[0])
    result = CliRunner().invoke(app, ["eval", "saliency", "--davis", str(root), "--model", str(energy_ckpt), "--sequences", "pan"])
    assert result.exit_code == 2 and "12 frames but 11 masks" in result.output
    with pytest.raises(FileNotFoundError, match="no annotations for sequence 'nope'"):
        find_sequences(root, ["nope"])
    with pytest.raises(FileNotFoundError, match="no video for sequence"):
        find_sequences(root, ["static"], source="mp4")
    with pytest.raises(FileNotFoundError, match="no Annotations folder"):
        find_sequences(tmp_path)
    result = CliRunner().invoke(app, ["eval", "saliency", "--davis", str(root), "--model", str(energy_ckpt), "--targets", "moving"])
    assert result.exit_code == 2 and "--target must be one of" in result.output


def test_target_wins_count_sequences(report):
    wins = report["target_wins"]
    assert set(wins) == {"motion", "pred"} and sum(wins.values()) == 2
    assert any("best on" in line for line in notes(report))


@pytest.mark.parametrize(("options", "differs"), [
    ({"method": "mv", "stabilize": "none"}, False),  # --stabilize does nothing for mv: no false alarm
    ({"method": "cam", "stabilize": "mv"}, True),
    ({"method": "mv", "stabilize": "mv"}, False),
])  # fmt: skip
def test_best_mode_note_compares_only_options_that_apply(options, differs):
    from mosi_tool.evaluation.saliency_report import notes

    auc = {"auc": 0.9}
    report = {"best_target": "motion", "methods": [{"kind": "mosi", "target": "motion", "summary": {"all": auc}}],
              "target_wins": {"motion": 1}, "best_method": {"name": "x", "auc": 0.9, "options": options},
              "subsets": {"all": ["a"], "moving camera": []}, "config": {"camera_threshold": 1.0}, "comparisons": []}  # fmt: skip
    line = next(n for n in notes(report) if n.startswith("best saliency mode"))
    assert ("DIFFERS" in line) == differs, line
    assert not any("fall back" in n for n in notes(report))
    report["sequences"] = [{"name": "a", "motion_source": "optical flow (DIS, short side 240)"}]
    assert "fall back to optical flow on 1 of 1 sequences (a)" in " ".join(notes(report))


def test_davis_2017_palette_masks_read_as_the_objects(tmp_path):
    """DAVIS-2017's Annotations are palette PNGs of object ids (1, 2, ...: dark reds and greens as grey): every
    object is the object, as in DAVIS-2016's 0/255 masks, never the background."""
    root = write_davis(tmp_path / "d", with_mp4=False)
    (seq,) = find_sequences(root, ["static"])
    want = load_masks(seq, N, (W, H))
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9)
    for i, path in enumerate(seq.masks):
        ids = (want[i] * (1 + (np.arange(W) >= 16 + 5 * i))).astype(np.uint8)  # two objects: ids 1 and 2
        im = Image.fromarray(ids, "P")
        im.putpalette(palette)
        im.save(path)
    assert want.any() and np.array_equal(load_masks(seq, N, (W, H)), want)


@pytest.mark.parametrize("level", ["1080p", "Full-Resolution"])
def test_other_davis_resolution_levels_are_found(tmp_path, level):
    """A DAVIS copy with only the 1080p or full-resolution level: its sequences, not the level taken for one."""
    root = write_davis(tmp_path / "d", with_mp4=False)
    for part in ("Annotations", "JPEGImages"):
        (root / part / "480p").rename(root / part / level)
    seqs = find_sequences(root)
    assert sorted(s.name for s in seqs) == ["pan", "static"]
    assert all(level in str(s.masks[0]) for s in seqs)
