"""A run's options, resolved once by `extract` and passed down whole: each stage reads its own part.

All of it pickles (it is sent to DataLoader workers, device processes, and Ray tasks and actors). No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..video.clips import ClipSpec

if TYPE_CHECKING:
    from ..runtimes.base import Engine


@dataclass(frozen=True)
class EngineOptions:
    """What an engine needs, on whichever device it runs."""

    model: str  # checkpoint or exported engine
    runtime: str | None  # resolved by `extract` (None: the file's own runtime)
    precision: str = "fp32"
    batch_size: int = 16
    threads: int | None = None  # intra-op threads of a CPU engine (None: torch's default)

    def load(self, device: str) -> Engine:
        from ..loader import load_engine

        return load_engine(self.model, device=device, runtime=self.runtime, precision=self.precision,
                           batch_size=self.batch_size, threads=self.threads)  # fmt: skip


@dataclass(frozen=True)
class RunOptions:
    """Everything a backend needs, with every default resolved."""

    clips: ClipSpec  # what every decoder makes of every video
    engine: EngineOptions
    devices: tuple[str, ...]  # the local backend's engine devices (resolved: "cpu", "cuda:0"); Ray: as given
    workers: int  # DataLoader decode workers (0: decode in this process); Ray: decode tasks
    decode_threads: int = 0  # FFmpeg threads per video (0: FFmpeg's choice; see `decode_plan`): speed, not pixels
    queue_clips: int = 64  # clips in flight between decoders and the engine (the loader's prefetch; bounds memory)
    ray_actors: int | None = None  # Ray engine actors (None: one per GPU, else 1)
