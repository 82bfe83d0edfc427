"""Runtimes: one Engine class per artifact kind, each opening exactly that kind (`artifact.KINDS`).

Choosing a runtime for a checkpoint, and exporting it on demand, is policy above this layer: `mosi_tool.loader`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..artifact import KINDS, kind_of
from .base import Engine, EngineError, read_contract, resolve_device

RUNTIMES = ("auto", *dict.fromkeys(k.runtime for k in KINDS.values()))  # auto, torch, onnx, tensorrt, aoti


def open_engine(path: Path, device: torch.device, runtime: str | None = None, compile: bool = False, precision: str = "fp32") -> Engine:
    """Open `path` with `runtime` (default: the runtime of its kind, `artifact.KINDS`); no export, no choice.

    `compile` and `precision` (autocast) apply to checkpoints. Raises EngineError naming the file."""
    if runtime is None:
        runtime = read_contract(kind_of, path).runtime
    if runtime == "torch":
        from .torch_runtime import TorchEngine

        return TorchEngine(path, device, compile=compile, precision=precision)
    if runtime == "onnx":
        from .onnx_runtime import OnnxEngine

        return OnnxEngine(path, device)
    if runtime == "tensorrt":
        from .tensorrt_runtime import TensorRTEngine

        return TensorRTEngine(path, device)
    if runtime == "aoti":
        from .aoti_runtime import AOTIEngine

        return AOTIEngine(path, device)
    raise EngineError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")


__all__ = ["Engine", "EngineError", "open_engine", "resolve_device", "RUNTIMES"]
