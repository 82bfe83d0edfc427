"""Pretext evaluation: the training split, validation clips through any Engine, confusion orientation."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from mosi_tool import load_model
from mosi_tool.cli import app
from mosi_tool.evaluation.pretext import SplitConfig, evaluate_pretext, held_out_sources, summarise
from mosi_tool.metadata import ModelMeta
from mosi_tool.models.clip_model import ClipOutput
from mosi_tool.runtimes.base import Engine
from mosi_tool.training.data import find_sources, split_sources

from .conftest import micro_checkpoint, texture


@pytest.fixture(scope="module")
def image_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    for c in range(2):
        (root / f"class{c}").mkdir()
        for i in range(10):
            Image.fromarray(texture(72, 80, seed=10 * c + i)).save(root / f"class{c}" / f"{i}.png")
    return root


class ShiftOracle(Engine):
    """Scores each class by how well frame 0, shifted by that class's window travel, matches the last frame."""

    name = "oracle"

    def run(self, clips: torch.Tensor) -> ClipOutput:
        m = self.meta
        x = clips.float().mean(-1)  # (B, T, L, L)
        first, last = x[:, 0], x[:, -1]
        scores = []
        for sx, sy in m.speed_table():
            dx, dy = ((m.source_size - m.crop) * s // (m.speeds // 2) for s in (sx, sy))
            # the window moves by (dx, dy), so content at (r, c) in frame 0 is at (r - dy, c - dx) at the end
            a = first[:, max(dy, 0) : m.crop + min(dy, 0), max(dx, 0) : m.crop + min(dx, 0)]
            b = last[:, max(-dy, 0) : m.crop + min(-dy, 0), max(-dx, 0) : m.crop + min(-dx, 0)]
            scores.append(-((a - b) ** 2).mean(dim=(1, 2)))
        logits = torch.stack(scores, 1)
        return ClipOutput(logits, logits, logits[:, :, None, None, None])


def test_oracle_is_perfect_on_unmasked_clips_so_labels_and_rows_line_up(image_root):
    meta = ModelMeta(frames=4, crop=32, source_size=48, num_classes=9, mean=(0.5,) * 3, std=(0.25,) * 3)
    oracle = ShiftOracle(meta, torch.device("cpu"))
    report = evaluate_pretext(oracle, SplitConfig(str(image_root), data="images", val_fraction=0.5), random_init=False)
    un = report["results"]["MoSI"]["unmasked"]
    assert un["accuracy"] == 1.0 and un["x-moving"] == un["y-moving"] == un["static"] == 1.0
    cm = np.array(un["confusion"])
    assert (cm == np.diag([10] * 9)).all()  # 10 held-out sources, one clip per class each
    masked = report["results"]["MoSI"]["masked"]
    assert masked["clips"] == 90 and masked["static"] == 1.0  # a static clip stays static under the mask


def test_held_out_sources_follow_the_training_split(image_root):
    sources = find_sources("images", image_root)
    meta = ModelMeta(training={"data": "images", "seed": 3, "val_sources": 2})
    held = held_out_sources(meta, SplitConfig(str(image_root), val_fraction=0.1))
    assert held.sources == split_sources(sources, 0.1, 3)[1] and held.seed == 3 and held.kind == "images"
    assert held.notes == []
    held = held_out_sources(meta, SplitConfig(str(image_root), val_fraction=0.3))
    assert "training held out 2" in held.notes[0]


def test_a_folder_never_trained_on_is_scored_whole(image_root, tmp_path):
    sources = find_sources("images", image_root)
    meta = ModelMeta(training={"data": "images", "seed": 3, "root": str(tmp_path / "elsewhere"), "val_sources": 2})
    held = held_out_sources(meta, SplitConfig(str(image_root)))
    assert held.sources == sources and held.val_fraction == 1.0 and "every image" in held.notes[0]
    # An explicit fraction still splits, and the training root itself always does.
    assert len(held_out_sources(meta, SplitConfig(str(image_root), val_fraction=0.2)).sources) < len(sources)
    same = ModelMeta(training={"data": "images", "seed": 3, "root": str(image_root)})
    assert held_out_sources(same, SplitConfig(str(image_root))).sources == split_sources(sources, 0.05, 3)[1]


def test_summarise_groups():
    cm = np.zeros((9, 9), int)
    cm[0, 0], cm[0, 1], cm[5, 6], cm[8, 8] = 3, 1, 2, 4  # (-2,0) twice right once wrong speed; (0,-1) -> (0,1)
    s = summarise(cm, {"x-moving": [0, 1, 2, 3], "y-moving": [4, 5, 6, 7], "static": [8]})
    assert s["accuracy"] == pytest.approx(7 / 10) and s["x-moving"] == pytest.approx(3 / 4) and s["y-moving"] == 0.0
    assert s["static"] == 1.0 and s["axis_accuracy"] == 1.0


def test_pretext_cli_on_a_micro_checkpoint(image_root, tmp_path):
    ckpt = micro_checkpoint(tmp_path / "m.safetensors")
    out = tmp_path / "pretext.json"
    result = CliRunner().invoke(app, ["eval", "pretext", "--model", str(ckpt), "--root", str(image_root), "--data", "images",
                                      "--val-fraction", "0.2", "--device", "cpu", "--json", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["split"]["sources"] == 4 and report["chance"] == pytest.approx(1 / 9)
    assert report["model"]["given"] == str(ckpt)  # the checkpoint asked for, whatever engine file ran it
    for name in ("MoSI", "random init"):
        for variant in ("masked", "unmasked"):
            r = report["results"][name][variant]
            assert r["clips"] == 36 and np.array(r["confusion"]).sum() == 36
    assert out.with_suffix(".png").stat().st_size > 5000
    assert "x-moving" in result.output and "random init, masked" in result.output
    engine = load_model(ckpt, device="cpu")
    assert report["model"]["model_id"] == engine.meta.model_id


def test_pretext_refuses_action_models(tmp_path, image_root):
    from mosi_tool.checkpoint import save_checkpoint
    from mosi_tool.models.backbones import build_backbone

    path = tmp_path / "action.safetensors"
    save_checkpoint(path, build_backbone("r2plus1d_10", 3, width=8), ModelMeta(width=8, num_classes=3, task="action", frames=4, crop=32, source_size=64))
    result = CliRunner().invoke(app, ["eval", "pretext", "--model", str(path), "--root", str(image_root), "--data", "images", "--runtime", "torch"])
    assert result.exit_code == 2 and "needs a MoSI model" in result.output


def test_pretext_gives_the_same_matrices_through_onnx_and_torch(image_root, tmp_path):
    pytest.importorskip("onnxruntime")
    ckpt = micro_checkpoint(tmp_path / "m.safetensors", seed=1)
    reports = {}
    for runtime in ("torch", "onnx"):
        out = tmp_path / f"{runtime}.json"
        result = CliRunner().invoke(app, ["eval", "pretext", "--model", str(ckpt), "--root", str(image_root), "--data", "images",
                                          "--val-fraction", "0.2", "--runtime", runtime, "--no-random-init", "--json", str(out)])  # fmt: skip
        assert result.exit_code == 0, result.output
        reports[runtime] = json.loads(out.read_text())
    assert reports["onnx"]["model"]["runtime"] != reports["torch"]["model"]["runtime"]
    for variant in ("masked", "unmasked"):
        assert reports["onnx"]["results"]["MoSI"][variant]["confusion"] == reports["torch"]["results"]["MoSI"][variant]["confusion"]


def test_camera_replaces_the_training_pan_of_the_masked_clips(image_root):
    meta = ModelMeta(frames=4, crop=32, source_size=48, num_classes=9, mean=(0.5,) * 3, std=(0.25,) * 3, camera=8)
    oracle = ShiftOracle(meta, torch.device("cpu"))
    split = SplitConfig(str(image_root), data="images", val_fraction=0.5)
    panned = evaluate_pretext(oracle, split, random_init=False)
    still = evaluate_pretext(oracle, split, random_init=False, camera=0)
    assert panned["split"]["camera"] == 8 and still["split"]["camera"] == 0 and still["split"]["training_camera"] == 8
    # Under the training pan the static class's background moves; on the still-camera task it stands still.
    assert panned["results"]["MoSI"]["masked"]["static"] < 1.0 == still["results"]["MoSI"]["masked"]["static"]
    # The pan also shortens every trajectory (room Ls - L - camera); the oracle assumes the still camera's room.
    assert panned["results"]["MoSI"]["unmasked"]["accuracy"] < 1.0 == still["results"]["MoSI"]["unmasked"]["accuracy"]
    with pytest.raises(ValueError, match="camera travel 16"):
        evaluate_pretext(oracle, split, random_init=False, camera=16)


def test_held_out_sources_do_not_depend_on_how_the_root_is_spelled(image_root, tmp_path, monkeypatch):
    """The split hashes paths: a root spelled another way (relative, through a symlink) must hold out the
    images training held out, not a fresh draw that overlaps the training set."""
    trained = split_sources(find_sources("images", image_root), 0.3, 3)[1]
    meta = ModelMeta(training={"data": "images", "seed": 3, "root": str(image_root), "val_fraction": 0.3})
    link = tmp_path / "link"
    link.symlink_to(image_root)
    monkeypatch.chdir(image_root.parent)
    for spelled in (Path(image_root.name), link, image_root):
        held = held_out_sources(meta, SplitConfig(str(spelled)))
        assert [Path(s.path).resolve() for s in held.sources] == [Path(s.path).resolve() for s in trained], spelled
        assert all(Path(s.path).exists() for s in held.sources) and held.notes == []
    monkeypatch.chdir(image_root)  # "." : find_sources writes its paths without a "./"
    held = held_out_sources(meta, SplitConfig("."))
    assert [Path(s.path).resolve() for s in held.sources] == [Path(s.path).resolve() for s in trained]


def test_an_imagenet_root_and_its_train_folder_are_the_same_data(tmp_path):
    root = tmp_path / "inet"
    for c in range(2):
        (root / "train" / f"n0{c}").mkdir(parents=True)
        for i in range(10):
            Image.fromarray(texture(72, 80, seed=10 * c + i)).save(root / "train" / f"n0{c}" / f"{i}.png")
    trained = split_sources(find_sources("imagenet", root), 0.2, 1)[1]
    meta = ModelMeta(training={"data": "imagenet", "seed": 1, "root": str(root), "val_fraction": 0.2})
    held = held_out_sources(meta, SplitConfig(str(root / "train")))  # the same images, one folder deeper
    assert [Path(s.path).resolve() for s in held.sources] == [Path(s.path).resolve() for s in trained]
    assert held.val_fraction == 0.2 and held.notes == []


@pytest.mark.filterwarnings("ignore:.*skipped, cannot read")
@pytest.mark.parametrize("workers", ["0", "1"])
def test_pretext_on_a_folder_of_unreadable_images_is_one_error_line(tmp_path, workers):
    """Every image damaged: the data loader's RuntimeError ended the command in a traceback (and with --workers,
    the worker's error came with the worker's traceback in its message)."""
    root = tmp_path / "damaged"
    root.mkdir()
    (root / "a.png").write_text("not an image")
    (root / "b.jpg").write_bytes(b"\xff\xd8\xff")
    ckpt = micro_checkpoint(tmp_path / "m.safetensors")
    result = CliRunner().invoke(app, ["eval", "pretext", "--model", str(ckpt), "--root", str(root), "--data", "images",
                                      "--runtime", "torch", "--no-random-init", "--chart", str(tmp_path / "c.png"), "--workers", workers])  # fmt: skip
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {root}") and ": no readable source images (none of " in lines[0]
    assert not (tmp_path / "c.png").exists()


@pytest.mark.filterwarnings("ignore:.*skipped, cannot read")
def test_unreadable_held_out_images_are_left_out_not_counted_twice(tmp_path):
    """A damaged image is replaced by the next readable one in the dataset (training goes on); the evaluation
    must not score that one twice: 2 of 4 images damaged, 2 sources scored, and a note says so."""
    root = tmp_path / "imgs"
    (root / "c").mkdir(parents=True)
    for i in range(4):
        path = root / "c" / f"{i}.png"
        Image.fromarray(texture(72, 80, seed=i)).save(path) if i % 2 == 0 else path.write_text("damaged")
    meta = ModelMeta(frames=4, crop=32, source_size=48, num_classes=9, mean=(0.5,) * 3, std=(0.25,) * 3,
                     training={"data": "images", "seed": 3, "root": str(tmp_path / "elsewhere")})  # never trained on: scored whole
    oracle = ShiftOracle(meta, torch.device("cpu"))
    for batch_size in (1, 8):  # the repeat within one batch, and across batches
        report = evaluate_pretext(oracle, SplitConfig(str(root)), random_init=False, batch_size=batch_size)
        assert report["split"]["sources"] == 2 and report["split"]["unreadable"] == 2
        un = report["results"]["MoSI"]["unmasked"]
        assert un["clips"] == 18 and un["accuracy"] == 1.0
        assert any("2 of 4 held-out sources cannot be read" in n for n in report["notes"])
