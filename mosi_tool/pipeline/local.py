"""The local backend: decode processes -> bounded clip queue -> engine stage(s) -> writer, on one machine.

One device: the engine stage runs in this process and hands features straight to the writer.
Several devices: one engine process per device (`engines.EnginePool`), fed clip by clip.

Robustness: every queue is bounded (memory stays flat for any number or length of videos), and every
child talks to this process over its own pipe, so a child killed at any instant (a crashing decoder, the
OOM killer) cannot jam the others: a dead decoder's video is recorded as failed and the decoder replaced
(`decoders.DecoderPool`); a dead engine's clips in flight fail their videos while the other engines go on.
Ctrl-C reaches only this process, which kills the children at once.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
from typing import Any

from .decoders import DecoderPool
from ..runtimes.cpu import intra_op_threads
from .engine_stage import EngineStage
from .engines import EnginePool
from .jobs import VideoJob
from .messages import StageTimes, WriterMessage
from .options import RunOptions
from .slots import SlotLedger, SlotPool
from .writer import FeatureWriter


def run_local(jobs: list[VideoJob], writer: FeatureWriter, opts: RunOptions, engine: Any = None) -> StageTimes:
    """Process `jobs`, feeding results to `writer`; returns the engine stage's timings.

    `engine`: an already loaded engine for the single-device case (loaded here otherwise).
    """
    ctx = mp.get_context("spawn")
    batch_size = opts.engine.batch_size
    clips: queue.Queue = queue.Queue(maxsize=max(opts.queue_clips, batch_size))
    s = opts.decode.sampling
    slots, ledger = None, None
    if opts.workers > 0 and s.mode == "center":
        # clips in the queue, plus two batches per engine, plus one being written by each decoder
        count = clips.maxsize + 2 * batch_size * len(opts.devices) + opts.workers + 2
        slots, ledger = SlotPool(count, (s.stack, s.size, s.size, 3)), SlotLedger(count)
    slot_spec = slots.spec() if slots else None

    decoders = DecoderPool(ctx, opts.workers, jobs, clips.put, opts.decode, slot_spec, ledger)
    engines = None
    try:
        if len(opts.devices) == 1:
            with intra_op_threads(opts.engine.threads):  # around the load too: ONNX Runtime fixes its threads there
                stage = EngineStage(engine or opts.engine.load(opts.devices[0]), batch_size, writer.handle, slots, ledger.release if ledger else None)
                stage.run(clips)
            return stage.times
        lock = threading.Lock()

        def handle(msg: WriterMessage) -> None:
            with lock:
                writer.handle(msg)

        paths = {j.index: j.path for j in jobs}
        engines = EnginePool(ctx, opts.devices, opts.engine, handle, paths, slot_spec, ledger)
        return engines.run(clips)
    finally:
        decoders.stop()  # at the end they have exited already; on Ctrl-C or an error this kills them now
        if engines is not None:
            engines.stop()
        if slots is not None:
            slots.close()
