"""`read_ahead`: run an iterator on a helper thread, a few items ahead of its consumer.

FFmpeg releases the GIL while it decodes and while swscale resizes, so decoding the next frames on one
thread while the caller resizes and converts the current one keeps two cores busy in one process.
Measured on the 20 shared videos at the default model's input size, on 2 idle cores: 1.09x the frames/s of
the same loop on one thread, both with FFmpeg's own threads (`python bench/decode.py`, docs/BENCHMARKS.md).
Where the CPUs are already busy (several decode processes), a trial with it was no faster, so `VideoReader`
reads ahead only when it has the CPUs to itself.
"""

from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_END = object()
_POLL_S = 0.1  # how often a blocked producer checks whether the consumer has gone


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


@contextmanager
def read_ahead(items: Iterable[T], depth: int = 4) -> Iterator[Iterator[T]]:
    """Yield an iterator over `items`, which a daemon thread pulls up to `depth` items ahead
    (`depth` 0: `items` itself, no thread).

    An exception raised by `items` is raised again, in the consumer, where that item would have come.
    Leaving the `with` block, also early or on an error, stops the thread and waits for it, so whatever
    `items` reads from (an open container) can be closed right after.
    """
    if depth <= 0:
        yield iter(items)
        return
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            put(_Failed(e))
            return
        put(_END)

    def consume() -> Iterator[T]:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        thread.join()
