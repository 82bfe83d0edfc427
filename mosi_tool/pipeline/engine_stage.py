"""Engine stage: batch clips across videos, copy them to the device, run the engine, emit features.

On CUDA the next batch is staged in pinned memory and copied on a side stream while the current one computes.
Clips of different sizes (the `full` mode) are batched by size. Partial batches are zero-padded to the full
batch size: kernels pick their algorithm by batch size, so with a fixed batch shape a clip's features do not
depend on which clips share its batch, and every backend, worker count and device split writes byte-identical
files (for the same --batch-size and runtime, and on CPU the same number of intra-op threads: oneDNN's
single-threaded kernels round differently, see `runtimes.cpu.intra_op_threads`).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch

from ..runtimes.base import Engine
from .messages import ClipMessage, Message, StageTimes

Shape = tuple[int, ...]


class EngineStage:
    """Takes decoder records (`feed`); calls `emit(record)` with each clip's record carrying its feature
    vector, and passes every other record (a video's done or error) on untouched. `flush()` runs the partial
    batches."""

    def __init__(self, engine: Engine, batch_size: int, emit: Callable[[Message], None]):
        self.engine = engine
        self.batch_size = batch_size
        self.emit = emit
        # By clip shape: the batch-shaped host buffer (pinned on CUDA) being filled, and its clips' records
        # without their frames; and the buffers free for reuse.
        self.pending: dict[Shape, tuple[torch.Tensor, list[ClipMessage]]] = {}
        self.free: dict[Shape, list[torch.Tensor]] = {}
        self.times = StageTimes()
        self.cuda = engine.device.type == "cuda"
        self._copy_stream = torch.cuda.Stream(engine.device) if self.cuda else None
        self._staged: tuple[torch.Tensor, torch.Tensor, list[ClipMessage], Any] | None = None  # device copy, host, records, event

    def feed(self, msg: Message) -> None:
        if not isinstance(msg, ClipMessage):
            self.emit(msg)
            return
        shape = tuple(msg.data.shape)
        if shape not in self.pending:
            free = self.free.setdefault(shape, [])
            self.pending[shape] = (free.pop() if free else torch.empty((self.batch_size, *shape), dtype=torch.uint8, pin_memory=self.cuda), [])
        buffer, metas = self.pending[shape]
        # numpy's copy: torch's `copy_` of a clip spreads over the intra-op threads, which the engine keeps busy
        buffer[len(metas)].numpy()[...] = msg.data.numpy() if isinstance(msg.data, torch.Tensor) else msg.data
        metas.append(msg._replace(data=None))
        if len(metas) >= self.batch_size:
            self._launch(*self.pending.pop(shape))

    def flush(self) -> None:
        """Run every partial batch and drain the staged one."""
        for shape in list(self.pending):
            self._launch(*self.pending.pop(shape))
        self._run_staged()

    def drop(self) -> None:
        """Forget the clips not computed yet (their videos will be decoded again)."""
        for buffer, _ in self.pending.values():
            self._recycle(buffer)
        self.pending.clear()
        if self._staged is not None:
            self._staged[3].synchronize()
            self._recycle(self._staged[1])
            self._staged = None

    def _recycle(self, buffer: torch.Tensor) -> None:
        self.free[tuple(buffer.shape[1:])].append(buffer)

    def _launch(self, host: torch.Tensor, metas: list[ClipMessage]) -> None:
        t0 = time.perf_counter()
        self.times.padding += self.batch_size - len(metas)
        host[len(metas) :].zero_()  # the padding rows (the buffer is reused)
        if not self.cuda:
            self.times.h2d += time.perf_counter() - t0
            self._recycle(host)
            self._run(host, metas)
            return
        assert self._copy_stream is not None
        with torch.cuda.stream(self._copy_stream):
            dev = host.to(self.engine.device, non_blocking=True)
            event = torch.cuda.Event()
            event.record(self._copy_stream)
        self.times.h2d += time.perf_counter() - t0
        self._run_staged()  # compute the previous batch while this one is in flight
        self._staged = (dev, host, metas, event)

    def _run_staged(self) -> None:
        if self._staged is None:
            return
        dev, host, metas, event = self._staged
        self._staged = None
        torch.cuda.current_stream(self.engine.device).wait_event(event)
        dev.record_stream(torch.cuda.current_stream(self.engine.device))
        event.synchronize()  # the copy out of the host buffer is done: it may be refilled
        self._recycle(host)
        self._run(dev, metas)

    def _run(self, clips: torch.Tensor, metas: list[ClipMessage]) -> None:
        t0 = time.perf_counter()
        features = self.engine(clips).features.float().cpu().numpy()  # (batch_size, D)
        self.times.engine += time.perf_counter() - t0
        self.times.clips += len(metas)
        self.times.batches += 1
        for clip, vec in zip(metas, features):  # padding rows dropped here
            self.emit(clip._replace(data=np.ascontiguousarray(vec)))
