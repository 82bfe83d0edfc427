"""Fine-tuning end to end: it trains, evaluates 10 clips per video, and writes a usable action checkpoint."""

import csv
import os

import pytest
import torch
from typer.testing import CliRunner

from mosi_tool import load_model
from mosi_tool.checkpoint import read_meta
from mosi_tool.cli import app
from mosi_tool.saliency.compute import compute_saliency
from mosi_tool.training.action_data import ActionClips, find_action_videos
from mosi_tool.training.finetune import clipwise_jitter

from .conftest import micro_checkpoint, shared, write_video

COMMON = ["--batch-size", "4", "--workers", "0", "--warmup-epochs", "1", "--device", "cpu", "--frame-step", "1"]
FAST = ["--epochs", "2", *COMMON]


def finetune(args):
    return CliRunner().invoke(app, ["finetune", *args])


def test_finetune_on_synthetic_videos(tmp_path):
    data = tmp_path / "actions"
    for k, speed in enumerate((2, -2, 0)):
        (data / f"class{k}").mkdir(parents=True)
        for i in range(3):
            write_video(data / f"class{k}" / f"{i}.mp4", n=10 + 2 * i, size=(48, 40), square=12, speed=speed)
    ckpt = micro_checkpoint(tmp_path / "mosi.safetensors")
    out = tmp_path / "run"
    result = finetune(["--model", str(ckpt), "--data", str(data), "--classes", "3", "--out", str(out), "--val-fraction", "0.34", *FAST])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"] and all(0 <= float(r["val_acc"]) <= 1 for r in rows)
    meta = read_meta(out / "best.safetensors")
    assert meta.task == "action" and meta.num_classes == 3 and meta.class_names == ["class0", "class1", "class2"]
    assert meta.static_class is None and meta.training["val_videos"] == 3 and meta.training["train_videos"] == 6
    assert meta.training["init_model_id"] == read_meta(ckpt).model_id
    # features and saliency still work on the fine-tuned model
    engine = load_model(out / "last.safetensors", device="cpu")
    result_sal = compute_saliency(engine, data / "class0" / "0.mp4", "pred")
    assert result_sal.maps.shape[0] == 10 and result_sal.clip_logits.shape[1] == 3
    # a second run into the same folder is refused, and the class count is checked
    assert finetune(["--model", str(ckpt), "--data", str(data), "--classes", "3", "--out", str(out), *FAST]).exit_code == 2
    result = finetune(["--model", str(ckpt), "--data", str(data), "--classes", "4", "--out", str(tmp_path / "r2"), *FAST])
    assert result.exit_code == 2 and "found 3 class folders" in result.output
    # no validation videos: said, and best.safetensors is then the best training accuracy
    result = finetune(["--model", str(ckpt), "--data", str(data), "--classes", "3", "--out", str(tmp_path / "r3"),
                       "--val-fraction", "0", "--epochs", "1", *COMMON])  # fmt: skip
    assert result.exit_code == 0 and "no validation videos" in result.output


def test_finetune_on_real_videos(tmp_path):
    videos = shared("videos")
    groups = {"hands": ["box.mp4", "cup.mp4"], "street": ["vtest.avi", "road.avi", "bikes.mp4"],
              "people": ["arm_wrestling.mp4", "eye_makeup.avi", "flipping_a_pancake.mkv"]}  # fmt: skip
    for split in ("train", "val"):
        for name, files in groups.items():
            (tmp_path / "data" / split / name).mkdir(parents=True)
    for name, files in groups.items():
        for i, f in enumerate(files):
            split = "val" if i == len(files) - 1 else "train"
            os.symlink(videos / f, tmp_path / "data" / split / name / f)
    ckpt = micro_checkpoint(tmp_path / "mosi.safetensors")
    out = tmp_path / "run"
    result = finetune(["--model", str(ckpt), "--data", str(tmp_path / "data"), "--classes", "3", "--out", str(out),
                       "--epochs", "1", "--eval-clips", "3", *COMMON])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert len(rows) == 1 and rows[0]["val_acc"] != ""
    assert read_meta(out / "best.safetensors").class_names == ["hands", "people", "street"]


def test_eval_clips_are_uniform_and_jitter_is_per_clip(tmp_path):
    for i in range(2):
        (tmp_path / "a").mkdir(exist_ok=True)
        write_video(tmp_path / "a" / f"{i}.mp4", n=30, size=(48, 40))
    (tmp_path / "b").mkdir()
    write_video(tmp_path / "b" / "0.mp4", n=30, size=(48, 40))
    classes, train, val = find_action_videos(tmp_path, 0.0, 0)
    assert classes == ["a", "b"] and len(train) == 3 and val == []
    clips, label = ActionClips(train, frames=4, crop=32, step=2, train=False, clips=10)[0]
    assert clips.shape == (10, 4, 32, 32, 3) and label == 0
    assert not torch.equal(clips[0], clips[-1])  # first and last windows differ (start 0 vs 23)
    x = torch.randint(0, 256, (3, 4, 8, 8, 3), dtype=torch.uint8)
    x[:, :] = x[:, :1]  # every frame of a clip identical
    out = clipwise_jitter(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.allclose(out[:, 0], out[:, 3])  # the same jitter on every frame


@pytest.mark.parametrize("bad", ["engine.onnx"])
def test_finetune_needs_weights(tmp_path, bad):
    (tmp_path / "d" / "c0").mkdir(parents=True)
    (tmp_path / "d" / "c1").mkdir(parents=True)
    write_video(tmp_path / "d" / "c0" / "v.mp4", n=8, size=(48, 40))
    write_video(tmp_path / "d" / "c1" / "v.mp4", n=8, size=(48, 40))
    (tmp_path / bad).write_bytes(b"x")
    result = finetune(["--model", str(tmp_path / bad), "--data", str(tmp_path / "d"), "--classes", "2", "--out", str(tmp_path / "r"), *FAST])
    assert result.exit_code == 2 and "needs the weights" in result.output


def test_finetune_out_that_is_a_file_is_named_with_the_reason(tmp_path):
    """--out naming a file (or a folder below one) said only "File exists" / "Not a directory"."""
    for c in ("c0", "c1"):
        (tmp_path / "d" / c).mkdir(parents=True)
        write_video(tmp_path / "d" / c / "v.mp4", n=8, size=(48, 40))
    ckpt = micro_checkpoint(tmp_path / "mosi.safetensors")
    taken = tmp_path / "taken"
    taken.write_text("x")
    for out, reason in ((taken, "it is a file, not a folder"), (taken / "run", "a file is in the way of its folder")):
        result = finetune(["--model", str(ckpt), "--data", str(tmp_path / "d"), "--classes", "2", "--out", str(out), *FAST])
        assert result.exit_code == 2
        assert result.stderr.strip().splitlines()[-1] == f"error: {out}: cannot write ({reason})"
