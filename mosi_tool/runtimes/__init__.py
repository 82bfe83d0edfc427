"""Runtimes: one Engine class per artifact kind, each opening exactly that kind (`artifact.KINDS`).

Choosing a runtime for a checkpoint (`mosi-tool tune`) and exporting it on demand are policy above this
layer (`mosi_tool.tune`, `mosi_tool.loader`); nothing here times, exports or prints.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..artifact import KINDS, PRECISIONS, ModelFile, open_model_file
from .base import Engine, EngineError, read_contract, resolve_device

RUNTIMES = ("auto", *dict.fromkeys(k.runtime for k in KINDS.values()))  # auto, torch, onnx, tensorrt, aoti


def open_model(path: str | Path | ModelFile) -> ModelFile:
    """The file's resolved handle (`artifact.open_model_file`: its header read once per process); a file that
    cannot be read raises EngineError (CheckpointError for a damaged checkpoint) naming it."""
    return path if isinstance(path, ModelFile) else read_contract(open_model_file, Path(path))


def open_engine(
    model: str | Path | ModelFile,
    device: str | torch.device = "auto",
    runtime: str | None = None,
    compile: bool = False,
    precision: str = "fp32",
) -> Engine:
    """Open exactly `model` with the runtime of its kind (`artifact.KINDS`: .safetensors -> PyTorch, .onnx ->
    ONNX Runtime, .engine -> TensorRT, .pt2 -> AOTInductor); no export, no timing, no output.

    `runtime`, if given, must be the file's own (a check: another runtime needs another file, made by
    `mosi-tool export`). `compile` (torch.compile) and `precision` (fp32, or bf16/fp16 autocast) apply to
    checkpoints; an exported file keeps the precision it was built with. Raises EngineError naming the file."""
    handle = open_model(model)
    kind, path = handle.kind, handle.path
    if runtime not in (None, kind.runtime):
        if runtime not in RUNTIMES:
            raise EngineError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
        raise EngineError(f"{path}: a {kind.suffix} file runs in {kind.runtime}, not {runtime}; make a file for {runtime} with mosi-tool export")
    if precision not in PRECISIONS:
        raise EngineError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "fp32" and kind.name != "checkpoint":
        raise EngineError(f"{path}: a compiled engine keeps the precision it was exported with; --precision applies to checkpoints")
    if precision == "int8":
        raise EngineError(f"{path}: int8 runs in ONNX Runtime only (--runtime onnx, or mosi-tool export --int8)")
    dev = resolve_device(device)
    if kind.runtime == "torch":
        from .torch_runtime import TorchEngine

        return TorchEngine(handle, dev, compile=compile, precision=precision)
    if kind.runtime == "onnx":
        from .onnx_runtime import OnnxEngine

        return OnnxEngine(handle, dev)
    if kind.runtime == "tensorrt":
        from .tensorrt_runtime import TensorRTEngine

        return TensorRTEngine(handle, dev)
    from .aoti_runtime import AOTIEngine

    return AOTIEngine(handle, dev)


__all__ = ["Engine", "EngineError", "ModelFile", "open_engine", "open_model", "resolve_device", "RUNTIMES"]
