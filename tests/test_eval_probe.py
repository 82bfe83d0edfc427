"""The linear motion probe: translated windows over real frames, a split by video, the CLI."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mosi_tool.cli import app
from mosi_tool.evaluation.pretext import motion_config
from mosi_tool.evaluation.probe import ProbeConfig, find_videos, run_probe, translated_clips
from mosi_tool.metadata import ModelMeta
from mosi_tool.training.pseudo_motion import PseudoMotion

from .conftest import micro_checkpoint, texture, write_video


def test_windows_move_over_the_frames_as_the_generator_says():
    meta = ModelMeta(frames=4, crop=16, source_size=32)
    motion = PseudoMotion(motion_config(meta, mask=False))
    frames = np.stack([texture(32, 32, seed=s) for s in range(10)])  # every frame different
    clips, labels = translated_clips(frames, motion, windows=2, generator=torch.Generator().manual_seed(0))
    assert clips.shape == (18, 4, 16, 16, 3) and labels.tolist() == list(range(9)) * 2
    starts = [0, 6]  # evenly spaced over 10 frames
    for k in (2, 5, 8):  # (1, 0), (0, -1), static
        sx, sy = motion.speeds[k].tolist()
        for w, first in enumerate(starts):
            clip = clips[9 * w + k].numpy()
            # find the window of frame 0 and check every frame is that real frame at the trajectory's offset
            matches = [(y, x) for y in range(17) for x in range(17) if (frames[first, y : y + 16, x : x + 16] == clip[0]).all()]
            y0, x0 = matches[0]
            step = (32 - 16) * np.array([sx, sy]) / 2 / 3  # travel per frame along x, y
            for t in range(4):
                x, y = int(x0 + step[0] * t), int(y0 + step[1] * t)
                assert (clip[t] == frames[first + t, y : y + 16, x : x + 16]).all()


def test_probe_splits_by_video_and_reports_both_models(tmp_path):
    from mosi_tool import load_model

    folder = tmp_path / "videos"
    folder.mkdir()
    for i in range(4):
        write_video(folder / f"v{i}.mp4", n=12, size=(80 + 8 * i, 64), speed=1 + i)
    videos = find_videos([folder])
    engine = load_model(micro_checkpoint(tmp_path / "m.safetensors"), device="cpu")
    cfg = ProbeConfig(windows=2, steps=50, test_fraction=0.25)
    from mosi_tool.evaluation.random_init import random_init_engine

    report = run_probe({"MoSI": engine, "random init": random_init_engine(engine.meta, tmp_path, "cpu")}, videos, cfg)
    assert len(report["videos"]["test"]) == 1 and not set(report["videos"]["test"]) & set(report["videos"]["train"])
    assert report["clips"] == {"train": 54, "test": 18}
    for r in report["results"].values():
        assert 0 <= r["test"]["accuracy"] <= 1 and np.array(r["test"]["confusion"]).sum() == 18
        assert r["train"]["clips"] == 54
    with pytest.raises(ValueError, match="at least 2 videos"):
        run_probe({"MoSI": engine}, videos[:1], cfg)


def test_probe_cli_takes_several_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write_video(a / "x.mp4", n=10, size=(72, 64))
    write_video(b / "y.mp4", n=10, size=(64, 72), speed=3)
    write_video(b / "z.mp4", n=6, size=(64, 64), speed=1)  # shorter than a clip: padded
    out = tmp_path / "probe.json"
    ckpt = micro_checkpoint(tmp_path / "m.safetensors")
    result = CliRunner().invoke(app, ["eval", "probe", "--model", str(ckpt), "--videos", str(a), str(b), "--windows", "1",
                                      "--device", "cpu", "--json", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["clips"]["train"] + report["clips"]["test"] == 27
    assert "not a substitute" in result.output and "random init" in result.output
    assert out.with_suffix(".png").exists()
    result = CliRunner().invoke(app, ["eval", "probe", "--model", str(ckpt), "--videos", str(tmp_path / "none")])
    assert result.exit_code == 2 and "no such file or folder" in result.output


@pytest.mark.parametrize("fraction", ["0", "1", "-0.5"])
def test_probe_names_a_test_fraction_out_of_range(tmp_path, fraction):
    """--test-fraction 0 said "needs at least 2 videos ... found 2"; 1 blamed a "val_fraction" it has no option for."""
    for i in range(2):
        write_video(tmp_path / f"v{i}.mp4", n=12, size=(80, 64), speed=1)
    ckpt = micro_checkpoint(tmp_path / "m.safetensors")
    result = CliRunner().invoke(app, ["eval", "probe", "--videos", str(tmp_path / "v0.mp4"), str(tmp_path / "v1.mp4"), "--model", str(ckpt),
                                      "--runtime", "torch", "--test-fraction", fraction, "--chart", str(tmp_path / "c.png")])  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: --test-fraction {float(fraction)}: must lie between 0 and 1 (both left out)"]
