"""The bundled default model: present, small, self-describing, and used when --model is omitted."""

import torch
from typer.testing import CliRunner

from mosi_tool import default_model_path, load_model
from mosi_tool.checkpoint import read_meta
from mosi_tool.cli import app
from mosi_tool.default_model import BUNDLED


def test_the_default_model_is_bundled_with_its_model_card():
    assert default_model_path() == BUNDLED and BUNDLED.stat().st_size <= 15 * 2**20
    meta = read_meta(BUNDLED)
    assert meta.task == "mosi" and meta.num_classes == 9
    card = meta.training["model_card"]
    for key in ("data", "epochs", "cpu_hours", "precision", "pretext", "davis_auc_judd"):
        assert card[key] is not None, key
    assert 0 < card["pretext"]["masked"] <= 1 and card["cpu_hours"] > 0
    assert all("license" in d for d in card["data"])


def test_load_model_without_a_path_runs_the_default(tmp_path):
    engine = load_model(device="cpu", runtime="torch")
    meta = engine.meta
    clips = torch.zeros((2, meta.frames, meta.crop, meta.crop, 3), dtype=torch.uint8)
    out = engine(clips)
    assert out.logits.shape == (2, 9)


def test_saliency_without_model_uses_the_default(moving_square_video, tmp_path):
    out = tmp_path / "o.mp4"
    result = CliRunner().invoke(app, ["saliency", str(moving_square_video), "--out", str(out), "--device", "cpu",
                                      "--runtime", "torch"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0 and "no default model" not in result.output and "warning" not in result.output.lower()
