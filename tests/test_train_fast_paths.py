"""The CPU training speed paths: decoded source cache, precision choice, bf16-safe temporal convs, several roots."""

import csv
import json
import os

import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

from mosi_tool.checkpoint import load_checkpoint
from mosi_tool.cli import app
from mosi_tool.models.backbones import build_backbone
from mosi_tool.models.parts import Conv3d
from mosi_tool.training import precision as precision_mod
from mosi_tool.training.config import TrainConfig
from mosi_tool.training.data import SourceDataset, find_sources
from mosi_tool.training.precision import resolve_precision
from mosi_tool.training.source_cache import build_cache, cache_key

from .conftest import texture, write_image_folder


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    # both orientations, neither square
    return write_image_folder(tmp_path_factory.mktemp("imgs"), 2, 5, lambda i: (70, 90) if i % 2 else (100, 64), seed=10)


def test_cache_gives_the_same_pixels_as_decoding(images, tmp_path):
    sources = find_sources("imagenet", images)
    cache = build_cache([s.path for s in sources], 48, tmp_path / "cache", workers=0)
    for train in (True, False):
        plain = SourceDataset(sources, "imagenet", 48, train, seed=3)
        cached = SourceDataset(sources, "imagenet", 48, train, seed=3, cache=cache)
        for epoch in (0, 1):
            plain.set_epoch(epoch)
            cached.set_epoch(epoch)
            for i in range(len(sources)):
                a, ia = plain[i]
                b, ib = cached[i]
                assert ia == ib and a.shape == (3, 48, 48) and torch.equal(a, b)
    # A second build finds the first; a changed file makes a new cache.
    assert build_cache([s.path for s in sources], 48, tmp_path / "cache").folder == cache.folder
    os.utime(sources[0].path, ns=(1, 1))
    assert cache_key([s.path for s in sources], 48) != cache.folder.name


def test_cache_marks_unreadable_sources_and_the_dataset_skips_them(images, tmp_path):
    bad = tmp_path / "broken.JPEG"
    bad.write_bytes(b"not a jpeg")
    paths = [str(bad), find_sources("imagenet", images)[0].path]
    with pytest.warns(UserWarning, match="broken.JPEG"):
        cache = build_cache(paths, 48, tmp_path / "cache", workers=0)
    assert not cache.readable(0) and cache.readable(1)
    with pytest.raises(ValueError, match="broken.JPEG"):
        cache[0]


def test_precision_choice(monkeypatch):
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    monkeypatch.setattr(precision_mod, "cpu_has_fast_bf16", lambda: True)
    assert resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(precision_mod, "cpu_has_fast_bf16", lambda: False)
    assert resolve_precision("auto", cpu) == "fp32"
    with pytest.raises(ValueError, match="fp16"):
        resolve_precision("fp16", cpu)


def test_configs_written_before_precision_still_load():
    raw = TrainConfig().to_dict()
    del raw["precision"]
    assert TrainConfig.from_dict({**raw, "amp": False}).precision == "fp32"
    assert TrainConfig.from_dict({**raw, "amp": True}).precision == "auto"


def test_short_temporal_inputs_leave_cpu_bf16():
    conv = Conv3d(8, 8, (3, 1, 1), padding=(1, 0, 0), bias=False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert conv(torch.randn(2, 8, 2, 4, 4)).dtype == torch.float32  # the case oneDNN gets wrong
        assert conv(torch.randn(2, 8, 4, 4, 4)).dtype == torch.bfloat16
        assert conv(torch.randn(2, 8, 1, 4, 4)).dtype == torch.float32
    spatial = Conv3d(8, 8, (1, 3, 3), padding=(0, 1, 1), bias=False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert spatial(torch.randn(2, 8, 1, 4, 4)).dtype == torch.bfloat16


def test_bf16_training_steps_stay_finite():
    """Regression: 2-frame deep layers (8-frame clips at width 8) gave NaN weight gradients in bf16."""
    torch.manual_seed(0)
    model = build_backbone("r2plus1d_10", 9, width=8).to(memory_format=torch.channels_last_3d)
    for _ in range(6):
        x = torch.randn(18, 3, 4, 32, 32).contiguous(memory_format=torch.channels_last_3d)
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(x).logits
        F.cross_entropy(logits.float(), torch.randint(0, 9, (18,))).backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_train_on_two_roots_records_precision_and_cpu_time(images, tmp_path, monkeypatch):
    monkeypatch.setenv("MOSI_TOOL_CACHE", str(tmp_path / "cache"))
    second = tmp_path / "second" / "train" / "n00000009"
    second.mkdir(parents=True)
    for i in range(4):
        Image.fromarray(texture(80, 80, seed=99 + i)).save(second / f"x_{i}.JPEG")
    out = tmp_path / "run"
    flags = ["--frames", "4", "--crop", "32", "--source-size", "48", "--width", "8", "--workers", "0", "--batch-size", "4"]
    result = CliRunner().invoke(app, ["train", "--root", str(images), "--root", str(tmp_path / "second"), "--out", str(out),
                                      "--epochs", "1", "--precision", "bf16", "--val-fraction", "0.2", *flags])  # fmt: skip
    assert result.exit_code == 0, result.output
    _, meta = load_checkpoint(out / "last.safetensors")
    t = meta.training
    assert t["precision"] == "bf16" and t["train_sources"] + t["val_sources"] == 14
    cpu_s = float(next(csv.DictReader(open(out / "metrics.csv")))["cpu_s"])
    assert cpu_s > 0 and t["cpu_hours"] == round(cpu_s / 3600, 5)
    assert t["root"] == [str(images), str(tmp_path / "second")]
    assert len(list((tmp_path / "cache" / "sources").iterdir())) == 2  # training and validation caches
    assert json.loads((out / "config.json").read_text())["data"]["cache"] is True
