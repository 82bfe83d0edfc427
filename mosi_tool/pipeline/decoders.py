"""The decode processes, seen from the parent: started, fed, watched, replaced and stopped.

Each decoder talks to the parent over its own pipe, and one parent thread (the hub) serves them all:
it hands out videos one at a time, grants shared-memory slots, and passes every message on to `out`.
No queue or lock is shared between children, so a decoder killed at any instant (a crashing decoder,
the OOM killer) harms nothing but its own video: the hub sees its pipe close, records that video as
failed and starts a replacement. With workers=0 one thread in this process does the decoding.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..hardware import available_cpus
from .children import ChildLink, child_messages, child_setup, signal_name
from .decode_worker import decode_messages, decoder_main
from .jobs import VideoJob
from .messages import STOP, ClipMessage, DecoderMessage, ErrorMessage, SlotRequest, Stop
from .options import DecodeOptions
from .slots import SlotLedger

MAX_RESPAWNS = 16  # decode processes replaced per run before giving up on replacing them
MAX_WORKERS = 8  # default cap on decode processes


def decode_plan(workers: int | None, videos: int, cpus: int | None = None) -> tuple[int, int]:
    """(decode processes, FFmpeg threads per video) for `videos` inputs on `cpus` CPUs (default: ours).

    Processes: `workers` if given, else one per CPU but one, at least 2 where there are 2 CPUs, at most 8;
    never more than there are videos (each process costs its start, and one decodes one video at a time).
    Threads: the CPUs shared among the decoders that will be busy at once (0, FFmpeg's own choice, when
    only one is). Measured on 2 cores (docs/benchmarks/2026-11-29-1802-extraction-end-to-end.md, "Reading: the decode plan on 2 cores"): with one
    decoder using FFmpeg's frame threads, extraction kept 1.3 of the 2 cores busy, because every frame's
    resize and colour conversion runs on the decoder's own thread; with two one-thread decoders it kept 1.8 to
    1.9 busy and ended a 20-video run 1.06 to 1.18x sooner (two runs).
    """
    cpus = cpus or available_cpus()
    n = workers if workers is not None else max(1, min(MAX_WORKERS, cpus, max(2, cpus - 1)))
    n = min(n, max(videos, 1))
    return n, (max(1, cpus // n) if n > 1 else 0)


def _decoder_entry(*args: Any) -> None:
    child_setup()
    decoder_main(*args)


@dataclass(eq=False)
class _Decoder(ChildLink):
    job: VideoJob | None = None
    told_to_stop: bool = False
    granted: set[int] = field(default_factory=set)  # slots granted, not yet sent back in a clip

    def grant(self, slot: int) -> bool:
        self.granted.add(slot)
        if self.send(slot):
            return True
        self.granted.discard(slot)
        return False


class DecoderPool:
    """Decodes `jobs` with `workers` processes (0: one thread here), calling `out(msg)` for every decoder
    message and `out(STOP)` once all videos are decoded. `opts`: a `DecodeOptions`, or its values as a tuple."""

    def __init__(self, ctx: Any, workers: int, jobs: list[VideoJob], out: Callable[[DecoderMessage | Stop], None],
                 opts: DecodeOptions | tuple, slot_spec: tuple | None = None, ledger: SlotLedger | None = None):  # fmt: skip
        self.ctx, self.out, self.slot_spec, self.ledger = ctx, out, slot_spec, ledger
        self.opts = DecodeOptions(*opts)
        self.tasks: Iterator[VideoJob] = iter(jobs)
        self.respawns = 0
        self._stop = threading.Event()
        self.decoders: list[_Decoder] = []
        if workers == 0:
            self.thread = threading.Thread(target=self._decode_here, daemon=True)
        else:
            self.decoders = [self._start() for _ in range(workers)]
            self.thread = threading.Thread(target=self._hub, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop now: kill every decode process (used on errors and Ctrl-C; a normal end needs no call)."""
        self._stop.set()
        for d in self.decoders:
            d.proc.kill()
        for d in self.decoders:
            d.proc.join(timeout=5)

    # -- workers=0 -----------------------------------------------------------------------------------------

    def _decode_here(self) -> None:
        for job in self.tasks:
            for msg in decode_messages(job.index, job.path, self.opts):
                if self._stop.is_set():
                    return
                self.out(msg)
        self.out(STOP)

    # -- processes ------------------------------------------------------------------------------------------

    def _start(self) -> _Decoder:
        d: _Decoder = _Decoder.start(self.ctx, _decoder_entry, (self.opts, self.slot_spec))
        self._next_task(d)
        return d

    def _next_task(self, d: _Decoder) -> None:
        d.job = next(self.tasks, None)
        d.told_to_stop = d.job is None
        d.send(d.job)

    def _hub(self) -> None:
        live = {d.conn: d for d in self.decoders}
        while live and not self._stop.is_set():
            for d, msg in child_messages(live):
                if msg is None:
                    if (new := self._ended(d)) is not None:
                        live[new.conn] = new
                    continue
                if isinstance(msg, SlotRequest):
                    assert self.ledger is not None
                    self.ledger.request(d.grant)
                    continue
                if isinstance(msg, ClipMessage):
                    d.granted.discard(msg.slot)
                self.out(msg)
                if not isinstance(msg, ClipMessage):  # the video's end: done or error
                    self._next_task(d)
        if not self._stop.is_set():
            self.out(STOP)

    def _ended(self, d: _Decoder) -> _Decoder | None:
        """A decoder's pipe closed: a normal end, or a death to report (its video fails) and repair."""
        d.proc.join(timeout=5)
        d.close()
        if self._stop.is_set():
            return None
        if self.ledger is not None:
            for slot in list(d.granted):
                self.ledger.release(slot)
        if d.told_to_stop and d.proc.exitcode == 0:
            return None
        if d.job is not None:
            self.out(ErrorMessage("error", d.job.index, f"{d.job.path}: the decode process died ({signal_name(d.proc.exitcode)})"))
        if self.respawns >= MAX_RESPAWNS:
            return None  # videos never handed out are recorded as "no result" by the caller
        self.respawns += 1
        new = self._start()
        self.decoders[self.decoders.index(d)] = new
        return new
