"""The data of the stage contract (in `mosi_tool.pipeline`): the records the stages pass on (NamedTuples told
apart by type), the engine stage's timings, and a run's options, resolved once by `extract` and passed down
whole (each stage reads its own part). All of it pickles cheaply: it goes to DataLoader workers, device
processes, and Ray tasks and actors. No torch here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ..video.clips import ClipSpec

if TYPE_CHECKING:
    from ..runtimes.base import Engine


class ClipMessage(NamedTuple):
    """One clip: decoder -> engine carrying its frames, engine -> writer carrying its feature vector."""

    job: int  # `VideoJob.index` of the clip's video
    clip_no: int  # the clip's place in its video, from 0
    data: Any  # decoder: (T, H, W, 3) uint8 frames (numpy; a torch tensor once through the DataLoader); engine: (D,) float32
    frame_range: tuple[int, int]  # first and last frame index of the clip
    time_range: tuple[float, float]  # their timestamps, seconds
    padded: int  # frames repeated to fill the clip (short videos)


class DoneMessage(NamedTuple):
    """A video decoded to its end: decoder -> writer (passed on untouched by the engine stage)."""

    job: int
    clips: int  # clips sent for this video
    info: dict[str, Any]  # `dataset.video_info`: the header's VideoInfo plus what decoding found
    decode_s: float  # seconds spent decoding (not waiting for room downstream)


class ErrorMessage(NamedTuple):
    """A video that failed (its clips sent so far are dropped): any stage -> writer."""

    job: int
    message: str  # one line naming the file and the reason


Message = ClipMessage | DoneMessage | ErrorMessage  # decoders send them in order for each video


@dataclass
class StageTimes:
    """The engine stage's timings (seconds) and counts, added up over engines."""

    h2d: float = 0.0
    engine: float = 0.0
    clips: int = 0
    batches: int = 0
    wait: float = 0.0  # time the engine stage sat waiting for clips
    padding: int = 0  # zero rows computed to fill partial batches

    def add(self, other: StageTimes) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


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
