"""TensorRT: version/precision rules, environment checks and sidecars everywhere; engines where TensorRT
and a GPU exist; without TensorRT, a clear error that leaves the command's other artifacts written."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import torch
from typer.testing import CliRunner

from mosi_tool.export.metadata import write_sidecar
from mosi_tool.artifact import ExportInfo, read_sidecar, sidecar_path
from mosi_tool.export.tensorrt import Recipe, recipe
from mosi_tool.runtimes.tensorrt_env import TrtTarget, check_target, require_tensorrt
from mosi_tool.checkpoint import read_meta
from mosi_tool.loader import load_engine
from mosi_tool.runtimes import EngineError


def _tensorrt_reason() -> str | None:
    try:
        require_tensorrt()
    except EngineError as e:
        return str(e)
    if not torch.cuda.is_available():
        return "TensorRT is installed but there is no CUDA GPU"
    return None


needs_trt = pytest.mark.skipif(_tensorrt_reason() is not None, reason=f"needs TensorRT and a GPU: {_tensorrt_reason()}")


def test_precision_recipe_by_version():
    assert recipe("10.13.0.35", "fp16") == Recipe("fp32", "FP16")
    assert recipe("10.13.0.35", "bf16") == Recipe("fp32", "BF16")
    assert recipe("10.0.1", "fp32") == Recipe("fp32", None)
    assert recipe("11.4.0", "fp16") == Recipe("fp16", None)  # strongly typed: precision from the graph
    assert recipe("11.0.0", "bf16") == Recipe("bf16", None)


def test_engine_for_another_gpu_or_version_is_refused():
    built = TrtTarget("10.13.0.35", "NVIDIA H100 80GB HBM3", "9.0")
    check_target("m.engine", built.as_dict(), built)
    for here in (TrtTarget("10.14.1", built.gpu, "9.0"), TrtTarget(built.tensorrt_version, "NVIDIA L4", "8.9")):
        with pytest.raises(EngineError, match=r"^m\.engine: built for TensorRT 10\.13.*re-export it here"):
            check_target("m.engine", built.as_dict(), here)
    with pytest.raises(EngineError, match="does not say which TensorRT"):
        check_target("m.engine", {}, built)


def test_sidecar_round_trip(tmp_path, micro_ckpt):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"\x01" * 16)
    meta = read_meta(micro_ckpt)
    info = ExportInfo(format="tensorrt", precision="fp16", batch=[1, 8, 32], hw=[32, 32, 80], device="cuda",
                      target=TrtTarget("10.13.0.35", "NVIDIA H100", "9.0").as_dict())  # fmt: skip
    write_sidecar(engine, meta, info)
    assert sidecar_path(engine).name == "m.engine.json"
    assert read_sidecar(engine) == (meta, info)
    doc = json.loads(sidecar_path(engine).read_text())
    assert doc["export"]["target"]["compute_capability"] == "9.0" and doc["mosi_tool"]["model_id"] == meta.model_id


def test_engine_without_sidecar_is_refused(tmp_path):
    if _tensorrt_reason() and "not installed" in _tensorrt_reason():
        pytest.skip("checked after the TensorRT import; see test_without_tensorrt_*")
    engine = tmp_path / "lonely.engine"
    engine.write_bytes(b"\x01" * 16)
    with pytest.raises(EngineError, match="no metadata sidecar lonely.engine.json"):
        load_engine(engine, device="cuda")


def test_empty_tensorrt_namespace_is_not_tensorrt(tmp_path, monkeypatch):
    (tmp_path / "tensorrt").mkdir()  # what an importable stubs-only install looks like
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tensorrt", raising=False)
    if importlib.util.find_spec("tensorrt").origin not in (None, "namespace"):
        pytest.skip("a real tensorrt package shadows the namespace")
    with pytest.raises(EngineError, match="^TensorRT is not installed: 'import tensorrt' found an empty package"):
        require_tensorrt()


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is importable here")
def test_without_tensorrt_export_fails_but_writes_the_other_artifacts(micro_ckpt, tmp_path):
    from mosi_tool.cli import app

    ckpt = tmp_path / micro_ckpt.name
    ckpt.write_bytes(micro_ckpt.read_bytes())
    onnx = tmp_path / "m.onnx"
    result = CliRunner().invoke(app, ["export", str(ckpt), "--onnx", str(onnx), "--trt", "--device", "cpu"])
    assert result.exit_code == 2
    assert "error: TensorRT is not installed" in result.stderr
    assert onnx.exists() and "features  max abs error" in result.stdout  # written and verified
    assert not list(tmp_path.glob("*.engine*"))
    with pytest.raises(EngineError, match=r"m\.onnx: a \.onnx file runs in onnx, not tensorrt; make a file for tensorrt with mosi-tool export"):
        load_engine(tmp_path / "m.onnx", runtime="tensorrt", device="cpu")


@needs_trt
@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_engine_parity_and_dynamic_shapes(micro_ckpt, tmp_path, precision):
    from mosi_tool.export.options import ExportOptions
    from mosi_tool.export.parity import compare, reference_outputs, synthetic_clips
    from mosi_tool.export.tensorrt import build

    out = tmp_path / f"m-{precision}.engine"
    info = build(micro_ckpt, out, ExportOptions(precision=precision, device="cuda", max_batch=4, opt_batch=2, max_size=64))
    engine = load_engine(out, device="cuda")
    assert engine.meta == read_meta(micro_ckpt) and engine.max_batch == 4 and info.target["gpu"]
    for batch, hw in ((1, (32, 32)), (3, (32, 48)), (5, (64, 32))):
        clips = synthetic_clips(batch, 4, *hw, seed=batch)
        assert compare(reference_outputs(micro_ckpt, clips), engine(clips)).failures(precision) == []
