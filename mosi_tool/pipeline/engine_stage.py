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

import time
from typing import Any, Callable

import numpy as np
import torch

from ..runtimes.base import Engine
from .messages import ClipMessage, DecoderMessage, StageTimes, WriterMessage


class _Batch:
    """Clips gathered straight into one batch-shaped host buffer (pinned on CUDA): one copy per clip."""

    def __init__(self, buffer: torch.Tensor):
        self.buffer = buffer
        self.metas: list[ClipMessage] = []  # the clips' records, without their frames

    def add(self, frames: Any, meta: ClipMessage) -> None:
        # numpy's copy: torch's `copy_` of a clip spreads over the intra-op threads, which the engine keeps busy
        self.buffer[len(self.metas)].numpy()[...] = frames.numpy() if isinstance(frames, torch.Tensor) else frames
        self.metas.append(meta)

    def padded(self) -> torch.Tensor:
        """The full-size batch: rows past the last clip zeroed (the buffer is reused)."""
        self.buffer[len(self.metas) :].zero_()
        return self.buffer


class EngineStage:
    """Takes decoder records (`feed`); calls `emit(record)` with a `FeatureMessage` for each clip and passes
    every other record (a video's done or error) on untouched. `flush()` runs the partial batches."""

    def __init__(self, engine: Engine, batch_size: int, emit: Callable[[WriterMessage], None]):
        self.engine = engine
        self.batch_size = batch_size
        self.emit = emit
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
        shape = tuple(msg.frames.shape)
        batch = self.pending.get(shape) or self.pending.setdefault(shape, _Batch(self._buffer(shape)))
        batch.add(msg.frames, msg._replace(frames=None))
        if len(batch.metas) >= self.batch_size:
            self._launch(self.pending.pop(shape))

    def flush(self) -> None:
        """Run every partial batch and drain the staged one."""
        for shape in list(self.pending):
            self._launch(self.pending.pop(shape))
        self._run_staged()

    def drop(self) -> None:
        """Forget the clips not computed yet (their videos will be decoded again)."""
        for batch in self.pending.values():
            self._recycle(batch)
        self.pending.clear()
        if self._staged is not None:
            self._staged[2].synchronize()
            self._recycle(self._staged[1])
            self._staged = None

    def _buffer(self, shape: tuple[int, ...]) -> torch.Tensor:
        free = self.free.setdefault(shape, [])
        if free:
            return free.pop()
        return torch.empty((self.batch_size, *shape), dtype=torch.uint8, pin_memory=self.cuda)

    def _recycle(self, batch: _Batch) -> None:
        batch.metas = []
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
            metas = batch.metas
            self._recycle(batch)
            self._run(host, metas)

    def _run_staged(self) -> None:
        if self._staged is None:
            return
        dev, batch, event = self._staged
        self._staged = None
        torch.cuda.current_stream(self.engine.device).wait_event(event)
        dev.record_stream(torch.cuda.current_stream(self.engine.device))
        event.synchronize()  # the copy out of the host buffer is done: it may be refilled
        metas = batch.metas
        self._recycle(batch)
        self._run(dev, metas)

    def _run(self, clips: torch.Tensor, metas: list[ClipMessage]) -> None:
        t0 = time.perf_counter()
        features = self.engine(clips).features.float().cpu().numpy()
        self.times.engine += time.perf_counter() - t0
        self.times.clips += len(metas)
        self.times.batches += 1
        for clip, vec in zip(metas, features):  # padding rows dropped here
            self.emit(clip.feature(np.ascontiguousarray(vec)))
