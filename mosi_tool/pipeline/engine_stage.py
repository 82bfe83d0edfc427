"""Engine stage: batch clips across videos, copy them to the device, run the engine, emit features.

On CUDA the next batch is staged in pinned memory and copied on a side stream while the current batch
computes. Clips of different sizes (the `full` mode) are batched by size.

Partial batches are padded to the full batch size. Convolution kernels pick their algorithm by batch
size, so a clip's features differ in the last bits between batch sizes; with a fixed batch shape they do
not depend on which other clips share the batch, and every backend, worker count and device split
writes byte-identical files (for the same --batch-size and runtime, and on CPU the same number of
intra-op threads: oneDNN's single-threaded kernels round differently, see `runtimes.cpu.intra_op_threads`).
"""

from __future__ import annotations

import queue
import time
from typing import Any, Callable

import numpy as np
import torch

from ..runtimes.base import Engine
from .messages import ClipMessage, DecoderMessage, StageTimes, Stop, WriterMessage
from .slots import SlotPool

# Run a partial batch only after this long without a clip: a padded batch costs a full one's compute, so a
# short gap (a decoder opening its next video, a busy machine) must not trigger one.
IDLE_FLUSH_S = 5.0


class _Batch:
    """Clips gathered straight into one batch-shaped host buffer (pinned on CUDA): one copy per clip."""

    def __init__(self, buffer: torch.Tensor):
        self.buffer = buffer
        self.metas: list[ClipMessage] = []  # the clips' messages, without their frames

    def add(self, array: np.ndarray, meta: ClipMessage) -> None:
        self.buffer[len(self.metas)].numpy()[...] = array
        self.metas.append(meta)

    def padded(self) -> torch.Tensor:
        """The full-size batch: rows past the last clip zeroed (the buffer is reused)."""
        self.buffer[len(self.metas) :].zero_()
        return self.buffer


class EngineStage:
    """Consumes decoder messages; calls `emit(message)` with a `FeatureMessage` for each clip and forwards
    every other message (a video's done or error) untouched."""

    def __init__(self, engine: Engine, batch_size: int, emit: Callable[[WriterMessage], None], slots: SlotPool | None = None,
                 release: Callable[[int], None] | None = None):  # fmt: skip
        """`slots`: the shared-memory clip slots; `release(slot)` is called as soon as a slot was copied out."""
        self.engine = engine
        self.batch_size = batch_size
        self.emit = emit
        self.slots = slots
        self.release = release
        self.pending: dict[tuple[int, ...], _Batch] = {}
        self.free: dict[tuple[int, ...], list[torch.Tensor]] = {}  # reusable host buffers by clip shape
        self.times = StageTimes()
        self.cuda = engine.device.type == "cuda"
        self._copy_stream = torch.cuda.Stream(engine.device) if self.cuda else None
        self._staged: tuple[torch.Tensor, _Batch, Any] | None = None

    def feed(self, msg: DecoderMessage) -> None:
        if not isinstance(msg, ClipMessage):
            self.emit(msg)
            return
        array = self.slots.array[msg.slot] if msg.slot >= 0 and self.slots is not None else msg.frames
        assert array is not None
        batch = self.pending.get(array.shape) or self.pending.setdefault(array.shape, _Batch(self._buffer(array.shape)))
        batch.add(array, msg._replace(frames=None))  # copied into the batch buffer...
        if msg.slot >= 0 and self.release is not None:
            self.release(msg.slot)  # ...so a decoder can reuse the slot at once
        if len(batch.metas) >= self.batch_size:
            self._launch(self.pending.pop(array.shape))

    def flush(self) -> None:
        """Run every partial batch and drain the staged one."""
        for shape in list(self.pending):
            self._launch(self.pending.pop(shape))
        self._run_staged()

    def _buffer(self, shape: tuple[int, ...]) -> torch.Tensor:
        free = self.free.setdefault(tuple(shape), [])
        if free:
            return free.pop()
        return torch.empty((self.batch_size, *shape), dtype=torch.uint8, pin_memory=self.cuda)

    def _recycle(self, batch: _Batch) -> None:
        self.free[tuple(batch.buffer.shape[1:])].append(batch.buffer)

    def _launch(self, batch: _Batch) -> None:
        t0 = time.perf_counter()
        self.times.padding += self.batch_size - len(batch.metas)
        host = batch.padded()
        if self.cuda:
            assert self._copy_stream is not None
            with torch.cuda.stream(self._copy_stream):
                dev = host.to(self.engine.device, non_blocking=True)
                event = torch.cuda.Event()
                event.record(self._copy_stream)
            self.times.h2d += time.perf_counter() - t0
            self._run_staged()  # compute the previous batch while this one is in flight
            self._staged = (dev, batch, event)
        else:
            self.times.h2d += time.perf_counter() - t0
            self._run(host, batch.metas)
            self._recycle(batch)

    def _run_staged(self) -> None:
        if self._staged is None:
            return
        dev, batch, event = self._staged
        self._staged = None
        torch.cuda.current_stream(self.engine.device).wait_event(event)
        dev.record_stream(torch.cuda.current_stream(self.engine.device))
        event.synchronize()  # the copy out of the host buffer is done: it may be refilled
        self._recycle(batch)
        self._run(dev, batch.metas)

    def _run(self, clips: torch.Tensor, metas: list[ClipMessage]) -> None:
        t0 = time.perf_counter()
        features = self.engine(clips).features.float().cpu().numpy()
        self.times.engine += time.perf_counter() - t0
        self.times.clips += len(metas)
        self.times.batches += 1
        for clip, vec in zip(metas, features):  # padding rows dropped here
            self.emit(clip.feature(vec))

    def run(self, source: Any) -> None:
        """Pull messages from `source` (a queue) until a `Stop` arrives; flush partial batches when it goes idle."""
        while True:
            t0 = time.perf_counter()
            try:
                msg = source.get(timeout=IDLE_FLUSH_S)
            except queue.Empty:
                self.times.wait += time.perf_counter() - t0
                self.flush()
                continue
            self.times.wait += time.perf_counter() - t0
            if isinstance(msg, Stop):
                break
            self.feed(msg)
        self.flush()
