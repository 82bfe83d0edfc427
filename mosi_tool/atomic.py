"""Atomic file writes: write to a temporary file beside the target, then rename over it.

A killed process therefore leaves either the old file or the new one, never half of one.
Temporary names start with '.' and end with '.tmp' so `clean_partial` can find leftovers, and carry the
writing process's id (`.NAME.mosi-PID.RANDOM.tmp`), so `clean_dead` removes only what a dead run of this
tool left and never the file of a run still writing, nor a user's own hidden `.tmp` files.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any, ContextManager, Iterator

TMP_SUFFIX = ".tmp"
OWNER_TAG = ".mosi-"  # then the writing process's id
_OURS = re.compile(r"^\..+\.mosi-(\d+)\.[A-Za-z0-9_]+\.tmp$")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success fsync it and rename it to `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}{OWNER_TAG}{os.getpid()}.", suffix=TMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicOutput:
    """Base of outputs streamed to a file: `_ctx` is an entered `atomic_path`, `_file` is open on its temporary
    path. close() puts the finished file in place; abort() leaves the target as it was."""

    _ctx: ContextManager[Path]
    _file: IO[Any]

    def close(self) -> None:
        self._file.close()
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        try:
            self._file.close()  # may fail flushing to a full disk
        finally:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(target, text.encode())


def clean_partial(folder: str | os.PathLike[str]) -> int:
    """Remove temporary files that a killed run left under `folder`; return how many."""
    count = 0
    for path in Path(folder).rglob(f".*{TMP_SUFFIX}"):
        path.unlink(missing_ok=True)
        count += 1
    return count


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def clean_dead(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove from `folder` (not its subfolders) the temporary files `atomic_path` made in processes that are
    no longer running (killed by SIGKILL, a crash, a power cut); return them. Files of live runs, and hidden
    `.tmp` files this tool did not name, are left alone."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _OURS.match(entry.name)
        if m and entry.is_file(follow_symlinks=False) and not _alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed
