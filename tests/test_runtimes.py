"""Runtime selection, the ONNX cache, parity across every runtime available here, engine input checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from mosi_tool.export.parity import compare, reference_outputs, synthetic_clips
from mosi_tool.cache import engine_cache_path
from mosi_tool.tune.exported import cached_onnx
from mosi_tool.checkpoint import read_meta
from mosi_tool.loader import load_engine
from mosi_tool.runtimes import EngineError, open_model
from mosi_tool.runtimes.base import Engine
from mosi_tool.runtimes.onnx_runtime import OnnxEngine


def test_checkpoint_on_cpu_runs_the_measured_path_and_onnx_is_cached(micro_ckpt):
    from mosi_tool.tune import choice_path, tune

    choice = tune(micro_ckpt, 8)
    engine = load_engine(micro_ckpt, device="cpu")  # runtime None on CPU: the auto choice for batch 8
    assert engine.precision == choice.precision and engine.name.startswith(choice.runtime.replace("onnx", "onnxruntime"))
    assert choice_path(choice.key).parent.parent == Path(os.environ["MOSI_TOOL_CACHE"])
    meta = read_meta(micro_ckpt)
    cached = engine_cache_path(meta.model_id, "fp32")
    assert cached.parent.parent == Path(os.environ["MOSI_TOOL_CACHE"])
    assert load_engine(micro_ckpt, device="cpu", runtime="onnx").path == cached and cached.exists()
    stamp = cached.stat().st_mtime_ns
    assert load_engine(micro_ckpt, device="cpu", runtime="onnx").path == cached
    assert cached.stat().st_mtime_ns == stamp  # reused, not re-exported


def test_onnx_sessions_take_the_intra_op_thread_setting(micro_ckpt):
    from mosi_tool.runtimes.cpu import intra_op_threads

    with intra_op_threads(1):  # as `features --threads 1` sets it around the engine's load
        engine = load_engine(micro_ckpt, device="cpu", runtime="onnx")
    assert isinstance(engine, OnnxEngine)
    assert engine.session.get_session_options().intra_op_num_threads == 1


def test_features_threads_reach_the_onnx_session(monkeypatch, micro_ckpt, moving_square_video, tmp_path):
    from mosi_tool.pipeline.extract import ExtractOptions, extract

    seen = []
    init = OnnxEngine.__init__

    def record(self, *args, **kwargs):
        init(self, *args, **kwargs)
        seen.append(self.session.get_session_options().intra_op_num_threads)

    monkeypatch.setattr(OnnxEngine, "__init__", record)
    opts = ExtractOptions(model=str(micro_ckpt), devices=["cpu"], runtime="onnx", threads=1, workers=0, out_dir=tmp_path, progress=False)
    assert extract([moving_square_video], opts).ok == 1
    assert seen == [1]


def test_runtime_torch_forces_eager(micro_ckpt):
    assert load_engine(micro_ckpt, device="cpu", runtime="torch").name == "torch"
    assert load_engine(micro_ckpt, device="cpu", compile=False, precision="bf16").name == "torch"  # ORT CPU: fp32 only


def test_bf16_onnx_of_a_checkpoint_on_cpu_is_refused_before_exporting(micro_ckpt):
    """ORT's CPU provider has no bf16 kernels: `--runtime onnx --precision bf16` on CPU says so at once, instead of
    exporting (and caching) a bf16 ONNX it then cannot run."""
    from mosi_tool.loader import resolve_runtime

    exported = engine_cache_path(read_meta(micro_ckpt).model_id, "bf16")
    exported.unlink(missing_ok=True)
    with pytest.raises(EngineError, match=r"micro\.safetensors: --runtime onnx --precision bf16 .*no bf16 kernels"):
        resolve_runtime(micro_ckpt, "cpu", "onnx", "bf16", 4, None)
    assert not exported.exists()


def test_precision_of_a_compiled_engine_is_fixed(micro_onnx):
    with pytest.raises(EngineError, match="keeps the precision it was exported with"):
        load_engine(micro_onnx(), device="cpu", precision="bf16")


def test_damaged_cache_entry_is_rebuilt(micro_ckpt):
    path = cached_onnx(micro_ckpt)
    path.write_text("garbage")
    assert cached_onnx(micro_ckpt) == path
    assert load_engine(path, device="cpu").meta.model_id == read_meta(micro_ckpt).model_id


def test_cache_entry_follows_the_checkpoint_s_metadata(micro_ckpt, tmp_path):
    """Rewriting a checkpoint's metadata keeps its weights and model id; the cached export must not keep the old."""
    from mosi_tool.checkpoint import load_checkpoint, save_checkpoint

    ckpt = tmp_path / "own.safetensors"
    ckpt.write_bytes(micro_ckpt.read_bytes())
    path = cached_onnx(ckpt)
    model, meta = load_checkpoint(ckpt)
    meta.training = {**meta.training, "note": "rewritten"}
    save_checkpoint(ckpt, model, meta)
    assert cached_onnx(ckpt) == path
    assert load_engine(path, device="cpu").meta.training["note"] == "rewritten"


def test_every_available_runtime_matches_pytorch(micro_ckpt, micro_onnx):
    clips = synthetic_clips(4, 4, 32, 48, seed=11)
    reference = reference_outputs(micro_ckpt, clips)
    engines = [load_engine(micro_ckpt, device="cpu", runtime="torch"), load_engine(micro_onnx(), device="cpu")]
    if torch.cuda.is_available():
        engines.append(load_engine(micro_onnx(), device="cuda"))
    for engine in engines:
        parity = compare(reference, engine(clips))
        assert parity.failures("fp32") == [], engine.describe()


def test_onnx_outputs_of_a_new_shape_then_the_same_shape_match_the_model(micro_ckpt, micro_onnx):
    """The first batch of a shape lets ONNX Runtime allocate the outputs (their shapes are then known); the
    next ones are bound to preallocated tensors. Both must give the model's outputs."""
    engine = load_engine(micro_onnx(), device="cpu")
    for width in (80, 48, 80):
        clips = synthetic_clips(3, 4, 32, width)
        reference = reference_outputs(micro_ckpt, clips)
        assert compare(reference, engine(clips)).failures("fp32") == []
    assert sorted(engine._shapes) == [(3, 4, 32, 48, 3), (3, 4, 32, 80, 3)]


def test_cuda_requested_but_cpu_only_session_warns_once(micro_onnx, capsys):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has a CUDA provider")
    engine = OnnxEngine(open_model(micro_onnx()), torch.device("cuda"))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning:") and "running on CPU" in err[0]
    assert engine.name == "onnxruntime-cpu"


class _Echo(Engine):
    def run(self, clips):  # pragma: no cover - never reached in these tests
        raise AssertionError


def test_engine_refuses_input_outside_its_range(micro_ckpt):
    engine = _Echo(open_model(micro_ckpt), torch.device("cpu"))
    engine.hw_range = ((32, 32), (64, 64))
    with pytest.raises(ValueError, match="engine accepts 32x32 to 64x64 input, got 32x80"):
        engine(torch.zeros(1, 4, 32, 80, 3, dtype=torch.uint8))


@pytest.mark.parametrize("command", [["demo", "--out-dir", "{tmp}/demo"], ["finetune", "--model", "{tmp}/m.safetensors", "--data", "{tmp}", "--classes", "2"]])
def test_unknown_device_is_one_error_line(tmp_path, command):
    """--device tpu ended the demo and finetune in torch's RuntimeError traceback."""
    from typer.testing import CliRunner

    from mosi_tool.cli import app

    args = [a.format(tmp=tmp_path) for a in command]
    result = CliRunner().invoke(app, [*args, "--device", "tpu"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == ["error: device 'tpu': use auto, cpu, cuda or cuda:N"]
