"""The one way every benchmark appends its section to docs/BENCHMARKS.md: atomically, newest last."""

from __future__ import annotations

from pathlib import Path

HEADER = "# Benchmarks\n\nAppended by the scripts in `bench/`; newest last.\n"


def append_report(path: Path, section: str) -> None:
    """Append `section` (markdown) to `path`, creating it with a header; the file is replaced atomically,
    so an interrupted run leaves the old file whole."""
    from mosi_tool.atomic import atomic_write_text

    text = path.read_text() if path.exists() else HEADER
    atomic_write_text(path, text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n")
