"""`DecodeSpec`: how to open one input, and the one place that knows what `--fps` means for it.

A video file has timestamps and keeps its own rate: `--fps` resamples its frames when clips are cut.
A folder of frames has none: `--fps` is its frame rate (25 when not given), and its frames are not resampled.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .clips import Clip, Sampling, iter_clips
from .decode import VideoReader

DECODERS = ("cpu", "nvdec")


@dataclass(frozen=True)
class DecodeSpec:
    """One input to decode: a video file or a folder of frames. Picklable (sent to decode processes)."""

    path: str | Path
    stream: int | None = None  # which video stream of a file (None: the first)
    fps: float | None = None  # --fps: a frame folder's rate; for a video, the rate clips are resampled to
    decoder: str = "cpu"  # "cpu" (FFmpeg, resized in swscale) or "nvdec" (GPU decoder via torchcodec; experimental)
    threads: int = 0  # FFmpeg decoder threads for "cpu" (0: FFmpeg's choice, one per core)

    @property
    def is_folder(self) -> bool:
        return Path(self.path).is_dir()

    @property
    def folder_fps(self) -> float | None:
        """The rate a reader is opened at: --fps for a frame folder, None for a video (its timestamps rule)."""
        return self.fps if self.is_folder else None

    @property
    def resample_fps(self) -> float | None:
        """The rate clips are cut at: --fps for a video, None for a frame folder (already at that rate)."""
        return None if self.is_folder else self.fps

    def open(self) -> VideoReader:
        """The reader; errors are `VideoError`s naming the file."""
        if self.decoder == "nvdec":
            from .nvdec import NvdecReader  # imports torch: only when asked for

            return NvdecReader(self.path, stream=self.stream, fps=self.folder_fps)
        return VideoReader(self.path, stream=self.stream, fps=self.folder_fps, threads=self.threads)

    def sampling(self, sampling: Sampling) -> Sampling:
        """`sampling` at this input's resampling rate (`resample_fps` in place of `sampling.fps`)."""
        return dataclasses.replace(sampling, fps=self.resample_fps)

    def clips(self, sampling: Sampling) -> tuple[VideoReader, Iterator[Clip]]:
        """The reader and its clip stream, cut with `self.sampling(sampling)`."""
        reader = self.open()
        return reader, iter_clips(reader, self.sampling(sampling))
