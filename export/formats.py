"""The one table of artifact formats; the CLI's checks, defaults and messages all read it."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from mosi_tool.artifact import KINDS, Kind


@dataclass(frozen=True)
class Format:
    """How the export command builds one artifact kind (suffix and precisions come from `artifact.KINDS`)."""

    kind: Kind
    needs_gpu: bool
    module: str  # the builder module; it exposes `build(checkpoint, out, options, log) -> ExportInfo`
    flag: str  # the export command's option
    runs_on: str  # for help and `info`

    @property
    def name(self) -> str:
        return self.kind.name

    @property
    def suffix(self) -> str:
        return self.kind.suffix

    @property
    def precisions(self) -> tuple[str, ...]:
        return self.kind.precisions


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(KINDS[".onnx"], False, "mosi_tool.export.onnx", "--onnx", "onnxruntime (CPU or CUDA); input to TensorRT"),
        Format(KINDS[".engine"], True, "mosi_tool.export.tensorrt", "--trt", "TensorRT on the GPU it was built on"),
        Format(KINDS[".pt2"], False, "mosi_tool.export.aoti", "--aoti", "AOTInductor (torch, no model code) on its --device"),
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
