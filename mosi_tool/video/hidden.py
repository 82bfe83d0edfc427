"""Files that are not inputs though their names look like videos or frames.

Hidden files (".name") and macOS AppleDouble companions ("._name", which hold a file's Finder metadata
when it is copied to a non-Mac disk, and carry the video's own suffix) are never videos or frames.
"""

from __future__ import annotations

from pathlib import Path

APPLEDOUBLE_MAGIC = b"\x00\x05\x16\x07"


def is_hidden(name: str) -> bool:
    """True for a hidden file or folder name (".x", and so every AppleDouble "._x")."""
    return name.startswith(".") and name not in (".", "..")


def is_appledouble(path: str | Path) -> bool:
    """True if `path` is an AppleDouble companion: named "._x" and starting with the AppleDouble magic."""
    p = Path(path)
    if not p.name.startswith("._") or not p.is_file():
        return False
    try:
        with open(p, "rb") as f:
            return f.read(4) == APPLEDOUBLE_MAGIC
    except OSError:
        return False
