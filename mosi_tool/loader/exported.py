"""Checkpoints exported on demand into the cache: the one place library code calls the exporters in `export/`."""

from __future__ import annotations

from pathlib import Path

from ..artifact import read_onnx
from ..cache import engine_cache_path
from ..checkpoint import verified_state
from ..metadata import MetadataError
from ..progress import info
from ..version import __version__


def cached_onnx(checkpoint: Path, precision: str = "fp32") -> Path:
    """The checkpoint's ONNX export from the cache, exported there first if missing or stale.

    Exports are keyed by model id (a digest of the weights) and precision, and re-made when the file is
    damaged, was written by another mosi-tool version, or carries other metadata than the checkpoint now does
    (e.g. a model card or a field added to a file without changing its weights). The checkpoint's weights are
    checked against their digest first, so a damaged checkpoint is refused (CheckpointError) rather than
    served by the export of the file it once was.
    """
    from export.onnx import build
    from export.options import ExportOptions

    _, meta = verified_state(checkpoint)
    path = engine_cache_path(meta.model_id, precision)
    if path.exists():
        try:
            cached, export_info = read_onnx(path)  # a damaged cache entry is rebuilt below
            if cached.to_json() == meta.to_json() and export_info.exporter_version == __version__:
                return path
        except MetadataError:
            pass
    kind = "int8 ONNX (static quantization)" if precision == "int8" else f"{precision} ONNX"
    info(f"exporting {checkpoint.name} to {kind} once for ONNX Runtime (cached): {path}")
    build(checkpoint, path, ExportOptions(precision=precision, verify=False))
    return path
