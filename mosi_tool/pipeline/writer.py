"""Writer stage: gather each video's clip features and write its file once it is complete."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..atomic import OutputError
from .jobs import VideoJob, source_stamp
from .messages import DoneMessage, FeatureMessage, WriterMessage
from .output import FailureLog, FeatureSettings, write_features


@dataclass
class _Partial:
    features: dict[int, np.ndarray] = field(default_factory=dict)
    ranges: dict[int, tuple[Any, Any, int]] = field(default_factory=dict)
    expected: int | None = None
    info: dict[str, Any] | None = None


@dataclass
class WriterStats:
    ok: int = 0
    failed: int = 0
    clips: int = 0
    write_s: float = 0.0
    decode_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # this run's failures, one "path: reason" line each


class FeatureWriter:
    """Takes feature, done and error messages in any order across videos; writes each video's file once it
    has all its clips, and calls `on_video(job, ok)` after each video ends."""

    def __init__(self, jobs: dict[int, VideoJob], settings: FeatureSettings, failures: FailureLog, on_video: Callable[[VideoJob, bool], None] | None = None):
        self.jobs = jobs
        self.settings = settings
        self.failures = failures
        self.on_video = on_video
        self.partial: dict[int, _Partial] = {}
        self.finished: set[int] = set()
        self.stats = WriterStats()
        self._log_failed = False

    @property
    def remaining(self) -> int:
        return len(self.jobs) - len(self.finished)

    def handle(self, msg: WriterMessage) -> None:
        job = msg.job
        if job in self.finished:
            return  # late clips of a video that already failed
        part = self.partial.setdefault(job, _Partial())
        if isinstance(msg, FeatureMessage):
            part.features[msg.clip_no] = msg.vector
            part.ranges[msg.clip_no] = (msg.frame_range, msg.time_range, msg.padded)
            self.stats.clips += 1
        elif isinstance(msg, DoneMessage):
            part.expected, part.info = msg.clips, msg.info
            self.stats.decode_s += msg.decode_s
        else:
            self._fail(job, msg.message)
            return
        if part.expected is not None and len(part.features) == part.expected:
            self._write(job, part)

    def _write(self, job_id: int, part: _Partial) -> None:
        job = self.jobs[job_id]
        t0 = time.perf_counter()
        order = sorted(part.features)
        info = dict(part.info or {}, source=job.path)
        if job.stamp is not None:
            # What was read is recorded as it was before reading, so a file that changed since (still being
            # written, replaced) is not "already done" for the next run.
            info["file"] = job.stamp.to_dict()
            now = source_stamp(job.path)
            if now != job.stamp:
                change = job.stamp.describe_change(now)
                info["warnings"] = [*info.get("warnings", []), f"changed while it was read ({change}): the features may "
                                    "cover only part of it; the next run extracts it again"]  # fmt: skip
        try:
            write_features(
                job.out,
                np.stack([part.features[i] for i in order]),
                np.array([part.ranges[i][0] for i in order]),
                np.array([part.ranges[i][1] for i in order]),
                np.array([part.ranges[i][2] for i in order]),
                self.settings,
                info,
            )
        except OSError as e:
            self._fail(job_id, str(e) if isinstance(e, OutputError) else f"{job.out}: cannot write ({e.strerror or e})")
            return
        self.stats.write_s += time.perf_counter() - t0
        self.stats.warnings += [f"{job.path}: {w}" for w in info.get("warnings", [])]
        self._log(self.failures.clear, job.path)
        self.stats.ok += 1
        self._end(job_id, True)

    def _log(self, update: Callable[..., None], *args: str) -> None:
        """Update failures.jsonl; a disk that refuses it is said once, as a warning, and the run goes on."""
        try:
            update(*args)
        except OSError as e:
            if not self._log_failed:
                self._log_failed = True
                self.stats.warnings.append(f"{e} (the failures are printed here only)")

    def _fail(self, job_id: int, message: str) -> None:
        job = self.jobs[job_id]
        self._log(self.failures.record, job.path, message)
        self.stats.errors.append(message)
        self.stats.failed += 1
        self._end(job_id, False)

    def _end(self, job_id: int, ok: bool) -> None:
        self.partial.pop(job_id, None)
        self.finished.add(job_id)
        if self.on_video:
            self.on_video(self.jobs[job_id], ok)

