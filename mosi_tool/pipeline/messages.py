"""The data of the stage contract (in `mosi_tool.pipeline`): the records the stages pass on (NamedTuples told
apart by type), the engine stage's timings, and the run's options (`ExtractOptions` and `DecodePlan`, resolved
once by `extract` and passed down whole). All of it pickles cheaply: it goes to DataLoader workers, device
processes, and Ray tasks and actors. No torch here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..default_model import default_model_path
from ..video.clips import ClipSpec, check_clip_values

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


class DecodePlan(NamedTuple):
    """How a run decodes, resolved by `extract`: the clips every decoder cuts, and by how many decoders."""

    clips: ClipSpec  # the run's one ClipSpec
    workers: int  # DataLoader decode workers (0: decode in this process); Ray: decode tasks
    threads: int  # FFmpeg threads per video (0: FFmpeg's choice; `dataset.decode_plan`): speed, not pixels


@dataclass
class ExtractOptions:
    """The settings of one extraction: `mosi-tool features`' options. Paths may be str or Path. `extract` resolves
    runtime, precision and devices before the backends get it."""

    model: str = ""  # checkpoint or engine (a Path is taken too); "": the bundled default model
    out_dir: Path = Path("features")  # a str is taken too
    devices: list[str] = field(default_factory=lambda: ["auto"])  # resolved ("cpu", "cuda:0") for the local backend
    runtime: str | None = None
    batch_size: int = 16
    workers: int | None = None  # decode workers; None: `decode_plan`'s choice
    decode_threads: int | None = None  # FFmpeg threads per video (0: FFmpeg's choice); None: `decode_plan`'s choice
    stack: int | None = None
    step: int | None = None
    fps: float | None = None
    mode: str = "center"
    dtype: str = "float32"
    precision: str = "fp32"  # arithmetic of a checkpoint run by PyTorch: fp32, bf16 (fast on CPUs with AMX) or fp16
    pool: str = "clip"
    stream: int | None = None
    overwrite: bool = False
    shard: tuple[int, int] | None = None
    backend: str = "local"
    queue_clips: int = 64  # clips in flight between decoders and the engine (the loader's prefetch; bounds memory)
    progress: bool = True
    threads: int | None = None  # intra-op threads of a CPU engine; None: torch's default (on CPU the count can change the last bits)
    ray_actors: int | None = None  # --backend ray: engine actors; None: one per GPU, else 1
    decode: str = "cpu"  # "cpu" (FFmpeg) or "nvdec" (experimental GPU decoding via torchcodec; local backend)

    def __post_init__(self) -> None:
        """Raises ValueError, naming the option, for a value the extraction cannot honour."""
        self.model = str(self.model or default_model_path())
        self.out_dir = Path(self.out_dir)
        if self.dtype not in ("float32", "float16"):
            raise ValueError(f"--dtype must be float32 or float16, got {self.dtype!r}")
        if self.pool not in ("clip", "video"):
            raise ValueError(f"--pool must be clip or video, got {self.pool!r}")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be at least 1, got {self.threads}")
        check_clip_values(stack=self.stack, step=self.step, fps=self.fps, mode=self.mode, stream=self.stream, decoder=self.decode)

    def load_engine(self, device: str) -> Engine:
        from ..loader import load_engine

        return load_engine(self.model, device, self.runtime, precision=self.precision, batch_size=self.batch_size, threads=self.threads)
