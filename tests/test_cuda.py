"""The CUDA path against the CPU: every PyTorch precision, torch.compile, ONNX Runtime's CUDA provider, the
pseudo-motion generator and a training run. Each test is marked `gpu` and skips without CUDA;
`bench/gpu_check.py` runs them with `pytest -m gpu` on a GPU machine."""

from __future__ import annotations

import json

import pytest
import torch

from mosi_tool.export.parity import compare, reference_outputs, synthetic_clips
from mosi_tool.checkpoint import load_checkpoint
from mosi_tool.loader import load_engine
from mosi_tool.training.pseudo_motion import MotionConfig, PseudoMotion

from .test_pseudo_motion import SMALL, sources
from .test_train import MICRO_FLAGS, image_root, train  # noqa: F401 - image_root is a fixture

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_eager_cuda_matches_cpu(micro_ckpt, precision):
    clips = synthetic_clips(5, 4, 32, 48, seed=3)
    engine = load_engine(micro_ckpt, device="cuda", runtime="torch", precision=precision)
    out = engine(clips)
    assert out.features.is_cuda and out.features.dtype == torch.float32
    assert compare(reference_outputs(micro_ckpt, clips), out).failures(precision) == []


def test_torch_compile_cuda_matches_cpu(micro_ckpt):
    clips = synthetic_clips(4, 4, 32, 32, seed=4)
    engine = load_engine(micro_ckpt, device="cuda", runtime="torch", compile=True)
    assert engine.name == "torch.compile"
    assert compare(reference_outputs(micro_ckpt, clips), engine(clips)).failures("fp32") == []


def test_onnxruntime_cuda_provider_matches_cpu(micro_ckpt, micro_onnx):
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("onnxruntime here is the CPU build (onnxruntime-gpu has the CUDA provider)")
    engine = load_engine(micro_onnx(), device="cuda")
    assert engine.name != "onnxruntime-cpu"
    clips = synthetic_clips(3, 4, 32, 48, seed=5)
    assert compare(reference_outputs(micro_ckpt, clips), engine(clips)).failures("fp32") == []


def test_pseudo_motion_on_cuda_equals_cpu():
    """Validation draws are a counter-based hash, so both devices must make the same clips and masks."""
    cfg = MotionConfig(**SMALL)
    src = sources(3, cfg.source_size)
    cpu = PseudoMotion(cfg, "cpu")(src, train=False)
    gpu = PseudoMotion(cfg, "cuda")(src.cuda(), train=False)
    assert gpu.clips.is_cuda
    assert torch.equal(cpu.mask_box, gpu.mask_box.cpu()) and torch.equal(cpu.labels, gpu.labels.cpu())
    torch.testing.assert_close(gpu.clips.cpu(), cpu.clips, atol=1e-5, rtol=0)


def test_training_on_cuda_with_bf16(image_root, tmp_path):  # noqa: F811 - the fixture
    out = tmp_path / "run"
    train(["--data", "imagenet", "--root", str(image_root), "--out", str(out), "--epochs", "1", "--warmup-epochs", "1",
           "--device", "cuda", "--amp", *MICRO_FLAGS])  # fmt: skip
    assert json.loads((out / "config.json").read_text())["device"] == "cuda"
    _, meta = load_checkpoint(out / "last.safetensors")
    assert meta.training["epochs"] == 1 and 0 <= meta.training["val_acc"] <= 1
