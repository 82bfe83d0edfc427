"""The cache folder: engines exported on demand (`tune.exported`), runtime choices, TensorRT timing caches.

Root: $MOSI_TOOL_CACHE if set, else the platform's user cache folder for mosi-tool (platformdirs: on Linux
$XDG_CACHE_HOME/mosi-tool, by default ~/.cache/mosi-tool). Engines: <root>/engines/<model_id>-<precision>.onnx.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_path


def cache_root() -> Path:
    """$MOSI_TOOL_CACHE, else the user cache folder (platformdirs): exported engines, runtime choices,
    decoded training sources."""
    return Path(os.environ.get("MOSI_TOOL_CACHE") or user_cache_path("mosi-tool", appauthor=False))


def engine_cache_path(model_id: str, precision: str, suffix: str = ".onnx") -> Path:
    return cache_root() / "engines" / f"{model_id}-{precision}{suffix}"
