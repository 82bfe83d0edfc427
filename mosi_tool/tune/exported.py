"""Checkpoints exported on demand into the cache (`--runtime onnx` for a checkpoint, the ONNX candidates of
`tune`): the one place library code calls the exporters in `export/`."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..cache import engine_cache_path
from ..checkpoint import verified_state
from ..runtimes import EngineError, ModelFile, open_model
from ..version import __version__


def cached_onnx(checkpoint: Path | ModelFile, precision: str = "fp32", log: Callable[[str], None] | None = None) -> Path:
    """The checkpoint's ONNX export from the cache, exported there first if missing or stale.

    Exports are keyed by model id (a digest of the weights) and precision, and re-made when the file is
    damaged, was written by another mosi-tool version, or carries other metadata than the checkpoint now does
    (e.g. a model card or a field added to a file without changing its weights). The checkpoint's weights are
    checked against their digest first, so a damaged checkpoint is refused (CheckpointError) rather than
    served by the export of the file it once was. `log` (if given) hears that an export is being made.
    """
    from mosi_tool.export.onnx import build
    from mosi_tool.export.options import ExportOptions

    model = open_model(checkpoint)
    checkpoint = model.path
    _, meta = verified_state(checkpoint, model.meta)
    path = engine_cache_path(meta.model_id, precision)
    if path.exists():
        try:
            cached = open_model(path)  # a damaged cache entry is rebuilt below
            if cached.meta.to_json() == meta.to_json() and cached.export and cached.export.exporter_version == __version__:
                return path
        except EngineError:
            pass
    kind = "int8 ONNX (static quantization)" if precision == "int8" else f"{precision} ONNX"
    if log:
        log(f"exporting {checkpoint.name} to {kind} once for ONNX Runtime (cached): {path}")
    build(checkpoint, path, ExportOptions(precision=precision, verify=False))
    return path
