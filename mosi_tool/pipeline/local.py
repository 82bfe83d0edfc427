"""The local backend: `torch.utils.data.DataLoader` workers decode, this process batches, runs the engine
and writes.

    VideoDataset (decode workers) -> DataLoader -> EngineStage (one engine) -> output.FeatureWriter

Memory stays flat: at most `queue_clips` clips are in flight (the loader's prefetch), and a video's features
are held only until its file is written. A worker killed by a signal (a crashing decoder, the OOM killer)
makes the DataLoader raise; its video is recorded as failed and the loader starts again on the videos not
finished (up to `MAX_RESTARTS` times). Several devices: one such process per device, each with its share of
the videos, sending its records here to the one writer (`run_devices`).
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import queue
import re
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch.utils.data import DataLoader

from ..batch.jobs import VideoJob
from ..progress import info
from ..runtimes.cpu import intra_op_threads
from ..video.read_ahead import read_ahead
from .dataset import VideoDataset
from .engine_stage import EngineStage
from .messages import ClipMessage, DecodePlan, DoneMessage, ErrorMessage, ExtractOptions, Message, StageTimes

MAX_RESTARTS = 16  # loader restarts after a worker died, per run


def _shared(msg: Any) -> Any:
    """In the worker: a clip's frames as a tensor, which the DataLoader hands over in shared memory."""
    return msg._replace(data=torch.from_numpy(msg.data)) if isinstance(msg, ClipMessage) else msg


def _loader(jobs: list[VideoJob], opts: ExtractOptions, plan: DecodePlan) -> tuple[VideoDataset, DataLoader]:
    w = plan.workers
    # Fork is the DataLoader's default on Linux and starts a worker at once. NVDEC decodes on the GPU, which
    # a forked child of a process that has used CUDA cannot do: those workers are spawned.
    ctx = mp.get_context("spawn" if plan.clips.decoder == "nvdec" else "fork") if w else mp
    dataset = VideoDataset(jobs, plan.clips, plan.threads, w, ctx)
    loader = DataLoader(dataset, batch_size=None, num_workers=w, collate_fn=_shared,
                        multiprocessing_context=ctx if w else None, prefetch_factor=max(2, -(-opts.queue_clips // w)) if w else None,
                        in_order=False)  # fmt: skip
    return dataset, loader


class _Ledger:
    """Passes records on to `emit`, each once: after a restart a video decoded again sends only what did
    not reach the writer yet. `ended`: the videos whose every record was passed on."""

    def __init__(self, emit: Callable[[Message], None]):
        self.emit = emit
        self.sent: dict[int, set[int | str]] = {}  # per video not ended: the clip numbers and end record types passed on
        self.expected: dict[int, int] = {}
        self.ended: set[int] = set()

    def __call__(self, msg: Message) -> None:
        if msg.job in self.ended:
            return
        sent = self.sent.setdefault(msg.job, set())
        key = msg.clip_no if isinstance(msg, ClipMessage) else type(msg).__name__
        if key in sent:
            return
        self.emit(msg)  # first: a worker's death raises at any line, and a record sent twice does no harm
        sent.add(key)
        if isinstance(msg, DoneMessage):
            self.expected[msg.job] = msg.clips
        if isinstance(msg, ErrorMessage) or len(sent) == self.expected.get(msg.job, -1) + 1:
            self.ended.add(msg.job)
            del self.sent[msg.job]
            self.expected.pop(msg.job, None)


def run_local(jobs: list[VideoJob], writer: Any, opts: ExtractOptions, plan: DecodePlan, engine: Any = None) -> StageTimes:
    """Process `jobs` as `extract` resolved `opts` and `plan`, feeding every record to `writer.handle`; returns
    the engine stage's timings. `engine`: one already loaded (single device)."""
    if len(opts.devices) > 1:
        return run_devices(jobs, writer, opts, plan)
    ledger = _Ledger(writer.handle)
    with intra_op_threads(opts.threads), _quiet_children() as hush:  # threads: ONNX Runtime fixes them at the load
        stage = EngineStage(engine or opts.load_engine(opts.devices[0]), opts.batch_size, ledger)
        for _ in range(MAX_RESTARTS + 1):
            dataset, loader = _loader(jobs, opts, plan)
            batches = iter(loader)  # its workers are stopped here, after a failure is understood (`finally`)
            try:
                hush()
                # The loader is read on a helper thread, so that taking in clips overlaps the engine's compute.
                with read_ahead(batches, depth=opts.batch_size) as records:
                    t0 = time.perf_counter()
                    for msg in records:
                        stage.times.wait += time.perf_counter() - t0
                        stage.feed(msg)
                        t0 = time.perf_counter()
                stage.flush()
                return stage.times
            except (RuntimeError, ConnectionError, EOFError, FileNotFoundError) as e:
                # The loader (or its SIGCHLD handler, here) raises a RuntimeError when a worker died; a worker
                # killed right after queueing a clip makes taking in that clip's shared memory fail instead.
                if isinstance(e, RuntimeError) and "DataLoader worker" in str(e):
                    pids, reason = _dead_workers(str(e))
                    dead = dict.fromkeys(pids, reason)
                elif isinstance(e, RuntimeError) or not (dead := _exited(list(dataset.pids))):
                    raise
                stage.drop()
                paths = dict(dataset.jobs)
                for pid, reason in dead.items():
                    for job in dataset.claimed({pid}):
                        ledger(ErrorMessage(job, f"{paths[job]}: the decode worker died ({reason})"))
            finally:
                getattr(batches, "_shutdown_workers", lambda: None)()  # now, not whenever it is collected
                jobs = [j for j in jobs if j.index not in ledger.ended]
    return stage.times  # restarts used up: `extract` records the videos left as "no result"


@contextmanager
def _quiet_children() -> Iterator[Callable[[], None]]:
    """Yields `hush`, which sets the DataLoader's SIGCHLD handler aside (call it after each loader starts, when
    the loader installs it); the first handler set aside is put back at the end. That handler raises "DataLoader
    worker ... killed" in the main thread at whatever line runs when a worker dies, also inside the recovery,
    and again for every child that ends until the loader is shut down. Without it, a death surfaces in one
    place: the loader's own check of its workers (every 5 s) or a failed read of a clip from the dead worker.
    SIG_DFL, not SIG_IGN: ignoring SIGCHLD would reap the workers before the loader can see how they ended."""
    saved: list[Any] = []

    def hush() -> None:
        if threading.current_thread() is threading.main_thread():
            before = signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            if not saved and before not in (None, signal.SIG_DFL):
                saved.append(before)

    try:
        yield hush
    finally:
        if saved:
            signal.signal(signal.SIGCHLD, saved[0])


def _dead_workers(message: str) -> tuple[set[int], str]:
    """The process ids and the reason in the DataLoader's "DataLoader worker (pid 12) is killed by signal:
    Killed." or "DataLoader worker (pid(s) 12, 13) exited unexpectedly"."""
    found = re.search(r"\(pid(?:\(s\))? ([\d, ]+)\)\s*(?:is )?([^.]*)", message)
    return ({int(p) for p in found[1].split(",")}, found[2].strip()) if found else (set(), message.strip())


def _exited(pids: list[int], wait_s: float = 2.0) -> dict[int, str]:
    """Of our child processes `pids`, those that ended (zombies not yet reaped, or gone), each with the
    loader's words for it ("killed by signal: Killed"). Waits up to `wait_s` for a death still under way."""
    deadline = time.monotonic() + wait_s
    while True:
        found = {}
        for pid in (p for p in pids if p > 0):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                found[pid] = "exited unexpectedly"
                continue
            if fields[0] in "ZX":  # field 52, the exit status in waitpid's form (Linux 3.5+)
                status = int(fields[49]) if len(fields) > 49 else 0
                found[pid] = f"killed by signal: {signal.strsignal(status & 0x7F)}" if status & 0x7F else "exited unexpectedly"
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def signal_name(exitcode: int | None) -> str:
    """'SIGKILL' for a process killed by that signal (`Process.exitcode` -9), else 'exit code N'."""
    try:
        return signal.Signals(-exitcode).name  # type: ignore[operator]
    except (TypeError, ValueError):  # None, a positive code, or no such signal
        return f"exit code {exitcode}"


class _Sender:
    """In a device process: records go to the parent; the process ends if the parent is gone."""

    def __init__(self, k: int, results: Any, parent: int):
        self.k, self.results, self.parent = k, results, parent

    def handle(self, msg: Message) -> None:
        if os.getppid() != self.parent:
            raise SystemExit(1)  # the parent died (killed): no stray process computing for nobody
        self.results.put((self.k, msg))


def _device_main(k: int, jobs: list[VideoJob], opts: ExtractOptions, plan: DecodePlan, results: Any, parent: int) -> None:
    try:
        results.put((k, run_local(jobs, _Sender(k, results, parent), opts, plan)))
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the whole process group: the parent reports it


def run_devices(jobs: list[VideoJob], writer: Any, opts: ExtractOptions, plan: DecodePlan) -> StageTimes:
    """One process per device, each running `run_local` on every n-th video, its records sent to `writer`
    here. A process that dies fails the videos of its share not finished; the others go on."""
    ctx = mp.get_context("spawn")
    n = len(opts.devices)
    results = ctx.Queue()
    shares = [jobs[k::n] for k in range(n)]
    procs = []
    for k, device in enumerate(opts.devices):
        part = dataclasses.replace(opts, devices=[device], queue_clips=-(-opts.queue_clips // n))
        args = (k, shares[k], part, plan._replace(workers=-(-plan.workers // n)), results, os.getpid())
        procs.append(ctx.Process(target=_device_main, args=args))
        procs[-1].start()
    times, died, live = StageTimes(), [], set(range(n))
    try:
        while live:
            try:
                k, msg = results.get(timeout=1.0)
            except queue.Empty:  # a process that ended has sent all it will: without its timings, it died
                for k in [k for k in live if procs[k].exitcode is not None]:
                    live.discard(k)
                    how = signal_name(procs[k].exitcode)
                    died.append(f"{opts.devices[k]} ({how})")
                    for j in shares[k]:
                        if j.index not in writer.finished:
                            writer.handle(ErrorMessage(j.index, f"{j.path}: the engine process on {opts.devices[k]} died ({how})"))
                continue
            if isinstance(msg, StageTimes):
                times.add(msg)
                live.discard(k)
            else:
                writer.handle(msg)
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join()
    if died and len(died) == n:
        raise RuntimeError(f"every engine process died: {', '.join(died)}; see the messages above")
    if died:
        info(f"warning: engine process {', '.join(died)} died; its videos not finished are listed as failed")
    return times
