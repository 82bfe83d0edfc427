"""The records the pipeline's stages pass on (the stage contract is in `mosi_tool.pipeline`), and the engine
stage's timings. NamedTuples told apart by type; they pickle cheaply (DataLoader workers, device processes,
Ray rows). No torch here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple


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
