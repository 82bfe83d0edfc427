"""Batch jobs that make one output file per video, shared by `features`, `targets` and `saliency --out-dir`:
`plan_jobs` (inputs, output names, this shard's part; touching no file), `resume` (complete outputs skipped,
`failures.jsonl` brought up to date) and `run_jobs` (a per-video function on each remaining job, in this
process, in worker processes (`--workers`) or as Ray tasks (`--backend ray`); every outcome is recorded, and
a video that fails costs only itself).

The per-video function writes its own output (atomically), so it must be a picklable top-level callable, and
with Ray the output folder must be reachable from the workers.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import OutputError, check_folder_writable, clean_partial, folders_of
from ..hardware import available_cpus
from ..progress import counted, info
from ..video.decode import VideoError
from .jobs import OUTPUT_SUFFIX, Found, VideoJob, check_inputs, find_inputs, plan, shard
from .failures import FailureLog

BACKENDS = ("local", "ray")


def check_backend(backend: str) -> None:
    """ValueError, one line, for a `--backend` that is not one of BACKENDS."""
    if backend not in BACKENDS:
        raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


def check_workers(workers: int | None) -> None:
    """ValueError, one line, for a worker count that is not None or a whole number >= 0."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise ValueError(f"workers must be 0 (this process) or more, got {workers!r}")


@dataclass
class Planned:
    """The jobs of one run: `jobs` in this shard, of which `todo` are still to do (after `resume`)."""

    jobs: list[VideoJob]
    found: Found
    out_dir: Path
    todo: list[VideoJob] = field(default_factory=list)
    skipped: int = 0  # complete outputs found
    part: tuple[int, int] | None = None  # (i, n): this run is part i of n

    @property
    def total(self) -> int:
        return len(self.jobs)

    @property
    def hidden(self) -> int:
        """Hidden files and AppleDouble companions passed over, counted by part 0 only (or the whole run), so
        that the parts' reports add up to the run's."""
        return len(self.found.hidden) if self.part is None or self.part[0] == 0 else 0


def plan_jobs(inputs: Sequence[str | Path], list_file: str | Path | None, out_dir: Path, part: tuple[int, int] | None,
              suffix: str = OUTPUT_SUFFIX, caller: str = "plan_jobs") -> Planned:  # fmt: skip
    """The jobs of a batch run into `out_dir` (module docstring), touching no file: call `resume` next.

    Raises TypeError for one path given as `inputs` (naming `caller`), FileNotFoundError naming a missing
    input or list file, or inputs without a video (an empty or mistyped folder, or every video inside
    `out_dir`), and ValueError, naming both videos, when two videos would write the same output."""
    if isinstance(inputs, (str, os.PathLike)):
        raise TypeError(f"{caller}() takes a list of inputs, not one path: {caller}([{str(inputs)!r}], ...)")
    paths = [Path(p) for p in inputs]
    listed = Path(list_file) if list_file is not None else None
    check_inputs(paths, listed)  # inputs first: nothing is measured or made for a missing one
    found = find_inputs(paths, listed, out_dir)
    for folder, count in found.in_out_dir:
        info(f"warning: {folder}: {counted(count, 'video')} skipped: the folder lies inside --out-dir {out_dir}, whose files are taken "
             "for outputs, never inputs (choose an --out-dir outside the input folders)")
    if not found.videos:  # before any model is opened: an empty or mistyped folder is the user's to fix
        if found.in_out_dir:  # the warnings above say which folders, and why
            raise FileNotFoundError(f"no videos to process: those found lie inside --out-dir {out_dir}")
        where = ", ".join(str(p) for p in [*paths, *([listed] if listed else [])])
        raise FileNotFoundError(f"no videos found in {where} (videos are found by their suffix, frame folders by their images)")
    jobs = shard(plan(found, out_dir, suffix), part)  # refuses clashing outputs before any other work
    return Planned(jobs, found, out_dir, part=part)


def resume(planned: Planned, is_done: Callable[[VideoJob], bool], overwrite: bool = False) -> FailureLog:
    """Make the out-dir (OutputError, one line, when it cannot be written), remove the temporary files of
    dead runs of this tool in the folders the outputs go to, fill `planned.todo` with the jobs whose output
    is not complete (`is_done`; all with `overwrite`), and bring `failures.jsonl` up to date: videos since
    deleted, or found done, lose their line. Returns the run's `FailureLog`."""
    check_folder_writable(planned.out_dir)
    leftovers = clean_partial(planned.out_dir, *folders_of(j.out for j in planned.jobs))
    if leftovers:
        info(f"removed {leftovers} partial file(s) left by an interrupted run")
    failures = FailureLog(planned.out_dir)
    failures.forget_missing()
    done: list[str] = []
    planned.todo = []
    for job in planned.jobs:
        if not overwrite and is_done(job):
            done.append(job.path)
        else:
            planned.todo.append(job)
    planned.skipped = len(done)
    failures.clear(*done)  # done since they failed (e.g. by another shard)
    return failures


@dataclass
class BatchReport:
    """What a batch run came to: videos in this shard (`total`; hidden files and AppleDouble companions are not
    inputs and counted apart), found done, written and failed, with one line per failed video in `errors`."""

    total: int = 0
    hidden: int = 0
    skipped: int = 0
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line per video that failed in this run

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


class JobError(Exception):
    """A video's own failure, raised by a per-video function: str(e) is the whole line to record ("PATH: why")."""


@dataclass
class Outcome:
    """What one video's run came to: `error` is None on success, else one line naming the file; `frames`:
    what the per-video function counted (a `Done`), summed by the caller."""

    job: VideoJob
    error: str | None
    warnings: list[str] = field(default_factory=list)
    frames: int = 0


@dataclass
class Done:
    """What a per-video function may return instead of its lines alone: the lines and the frames it made
    (a worker process cannot add to a counter of the parent's)."""

    lines: list[str]
    frames: int = 0


_started = False  # whether this process has frozen the objects of its start (`attempt`)


def attempt(work: Callable[[VideoJob], list[str] | Done | None], job: VideoJob) -> Outcome:
    """Run `work(job)` and turn any failure into its one-line message (never raises, except Ctrl-C).

    Before a process's first video, the objects its start made (modules, classes, the libraries' registries:
    about 80,000 for `targets`) leave the garbage collector's view (`gc.freeze`): they live as long as the
    process, and each full collection scanned them again (`targets` on a minute of 854x480: two full
    collections, 0.05 CPU-s; one after the freeze, 0.017)."""
    global _started
    if not _started:
        _started = True
        gc.freeze()
    try:
        got = work(job)
        if isinstance(got, Done):
            return Outcome(job, None, list(got.lines), got.frames)
        return Outcome(job, None, list(got or []))
    except (VideoError, JobError, OutputError) as e:
        return Outcome(job, str(e))
    except MemoryError:
        return Outcome(job, f"{job.path}: out of memory")
    except OSError as e:
        name = e.filename or job.out
        return Outcome(job, f"{job.path}: {name}: {e.strerror or e}")
    except Exception as e:  # noqa: BLE001 - a bad file must not stop the batch
        stop = interruption(e)
        if stop is not None:
            raise stop from None
        detail = traceback.format_exception_only(type(e), e)[-1].strip()
        return Outcome(job, f"{job.path}: cannot process ({detail})")


def interruption(e: BaseException) -> BaseException | None:
    """The Ctrl-C or SIGTERM (KeyboardInterrupt, SystemExit) behind `e`, if any, else None.

    A signal handler that raises while compiled code runs (a numba function, a C extension calling back into
    Python) leaves its exception set under the call's result, and Python reports a SystemError whose cause is
    the interruption: that is the run being stopped, not the video failing."""
    seen: set[int] = set()
    cause: BaseException | None = e
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, (KeyboardInterrupt, SystemExit)):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def run_jobs(todo: list[VideoJob], work: Callable[[VideoJob], list[str] | Done | None], failures: FailureLog,
             workers: int | None = None, backend: str = "local",
             on_video: Callable[[Outcome], None] | None = None) -> list[Outcome]:  # fmt: skip
    """Run `work` on every job of `todo` (module docstring) and record each outcome in `failures`.

    workers: processes (0: this process; None: one per CPU, at most one per video); with Ray, concurrent tasks
    (1 CPU each).
    Returns the outcomes in the order the videos finished."""
    check_backend(backend)
    check_workers(workers)
    outcomes: list[Outcome] = []

    def record(outcome: Outcome) -> None:
        failures.record(outcome.job.path, outcome.error)
        outcomes.append(outcome)
        if on_video:
            on_video(outcome)

    n = max(1, min(available_cpus(), len(todo))) if workers is None else workers
    if backend == "ray":
        _run_ray(todo, work, max(1, n), record)
    elif runs_here(len(todo), workers, backend):
        for job in todo:
            record(attempt(work, job))
    else:
        _run_processes(todo, work, n, record)
    return outcomes


def runs_here(videos: int, workers: int | None, backend: str = "local") -> bool:
    """Whether `run_jobs` runs `videos` jobs in this process (workers 0, or one video at most), not in worker
    processes or Ray tasks."""
    return backend != "ray" and (workers == 0 or videos <= 1)


def _run_processes(todo: list[VideoJob], work: Callable[[VideoJob], Any], n: int, record: Callable[[Outcome], None]) -> None:
    """Jobs in `n` spawned processes, at most 2 waiting per process. A process that dies (a crashing decoder,
    the OOM killer) breaks the pool, and every video in flight then looks failed, whichever killed it: those
    are run again one at a time, alone, so that only a video that kills its process again is failed; the
    pool then starts again for the rest. A dead process cleans nothing up: the temporary files it left beside
    the outputs of those videos (`targets` spills a long video's rows there, GBs) are removed at the end."""
    pending = todo
    lost_any: list[VideoJob] = []
    while pending:
        lost, pending = _pool_pass(pending, work, n, record)
        lost_any += lost
        for job in lost:
            if _pool_pass([job], work, 1, record)[0]:
                record(Outcome(job, f"{job.path}: worker process stopped (crashed or killed) while processing it"))
    if lost_any:
        clean_partial(*folders_of(job.out for job in lost_any))  # only files whose process has ended


def _pool_pass(jobs: list[VideoJob], work: Callable[[VideoJob], Any], n: int, record: Callable[[Outcome], None]) -> tuple[list[VideoJob], list[VideoJob]]:
    """Run `work` on `jobs` in a pool of `n` spawned processes, recording each outcome, until the pool breaks. Returns
    (the jobs in flight when it broke, unrecorded; the jobs not started), both empty when all ran."""
    pending = list(reversed(jobs))
    with _stopped_at_once(ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                                              initializer=_start_worker, initargs=(os.getpid(),))) as pool:  # fmt: skip
        running: dict[Future, VideoJob] = {}

        def harvest(futures: Iterable[Future]) -> list[VideoJob]:
            """Record the outcomes of `futures` (done ones); the jobs the broken pool lost."""
            lost = []
            for fut in list(futures):
                job = running.pop(fut)
                try:
                    record(fut.result())
                except BrokenProcessPool:
                    lost.append(job)
            return lost

        while pending or running:
            try:
                while pending and len(running) < 2 * n:
                    running[pool.submit(_attempt_in_worker, work, pending[-1])] = pending[-1]
                    pending.pop()
            except BrokenProcessPool:  # it broke between two checks: every future left has ended
                return harvest(running), list(reversed(pending))
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            if lost := harvest(done):
                wait(running)  # the rest end too, with the pool: done ones are recorded, lost ones returned
                return lost + harvest(running), list(reversed(pending))
    return [], []


@contextlib.contextmanager
def _stopped_at_once(pool: ProcessPoolExecutor) -> Iterator[ProcessPoolExecutor]:
    """The pool, shut down when the block ends: after the last job, waiting for it; on Ctrl-C (or any error of
    the run itself), at once: queued jobs are cancelled and the workers stopped, so no video starts after the
    signal (a stopped video leaves only a temporary file, removed by the next run)."""
    try:
        yield pool
    except BaseException:
        workers = list((getattr(pool, "_processes", None) or {}).values())  # no public way to stop running work
        pool.shutdown(wait=False, cancel_futures=True)  # (this forgets the workers)
        for process in workers:
            process.terminate()
        _wait_for_exit(workers, STOP_WAIT)
        raise
    pool.shutdown(wait=True)


STOP_WAIT = 10.0  # s: how long a stopped run waits for its terminated workers' clean-ups


def _wait_for_exit(processes: list[Any], timeout: float) -> None:
    """Wait until `processes` (multiprocessing processes) have exited, at most `timeout` s: a terminated worker
    removes its temporary files as it exits, and once this process is gone `_exit_with_parent` would end it
    at once, in the middle of them. Their sentinels are read, not their exit status, which the pool's own
    thread may collect first."""
    from multiprocessing.connection import wait as wait_any

    sentinels = []
    for process in processes:
        with contextlib.suppress(ValueError, OSError):  # already closed
            sentinels.append(process.sentinel)
    deadline = time.monotonic() + timeout
    while sentinels and (left := deadline - time.monotonic()) > 0:
        for ready in wait_any(sentinels, left):
            sentinels.remove(ready)


def _start_worker(parent: int) -> None:
    """Pool initializer: SIGTERM (the run stopped: `_stopped_at_once` terminates its workers, and a scheduler
    signals every process of the job) raises SystemExit, so the video in flight abandons its outputs and
    removes its temporary files as an error would (Python's default is to die at once, leaving them). Ctrl-C
    is left to the parent, which reaches every process of the terminal's group: the parent's SIGTERM then
    comes once, not in the middle of the clean-up a KeyboardInterrupt of the worker's own had begun. And the
    worker exits once its parent is gone (`_exit_with_parent`)."""

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(parent)


def _attempt_in_worker(work: Callable[[VideoJob], Any], job: VideoJob) -> Outcome:
    """`attempt` in a worker process: a SIGTERM during the video (SystemExit, after the video's clean-ups ran)
    ends the process, where the pool would otherwise take the next job."""
    try:
        return attempt(work, job)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    gc.collect()  # the exception is gone: what it held (a half-made output's temporary file) is closed now
    os._exit(code)


def _exit_with_parent(parent: int) -> None:
    """In a pool worker (`_start_worker`): the worker exits once the process that started it is gone (a
    parent killed with SIGKILL cannot stop its workers, which would otherwise finish their queue for nobody
    and then wait)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _run_ray(todo: list[VideoJob], work: Callable[[VideoJob], Any], n: int, record: Callable[[Outcome], None]) -> None:
    """Jobs as Ray tasks (1 CPU each, at most `n` at once), on the cluster at RAY_ADDRESS or a local one."""
    from .ray_session import ray_session

    with ray_session(n) as ray:
        task = ray.remote(num_cpus=1, max_retries=0)(attempt)
        pending = list(reversed(todo))
        running: dict[Any, VideoJob] = {}
        while pending or running:
            while pending and len(running) < 2 * n:
                job = pending.pop()
                running[task.remote(work, job)] = job
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                job = running.pop(ref)
                try:
                    record(ray.get(ref))
                except Exception as e:  # noqa: BLE001 - a task that died loses its video, not the run
                    record(Outcome(job, f"{job.path}: worker stopped ({type(e).__name__})"))
