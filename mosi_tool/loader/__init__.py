"""What a command's `--model` and `--runtime` open: the one policy above `runtimes.open_engine`.

`--runtime auto` (and no `--runtime` for a checkpoint on CPU at fp32) takes the path `mosi-tool tune` chose
(measured once, cached); `--runtime onnx` for a checkpoint runs its ONNX export from the cache
(`tune.exported`). Anything else opens exactly the file given. The Python API's `mosi_tool.load_model` does
none of this: it opens the file.

What it has to say (`runtime auto: ...`, an export into the cache, a measurement that failed) goes to the
`mosi_tool` loggers, at INFO (a failed measurement: WARNING): a command prints those lines on stderr
(`cli._say_library_notes`), a Python call such as `mosi_tool.features` prints nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ..default_model import default_model_path
from ..metadata import ModelMeta
from ..runtimes import RUNTIMES, Engine, EngineError, ModelFile, open_engine, open_model, resolve_device

log = logging.getLogger(__name__)


def load_engine(
    path: str | Path | None,
    device: str | torch.device = "auto",
    runtime: str | None = None,
    compile: bool = False,
    precision: str = "fp32",
    batch_size: int = 8,
    threads: int | None = None,
) -> Engine:
    """Open `path` (None: the bundled model) on `device` as a command's options ask (`resolve_runtime`);
    `batch_size` and `threads` pick the tuned path for `auto`. The engine's `precision` says which arithmetic runs; its `source` is `path`.
    Raises EngineError naming the file and the reason."""
    if path is None:
        path = default_model_path()
    model = open_model(path)
    if not compile:
        runtime, precision = resolve_runtime(model, device, runtime, precision, batch_size, threads)
    if model.kind.name == "checkpoint" and runtime == "onnx":
        from ..tune.exported import cached_onnx

        engine = open_engine(cached_onnx(model, precision, log=log.info), device)
    else:
        engine = open_engine(model, device, None if runtime == "auto" else runtime, compile=compile, precision=precision)
    engine.source = model.path
    return engine


def resolve_runtime(
    model: str | Path | ModelFile, device: str | torch.device, runtime: str | None, precision: str, batch_size: int, threads: int | None
) -> tuple[str | None, str]:
    """The concrete (runtime, precision) `load_engine` will use: `auto`, or no runtime for a checkpoint on CPU
    at fp32, is `tune`'s choice (measured once, cached), so that engine processes and output settings agree."""
    if runtime is not None and runtime not in RUNTIMES:
        raise EngineError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    model = open_model(model)
    tuned = model.kind.name == "checkpoint" and resolve_device(device).type == "cpu" and precision == "fp32"
    if runtime in (None, "auto") and tuned:
        from ..tune import tune

        try:
            choice = tune(model, batch_size, threads)
        except Exception as e:  # noqa: BLE001 - measuring only picks a speed; eager PyTorch always works
            log.warning(f"warning: runtime auto could not measure ({' '.join(str(e).split())[:300]}); running eager PyTorch fp32")
            return "torch", "fp32"
        return choice.runtime, choice.precision
    if runtime == "auto":
        runtime = None  # an exported file, a GPU or another precision: the file's own runtime
    if precision == "int8" and runtime != "onnx":
        raise EngineError(f"{model.path}: int8 runs in ONNX Runtime only (--runtime onnx, or mosi-tool export --int8)")
    if model.kind.name == "checkpoint" and runtime == "onnx" and precision == "bf16":
        from ..runtimes.onnx_runtime import runs_bf16

        if not runs_bf16(resolve_device(device)):  # checked before the export that would make the bf16 graph
            raise EngineError(f"{model.path}: --runtime onnx --precision bf16 needs ONNX Runtime on CUDA (its CPU provider has "
                              "no bf16 kernels); --runtime torch runs bf16 on CPUs")  # fmt: skip
    if model.kind.name == "checkpoint" and runtime in ("tensorrt", "aoti"):
        raise EngineError(f"{model.path}: --runtime {runtime} needs an exported engine; make one with mosi-tool export")
    return runtime, precision


def read_model_meta(path: str | Path) -> ModelMeta:
    """The metadata of any checkpoint or engine (its header, read once per process); EngineError if unreadable."""
    return open_model(path).meta


__all__ = ["load_engine", "read_model_meta", "resolve_runtime"]
