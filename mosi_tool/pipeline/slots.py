"""A fixed pool of shared-memory clip slots between decode processes and the engine.

Decoders write a clip into a free slot and send only its number; the engine copies it out and frees
the slot. The pool's size bounds the memory in flight, however many videos are queued.
"""

from __future__ import annotations

import math
from multiprocessing import shared_memory
from typing import Any

import numpy as np


class SlotPool:
    def __init__(self, count: int, shape: tuple[int, ...], free: Any, name: str | None = None):
        """Create (name None) or attach to (name given) `count` uint8 slots of `shape`; `free` is a queue
        of free slot numbers shared by all processes."""
        self.count, self.shape, self.free = count, tuple(shape), free
        size = count * math.prod(shape)
        if name is None:
            self.shm = shared_memory.SharedMemory(create=True, size=max(size, 1))
            for i in range(count):
                free.put(i)
            self.owner = True
        else:
            self.shm = shared_memory.SharedMemory(name=name)
            self.owner = False
        self.array = np.ndarray((count, *shape), dtype=np.uint8, buffer=self.shm.buf)

    def spec(self) -> tuple[int, tuple[int, ...], Any, str]:
        """What another process needs to attach: SlotPool(*spec)."""
        return self.count, self.shape, self.free, self.shm.name

    def acquire(self) -> int:
        return int(self.free.get())  # blocks while every slot is in flight: back-pressure on decoders

    def release(self, slot: int) -> None:
        self.free.put(slot)

    def close(self) -> None:
        del self.array
        self.shm.close()
        if self.owner:
            self.shm.unlink()
