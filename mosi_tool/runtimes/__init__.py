"""Runtimes, chosen by the artifact's suffix (or `runtime=`): one Engine class per artifact kind."""

from __future__ import annotations

from pathlib import Path

import torch

from ..metadata import ModelMeta
from .base import Engine, EngineError, resolve_device

SUFFIX_RUNTIME = {".safetensors": "torch", ".onnx": "onnx", ".engine": "tensorrt", ".pt2": "aoti"}
RUNTIMES = ("torch", "onnx", "tensorrt", "aoti")
PRECISIONS = ("fp32", "bf16", "fp16")


def runtime_for(path: Path) -> str:
    try:
        return SUFFIX_RUNTIME[path.suffix.lower()]
    except KeyError:
        kinds = ", ".join(SUFFIX_RUNTIME)
        raise EngineError(f"{path}: unknown model file type {path.suffix!r}; expected one of {kinds}") from None


def load_engine(
    path: str | Path,
    device: str | torch.device = "auto",
    runtime: str | None = None,
    compile: bool = False,
    precision: str = "fp32",
) -> Engine:
    """Open a checkpoint or compiled engine on `device`; the runtime follows the file suffix.

    A checkpoint with `runtime=None` on CPU (fp32, no `compile`) runs through onnxruntime when it is
    installed: the checkpoint is exported to ONNX once into the cache (`mosi_tool.cache`) and reused. On the
    2-core dev CPU ORT runs full-size R(2+1)D-10 at ~5 clips/s at every batch size, eager PyTorch fp32 at
    5.3 (batch 1) down to 2.4 (batch 16) (docs/BENCHMARKS.md). `precision="bf16"` runs the checkpoint in
    PyTorch with bf16 autocast, fastest on CPUs with AMX.
    `runtime="torch"` forces eager PyTorch; `runtime="onnx"` with a checkpoint uses the cached export on
    any device.
    """
    path = _existing(path)
    kind = runtime or runtime_for(path)
    dev = resolve_device(device)
    checkpoint = path.suffix.lower() == ".safetensors"
    if precision not in PRECISIONS:
        raise EngineError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "fp32" and not checkpoint:
        raise EngineError(f"{path}: a compiled engine keeps the precision it was exported with; --precision applies to checkpoints")
    if checkpoint and runtime is None and dev.type == "cpu" and not compile and precision == "fp32" and _has_onnxruntime():
        onnx = _cached_onnx_or_none(path, precision)
        if onnx is not None:
            path, kind = onnx, "onnx"
    elif checkpoint and kind == "onnx":
        from ..cache import cached_onnx

        path = cached_onnx(path, precision)
    elif checkpoint and kind in ("tensorrt", "aoti"):
        raise EngineError(f"{path}: --runtime {kind} needs an exported engine; make one with mosi-tool export")
    if kind == "torch":
        from .torch_runtime import TorchEngine

        return TorchEngine(path, dev, compile=compile, precision=precision)
    if kind == "onnx":
        from .onnx_runtime import OnnxEngine

        return OnnxEngine(path, dev)
    if kind == "tensorrt":
        from .tensorrt_runtime import TensorRTEngine

        return TensorRTEngine(path, dev)
    if kind == "aoti":
        from .aoti_runtime import AOTIEngine

        return AOTIEngine(path, dev)
    raise EngineError(f"unknown runtime {kind!r}; choose from {', '.join(RUNTIMES)}")


def read_model_meta(path: str | Path) -> ModelMeta:
    """The metadata of any checkpoint or engine, without loading it (cheap)."""
    from export.metadata import read_artifact

    path = _existing(path)
    runtime_for(path)  # a clear error for unknown file types
    return read_artifact(path)[0]


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise EngineError(f"{path}: no such file")
    return path


def _has_onnxruntime() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def _cached_onnx_or_none(checkpoint: Path, precision: str) -> Path | None:
    """The cached ONNX export, or None (with one warning line) if exporting fails: eager PyTorch still works."""
    from ..cache import cached_onnx
    from ..progress import info

    try:
        return cached_onnx(checkpoint, precision)
    except Exception as e:  # noqa: BLE001 - any export failure only costs speed, so say it and go on
        info(f"warning: {e}; running eager PyTorch instead")
        return None


__all__ = ["Engine", "EngineError", "load_engine", "read_model_meta", "resolve_device", "runtime_for", "RUNTIMES"]
