"""Opening a model file for inference: which runtime (`auto`: measured), and exporting a checkpoint on demand.

A checkpoint asked to run in ONNX Runtime (`--runtime onnx`, or `auto` when it measured fastest) is exported
once into the cache (`exported.cached_onnx`, the one place library code calls `export/`) and opened from
there. Everything below (`runtimes`, `artifact`) opens exactly the file it is given.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..artifact import PRECISIONS, kind_of, read_artifact
from ..metadata import ModelMeta
from ..progress import info
from ..runtimes import RUNTIMES, Engine, EngineError, open_engine, resolve_device
from ..runtimes.base import read_contract
from .exported import cached_onnx


def load_engine(
    path: str | Path,
    device: str | torch.device = "auto",
    runtime: str | None = None,
    compile: bool = False,
    precision: str = "fp32",
    batch_size: int = 8,
    threads: int | None = None,
) -> Engine:
    """Open a checkpoint or compiled engine on `device`; the runtime follows the file suffix.

    A checkpoint on CPU with `runtime=None` or "auto" (fp32, no `compile`) runs on the path `loader.auto`
    measured fastest for this model, CPU, `batch_size` and `threads` (torch.get_num_threads() when None):
    PyTorch fp32, ONNX Runtime fp32 (the checkpoint exported to ONNX once into the cache), PyTorch bf16
    autocast where the CPU has bf16 hardware and the features stay at cosine >= 0.9999, or int8 ONNX
    Runtime where it is >= 1.5x faster at cosine >= 0.99. The engine's `precision` says which arithmetic ran.
    `runtime="torch"` forces eager PyTorch; `runtime="onnx"` with a checkpoint uses the cached export (fp32,
    or `precision="int8"`) on any device; `precision="bf16"` runs PyTorch with bf16 autocast.
    Raises EngineError naming the file and the reason.
    """
    path = given = _existing(path)
    if runtime is not None and runtime not in RUNTIMES:
        raise EngineError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    dev = resolve_device(device)
    kind = read_contract(kind_of, path)
    checkpoint = kind.name == "checkpoint"
    if precision not in PRECISIONS:
        raise EngineError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "fp32" and not checkpoint:
        raise EngineError(f"{path}: a compiled engine keeps the precision it was exported with; --precision applies to checkpoints")
    if not compile and _measures(path, runtime, precision, dev):
        runtime, precision = _auto(path, batch_size, threads)
    wanted = runtime if runtime not in (None, "auto") else kind.runtime
    if precision == "int8" and wanted != "onnx":
        raise EngineError(f"{path}: int8 runs in ONNX Runtime only (--runtime onnx, or mosi-tool export --int8)")
    if checkpoint and wanted == "onnx":
        path, precision = cached_onnx(path, precision), "fp32"
    elif checkpoint and wanted in ("tensorrt", "aoti"):
        raise EngineError(f"{path}: --runtime {wanted} needs an exported engine; make one with mosi-tool export")
    engine = open_engine(path, dev, wanted, compile=compile, precision=precision)
    engine.source = given
    return engine


def read_model_meta(path: str | Path) -> ModelMeta:
    """The metadata of any checkpoint or engine, without loading it (cheap); MetadataError if unreadable."""
    path = _existing(path)
    read_contract(kind_of, path)  # an EngineError for unknown file types, like load_engine's
    return read_artifact(path, verify=False)[0]  # loading the engine checks its weights


def resolve_runtime(model: str | Path, device: str, runtime: str | None, precision: str, batch_size: int, threads: int | None) -> tuple[str | None, str]:
    """The concrete (runtime, precision) `load_engine` will use for these arguments: `auto` (or None for a
    checkpoint on CPU at fp32) resolved once, so that engine processes and output settings agree."""
    path = _existing(model)
    if _measures(path, runtime, precision, resolve_device(device)):
        return _auto(path, batch_size, threads)
    return (None if runtime == "auto" else runtime), precision


def _measures(path: Path, runtime: str | None, precision: str, device: torch.device) -> bool:
    """Whether `auto` picks the path by measurement: a checkpoint on CPU at fp32 with no runtime forced."""
    return runtime in (None, "auto") and path.suffix.lower() == ".safetensors" and device.type == "cpu" and precision == "fp32"


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise EngineError(f"{path}: no such file")
    return path


def _auto(checkpoint: Path, batch_size: int, threads: int | None) -> tuple[str, str]:
    """(runtime, precision) measured fastest here; eager fp32 (with one warning line) if measuring fails."""
    from .auto import resolve

    try:
        choice = resolve(checkpoint, batch_size, threads)
    except Exception as e:  # noqa: BLE001 - measuring only picks a speed; eager PyTorch always works
        info(f"warning: runtime auto could not measure ({' '.join(str(e).split())[:300]}); running eager PyTorch fp32")
        return "torch", "fp32"
    return choice.runtime, choice.precision


__all__ = ["cached_onnx", "load_engine", "read_model_meta", "resolve_runtime"]
