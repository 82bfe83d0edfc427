"""`mosi-tool targets`: motion targets for many videos, one file per video, resumable (the batch machinery of
`features`: `batch.per_video`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..batch.jobs import VideoJob
from ..batch.per_video import BatchReport, Outcome, check_backend, check_workers, plan_jobs, resume, run_jobs
from ..progress import counted, info, progress_bar
from . import formats
from .compute import TargetOptions, compute_targets
from .files import COMPLETE, OTHER_CODE


@dataclass(frozen=True)
class VideoTargets:
    """The per-video work of a run (picklable: sent to worker processes and Ray tasks)."""

    opts: TargetOptions
    fmt: str = "npz"

    def __call__(self, job: VideoJob) -> list[str]:
        targets = compute_targets(job.path, self.opts, trajectories=self.fmt != "mofo", spill=job.out)  # MOFO's file holds boxes only
        formats.write(self.fmt, job.out, targets, self.opts, job.path, job.stamp)
        geometry = formats.anchor_geometry_warning(self.fmt, targets)
        return [f"{job.path}: {w}" for w in [*targets.info.get("warnings", []), *([geometry] if geometry else [])]]


def make_targets(inputs: Sequence[str | Path], out_dir: str | Path, opts: TargetOptions | None = None, fmt: str = "npz",
                 list_file: str | Path | None = None, workers: int | None = None, shard: tuple[int, int] | None = None,
                 backend: str = "local", overwrite: bool = False, progress: bool = True) -> BatchReport:  # fmt: skip
    """Write the targets of every input (video files, frame folders, folders searched recursively) into
    `out_dir`, one file per video named as `features` names its outputs (`DIR/clip.mp4.npz`; `fmt` mme:
    `DIR/clip.mp4_<L>.gz`, mofo: `DIR/clip.mp4.json`). A video that fails gets one line in `failures.jsonl`
    and the others go on; complete outputs are skipped. Raises ValueError for options that cannot be honoured
    (a negative `workers` and an unknown `backend` among them, before any work), and FileNotFoundError for a
    missing input, or inputs without a video."""
    check_workers(workers)
    check_backend(backend)
    t0 = time.perf_counter()
    opts = opts or TargetOptions()
    formats.check(fmt, opts)
    out = Path(out_dir)
    planned = plan_jobs(inputs, list_file, out, shard, formats.suffix(fmt, opts), caller="make_targets")
    stale: list[VideoJob] = []  # files another version or revision made with these options
    unrecorded: list[VideoJob] = []  # MME or MOFO files made before their settings were recorded beside them

    def is_done(job: VideoJob) -> bool:
        if job.stamp is None:
            return False
        state = formats.state(fmt, job.out, opts, job.stamp)
        if state == OTHER_CODE:
            stale.append(job)
        elif state == formats.UNRECORDED:
            unrecorded.append(job)
        return state in (COMPLETE, formats.UNRECORDED)

    failures = resume(planned, is_done, overwrite)
    if stale:
        info(f"{counted(len(stale), 'file')} in {out} made by another version or revision of mosi-tool with the same "
             "options: made again, as this one's targets differ")
    if unrecorded:
        info(f"{len(unrecorded)} {fmt} file(s) already in {out} were kept as they are: made by an earlier mosi-tool, they "
             f"have no record of the options or the code revision that made them ({formats.SETTINGS_SUFFIX}; --overwrite makes them again)")
    report = BatchReport(total=planned.total, hidden=planned.hidden, skipped=planned.skipped)
    bar = progress_bar("videos", total=len(planned.todo), enabled=progress)

    def on_video(outcome: Outcome) -> None:
        if outcome.error is None:
            report.ok += 1
            report.warnings += outcome.warnings
        else:
            report.failed += 1
            report.errors.append(outcome.error)
        bar.advance(1, failed=str(report.failed))

    with bar:
        run_jobs(planned.todo, VideoTargets(opts, fmt), failures, workers, backend, on_video)
    report.seconds = time.perf_counter() - t0
    return report
