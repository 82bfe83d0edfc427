"""Runtimes, chosen by the artifact's suffix (or `runtime=`): one Engine class per artifact kind."""

from __future__ import annotations

from pathlib import Path

import torch

from .base import Engine, EngineError, resolve_device

SUFFIX_RUNTIME = {".safetensors": "torch", ".onnx": "onnx", ".engine": "tensorrt", ".pt2": "aoti"}
RUNTIMES = ("torch", "onnx", "tensorrt", "aoti")


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
    """Open a checkpoint or compiled engine on `device`; the runtime follows the file suffix."""
    path = Path(path)
    if not path.exists():
        raise EngineError(f"{path}: no such file")
    kind = runtime or runtime_for(path)
    dev = resolve_device(device)
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


__all__ = ["Engine", "EngineError", "load_engine", "resolve_device", "runtime_for", "RUNTIMES"]
