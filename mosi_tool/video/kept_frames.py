"""Decoded frames kept from one pass over a video for the next, so that the video is decoded once.

`saliency --method mv` needs every frame's motion before it draws the overlay's first frame (the display range
spans the video), so it reads the video twice: the motion vectors, then the pictures. When the pictures fit
in memory, the vector pass decodes them in full (export_mvs with the inverse transform and the loop filter on:
about 15% more than parsing the vectors alone) and keeps them here, and the overlay replays them instead of
decoding the file again. Measured by `python bench/saliency_vs_ffmpeg.py` (docs/BENCHMARKS.md).

The frames kept are FFmpeg's own decoded pictures (reference-counted, not copied), turned into `Frame`s only on
replay by the reader's own `VideoReader.frame_maker`, so a replayed frame is the frame `VideoReader.frames`
would have decoded: same pixels, planes, index and time; the reader's end-of-decode checks (a truncated file,
mended timestamps) run on the kept pass (`VideoReader.end_of_decode`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import av

from .decode import Frame, VideoReader
from .timeline import Clock, Timeline

MAX_BUDGET = 4 << 30  # bytes: at most this much of kept pictures ...
MEMORY_SHARE = 0.25  # ... and at most this share of the memory available when the pass starts
YUV420_BYTES = 1.5  # bytes per pixel of an 8-bit 4:2:0 picture (the estimate before decoding)


def available_memory() -> int | None:
    """Bytes of memory available to new allocations without swapping (Linux: /proc/meminfo MemAvailable;
    elsewhere the free pages), or None where neither can be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_budget() -> int:
    """Bytes the kept frames may take: MAX_BUDGET, or MEMORY_SHARE of the available memory if less (0 where
    that cannot be read: nothing is kept)."""
    free = available_memory()
    return 0 if free is None else int(min(MAX_BUDGET, MEMORY_SHARE * free))


class KeptFrames:
    """A video's decoded frames, kept within `budget` bytes by a pass that decodes them anyway
    (`video.motion.codec_frames(keep=...)`), then replayed once by `frames` as `reader.frames` would decode
    them. Past the budget every frame is dropped and `complete` is False: the caller decodes the file again.

    reader: the video's reader (its header read); its warnings and decode records are the ones set.
    budget: bytes; None: `default_budget()`."""

    def __init__(self, reader: VideoReader, budget: int | None = None):
        self.reader = reader
        self.budget = default_budget() if budget is None else budget
        self._frames: list[tuple[av.VideoFrame, float]] = []
        self._bytes = 0
        self.dropped = reader.is_folder or not self.fits(reader, self.budget)
        self.ended = self.replayed = False

    @staticmethod
    def fits(reader: VideoReader, budget: int) -> bool:
        """Whether the header's frame count (else its duration x frame rate) of 8-bit 4:2:0 pictures of the
        stored size fits in `budget` bytes (False when the header states neither)."""
        info = reader.info
        frames = info.frames or round((info.duration or 0.0) * (info.fps or 0.0))
        w, h = reader.pixels.stored
        return frames > 0 and frames * w * h * YUV420_BYTES <= budget

    @property
    def wanted(self) -> bool:
        """Whether the pass should still decode pictures in full and offer them (`add`)."""
        return not self.dropped

    @property
    def complete(self) -> bool:
        """Whether every decoded frame is kept and the pass ended: `frames` replays the whole video."""
        return self.ended and not self.dropped and not self.replayed

    def add(self, frame: av.VideoFrame, time: float, side_data: int = 0) -> None:
        """Keep the next decoded frame (presentation order), shown at `time` s (`VideoReader.clock`), which
        carries `side_data` bytes besides its planes (the exported motion vectors)."""
        if self.dropped:
            return
        self._bytes += sum(p.buffer_size for p in frame.planes) + side_data
        if self._bytes > self.budget:
            self.drop()
            return
        self._frames.append((frame, time))

    def drop(self) -> None:
        """Drop every kept frame (the pass goes on without keeping any): the file will be decoded again."""
        self.dropped = True
        self._frames.clear()

    def end(self, clock: Clock, timeline: Timeline, error: Exception | None) -> None:
        """The pass decoded its last frame (`error`: the FFmpeg error that stopped it early): run the reader's
        end-of-decode checks on what was kept (`VideoReader.end_of_decode`)."""
        if self.dropped:
            return
        last = self._frames[-1][1] if self._frames else 0.0
        self.reader.end_of_decode(len(self._frames), clock, timeline, last, error)
        self.ended = True

    @property
    def warnings(self) -> list[str]:
        """The reader's warnings (what the kept pass found)."""
        return self.reader.warnings

    def frames(self, size: tuple[int, int] | None = None, planes: bool = False) -> Iterator[Frame]:
        """The kept frames as `VideoReader.frames(size, planes)` yields them, once: each is released as it is
        yielded. Raises RuntimeError if the frames are not `complete`."""
        if not self.complete:
            raise RuntimeError(f"{self.reader.path}: the decoded frames were not all kept")
        make = self.reader.frame_maker(size, planes)
        kept, self._frames, self.replayed = self._frames, [], True
        kept.reverse()  # popped from the end, first frame first
        index = 0
        while kept:
            frame, t = kept.pop()
            yield make(frame, index, t)
            index += 1
