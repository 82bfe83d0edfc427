"""A fixed pool of shared-memory clip slots between decode processes and the engine.

Decoders write a clip into a slot they were granted and send only its number; the engine copies it out
and frees the slot. The pool's size bounds the memory in flight, however many videos are queued.

Only the parent process hands out slots (`SlotLedger`): no lock or queue is shared between children,
so a child killed at any instant cannot leave the pool locked for the others.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from multiprocessing import shared_memory
from typing import Callable

import numpy as np


class SlotPool:
    def __init__(self, count: int, shape: tuple[int, ...], name: str | None = None):
        """Create (name None) or attach to (name given) `count` uint8 slots of `shape`."""
        self.count, self.shape = count, tuple(shape)
        size = count * math.prod(shape)
        self.shm = shared_memory.SharedMemory(name=name, create=name is None, size=max(size, 1) if name is None else 0)
        self.owner = name is None
        self.array = np.ndarray((count, *shape), dtype=np.uint8, buffer=self.shm.buf)

    def spec(self) -> tuple[int, tuple[int, ...], str]:
        """What another process needs to attach: SlotPool(*spec)."""
        return self.count, self.shape, self.shm.name

    def close(self) -> None:
        del self.array
        self.shm.close()
        if self.owner:
            self.shm.unlink()


class SlotLedger:
    """The parent's free list. A request is answered through its `grant` callback, at once or when a
    slot is released (back-pressure on decoders); a grant that fails (its decoder died) passes the slot on."""

    def __init__(self, count: int):
        self._free = deque(range(count))
        self._waiting: deque[Callable[[int], bool]] = deque()
        self._lock = threading.Lock()

    def request(self, grant: Callable[[int], bool]) -> None:
        with self._lock:
            if not self._free:
                self._waiting.append(grant)
                return
            slot = self._free.popleft()
        if not grant(slot):
            self.release(slot)

    def release(self, slot: int) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._free.append(slot)
                    return
                grant = self._waiting.popleft()
            if grant(slot):
                return

    @property
    def free(self) -> int:
        return len(self._free)
