"""`--runtime auto`: the selection rules on mock timings, the cached choice's key, CPU peaks, parity bounds,
and the int8 export round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from mosi_tool.export import int8
from mosi_tool.export.parity import compare, reference_outputs, sample_clips
from mosi_tool.checkpoint import read_meta
from mosi_tool.default_model import default_model_path
from mosi_tool.cli import app
from mosi_tool import tune as auto
from mosi_tool.loader import load_engine, resolve_runtime
from mosi_tool.tune import Measured, choose
from mosi_tool.runtimes.cpu import CpuInfo, peaks

from .conftest import micro_checkpoint


def m(runtime: str, precision: str, ms: float, cos: float = 1.0, error: str = "") -> Measured:
    return Measured(runtime, precision, ms, cos, cos, error)


def test_fastest_fp32_path_wins():
    winner, reason = choose([m("torch", "fp32", 80.0), m("onnx", "fp32", 60.0)])
    assert (winner.runtime, winner.precision) == ("onnx", "fp32")
    assert "torch fp32 80.0 ms" in reason and "onnx fp32 60.0 ms" in reason


def test_bf16_only_inside_its_cosine_bound():
    fast = [m("torch", "fp32", 80.0), m("onnx", "fp32", 90.0)]
    assert choose([*fast, m("torch", "bf16", 40.0, cos=0.99995)])[0].precision == "bf16"
    winner, reason = choose([*fast, m("torch", "bf16", 40.0, cos=0.9998)])
    assert (winner.runtime, winner.precision) == ("torch", "fp32") and "not used: cosine 0.999800 < 0.9999" in reason


def test_int8_needs_its_speedup_and_cosine():
    base = [m("torch", "fp32", 100.0), m("torch", "bf16", 50.0, cos=0.99999)]
    assert choose([*base, m("onnx", "int8", 40.0)])[0].precision == "bf16"  # 1.25x the best float path: not enough
    assert choose([*base, m("onnx", "int8", 30.0, cos=0.995)])[0].precision == "int8"  # 1.67x at cosine 0.995
    winner, reason = choose([*base, m("onnx", "int8", 30.0, cos=0.98)])
    assert winner.precision == "bf16" and "features cosine 0.9800 < 0.99" in reason


def test_unavailable_paths_are_left_out():
    winner, reason = choose([m("torch", "fp32", 80.0), m("onnx", "fp32", float("inf"), error="no onnxruntime")])
    assert winner.runtime == "torch" and "onnx fp32 unavailable (no onnxruntime)" in reason
    with pytest.raises(ValueError, match="no fp32 path"):
        choose([m("torch", "bf16", 10.0, cos=0.5)])


def test_candidates_follow_the_hardware():
    labels = lambda cs: [c.label for c in cs]  # noqa: E731
    assert labels(auto.candidates(False, True, True)) == ["torch fp32", "onnx fp32", "onnx int8"]
    assert labels(auto.candidates(True, False, False)) == ["torch fp32", "torch bf16"]


def test_choice_is_cached_per_model_batch_and_threads(micro_ckpt, monkeypatch, tmp_path):
    monkeypatch.setenv("MOSI_TOOL_CACHE", str(tmp_path))  # choices other tests cached for this model must not answer
    calls: list[tuple[int, int]] = []

    def fake_measure(model, batch_size, threads):
        calls.append((batch_size, threads))
        return [m("torch", "fp32", 10.0), m("onnx", "fp32", 5.0 if batch_size == 4 else 20.0)]

    monkeypatch.setattr(auto, "measure", fake_measure)
    monkeypatch.setattr(auto, "_PRINTED", set())
    lines: list[str] = []
    first = auto.tune(micro_ckpt, 4, 2, log=lines.append)
    assert (first.runtime, first.precision) == ("onnx", "fp32") and calls == [(4, 2)]
    assert auto.tune(micro_ckpt, 4, 2, log=lines.append).label == "onnx fp32" and calls == [(4, 2)]  # from the cache
    assert len(lines) == 1 and "runtime auto: onnx fp32" in lines[0]  # printed once
    assert "fastest per batch" in lines[0] and "cached in" in lines[0]  # with its reason when measured
    monkeypatch.setattr(auto, "_PRINTED", set())  # a later process: a short line naming where the reason is
    auto.tune(micro_ckpt, 4, 2, log=lines.append)
    assert "measured earlier" in lines[-1] and "fastest per batch" not in lines[-1] and calls == [(4, 2)]
    assert auto.tune(micro_ckpt, 8, 2, log=lines.append).label == "torch fp32" and calls[-1] == (8, 2)
    auto.tune(micro_ckpt, 4, 1, log=lines.append)
    assert calls[-1] == (4, 1)
    key = auto.cache_key(read_meta(micro_ckpt).model_id, 4, 2)
    path = auto.choice_path(key)
    assert json.loads(path.read_text())["key"] == key
    stored = json.loads(path.read_text())
    stored["key"]["torch"] = "0.0"  # made by another torch: measured again
    path.write_text(json.dumps(stored))
    auto.tune(micro_ckpt, 4, 2, log=lines.append)
    assert calls[-1] == (4, 2) and len(calls) == 4
    path.write_text("garbage")  # a damaged entry: measured again
    auto.tune(micro_ckpt, 4, 2, log=lines.append)
    assert len(calls) == 5


def test_other_model_gets_its_own_choice(micro_ckpt, tmp_path):
    other = micro_checkpoint(tmp_path / "other.safetensors", seed=1)
    a = auto.choice_path(auto.cache_key(read_meta(micro_ckpt).model_id, 4, 2))
    b = auto.choice_path(auto.cache_key(read_meta(other).model_id, 4, 2))
    assert a != b


def test_auto_runs_a_measured_path_inside_its_precision_bound(micro_ckpt):
    engine = load_engine(micro_ckpt, device="cpu", runtime="auto", batch_size=4)
    assert engine.precision in ("fp32", "bf16", "int8")
    assert resolve_runtime(micro_ckpt, "cpu", None, "fp32", 4, None) == resolve_runtime(micro_ckpt, "cpu", "auto", "fp32", 4, None)
    clips, _ = sample_clips(read_meta(micro_ckpt), 4)
    parity = compare(reference_outputs(micro_ckpt, clips), engine(clips))
    bound = {"fp32": 0.9999, "bf16": auto.BF16_MIN_COSINE, "int8": auto.INT8_MIN_COSINE}[engine.precision]
    assert parity.stat("features").min_cosine >= bound - 1e-3  # measured on other clips at selection: a small margin


def test_explicit_runtime_and_precision_bypass_auto(micro_ckpt):
    assert resolve_runtime(micro_ckpt, "cpu", "torch", "fp32", 4, None) == ("torch", "fp32")
    assert resolve_runtime(micro_ckpt, "cpu", None, "bf16", 4, None) == (None, "bf16")
    assert load_engine(micro_ckpt, device="cpu", precision="bf16").precision == "bf16"


def test_peaks_for_zen4_and_amx():
    zen4 = CpuInfo("AMD EPYC", "AuthenticAMD", 25, 2600.0, 2, frozenset({"avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni"}))
    p = peaks(zen4)
    assert p["fp32"].ops_per_s == pytest.approx(2 * 2.6e9 * 32)
    assert p["bf16"].ops_per_s == pytest.approx(2 * p["fp32"].ops_per_s)
    assert p["int8"].ops_per_s == pytest.approx(4 * p["fp32"].ops_per_s)
    spr = CpuInfo("Xeon", "GenuineIntel", 6, 2000.0, 4, frozenset({"avx2", "fma", "avx512f", "amx_bf16", "amx_int8"}))
    q = peaks(spr)
    assert q["fp32"].ops_per_s == pytest.approx(4 * 2e9 * 64)
    assert q["bf16"].ops_per_s == pytest.approx(4 * 2e9 * 1024) and q["int8"].ops_per_s == pytest.approx(4 * 2e9 * 2048)
    assert zen4.has_bf16 and not zen4.has_amx and zen4.key() != spr.key()


@pytest.mark.skipif(not int8.available(), reason="onnxruntime quantization tools not installed")
def test_int8_export_round_trip(micro_ckpt, moving_square_video, tmp_path):
    from mosi_tool.artifact import read_onnx

    out = tmp_path / "micro-int8.onnx"
    result = CliRunner().invoke(app, ["export", str(micro_ckpt), "--int8", "--onnx", str(out), "--calibration", str(moving_square_video.parent)])
    assert result.exit_code == 0, result.output
    assert "CAM correlation" in result.output and "top-1 agreement" in result.output
    meta, info = read_onnx(out)
    assert info.precision == "int8" and meta.model_id == read_meta(micro_ckpt).model_id
    assert "clips from" in info.target["calibration"]
    engine = load_engine(out, device="cpu")
    assert engine.precision == "int8"
    clips, _ = sample_clips(meta, 4)
    parity = compare(reference_outputs(micro_ckpt, clips), engine(clips))
    assert parity.failures("int8") == []
    assert parity.stat("features").min_cosine < 1.0  # quantized, not a copy of the fp32 graph


def test_int8_export_refuses_bad_requests(micro_ckpt, tmp_path):
    result = CliRunner().invoke(app, ["export", str(micro_ckpt), "--int8", "--aoti", str(tmp_path / "m.pt2")])
    assert result.exit_code == 2 and "--int8 applies to the ONNX export only" in result.stderr
    result = CliRunner().invoke(app, ["export", str(micro_ckpt), "--onnx", str(tmp_path / "m.onnx"), "--calibration", str(tmp_path)])
    assert result.exit_code == 2 and "--calibration is for --int8" in result.stderr
    with pytest.raises(ValueError, match="no videos"):
        int8.calibration_videos(tmp_path)


def test_parity_bounds_per_precision():
    ref = reference = torch.nn.functional.normalize(torch.randn(4, 16), dim=1)
    from mosi_tool.models.clip_model import ClipOutput

    cam = torch.rand(4, 9, 2, 3, 3)
    noisy = ref + 0.05 * torch.randn_like(ref)  # cosine ~0.98: outside int8's bound
    p = compare(ClipOutput(reference, reference, cam), ClipOutput(reference, noisy, cam))
    assert any(f.startswith("features cosine") for f in p.failures("int8"))
    close = compare(ClipOutput(reference, reference, cam), ClipOutput(reference, ref + 1e-3 * torch.randn_like(ref), cam * 0.5))
    assert close.failures("int8") == [] and close.cam_correlation == pytest.approx(1.0)


def test_tune_checks_int8_on_clips_it_was_not_calibrated_on():
    from mosi_tool.default_model import SAMPLE_VIDEO
    from mosi_tool.video.samples import spread_clips

    meta = read_meta(default_model_path())
    checked = auto.check_clips(meta, 8)
    assert checked.shape == (8, meta.frames, meta.crop, meta.crop, 3)
    calibrated = int8.default_calibration_clips(meta)
    assert not any((c == k).all() for c in checked for k in calibrated)
    even, odd = (spread_clips(SAMPLE_VIDEO, meta.frames, meta.crop, 64, part=p) for p in (0, 1))
    assert not any((a == b).all() for a in even for b in odd)  # the sample's halves share no clip


def test_export_says_wrote_only_for_a_file_that_passed_its_check(micro_ckpt, moving_square_video, tmp_path, monkeypatch):
    from mosi_tool.export import parity

    out = tmp_path / "m-int8.onnx"
    monkeypatch.setitem(parity.TOLERANCES, "int8", parity.Tolerance(None, 1.01, 0.0, ("features",)))  # cannot pass
    result = CliRunner().invoke(app, ["export", str(micro_ckpt), "--int8", "--onnx", str(out), "--calibration", str(moving_square_video)])
    assert result.exit_code == 2 and "parity check failed" in result.stderr
    assert "onnx: wrote" not in result.output and not out.exists()
    monkeypatch.undo()
    result = CliRunner().invoke(app, ["export", str(micro_ckpt), "--int8", "--onnx", str(out), "--calibration", str(moving_square_video)])
    assert result.exit_code == 0 and f"onnx: wrote {out}" in result.stdout.splitlines()[-1]


@pytest.mark.slow
@pytest.mark.skipif(not int8.available(), reason="onnxruntime quantization tools not installed")
def test_int8_export_of_the_bundled_model_passes_its_own_check_by_default(tmp_path):
    from mosi_tool.export.parity import shared_videos

    if not shared_videos():
        pytest.skip("no shared videos: the parity check would run on synthetic clips, which every calibration passes")
    out = tmp_path / "default-int8.onnx"
    result = CliRunner().invoke(app, ["export", str(default_model_path()), "--int8", "--onnx", str(out)])
    assert result.exit_code == 0, result.output
    assert "(real video)" in result.stdout and out.exists()


def test_tune_command_reports_its_choice_in_one_line(micro_ckpt, monkeypatch, tmp_path):
    monkeypatch.setenv("MOSI_TOOL_CACHE", str(tmp_path))
    monkeypatch.setattr(auto, "measure", lambda model, batch_size, threads: [m("torch", "fp32", 10.0), m("onnx", "fp32", 5.0)])
    monkeypatch.setattr(auto, "_PRINTED", set())
    result = CliRunner().invoke(app, ["tune", "--model", str(micro_ckpt), "--batch-size", "4", "--threads", "1"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("runtime auto: onnx fp32 for micro.safetensors at batch 4, 1 thread")
    assert resolve_runtime(micro_ckpt, "cpu", "auto", "fp32", 4, 1) == ("onnx", "fp32")  # what --runtime auto now runs
    result = CliRunner().invoke(app, ["tune", "--model", str(tmp_path / "absent.safetensors")])
    assert result.exit_code == 2 and "absent.safetensors: no such file" in result.stderr


def test_tune_names_a_damaged_checkpoint_and_why(micro_ckpt, monkeypatch, tmp_path):
    """Weights altered after saving failed every candidate, and tune said only "no fp32 path could be measured"."""
    from safetensors.torch import load_file, save_file

    from mosi_tool.checkpoint import METADATA_KEY

    monkeypatch.setenv("MOSI_TOOL_CACHE", str(tmp_path))
    state = load_file(str(micro_ckpt))
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name] = state[name] + 1
    damaged = tmp_path / "damaged.safetensors"
    save_file(state, str(damaged), metadata={METADATA_KEY: read_meta(micro_ckpt).to_json()})
    result = CliRunner().invoke(app, ["tune", "--model", str(damaged), "--batch-size", "1", "--threads", "1"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: {damaged}: weights do not match the digest in its metadata; the file was altered or damaged"]


def test_tune_help_does_not_offer_engines():
    """tune refuses .onnx/.engine/.pt2 files; its --model help said it took them."""
    result = CliRunner().invoke(app, ["tune", "--help"], env={"COLUMNS": "200"})
    assert "Checkpoint (.safetensors)" in result.stdout and ".pt2" not in result.stdout


def test_tune_checks_its_cache_is_writable_before_measuring(micro_ckpt, monkeypatch, tmp_path):
    """A cache folder that cannot be written failed only after every path had been timed."""
    blocked = tmp_path / "file"
    blocked.write_text("x")
    monkeypatch.setenv("MOSI_TOOL_CACHE", str(blocked / "cache"))
    calls: list[int] = []
    monkeypatch.setattr(auto, "measure", lambda model, batch_size, threads: calls.append(1) or [m("torch", "fp32", 10.0)])
    result = CliRunner().invoke(app, ["tune", "--model", str(micro_ckpt), "--batch-size", "2", "--threads", "1"])
    assert result.exit_code == 2 and "cannot write (a file is in the way of its folder)" in result.stderr
    assert calls == []
