"""The Python API: `load_model` opens exactly the file it is given (header read once, nothing printed, no
export), preprocesses raw frames as `features` does, and `mosi_tool.features` returns what the command writes."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from typer.testing import CliRunner

import mosi_tool
from mosi_tool.cli import app
from mosi_tool import artifact, load_model
from mosi_tool.default_model import default_model_path
from mosi_tool.metadata import ModelMeta

from .conftest import write_video


@pytest.fixture
def header_reads(monkeypatch):
    """How many times a model file's metadata is parsed (every kind's reader goes through ModelMeta.from_json)."""
    artifact._read_model_file.cache_clear()
    count = [0]
    parse = ModelMeta.from_json.__func__

    def counted(cls, *args, **kwargs):
        count[0] += 1
        return parse(cls, *args, **kwargs)

    monkeypatch.setattr(ModelMeta, "from_json", classmethod(counted))
    return count


def test_load_model_reads_a_checkpoint_header_once_per_process(micro_ckpt, header_reads):
    engine = load_model(micro_ckpt, device="cpu")
    assert header_reads[0] == 1
    load_model(micro_ckpt, device="cpu")
    assert header_reads[0] == 1  # the handle is kept for the process while the file is unchanged
    assert engine.name == "torch" and engine.precision == "fp32" and engine.path == micro_ckpt


def test_load_model_reads_an_onnx_header_once(micro_onnx, header_reads):
    path = micro_onnx()
    artifact._read_model_file.cache_clear()
    header_reads[0] = 0
    engine = load_model(path, device="cpu")
    assert header_reads[0] == 1 and engine.name == "onnxruntime-cpu"


def test_load_model_times_nothing_exports_nothing_prints_nothing(micro_ckpt, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("MOSI_TOOL_CACHE", str(tmp_path / "cache"))
    engine = load_model(micro_ckpt, device="cpu")
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert engine.name == "torch"  # the checkpoint itself, in PyTorch, not a measured or exported path
    assert not (tmp_path / "cache").exists()


def test_load_model_refuses_a_runtime_the_file_is_not_for(micro_ckpt):
    from mosi_tool.runtimes import EngineError, open_engine

    with pytest.raises(EngineError, match=r"micro\.safetensors: a \.safetensors file runs in torch, not onnx"):
        open_engine(micro_ckpt, "cpu", runtime="onnx")


def _first_clip_raw(video, frames: int) -> np.ndarray:
    from mosi_tool.video.decode import VideoReader

    raw = []
    for frame in VideoReader(video).frames():
        raw.append(frame.image)
        if len(raw) == frames:
            break
    return np.stack(raw)[None]  # (1, T, H, W, 3) as decoded


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_raw_frames_get_the_model_s_preprocessing(tmp_path):
    """854x480 decoded frames give the features `features` computes for the same clip (cosine >= 0.999)."""
    video = write_video(tmp_path / "wide.mp4", n=16, size=(854, 480), square=160, speed=12)
    out = tmp_path / "feats"
    result = CliRunner().invoke(app, ["features", str(video), "-o", str(out), "--runtime", "torch", "--workers", "0", "--devices", "cpu"])
    assert result.exit_code == 0, result.output
    written = np.load(out / f"{video.name}.npz")
    engine = load_model(device="cpu")
    raw = _first_clip_raw(video, engine.meta.frames)
    assert raw.shape[2:4] == (480, 854)
    got = engine(raw).features[0]
    assert tuple(written["frame_range"][0]) == (0, engine.meta.frames - 1)
    assert _cosine(got, written["features"][0]) >= 0.999
    unprepared = load_model(device="cpu", mode=None)(raw).features[0]  # the whole frame, unresized: another answer
    assert _cosine(unprepared, written["features"][0]) < 0.99


def test_clips_the_project_samples_pass_unchanged(micro_ckpt):
    engine = load_model(micro_ckpt, device="cpu")
    plain = load_model(micro_ckpt, device="cpu", mode=None)
    rng = np.random.default_rng(0)
    for h, w in ((32, 32), (32, 48)):  # center's crop, and full's short side 32 with a multiple of 16
        clips = rng.integers(0, 256, (2, 4, h, w, 3), dtype=np.uint8)
        np.testing.assert_array_equal(engine(clips).features, plain(clips).features)
    with pytest.raises(ValueError, match="mode must be"):
        load_model(micro_ckpt, device="cpu", mode="middle")


def test_features_returns_what_the_command_writes(micro_ckpt, moving_square_video, tmp_path):
    out = tmp_path / "feats"
    result = CliRunner().invoke(app, ["features", str(moving_square_video), "-o", str(out), "-m", str(micro_ckpt), "--runtime", "torch", "--devices", "cpu", "--pool", "video"])
    assert result.exit_code == 0, result.output
    written = np.load(out / f"{moving_square_video.name}.npz")
    got = mosi_tool.features(moving_square_video, micro_ckpt, device="cpu", runtime="torch", pool="video")
    for key in ("features", "video_feature", "frame_range", "time_range", "padded"):
        np.testing.assert_array_equal(got[key], written[key])
        assert got[key].dtype == written[key].dtype
    assert got["model_id"] == str(written["model_id"]) and got["settings"]["pool"] == "video"


def test_python_calls_print_nothing_and_log_the_runtime_choice_the_command_prints(micro_ckpt, moving_square_video, tmp_path, monkeypatch,
                                                                               capfd, caplog):  # fmt: skip
    from mosi_tool import tune as auto

    monkeypatch.setenv("MOSI_TOOL_CACHE", str(tmp_path / "cache"))
    fake = [auto.Measured("torch", "fp32", 5.0, 1.0, 1.0, ""), auto.Measured("onnx", "fp32", 10.0, 1.0, 1.0, "")]
    monkeypatch.setattr(auto, "measure", lambda model, batch_size, threads: fake)  # the choice, without timing
    said = "runtime auto: torch fp32 for micro.safetensors"
    monkeypatch.setattr(auto, "_PRINTED", set())
    with caplog.at_level(logging.INFO, logger="mosi_tool"):
        mosi_tool.features(moving_square_video, micro_ckpt, device="cpu")  # runtime=None on CPU: tune's choice
        mosi_tool.saliency(moving_square_video, method="cam", model=micro_ckpt, device="cpu")
    assert capfd.readouterr() == ("", "")
    assert any(r.getMessage().startswith(said) and r.levelno == logging.INFO for r in caplog.records)

    monkeypatch.setattr(auto, "_PRINTED", set())  # the command, as a new process would, says it on stderr
    result = CliRunner().invoke(app, ["features", str(moving_square_video), "-o", str(tmp_path / "f"), "-m", str(micro_ckpt), "--devices", "cpu"])
    assert result.exit_code == 0, result.output
    assert said in result.stderr and said not in result.stdout

    monkeypatch.setattr(auto, "_PRINTED", set())  # and a Python call after a command still prints nothing
    mosi_tool.features(moving_square_video, micro_ckpt, device="cpu")
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("call", ["features", "saliency", "targets", "motion"])
@pytest.mark.parametrize(("bad", "reason"), [
    ("absent.mp4", "no such file or folder"),
    ("empty", "folder holds no image frames (.jpg, .png, ...)"),
    ("corrupt.mp4", "not a video FFmpeg can read"),
])  # fmt: skip
def test_every_call_raises_one_video_error_for_a_missing_empty_or_corrupt_input(call, bad, reason, tmp_path, micro_ckpt, capfd):
    from mosi_tool.video.decode import VideoError

    (tmp_path / "empty").mkdir()
    (tmp_path / "corrupt.mp4").write_bytes(b"not a video" * 100)
    path = tmp_path / bad
    options = {"features": {"model": micro_ckpt, "device": "cpu", "runtime": "torch"}}.get(call, {})
    with pytest.raises(VideoError) as caught:
        getattr(mosi_tool, call)(path, **options)
    assert str(caught.value).startswith(f"{path}: {reason}") and "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError) and caught.value.path == str(path)
    assert capfd.readouterr().err == ""  # said by the error alone


def test_default_model_is_the_bundled_one():
    assert load_model(device="cpu").path == default_model_path()
