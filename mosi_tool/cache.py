"""The cache folder: engines exported on demand (`loader.exported`), runtime choices, TensorRT timing caches.

Root: $MOSI_TOOL_CACHE if set, else ~/.cache/mosi-tool. Engines: <root>/engines/<model_id>-<precision>.onnx.
"""

from __future__ import annotations

import os
from pathlib import Path

def cache_root() -> Path:
    """$MOSI_TOOL_CACHE, else ~/.cache/mosi-tool: exported engines, runtime choices, decoded training sources."""
    return Path(os.environ.get("MOSI_TOOL_CACHE") or Path.home() / ".cache" / "mosi-tool")


def engine_cache_path(model_id: str, precision: str, suffix: str = ".onnx") -> Path:
    return cache_root() / "engines" / f"{model_id}-{precision}{suffix}"
