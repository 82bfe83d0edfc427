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
    engine = load_model(device="cpu")
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


def test_demo_writes_overlay_sheet_maps_and_features(tmp_path):
    """`make demo`'s command on the bundled sample: the default saliency method's outputs and the bundled
    model's features, nothing trained."""
    import av
    import numpy as np
    from typer.testing import CliRunner

    from mosi_tool.cli import app
    from mosi_tool.default_model import SAMPLE_VIDEO, default_model_path
    from mosi_tool.loader import read_model_meta

    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    with av.open(str(SAMPLE_VIDEO)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    with av.open(str(out / "sample.saliency.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == frames
    maps = np.load(out / "sample.maps.npy", mmap_mode="r")
    assert maps.shape == (frames, 72, 96) and 0.99 <= float(maps.max()) <= 1.0
    assert (out / "sample.sheet.png").stat().st_size > 0
    features = np.load(out / "features" / "sample.mp4.npz")["features"]
    assert features.shape[1] == read_model_meta(default_model_path()).feature_dim


def test_demo_refusals_are_one_line_and_make_no_folder(tmp_path):
    """--out-dir naming a file said only "File exists"; a bad --model or --device left an empty output folder."""
    from typer.testing import CliRunner

    from mosi_tool.cli import app

    file = tmp_path / "taken"
    file.write_text("x")
    result = CliRunner().invoke(app, ["demo", "--out-dir", str(file)])
    assert result.exit_code == 2 and result.stderr.strip().splitlines() == [f"error: {file}: cannot write (it is a file, not a folder)"]
    result = CliRunner().invoke(app, ["demo", "--out-dir", str(tmp_path / "out"), "--model", str(tmp_path / "absent.safetensors")])
    assert result.exit_code == 2 and "absent.safetensors: no such file" in result.stderr
    assert not (tmp_path / "out").exists()
