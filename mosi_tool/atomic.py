"""Atomic file writes: write to a temporary file beside the target, then rename over it.

A killed process therefore leaves either the old file or the new one, never half of one.

Temporary files are named `.<target name>.mosi-tool-<host>-<pid>-<token>.tmp`: a name only this tool makes,
with the writing process's host (a short digest of its name) and pid, and a random token. `clean_partial`
removes only such files, and only those whose process is gone (same host, pid no longer running): a user's
own `.draft.tmp` and the files of another run writing into the same folder at the same time are never
touched. A file of another host is kept (its process cannot be checked from here).

Disk errors (read-only folder, no permission, full disk, a folder where the file should go) raise
`OutputError`, whose message names the file asked for, not the temporary one: "PATH: cannot write (REASON)".
The temporary file is removed whatever happens, and a failure to remove it never hides the first error.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import socket
import zlib
from pathlib import Path
from typing import IO, Any, ContextManager, Iterable, Iterator

TMP_SUFFIX = ".tmp"
MARKER = "mosi-tool"
_HOST = f"{zlib.crc32(socket.gethostname().encode()):08x}"
_TMP_NAME = re.compile(rf"^\..+\.{MARKER}-(?P<host>[0-9a-f]{{8}})-(?P<pid>\d+)-[0-9a-f]+{re.escape(TMP_SUFFIX)}$")
# Errors that can only mean the output could not be written, wherever they are raised while writing it.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


class OutputError(OSError):
    """An output file could not be written. str(): "PATH: cannot write (REASON)"; `filename` is the target,
    `strerror` the reason (e.g. "Read-only file system", "No space left on device"), `errno` the OS's code."""

    def __init__(self, path: str | os.PathLike[str], reason: str, code: int | None = None):
        super().__init__(code, reason, str(path))

    def __str__(self) -> str:
        return f"{self.filename}: cannot write ({self.strerror})"

    def __reduce__(self) -> tuple[Any, ...]:  # pickles across processes with its own arguments
        return (OutputError, (self.filename, self.strerror, self.errno))


def _reason(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__


def temp_path(target: str | os.PathLike[str]) -> Path:
    """A new temporary name beside `target` that only this process makes (see the module docstring)."""
    target = Path(target)
    return target.with_name(f".{target.name[:120]}.{MARKER}-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}{TMP_SUFFIX}")


def target_of(path: str | os.PathLike[str]) -> Path | None:
    """The file a temporary file of this tool stands for (None if `path` is not one, or its name was shortened)."""
    path = Path(path)
    m = _TMP_NAME.match(path.name)
    if m is None:
        return None
    name = path.name[1 : path.name.rindex(f".{MARKER}-")]
    return path.with_name(name) if len(name) < 120 else None


def _create(target: Path, name: Path | None = None) -> Path:
    """Create `target`'s folder and an empty temporary file beside it; OutputError naming `target` (or `name`)
    if not."""
    name = name or target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(target)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # 0666 less the umask, like open()
    except OSError as e:
        if isinstance(e, (FileExistsError, NotADirectoryError)):  # a file where a folder should be
            raise OutputError(name, "a file is in the way of its folder", errno.ENOTDIR) from e
        raise OutputError(name, _reason(e), e.errno) from e
    return tmp


def create_temp(target: str | os.PathLike[str]) -> Path:
    """Create and return an empty temporary file beside `target`, named as this module names its temporaries
    (so the next run removes it if this process dies: `clean_partial`), its folder made if needed. For scratch
    data on the output's disk; the caller removes it (`remove_quietly`). OutputError naming `target` if not."""
    return _create(Path(target))


def remove_quietly(path: Path) -> None:
    """Remove `path` if it is there; a failure (the disk went read-only, ...) is ignored: the next run of this
    tool removes the file once its process is gone (`clean_partial`)."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def as_output_error(e: BaseException, target: Path, *paths: Path) -> BaseException:
    """`e` as an OutputError naming `target` if it is a disk error while writing it (one of `_WRITE_ERRNOS`, or
    an OSError naming `target` or one of `paths`, its temporary files); else `e` itself."""
    if not isinstance(e, OSError) or isinstance(e, OutputError):
        return e
    names = {str(p) for p in (target, *paths)}
    if e.errno in _WRITE_ERRNOS or isinstance(e, IsADirectoryError) or (e.filename is not None and str(e.filename) in names):
        return OutputError(target, "it is a folder" if target.is_dir() else _reason(e), e.errno)
    return e


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success fsync it and rename it to `target`, with the
    permissions `open()` gives a new file (0666 less the umask) even if the caller's writer replaced it.

    Raises OutputError (naming `target`) when the folder cannot be written, the disk is full, or `target` is a
    folder; another error raised by the caller's code passes unchanged. Either way the temporary file is
    removed and `target` is left as it was.
    """
    target = Path(target)
    tmp = _create(target)
    mode = tmp.stat().st_mode
    try:
        yield tmp
        if tmp.stat().st_mode != mode:  # a writer that replaced the file (safetensors makes it 0600)
            os.chmod(tmp, mode)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as e:
        error = as_output_error(e, target, tmp)
        if error is e:
            raise
        raise error from e
    finally:
        remove_quietly(tmp)


def reserve(path: str | os.PathLike[str]) -> None:
    """Claim the disk space of `path`'s whole length now (a file sized by seeking, as `open_memmap` makes it),
    so a full disk raises OSError (ENOSPC) here instead of killing the process later (SIGBUS) when a memory
    map's page is written. Nothing is done where the file system cannot reserve space."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, max(os.fstat(fd).st_size, 1))
    except OSError as e:
        if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    finally:
        os.close(fd)


def check_writable(target: str | os.PathLike[str]) -> None:
    """Check, before any work, that `target` can be written: its folder exists or can be made, a file can be
    created there, and `target` is not a folder. Raises OutputError naming `target` and the reason."""
    target = Path(target)
    if target.is_dir():
        raise OutputError(target, "it is a folder", errno.EISDIR)
    remove_quietly(_create(target))


def check_folder_writable(folder: str | os.PathLike[str]) -> None:
    """Make `folder` (with its parents) if needed and check that files can be created in it; OutputError if not."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(folder, "it is a file, not a folder", errno.ENOTDIR)
    remove_quietly(_create(folder / "write-check", name=folder))


class AtomicOutput:
    """Base of outputs streamed to a file: `_ctx` is an entered `atomic_path` (`_begin`), `_file` is open on its
    temporary path. close() puts the finished file in place (OutputError, with the temporary file removed, if
    the disk refuses it); abort() leaves the target as it was and never raises for a disk error. Writes go
    inside `_writing()`, so a disk error names the target, not the temporary file."""

    _ctx: ContextManager[Path]
    _file: IO[Any]  # unset in outputs that write otherwise (a memory map, a PyAV container)
    _target: Path | None = None
    _tmp: Path | None = None

    def _begin(self, target: str | os.PathLike[str]) -> Path:
        """Enter an `atomic_path` for `target`; returns the temporary path to write."""
        self._target = Path(target)
        self._ctx = atomic_path(target)
        self._tmp = self._ctx.__enter__()
        return self._tmp

    @contextlib.contextmanager
    def _writing(self, setup: bool = False) -> Iterator[None]:
        """Around writes: a disk error becomes OutputError naming the target. `setup`: in a constructor, where
        no abort() will follow, any error also removes the temporary file."""
        try:
            yield
        except BaseException as e:
            if setup:
                self.abort()
            error = e if self._target is None else as_output_error(e, self._target, *([self._tmp] if self._tmp else []))
            if error is e:
                raise
            raise error from e

    def _finish(self) -> None:
        """Write what is still held back (an encoder's last packets) before the file is closed; close() only."""

    def _close_file(self) -> None:
        file = getattr(self, "_file", None)
        if file is not None:
            file.close()  # flushes: a full disk shows here

    def close(self) -> None:
        try:
            with self._writing():
                self._finish()
                self._close_file()
        except BaseException:
            self.abort()  # removes the temporary file
            raise
        self._ctx.__exit__(None, None, None)  # fsync and rename (OutputError if the disk refuses)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._close_file()
        if hasattr(self, "_ctx"):
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(target, text.encode())


def _owner_gone(host: str, pid: int) -> bool:
    """True only when the process that made a temporary file has certainly ended."""
    if host != _HOST or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: alive, another user's
        return False
    return False


def stale_temp_files(folder: str | os.PathLike[str], recursive: bool = False) -> list[Path]:
    """This tool's temporary files in `folder` (and below it, if `recursive`) whose process has ended."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found: list[Path] = []
    walk = os.walk(folder) if recursive else [(str(folder), [], [p.name for p in folder.iterdir()])]
    for root, _, files in walk:
        for name in files:
            m = _TMP_NAME.match(name)
            if m and _owner_gone(m["host"], int(m["pid"])):
                found.append(Path(root) / name)
    return sorted(found)


def clean_partial(*folders: str | os.PathLike[str], recursive: bool = False) -> int:
    """Remove the temporary files that killed runs of this tool left in `folders` (see `stale_temp_files`);
    return how many went. Nothing else is ever removed; a file that cannot be removed is left."""
    count = 0
    for folder in dict.fromkeys(Path(f) for f in folders):
        for path in stale_temp_files(folder, recursive):
            try:
                path.unlink()
                count += 1
            except OSError:
                pass
    return count


def folders_of(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The distinct parent folders of `paths`, in order (where their temporary files go)."""
    return list(dict.fromkeys(Path(p).parent for p in paths))
