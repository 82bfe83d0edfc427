"""Engine processes for runs on several devices: one per device, each fed over its own pipe.

A dispatcher thread here deals clips from the clip queue to whichever engine has room (so one long video
never stalls a device, and a slow device simply takes fewer clips); the engines' features come back over
the same pipes to the writer. Each engine holds at most two batches of clips, and this side knows which:
an engine that dies loses only those (their videos are recorded as failed) while the others go on.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .children import WATCH_S, ChildLink, child_messages, child_setup, signal_name
from ..runtimes.cpu import intra_op_threads
from .engine_stage import EngineStage
from .messages import STOP, ClipMessage, DecoderMessage, EngineExit, ErrorMessage, FeatureMessage, SlotFreed, StageTimes, Stop, WriterMessage
from .options import EngineOptions
from .slots import SlotLedger, SlotPool


class _PipeSource:
    """A pipe read like a queue, for `EngineStage.run`."""

    def __init__(self, conn: Any):
        self.conn = conn

    def get(self, timeout: float) -> Any:
        if not self.conn.poll(timeout):
            raise queue.Empty
        return self.conn.recv()


def _engine_entry(conn: Any, device: str, opts: EngineOptions, slot_spec: tuple | None) -> None:
    child_setup()
    with intra_op_threads(opts.threads):  # around the load too: ONNX Runtime fixes its threads there
        engine = opts.load(device)
        slots = SlotPool(*slot_spec) if slot_spec else None
        stage = EngineStage(engine, opts.batch_size, conn.send, slots, release=lambda slot: conn.send(SlotFreed("freed", slot)))
        try:
            stage.run(_PipeSource(conn))
            conn.send(EngineExit("engine_exit", stage.times))
        except (EOFError, BrokenPipeError):
            pass  # the parent is gone
        finally:
            if slots is not None:
                slots.close()


@dataclass(eq=False)
class _Engine(ChildLink):
    device: str = ""
    inflight: dict[tuple[int, int], None] = field(default_factory=dict)  # (job, clip_no) sent, no feature back yet
    slots: set[int] = field(default_factory=set)  # shared-memory slots it has not freed yet
    alive: bool = True


class EnginePool:
    """Starts one engine process per device. `handle(msg)` receives features and per-video messages (from
    two threads: it must be thread-safe); `paths` names each job's video in failure messages."""

    def __init__(self, ctx: Any, devices: Sequence[str], opts: EngineOptions, handle: Callable[[WriterMessage], None], paths: dict[int, str],
                 slot_spec: tuple | None, ledger: SlotLedger | None):  # fmt: skip
        self.handle, self.paths, self.ledger = handle, paths, ledger
        self.room = 2 * opts.batch_size  # clips in flight per engine: one batch computing, the next filling
        self.cond = threading.Condition()
        self.engines: list[_Engine] = []
        for dev in devices:
            self.engines.append(_Engine.start(ctx, _engine_entry, (dev, opts, slot_spec), device=dev))

    def run(self, clips: Any) -> StageTimes:
        """Deal the messages of `clips` (a queue, ending with a `Stop`) to the engines until all are done."""
        threading.Thread(target=self._dispatch, args=(clips,), daemon=True).start()
        times, finished, died = StageTimes(), 0, []
        live = {e.conn: e for e in self.engines}
        while live:
            for e, msg in child_messages(live):
                if msg is None:
                    self._died(e)
                    died.append(f"{e.device} ({signal_name(e.proc.exitcode)})")
                    continue
                if isinstance(msg, FeatureMessage):
                    with self.cond:
                        e.inflight.pop((msg.job, msg.clip_no), None)
                        self.cond.notify_all()
                    self.handle(msg)
                elif isinstance(msg, SlotFreed):
                    e.slots.discard(msg.slot)
                    if self.ledger is not None:
                        self.ledger.release(msg.slot)
                elif isinstance(msg, EngineExit):
                    times.add(msg.times)
                    finished += 1
                    del live[e.conn]
        if died and not finished:
            raise RuntimeError(f"every engine process died: {', '.join(died)}; see the messages above")
        if died:
            from ..progress import info

            info(f"warning: engine process {', '.join(died)} died; the videos it had clips of are listed as failed")
        return times

    def stop(self) -> None:
        for e in self.engines:
            e.proc.join(timeout=5)
            if e.proc.is_alive():
                e.proc.kill()

    def _dispatch(self, clips: Any) -> None:
        msg: DecoderMessage | Stop
        while not isinstance(msg := clips.get(), Stop):
            if not isinstance(msg, ClipMessage):
                self.handle(msg)  # a video's done or error
                continue
            engine = self._claim(msg)
            if engine is None:  # every engine died: nothing can compute this clip
                if msg.slot >= 0 and self.ledger is not None:
                    self.ledger.release(msg.slot)
                continue
            engine.send(msg)  # a failed send is a death: the receiving loop reports its clips
        for e in self.engines:
            e.send(STOP)

    def _claim(self, clip: ClipMessage) -> _Engine | None:
        """The live engine with the fewest clips in flight, once it has room, with `clip` booked on it."""
        with self.cond:
            while True:
                alive = [e for e in self.engines if e.alive]
                if not alive:
                    return None
                best = min(alive, key=lambda e: len(e.inflight))
                if len(best.inflight) < self.room:
                    best.inflight[(clip.job, clip.clip_no)] = None
                    if clip.slot >= 0:
                        best.slots.add(clip.slot)
                    return best
                self.cond.wait(WATCH_S)

    def _died(self, e: _Engine) -> None:
        """Fail the videos of its clips in flight and take back its slots."""
        e.proc.join(timeout=5)
        with self.cond:
            e.alive = False
            jobs = sorted({job for job, _ in e.inflight})
            e.inflight.clear()
            held, e.slots = e.slots, set()
            self.cond.notify_all()
        for job in jobs:
            self.handle(ErrorMessage("error", job, f"{self.paths[job]}: the engine process on {e.device} died ({signal_name(e.proc.exitcode)})"))
        if self.ledger is not None:
            for slot in held:
                self.ledger.release(slot)
