"""AOTInductor: one CPU compile per session (about 40 s on 2 cores, hence slow), then parity, dynamic
shapes, metadata through both readers, and a run without mosi-tool's code."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from mosi_tool.export.aoti import build
from mosi_tool.artifact import from_props, read_pt2, read_pt2_props
from mosi_tool.export.options import ExportOptions
from mosi_tool.export.parity import compare, reference_outputs, sample_clips, synthetic_clips
from mosi_tool.checkpoint import read_meta
from mosi_tool.loader import load_engine
from mosi_tool.runtimes import EngineError
from mosi_tool.runtimes.aoti_runtime import AOTIEngine, check_pt2_target

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def micro_pt2(micro_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("aoti") / "micro.pt2"
    build(micro_ckpt, out, ExportOptions(device="cpu", max_batch=4, opt_batch=2, max_size=64))
    return out


@pytest.fixture(scope="session")
def engine(micro_pt2):
    return load_engine(micro_pt2, device="cpu")


def test_parity_on_real_or_synthetic_clips(micro_ckpt, engine):
    assert isinstance(engine, AOTIEngine)
    clips, _ = sample_clips(read_meta(micro_ckpt), 6)
    parity = compare(reference_outputs(micro_ckpt, clips), engine(clips))
    assert parity.stat("logits").max_abs < 1e-3
    assert min(s.min_cosine for s in parity.stats) > 0.9999
    assert parity.top1 == 1.0


@pytest.mark.parametrize("batch", [1, 3, 5])
def test_dynamic_batch_split_above_max(micro_ckpt, engine, batch):
    clips = synthetic_clips(batch, 4, 32, 32, seed=batch)  # 5 > max batch 4: split in two calls
    assert compare(reference_outputs(micro_ckpt, clips), engine(clips)).failures("fp32") == []


@pytest.mark.parametrize("hw", [(32, 48), (64, 32)])
def test_dynamic_width(micro_ckpt, engine, hw):
    clips = synthetic_clips(2, 4, *hw, seed=5)
    assert compare(reference_outputs(micro_ckpt, clips), engine(clips)).failures("fp32") == []


def test_size_outside_the_compiled_range_is_a_clear_error(engine):
    with pytest.raises(ValueError, match="engine accepts 32x32 to 64x64 input, got 32x80"):
        engine(torch.zeros(1, 4, 32, 80, 3, dtype=torch.uint8))


def test_metadata_round_trip_both_readers(micro_ckpt, micro_pt2, engine):
    meta, info = read_pt2(micro_pt2)  # JSON inside the package, no code loaded
    assert meta == read_meta(micro_ckpt) == engine.meta  # the engine's comes from the loader's get_metadata()
    assert info.format == "aoti" and info.batch == [1, 2, 4] and info.hw == [32, 32, 64] and info.device == "cpu"
    assert from_props(engine.runner.get_metadata(), "loader") == (meta, info)


def test_wrong_target_is_refused(micro_pt2):
    props = read_pt2_props(micro_pt2)
    with pytest.raises(EngineError, match="compiled for CPU vector ISA 'NOTHING'.*re-export"):
        check_pt2_target(micro_pt2, {**props, "AOTI_CPU_ISA": "NOTHING"}, torch.device("cpu"))
    with pytest.raises(EngineError, match="compiled for cuda, not cpu"):
        check_pt2_target(micro_pt2, {**props, "AOTI_DEVICE_KEY": "cuda"}, torch.device("cpu"))


def test_runs_without_mosi_tool_code(micro_pt2, tmp_path):
    code = (
        "import sys, torch\n"
        f"runner = torch._inductor.aoti_load_package({str(micro_pt2)!r})\n"
        "out = runner(torch.zeros(3, 4, 32, 48, 3, dtype=torch.uint8))\n"
        "assert [tuple(t.shape) for t in out] == [(3, 9), (3, 64), (3, 9, 1, 2, 3)], out\n"
        "assert not any(m.split('.')[0] in ('mosi_tool', 'export') for m in sys.modules)\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_not_a_package_is_one_line_error(tmp_path):
    bad = tmp_path / "model.pt2"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(EngineError) as e:
        load_engine(bad, device="cpu")
    assert str(e.value).startswith(f"{bad}: not a .pt2 package") and "\n" not in str(e.value)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: AOTInductor packages for the GPU are compiled on it")
def test_cuda_package(micro_ckpt, tmp_path):
    out = tmp_path / "micro-cuda.pt2"
    build(micro_ckpt, out, ExportOptions(device="cuda", precision="bf16", max_batch=4, opt_batch=2, max_size=64))
    engine = load_engine(out, device="cuda")
    assert engine.device.type == "cuda" and read_pt2(out)[1].target["compute_capability"]
    clips = synthetic_clips(5, 4, 32, 48, seed=2)
    out_gpu = engine(clips)
    assert out_gpu.features.is_cuda
    assert compare(reference_outputs(micro_ckpt, clips), out_gpu).failures("bf16") == []
    with pytest.raises(EngineError, match="compiled for cuda, not cpu"):
        load_engine(out, device="cpu")


def test_a_damaged_package_is_refused(micro_pt2, tmp_path):
    import zipfile

    with zipfile.ZipFile(micro_pt2) as z:  # the largest stored member: the weights
        info = max(z.infolist(), key=lambda i: i.compress_size)
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data = bytearray(micro_pt2.read_bytes())
    data[start + info.compress_size // 2] ^= 0xFF
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(bytes(data))
    with pytest.raises(EngineError, match="bad.pt2: the package was altered or damaged"):
        load_engine(bad, device="cpu")
