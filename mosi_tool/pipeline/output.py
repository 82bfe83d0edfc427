"""The per-video feature file and the failure log.

Feature file (`.npz`, load with `np.load(path)`):
    features     float32 or float16 (n_clips, D)   one row per clip
    video_feature  (D,)                            mean over clips, with --pool video
    frame_range  int64 (n_clips, 2)                first and last frame index of each clip
    time_range   float64 (n_clips, 2)              their timestamps in seconds (from PTS), counted from the
                                                   first frame shown (info["start_time"] is its own timestamp)
    padded       int64 (n_clips,)                  frames repeated to fill a clip (short videos)
    model_id     str                               which weights made the features
    settings     str (JSON)                        everything that determines the numbers: the model's
                                                   arithmetic, dtype, pool, and under "clips" the run's
                                                   `ClipSpec` whole (`ClipSpec.from_dict` reads it back)
    info         str (JSON)                        the video: displayed size, rotation, mirrored, fps, frames
                                                   decoded and lost, start_time, notes, warnings, and `file`:
                                                   what was read ({"size": bytes, "mtime_ns": ...; "files":
                                                   n for a frame folder}, taken before reading it)

A file is "already done" for a rerun only if its settings equal the run's and its `info["file"]` equals the
video as it is now: a video replaced, re-encoded or still growing since is extracted again.

Files are written atomically and byte-for-byte deterministically, so a rerun or another backend
produces identical files, and a file that exists is complete.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..version import __version__
from ..atomic import OutputError, atomic_write_text
from ..npz import save_npz
from ..video.clips import ClipSpec
from .jobs import SourceStamp

REQUIRED = ("features", "frame_range", "time_range", "padded", "model_id", "settings", "info")


@dataclass(frozen=True)
class FeatureSettings:
    """Everything that determines a feature file's numbers, stored in it as JSON and compared by resume."""

    model_id: str
    clips: ClipSpec  # how the clips were decoded and cut, whole (its decoder too: "nvdec" resizes on the GPU)
    dtype: str
    pool: str
    precision: str = "fp32"  # the engine's arithmetic (bf16 features differ in the third digit; int8 more)
    calibration: str | None = None  # int8: which calibration made its ranges (engines differ with it)

    def to_json(self) -> str:
        return json.dumps(dict(asdict(self), clips=self.clips.to_dict(), version=__version__), sort_keys=True)


def write_features(
    path: str | os.PathLike[str],
    features: np.ndarray,
    frame_range: np.ndarray,
    time_range: np.ndarray,
    padded: np.ndarray,
    settings: FeatureSettings,
    info: dict[str, Any],
) -> None:
    feats = features.astype(np.float16 if settings.dtype == "float16" else np.float32)
    arrays: dict[str, np.ndarray] = {"features": feats}
    if settings.pool == "video":
        arrays["video_feature"] = features.astype(np.float32).mean(axis=0).astype(feats.dtype)
    arrays.update(
        frame_range=frame_range.astype(np.int64),
        time_range=time_range.astype(np.float64),
        padded=padded.astype(np.int64),
        model_id=np.array(settings.model_id),
        settings=np.array(settings.to_json()),
        info=np.array(json.dumps(info, sort_keys=True)),
    )
    save_npz(path, arrays)


def is_complete(path: str | os.PathLike[str], settings: FeatureSettings, stamp: SourceStamp | None) -> bool:
    """True if `path` is a readable feature file made with exactly these settings from the video as it is now
    (`stamp`, recorded as info["file"]; None, an unreadable video, is never done)."""
    if stamp is None:
        return False
    try:
        with np.load(path, allow_pickle=False) as data:
            if any(k not in data.files for k in REQUIRED):
                return False
            saved = json.loads(str(data["settings"]))
            n = data["features"].shape[0]
            read = json.loads(str(data["info"])).get("file")
            return saved == json.loads(settings.to_json()) and read == stamp.to_dict() and data["frame_range"].shape == (n, 2) and n > 0
    except Exception:  # noqa: BLE001 - unreadable, truncated or foreign: not complete
        return False


class FailureLog:
    """`failures.jsonl`: one line per video that failed in its latest attempt, rewritten atomically.

    A video appears at most once (keyed by its absolute path, so the working directory does not matter); one
    that succeeds on a rerun, is found done, or no longer exists is removed. Entries for videos outside a
    run's inputs stay: another run or shard may own them. Every change re-reads the file under a lock
    (`failures.jsonl.lock`) and writes it back, so shards running at once into one folder keep each other's.
    """

    def __init__(self, out_dir: Path):
        self.path = out_dir / "failures.jsonl"
        self._lock = out_dir / "failures.jsonl.lock"

    @staticmethod
    def _key(video: str) -> str:
        return os.path.abspath(video)

    def _read(self) -> dict[str, dict[str, Any]]:
        entries: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                    entries[entry.get("abspath") or self._key(entry["path"])] = entry
                except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                    continue
        return entries

    def _update(self, change: Callable[[dict[str, dict[str, Any]]], bool]) -> None:
        """Apply `change` (True when it changed something) to the file's current entries, under the lock.
        Raises OutputError (naming failures.jsonl) when the folder cannot be written."""
        from filelock import FileLock

        try:
            with FileLock(self._lock):
                entries = self._read()
                if change(entries):
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

    def record(self, video: str, error: str) -> None:
        key = self._key(video)

        def add(entries: dict[str, dict[str, Any]]) -> bool:
            entries[key] = {"path": video, "abspath": key, "error": error}
            return True

        self._update(add)

    def forget_missing(self) -> None:
        """Drop the entries of videos that are no longer on disk."""

        def drop(entries: dict[str, dict[str, Any]]) -> bool:
            gone = [k for k in entries if not os.path.exists(k)]
            for k in gone:
                del entries[k]
            return bool(gone)

        self._update(drop)

    def clear(self, *videos: str) -> None:
        """Drop the entries of `videos` (done now); one read and write for all of them."""

        def drop(entries: dict[str, dict[str, Any]]) -> bool:
            found = [k for k in map(self._key, videos) if k in entries]
            for k in found:
                del entries[k]
            return bool(found)

        if videos:
            self._update(drop)
