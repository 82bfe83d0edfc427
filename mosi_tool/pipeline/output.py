"""The per-video feature file, the writer stage that makes it, and the failure log.

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
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from ..version import __version__
from ..atomic import OutputError
from ..batch.failures import FailureLog
from ..batch.jobs import SourceStamp, VideoJob, source_stamp
from ..batch.per_video import BatchReport
from ..npz import save_npz
from ..video.clips import ClipSpec
from .messages import ClipMessage, DoneMessage, ErrorMessage, Message, StageTimes

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


@dataclass
class ExtractReport(BatchReport):
    """What `extract` came to: the batch's counts, the writer's (clips, seconds writing and decoding) and the
    engine stage's timings."""

    clips: int = 0
    write_s: float = 0.0
    decode_s: float = 0.0
    setup_s: float = 0.0  # of `seconds`: choosing the runtime (`--runtime auto` timing the paths, once per machine)
    times: StageTimes = field(default_factory=StageTimes)
    errors_shown: int = 0  # of `errors`: printed above the progress bar as they happened


class FeatureWriter:
    """The writer stage: takes clip (with features), done and error records in any order across videos;
    writes each video's file once it has all its clips, records each failure in `failures`, and calls
    `on_video(job, ok)` after each video ends. It counts into `stats` (the run's report; a new one when not given)."""

    def __init__(self, jobs: dict[int, VideoJob], settings: FeatureSettings, failures: FailureLog,
                 on_video: Callable[[VideoJob, bool], None] | None = None, stats: ExtractReport | None = None):  # fmt: skip
        self.jobs = jobs
        self.settings = settings
        self.failures = failures
        self.on_video = on_video
        self.clips: dict[int, dict[int, ClipMessage]] = {}  # per video not finished: its clips by number
        self.done: dict[int, DoneMessage] = {}
        self.finished: set[int] = set()
        self.stats = stats if stats is not None else ExtractReport()
        self._log_failed = False

    def handle(self, msg: Message) -> None:
        job = msg.job
        if job in self.finished:
            return  # late clips of a video that already failed
        if isinstance(msg, ErrorMessage):
            return self._end(job, msg.message)
        if isinstance(msg, ClipMessage):
            self.clips.setdefault(job, {})[msg.clip_no] = msg
            self.stats.clips += 1
        else:
            self.done[job] = msg
            self.stats.decode_s += msg.decode_s
        if job in self.done and len(self.clips.get(job, ())) == self.done[job].clips:
            self._write(self.jobs[job], [c for _, c in sorted(self.clips.pop(job).items())], self.done.pop(job).info)

    def _write(self, job: VideoJob, clips: list[ClipMessage], info: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        info = dict(info, source=job.path)
        if job.stamp is not None:
            # What was read is recorded as it was before reading, so a file that changed since (still being
            # written, replaced) is not "already done" for the next run.
            info["file"] = job.stamp.to_dict()
            now = source_stamp(job.path)
            if now != job.stamp:
                change = job.stamp.describe_change(now)
                info["warnings"] = [*info.get("warnings", []), f"changed while it was read ({change}): the features may "
                                    "cover only part of it; the next run extracts it again"]  # fmt: skip
        features = np.stack([c.data for c in clips])  # (n_clips, D) float32
        arrays = {"features": features.astype(np.float16 if self.settings.dtype == "float16" else np.float32)}
        if self.settings.pool == "video":
            arrays["video_feature"] = features.astype(np.float32).mean(axis=0).astype(arrays["features"].dtype)
        arrays.update(
            frame_range=np.array([c.frame_range for c in clips], np.int64),
            time_range=np.array([c.time_range for c in clips], np.float64),
            padded=np.array([c.padded for c in clips], np.int64),
            model_id=np.array(self.settings.model_id),
            settings=np.array(self.settings.to_json()),
            info=np.array(json.dumps(info, sort_keys=True)),
        )
        try:
            save_npz(job.out, arrays)
        except OSError as e:
            return self._end(job.index, str(e) if isinstance(e, OutputError) else f"{job.out}: cannot write ({e.strerror or e})")
        self.stats.write_s += time.perf_counter() - t0
        self.stats.warnings += [f"{job.path}: {w}" for w in info.get("warnings", [])]
        self._end(job.index, None)

    def _end(self, job_id: int, error: str | None) -> None:
        """Record how a video ended (`error` None: written) in failures.jsonl; a disk that refuses that is
        said once, as a warning, and the run goes on."""
        job = self.jobs[job_id]
        try:
            self.failures.record(job.path, error)
        except OSError as e:
            if not self._log_failed:
                self._log_failed = True
                self.stats.warnings.append(f"{e} (the failures are printed here only)")
        if error is None:
            self.stats.ok += 1
        else:
            self.stats.errors.append(error)
            self.stats.failed += 1
        self.clips.pop(job_id, None)
        self.done.pop(job_id, None)
        self.finished.add(job_id)
        if self.on_video:
            self.on_video(job, error is None)
