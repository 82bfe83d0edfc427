"""The local backend: decode processes -> bounded queue -> engine stage(s) -> writer, on one machine.

One device: the engine stage runs in this process and hands features straight to the writer.
Several devices: one engine process per device pulls from the same clip queue (so work is shared
clip by clip and one long video never stalls a device) and sends features back to the writer here.

Robustness: every queue is bounded (memory stays flat for any number or length of videos); a decode
process that dies (a crashing decoder, the OOM killer) has its video recorded as failed and is replaced;
an engine process that dies loses only its clips in flight (their videos are recorded as failed) while
the other engines go on; Ctrl-C reaches only this process, which stops the children at once.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..progress import info
from ..runtimes import load_engine
from ..video.clips import Sampling
from .decode_worker import worker_main
from .engine_stage import EngineStage, StageTimes, intra_op_threads
from .jobs import VideoJob
from .slots import SlotPool
from .writer import FeatureWriter

WATCH_S = 0.5  # how often dead children are looked for
MAX_RESPAWNS = 16  # decode processes replaced per run before giving up on replacing them


@dataclass
class LocalOptions:
    model: str
    devices: list[str]
    runtime: str | None
    batch_size: int
    workers: int
    queue_clips: int  # clips in flight between decoders and engines (bounds memory)
    sampling: Sampling
    stream: int | None
    fps: float | None
    threads: int | None = None  # intra-op threads of a CPU engine (None: torch's default)
    decode: str = "cpu"


def _child_setup() -> None:
    """In every child: get SIGKILLed when the parent dies (Linux), so a killed run leaves no stray workers;
    ignore Ctrl-C, which the parent handles by stopping the children."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _decode_entry(*args: Any) -> None:
    _child_setup()
    worker_main(*args)


def _engine_entry(index: int, device: str, model: str, runtime: str | None, batch_size: int, threads: int | None, clips: Any, results: Any, slot_spec: tuple | None) -> None:
    _child_setup()
    if threads:
        import torch

        torch.set_num_threads(threads)
    engine = load_engine(model, device=device, runtime=runtime)
    slots = SlotPool(*slot_spec) if slot_spec else None
    stage = EngineStage(engine, batch_size, results.put, slots)
    try:
        stage.run(clips, stop_token="stop")
    finally:
        results.put(("engine_exit", index, stage.times))
        if slots is not None:
            slots.close()


def _signal_name(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            pass
    return f"exit code {exitcode}"


class DecodePool:
    """The decode processes (or one thread with workers=0): started, watched, and stopped.

    A process killed by a signal never says ("exit", ...) nor finishes its video: the watcher reports that
    video as an ("error", ...) on the clip queue and starts a replacement with the same id."""

    def __init__(self, ctx: Any, opts: LocalOptions, tasks: Any, clips: Any, slot_spec: tuple | None, paths: dict[int, str]):
        self.ctx, self.opts, self.tasks, self.clips, self.slot_spec, self.paths = ctx, opts, tasks, clips, slot_spec, paths
        self.count = max(opts.workers, 1)
        self.threaded = opts.workers == 0
        self.current = None if self.threaded else ctx.Array("q", [-1] * self.count, lock=False)
        self.procs: list[Any] = [self._start(i) for i in range(self.count)]
        self.respawns = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        if not self.threaded:
            threading.Thread(target=self._watch, daemon=True).start()

    def _start(self, i: int) -> Any:
        s, o = self.opts.sampling, self.opts
        if self.threaded:
            t = threading.Thread(target=worker_main, args=(i, self.tasks, self.clips, s, o.stream, o.fps, None, o.decode), daemon=True)
            t.start()
            return t
        p = self.ctx.Process(target=_decode_entry, args=(i, self.tasks, self.clips, s, o.stream, o.fps, self.slot_spec, o.decode, self.current), daemon=True)
        p.start()
        return p

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_S):
            with self._lock:
                if self._stop.is_set():
                    return
                for i, p in enumerate(self.procs):
                    if p.exitcode is not None and p.exitcode < 0:  # killed: it never said "exit"
                        self._replace(i, p.exitcode)

    def _replace(self, i: int, exitcode: int) -> None:
        assert self.current is not None
        job, self.current[i] = self.current[i], -1
        if job >= 0:
            self.clips.put(("error", job, f"{self.paths[job]}: the decode process died ({_signal_name(exitcode)})"))
        if self.respawns < MAX_RESPAWNS:
            self.respawns += 1
            self.procs[i] = self._start(i)
        else:
            self.procs[i] = _Ended()
            self.clips.put(("exit", i))  # in its stead, so the consumer stops counting on it

    def join(self) -> None:
        """Wait until every decoder has finished, replacements included (or the pool was stopped)."""
        while not self._stop.is_set():
            for p in list(self.procs):
                p.join()
            if self.threaded or all(p.exitcode is not None and p.exitcode >= 0 for p in self.procs):
                return
            time.sleep(WATCH_S)  # one was killed: the watcher is replacing it

    def stop(self, abort: bool) -> None:
        with self._lock:
            self._stop.set()
        if self.threaded:
            return
        for p in self.procs:
            if abort:
                p.kill()
            p.join(timeout=5)
            if p.is_alive():
                p.kill()


class _Ended:
    exitcode = 0

    def join(self, timeout: float | None = None) -> None:
        pass

    def kill(self) -> None:
        pass

    def is_alive(self) -> bool:
        return False


def _engine_processes(ctx: Any, opts: LocalOptions, clips: Any, decoders: DecodePool, writer: FeatureWriter, slot_spec: tuple | None) -> StageTimes:
    """One engine process per device on the shared clip queue; results come back here to the writer."""
    results = ctx.Queue(maxsize=4 * opts.batch_size * len(opts.devices))
    engines = {
        i: ctx.Process(target=_engine_entry, args=(i, dev, opts.model, opts.runtime, opts.batch_size, opts.threads, clips, results, slot_spec), daemon=True)
        for i, dev in enumerate(opts.devices)
    }
    for e in engines.values():
        e.start()

    def stop_engines() -> None:  # once every decoder has finished, tell each engine to drain and stop
        decoders.join()
        for _ in engines:
            clips.put(("stop",))

    threading.Thread(target=stop_engines, daemon=True).start()
    times = StageTimes()
    running, finished, died = dict(engines), 0, []
    try:
        while running:
            try:
                msg = results.get(timeout=WATCH_S)
            except queue.Empty:
                for i, e in list(running.items()):
                    if e.exitcode is not None and e.exitcode != 0:  # died without its "engine_exit"
                        died.append(f"{opts.devices[i]} ({_signal_name(e.exitcode)})")
                        del running[i]
                continue
            if msg[0] == "engine_exit":
                times.add(msg[2])
                finished += running.pop(msg[1], None) is not None
            elif msg[0] != "exit":
                writer.handle(msg)
    finally:
        for e in engines.values():
            e.join(timeout=5)
            if e.is_alive():
                e.kill()
    if died:
        if not finished:
            raise RuntimeError(f"every engine process died: {', '.join(died)}; see the messages above")
        info(f"warning: engine process {', '.join(died)} died; the videos it had clips of are listed as failed")
    return times


def run_local(jobs: list[VideoJob], writer: FeatureWriter, opts: LocalOptions, engine: Any = None) -> StageTimes:
    """Process `jobs`, feeding results to `writer`; returns the engine stage's timings.

    `engine`: an already loaded engine for the single-device case (avoids loading twice).
    """
    ctx = mp.get_context("spawn")
    use_procs = opts.workers > 0
    q_mod: Any = ctx if use_procs else queue
    tasks = q_mod.Queue(maxsize=max(4, 2 * max(opts.workers, 1)))
    clips = (ctx.Queue if use_procs or len(opts.devices) > 1 else queue.Queue)(maxsize=max(opts.queue_clips, opts.batch_size))
    slots = None
    s = opts.sampling
    if use_procs and s.mode == "center":
        slots = SlotPool(opts.queue_clips + opts.batch_size * (len(opts.devices) + 1), (s.stack, s.size, s.size, 3), ctx.Queue())
    slot_spec = slots.spec() if slots else None

    # Stage 1: decoders (processes, or one thread with --workers 0).
    decoders = DecodePool(ctx, opts, tasks, clips, slot_spec, {j.index: j.path for j in jobs})

    def feed() -> None:  # bounded task queue: memory stays flat for any number of videos
        for job in jobs:
            tasks.put((job.index, job.path))
        for _ in range(decoders.count):
            tasks.put(None)

    threading.Thread(target=feed, daemon=True).start()
    times = StageTimes()
    abort = True
    try:
        if len(opts.devices) == 1:
            # Stages 2-4 here: the engine stage feeding the writer directly.
            eng = engine or load_engine(opts.model, device=opts.devices[0], runtime=opts.runtime)
            stage = EngineStage(eng, opts.batch_size, writer.handle, slots)
            with intra_op_threads(opts.threads):
                stage.run(clips, stop_after_exits=decoders.count)
            times = stage.times
        else:
            times = _engine_processes(ctx, opts, clips, decoders, writer, slot_spec)
        abort = False
    finally:
        decoders.stop(abort)  # on Ctrl-C or an error: kill the children now, do not wait for them
        for q in (tasks, clips):
            if hasattr(q, "cancel_join_thread"):
                q.cancel_join_thread()  # never block this process's exit on a queue nobody reads any more
        if slots is not None:
            slots.close()
    return times


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
