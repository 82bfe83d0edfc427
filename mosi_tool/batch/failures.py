"""`failures.jsonl`: the failure log of every batch command (features, targets, saliency --out-dir)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from ..atomic import OutputError, atomic_write_text


class FailureLog:
    """`failures.jsonl`: one line per video that failed in its latest attempt, rewritten atomically.

    A video appears at most once (keyed by its absolute path, so the working directory does not matter); one
    that succeeds on a rerun, is found done, or no longer exists is removed. Entries for videos outside a
    run's inputs stay: another run or shard may own them. Every change re-reads the file under a lock
    (filelock's `failures.jsonl.lock`) and writes it back, so shards running at once into one folder keep
    each other's. The file exists only while it has an entry, and a change that can only remove entries
    takes no lock when there is no file: a run in which nothing failed leaves neither file in the folder
    (the lock file, once made, stays: removing it races with a process waiting on it).
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

    def _update(self, change: Callable[[dict[str, dict[str, Any]]], object], removes_only: bool = False) -> None:
        """Apply `change` to the file's current entries under the lock; write them back if it changed any.
        removes_only: `change` only drops entries, so without a file there is nothing to do. Raises
        OutputError (naming failures.jsonl) when the folder cannot be written."""
        from filelock import FileLock

        if removes_only and not self.path.exists():
            return
        try:
            with FileLock(self._lock):
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
        self._update(lambda entries: [entries.pop(k) for k in list(entries) if not os.path.exists(k)], removes_only=True)

    def clear(self, *videos: str) -> None:
        """Drop the entries of `videos` (done now); one read and write for all of them."""
        if videos:
            self._update(lambda entries: [entries.pop(os.path.abspath(v), None) for v in videos], removes_only=True)

