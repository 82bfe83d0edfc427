"""`failures.jsonl`: the failure log of every batch command (features, targets, saliency --out-dir)."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from ..atomic import OutputError, atomic_write_text


class FailureLog:
    """`failures.jsonl`: one line per video that failed in its latest attempt, rewritten atomically.

    A video appears at most once (keyed by its absolute path, so the working directory does not matter); one
    that succeeds on a rerun, is found done, or no longer exists is removed. Entries for videos outside a
    run's inputs stay: another run or shard may own them. Every change re-reads the file under a lock
    (`failures.jsonl.lock`, which exists only while it is held: `_held`) and writes it back, so shards
    running at once into one folder keep each other's. The file exists only while it has an entry: a run in
    which nothing failed leaves neither file in the folder.
    """

    def __init__(self, out_dir: Path):
        self.path = out_dir / "failures.jsonl"
        self._lock = out_dir / "failures.jsonl.lock"

    def _read(self) -> dict[str, dict[str, Any]]:
        entries: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                    entries[entry.get("abspath") or os.path.abspath(entry["path"])] = entry
                except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                    continue
        return entries

    def _update(self, change: Callable[[dict[str, dict[str, Any]]], object]) -> None:
        """Apply `change` to the file's current entries under the lock; write them back if it changed any.
        Raises OutputError (naming failures.jsonl) when the folder cannot be written."""
        try:
            with _held(self._lock):
                entries = self._read()
                before = dict(entries)
                change(entries)
                if entries != before:
                    lines = [json.dumps(entries[k], sort_keys=True) for k in sorted(entries)]
                    if lines:
                        atomic_write_text(self.path, "\n".join(lines) + "\n")
                    else:
                        self.path.unlink(missing_ok=True)
        except OutputError:
            raise
        except OSError as e:
            raise OutputError(self.path, e.strerror or str(e), e.errno) from e

    def entries(self) -> list[dict[str, Any]]:
        """The current entries, sorted by absolute path."""
        return [e for _, e in sorted(self._read().items())]

    def record(self, video: str, error: str | None) -> None:
        """`video`'s latest outcome: `error` (one line naming the file) as its entry; None (done) drops it."""
        if error is None:
            return self.clear(video)
        key = os.path.abspath(video)
        self._update(lambda entries: entries.update({key: {"path": video, "abspath": key, "error": error}}))

    def forget_missing(self) -> None:
        """Drop the entries of videos that are no longer on disk."""
        self._update(lambda entries: [entries.pop(k) for k in list(entries) if not os.path.exists(k)])

    def clear(self, *videos: str) -> None:
        """Drop the entries of `videos` (done now); one read and write for all of them."""
        if videos:
            self._update(lambda entries: [entries.pop(os.path.abspath(v), None) for v in videos])


@contextmanager
def _held(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file `lock` (created if missing) and remove the file before letting go.

    flock(2) locks an open file, not its name, so the holder unlinks the name while it still holds the lock,
    and whoever takes the lock next checks that the name still leads to the file it locked: one that waited on
    a file since removed (or replaced by a newer one) lets go and opens the name again. So at most one process
    holds the lock on the file the name leads to, and no lock file outlives its last holder (one left by a
    killed process is taken over and removed by the next). Processes and threads alike are excluded (each
    holds its own open file). Without fcntl (Windows), filelock's lock, which removes its file there.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        from filelock import FileLock

        with FileLock(lock):
            yield
        return
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.path.samestat(os.fstat(fd), os.stat(lock))
            except FileNotFoundError:
                current = False
            if current:
                try:
                    yield
                finally:
                    lock.unlink(missing_ok=True)  # still held: a waiter on this file will find it gone
                return
        finally:
            os.close(fd)  # lets go of the lock
