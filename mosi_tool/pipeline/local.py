"""The local backend: decode processes -> bounded queue -> engine stage(s) -> writer, on one machine.

One device: the engine stage runs in this process and hands features straight to the writer.
Several devices: one engine process per device pulls from the same clip queue (so work is shared
clip by clip and one long video never stalls a device) and sends features back to the writer here.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import queue
import signal
import threading
from dataclasses import dataclass
from typing import Any

from ..runtimes import load_engine
from ..video.clips import Sampling
from .decode_worker import worker_main
from .engine_stage import EngineStage, StageTimes
from .jobs import VideoJob
from .slots import SlotPool
from .writer import FeatureWriter


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


def _die_with_parent() -> None:
    """Linux: get SIGKILLed when the parent dies, so a killed run leaves no stray workers."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _decode_entry(*args: Any) -> None:
    _die_with_parent()
    worker_main(*args)


def _engine_entry(device: str, model: str, runtime: str | None, batch_size: int, clips: Any, results: Any, slot_spec: tuple | None) -> None:
    _die_with_parent()
    engine = load_engine(model, device=device, runtime=runtime)
    slots = SlotPool(*slot_spec) if slot_spec else None
    stage = EngineStage(engine, batch_size, results.put, slots)
    try:
        stage.run(clips, stop_token="stop")
    finally:
        results.put(("engine_exit", stage.times))
        if slots is not None:
            slots.close()


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
    n_workers = max(opts.workers, 1)

    # Stage 1: decoders (processes, or one thread with --workers 0).
    if use_procs:
        decoders: list[Any] = [
            ctx.Process(target=_decode_entry, args=(i, tasks, clips, s, opts.stream, opts.fps, slot_spec), daemon=True)
            for i in range(n_workers)
        ]
    else:
        decoders = [threading.Thread(target=worker_main, args=(0, tasks, clips, s, opts.stream, opts.fps, None), daemon=True)]
    for d in decoders:
        d.start()

    def feed() -> None:  # bounded task queue: memory stays flat for any number of videos
        for job in jobs:
            tasks.put((job.index, job.path))
        for _ in decoders:
            tasks.put(None)

    threading.Thread(target=feed, daemon=True).start()
    times = StageTimes()
    try:
        if len(opts.devices) == 1:
            # Stage 2-4 here: engine stage feeding the writer directly.
            eng = engine or load_engine(opts.model, device=opts.devices[0], runtime=opts.runtime)
            stage = EngineStage(eng, opts.batch_size, writer.handle, slots)
            stage.run(clips, stop_after_exits=n_workers)
            times = stage.times
        else:
            results = ctx.Queue(maxsize=4 * opts.batch_size * len(opts.devices))
            engines = [
                ctx.Process(target=_engine_entry, args=(dev, opts.model, opts.runtime, opts.batch_size, clips, results, slot_spec), daemon=True)
                for dev in opts.devices
            ]
            for e in engines:
                e.start()

            def stop_engines() -> None:  # once every decoder has finished, tell each engine to drain and stop
                for d in decoders:
                    d.join()
                for _ in engines:
                    clips.put(("stop",))

            threading.Thread(target=stop_engines, daemon=True).start()
            alive = len(engines)
            while alive:
                try:
                    msg = results.get(timeout=5)
                except queue.Empty:
                    if not any(e.is_alive() for e in engines):
                        raise RuntimeError("every engine process died; see the messages above") from None
                    continue
                if msg[0] == "engine_exit":
                    times.add(msg[1])
                    alive -= 1
                elif msg[0] != "exit":
                    writer.handle(msg)
            for e in engines:
                e.join()
    finally:
        for d in decoders:
            if isinstance(d, threading.Thread):
                continue
            d.join(timeout=5)
            if d.is_alive():
                d.kill()
        if slots is not None:
            slots.close()
    return times


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

