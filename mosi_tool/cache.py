"""The cache folder: engines exported on demand (`--runtime onnx` with a checkpoint) and TensorRT timing caches.

Root: $MOSI_TOOL_CACHE if set, else ~/.cache/mosi-tool. Engines: <root>/engines/<model_id>-<precision>.onnx.
"""

from __future__ import annotations

import os
from pathlib import Path

from .progress import info


def cache_root() -> Path:
    """$MOSI_TOOL_CACHE, else ~/.cache/mosi-tool: exported engines, runtime choices, decoded training sources."""
    return Path(os.environ.get("MOSI_TOOL_CACHE") or Path.home() / ".cache" / "mosi-tool")


def engine_cache_path(model_id: str, precision: str, suffix: str = ".onnx") -> Path:
    return cache_root() / "engines" / f"{model_id}-{precision}{suffix}"


def cached_onnx(checkpoint: str | os.PathLike[str], precision: str = "fp32") -> Path:
    """The checkpoint's ONNX export from the cache, exported there first if missing or stale.

    Exports are keyed by model id (a digest of the weights) and precision, and re-made when the file is
    damaged or was written by another mosi-tool version.
    """
    from export.metadata import read_onnx
    from export.onnx import build
    from export.options import ExportOptions

    from .version import __version__
    from .checkpoint import read_meta
    from .metadata import MetadataError

    checkpoint = Path(checkpoint)
    meta = read_meta(checkpoint)
    path = engine_cache_path(meta.model_id, precision)
    if path.exists():
        try:
            cached, export_info = read_onnx(path)
            if cached.model_id == meta.model_id and export_info.exporter_version == __version__:
                return path
        except MetadataError:
            pass
    info(f"exporting {checkpoint.name} to ONNX once for onnxruntime: {path}")
    build(checkpoint, path, ExportOptions(precision=precision, verify=False))
    return path
