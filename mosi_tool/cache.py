"""Where mosi-tool keeps what it makes for itself (cached engines, the CPU demo model)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$MOSI_TOOL_CACHE, else ~/.cache/mosi-tool."""
    return Path(os.environ.get("MOSI_TOOL_CACHE") or Path.home() / ".cache" / "mosi-tool")
