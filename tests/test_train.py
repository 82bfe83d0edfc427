"""End-to-end training on CPU: the CLI, exact resume, DDP with gloo, ImageNet-S<N> subsets."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from mosi_tool.checkpoint import load_checkpoint
from mosi_tool.cli import app
from mosi_tool.training.data import find_sources, split_sources, subsample_per_class

from .conftest import ROOT, write_image_folder

MICRO_FLAGS = ["--frames", "4", "--crop", "32", "--source-size", "64", "--width", "8", "--workers", "0", "--batch-size", "4"]


@pytest.fixture(scope="module")
def image_root(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("imagenet"), 3, 8, lambda i: (80, 96), seed=100)


def train(args):
    result = CliRunner().invoke(app, ["train", *args])
    assert result.exit_code == 0, result.output
    return result


def test_train_cli_writes_self_describing_checkpoints(image_root, tmp_path):
    out = tmp_path / "run"
    train(["--data", "imagenet", "--root", str(image_root), "--out", str(out), "--epochs", "2", "--warmup-epochs", "1", *MICRO_FLAGS])
    for name in ("best.safetensors", "last.safetensors", "resume.pt", "metrics.csv", "curves.png", "config.json"):
        assert (out / name).exists(), name
    model, meta = load_checkpoint(out / "last.safetensors")
    assert (meta.arch, meta.frames, meta.crop, meta.source_size, meta.width) == ("r2plus1d_10", 4, 32, 64, 8)
    assert meta.mean == (0.485, 0.456, 0.406)  # ImageNet data -> ImageNet statistics
    t = meta.training
    assert t["epochs"] == 2 and t["train_sources"] + t["val_sources"] == 24 and t["val_sources"] == 1
    assert 0 <= t["val_acc"] <= 1 and "val_acc_unmasked" in t
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[0]["images_per_s"]) > 0
    # a second run into the same folder must not silently overwrite it
    result = CliRunner().invoke(app, ["train", "--root", str(image_root), "--out", str(out), *MICRO_FLAGS])
    assert result.exit_code == 2 and "--resume" in result.output
    # ... and says so before reading (and caching) any source: a missing root is not even looked at
    result = CliRunner().invoke(app, ["train", "--root", str(tmp_path / "nowhere"), "--out", str(out), *MICRO_FLAGS])
    assert result.exit_code == 2 and "already holds a run" in result.output and "cached" not in result.output


def test_resume_continues_exactly(image_root, tmp_path):
    from mosi_tool.training.config import build_config
    from mosi_tool.training.loop import training_loop

    common = ["--data", "images", "--root", str(image_root), "--warmup-epochs", "1", "--no-mask", "--epochs", "2", *MICRO_FLAGS]
    train([*common, "--out", str(tmp_path / "straight")])
    # The same run, interrupted after epoch 1, then resumed from its folder alone.
    split = tmp_path / "split"
    cfg = build_config("paper", Path(tmp_path / "straight" / "config.json"), {"out": str(split)})
    training_loop(cfg, stop_after=1)
    assert len(list(csv.DictReader(open(split / "metrics.csv")))) == 1
    train(["--out", str(split), "--resume"])
    a = load_file(str(tmp_path / "straight" / "last.safetensors"))
    b = load_file(str(split / "last.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    rows = list(csv.DictReader(open(split / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]


def test_a_copied_run_folder_resumes_into_the_copy(image_root, tmp_path):
    import json
    import shutil

    a, b = tmp_path / "a", tmp_path / "b"
    train(["--data", "images", "--root", str(image_root), "--warmup-epochs", "1", "--epochs", "1", "--out", str(a), *MICRO_FLAGS])
    shutil.copytree(a, b)
    before = {p.name: p.read_bytes() for p in a.iterdir()}
    result = train(["--out", str(b), "--resume", "--epochs", "2"])
    assert f"resuming {b} after epoch 1 of 2" in result.output
    assert {p.name: p.read_bytes() for p in a.iterdir()} == before  # the original run is untouched
    assert [int(r["epoch"]) for r in csv.DictReader(open(b / "metrics.csv"))] == [1, 2]
    assert json.loads((b / "config.json").read_text())["out"] == str(b)


def test_init_starts_from_a_checkpoint_and_records_it(image_root, tmp_path):
    from mosi_tool.training.config import build_config
    from mosi_tool.training.loop import load_init
    from mosi_tool.training.pseudo_motion import MotionConfig

    common = ["--data", "imagenet", "--root", str(image_root), "--epochs", "1", "--warmup-epochs", "1", *MICRO_FLAGS]
    train([*common, "--out", str(tmp_path / "a")])
    source = tmp_path / "a" / "last.safetensors"
    _, meta_a = load_checkpoint(source)
    # the loaded weights are the checkpoint's, exactly
    cfg = build_config("paper", None, {"width": 8, "motion": {"frames": 4, "crop": 32, "source_size": 64}, "init": str(source)})
    from mosi_tool.models.backbones import build_backbone

    model = build_backbone(cfg.arch, cfg.motion.num_classes, width=cfg.width)
    load_init(model, cfg)
    want = load_file(str(source))
    for k, v in model.state_dict().items():
        assert torch.equal(v, want[k].to(v.dtype)), k
    # a run from it records where it started, with a camera pan this time
    train([*common, "--out", str(tmp_path / "b"), "--init", str(source), "--camera", "8"])
    _, meta_b = load_checkpoint(tmp_path / "b" / "last.safetensors")
    assert meta_b.training["init"] == {"path": str(source), "model_id": meta_a.model_id}
    assert meta_b.camera == 8 and meta_a.camera == 0
    assert '"camera": 8' in (tmp_path / "b" / "config.json").read_text()
    # resuming needs the run folder only: the record carries on though the --init file is gone
    source.rename(tmp_path / "a" / "moved.safetensors")
    train(["--out", str(tmp_path / "b"), "--resume", "--epochs", "2"])
    _, meta_b2 = load_checkpoint(tmp_path / "b" / "last.safetensors")
    assert meta_b2.training["epochs"] == 2 and meta_b2.training["init"] == meta_b.training["init"]
    source = tmp_path / "a" / "moved.safetensors"
    # another width does not fit: one clear line
    result = CliRunner().invoke(app, ["train", *common, "--out", str(tmp_path / "c"), "--init", str(source), "--width", "16"])
    assert result.exit_code == 2 and "--init needs r2plus1d_10 at width 16" in result.output
    assert MotionConfig().camera == 0  # the paper's generator stays the default


def test_ddp_two_processes_gloo(image_root, tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
        "-m", "mosi_tool", "train", "--data", "imagenet", "--root", str(image_root), "--out", str(out),
        "--epochs", "1", "--device", "cpu", *MICRO_FLAGS,
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, meta = load_checkpoint(out / "last.safetensors")
    assert meta.training["world_size"] == 2
    assert meta.training["batch_size"] == 8  # 4 sources per rank
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert len(rows) == 1  # only rank 0 writes


def test_imagenet_subsets_and_split(image_root):
    sources = find_sources("imagenet", image_root)
    assert len(sources) == 24 and {s.group for s in sources} == {"n00000000", "n00000001", "n00000002"}
    s5 = subsample_per_class(sources, 5, seed=0)
    assert len(s5) == 15 and s5 == subsample_per_class(sources, 5, seed=0)
    assert s5 != subsample_per_class(sources, 5, seed=1)
    train_s, val_s = split_sources(sources, 0.25, seed=0)
    assert len(val_s) == 6 and not set(train_s) & set(val_s)
    # the split of a source does not depend on which other sources are present
    _, val_sub = split_sources(sources[:-1], 0.25, seed=0)
    assert len(set(val_s) & set(val_sub)) >= 4


def test_dry_run_prints_config(image_root):
    result = train(["--root", str(image_root), "--dry-run", "--per-class", "2", *MICRO_FLAGS])
    assert '"arch": "r2plus1d_10"' in result.output
    assert "held out" in result.output
    result = train(["--root", str(image_root), "--dry-run", "--limit", "3", *MICRO_FLAGS])
    assert "3 training sources" in result.output  # the run's own selection, --limit included


def test_video_sources(moving_square_video, tmp_path):
    folder = tmp_path / "vids"
    folder.mkdir()
    for i in range(4):
        (folder / f"v{i}.mp4").write_bytes(moving_square_video.read_bytes())
    out = tmp_path / "vrun"
    train(["--data", "videos", "--root", str(folder), "--out", str(out), "--epochs", "1", "--val-fraction", "0.25",
           "--frames-per-video", "2", *MICRO_FLAGS])  # fmt: skip
    _, meta = load_checkpoint(out / "last.safetensors")
    assert meta.training["train_sources"] == 3 and meta.mean == (0.45, 0.45, 0.45)


class _Marker:
    """A pickle that would create a file when unpickled."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_a_damaged_run_folder_is_refused_in_one_line(image_root, tmp_path):
    """--resume on a run whose files were damaged, or replaced by a foreign pickle: one line naming the file,
    nothing unpickled, and no training on altered weights."""
    import shutil

    run = tmp_path / "run"
    train(["--data", "images", "--root", str(image_root), "--warmup-epochs", "1", "--epochs", "1", "--out", str(run), *MICRO_FLAGS])
    marker = tmp_path / "unpickled"
    last = (run / "last.safetensors").read_bytes()
    flipped = bytearray(last)
    flipped[-8] ^= 0xFF  # a byte of the last tensor's data
    damage = {
        "resume.pt": [lambda p: torch.save({"optimizer": _Marker(marker)}, p), lambda p: p.write_bytes(p.read_bytes()[:1000])],
        "last.safetensors": [lambda p: p.write_bytes(bytes(flipped))],
    }
    for name, ways in damage.items():
        for i, damage_it in enumerate(ways):
            copy = tmp_path / f"{name}-{i}"
            shutil.copytree(run, copy)
            damage_it(copy / name)
            result = CliRunner().invoke(app, ["train", "--out", str(copy), "--resume", "--epochs", "2"])
            assert result.exit_code == 2, result.output
            lines = result.output.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"error: {copy / name}: "), result.output
            assert not marker.exists()
