"""The one table of artifact formats; the CLI's checks, defaults and messages all read it."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

PRECISIONS = ("fp32", "fp16", "bf16")
ALL_PRECISIONS = (*PRECISIONS, "int8")  # int8: ONNX only (static quantization for CPUs)


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str
    needs_gpu: bool
    precisions: tuple[str, ...]
    module: str  # the builder module; it exposes `build(checkpoint, out, options, log) -> ExportInfo`
    flag: str  # the export command's option
    runs_on: str  # for help and `info`


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("onnx", ".onnx", False, ALL_PRECISIONS, "export.onnx", "--onnx", "onnxruntime (CPU or CUDA); input to TensorRT"),
        Format("tensorrt", ".engine", True, PRECISIONS, "export.tensorrt", "--trt", "TensorRT on the GPU it was built on"),
        Format("aoti", ".pt2", False, PRECISIONS, "export.aoti", "--aoti", "AOTInductor (torch, no model code) on its --device"),
    )
}


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown export format {name!r}; choose from {', '.join(FORMATS)}") from None


def format_of(path: Path) -> Format | None:
    """The format a file's suffix names, or None (e.g. a checkpoint)."""
    return next((f for f in FORMATS.values() if path.suffix.lower() == f.suffix), None)


def check_request(fmt: Format, out: Path, precision: str) -> None:
    """Refuse a precision the format cannot build or an output path with another format's suffix."""
    if precision not in fmt.precisions:
        raise ValueError(f"{fmt.flag}: precision {precision!r} is not supported; choose from {', '.join(fmt.precisions)}")
    if out.suffix.lower() != fmt.suffix:
        raise ValueError(f"{fmt.flag} {out}: the output of {fmt.flag} must end in {fmt.suffix}")


def default_output(checkpoint: Path, fmt: Format, precision: str) -> Path:
    """NAME.engine (fp32) or NAME-fp16.engine (NAME-int8.onnx, ...) beside the checkpoint."""
    tag = "" if precision == "fp32" else f"-{precision}"
    return checkpoint.with_name(f"{checkpoint.stem}{tag}{fmt.suffix}")


def builder(fmt: Format) -> ModuleType:
    return importlib.import_module(fmt.module)
