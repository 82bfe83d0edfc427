"""Decoded frames kept from one pass over a video for the next, so that the video is decoded once.

`saliency --method mv` needs every frame's motion before it draws the overlay's first frame (the display range
spans the video), so it would read the video twice: the motion, then the pictures. When the pictures fit in
memory, the motion pass decodes them in full (the codec's vectors with the inverse transform and the loop
filter on: about 15% more than parsing the vectors alone; the optical-flow fallback decodes them anyway) and
keeps them here, and the overlay, masks, boxes and sheet replay them instead of decoding the file again.
Measured by `python bench/saliency_vs_ffmpeg.py` (docs/BENCHMARKS.md). Outputs that need no pixels (the maps
alone) keep only the frames' times (`pixels=False`), and nothing is decoded again.

A replayed frame is the frame `VideoReader.frames` would have decoded: same pixels, planes, index and time (a
BT.601 yuv420p picture is copied into compact blocks and converted to RGB on first use as the reader converts
it; any other is FFmpeg's own frame, turned into a `Frame` by the reader's `VideoReader.frame_maker`). The
reader's end-of-decode checks (a truncated file, mended timestamps) run on the kept pass
(`VideoReader.end_of_decode`).
"""

from __future__ import annotations

import mmap
from functools import partial
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from ..hardware import available_memory
from .decode import SWSCALE_THREADS, Frame, VideoReader, keeps_planes, yuv_planes
from .packets import StreamDecode
from .timeline import Clock, Timeline

MAX_BUDGET = 4 << 30  # bytes: at most this much of kept pictures ...
MEMORY_SHARE = 0.25  # ... and at most this share of the memory available when the pass starts
YUV420_BYTES = 1.5  # bytes per pixel of an 8-bit 4:2:0 picture (the estimate before decoding)


def default_budget() -> int:
    """Bytes the kept frames may take: MAX_BUDGET, or MEMORY_SHARE of the available memory if less (0 where
    that cannot be read: nothing is kept)."""
    free = available_memory()
    return 0 if free is None else int(min(MAX_BUDGET, MEMORY_SHARE * free))


class _Picture:
    """One kept yuv420p picture, copied into a row of a block of them (`KeptFrames`): a third less memory than
    FFmpeg's own frames, whose buffers are padded and carry the exported motion vectors."""

    __slots__ = ("block", "row", "colorspace", "color_range")

    def __init__(self, block: np.ndarray, row: int, frame: av.VideoFrame):
        self.block, self.row = block, row  # block: (n, H * 3 / 2, W) uint8, I420 per row
        self.colorspace, self.color_range = frame.colorspace, frame.color_range
        for dst, src in zip(self._views(), yuv_planes(frame)):
            dst[:] = src

    def _views(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The Y (H, W), U and V (H/2, W/2) planes: views of this picture's row of the block."""
        rows, width = self.block.shape[1:]
        height = rows * 2 // 3
        luma, chroma = width * height, width * height // 4
        flat = self.block[self.row].reshape(-1)
        return (flat[:luma].reshape(height, width), flat[luma : luma + chroma].reshape(height // 2, width // 2),
                flat[luma + chroma :].reshape(height // 2, width // 2))  # fmt: skip

    def planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Read-only views of the Y (H, W), U and V (H/2, W/2) planes."""
        out = self._views()
        for view in out:
            view.flags.writeable = False
        return out

    def frame(self) -> av.VideoFrame:
        """The picture as an FFmpeg frame again, with its colour tags (what `VideoReader.frame_maker` converts)."""
        frame = av.VideoFrame.from_ndarray(self.block[self.row], format="yuv420p")
        frame.colorspace, frame.color_range = self.colorspace, self.color_range
        return frame


class KeptFrames:
    """A video's decoded frames, kept within `budget` bytes by a pass that decodes them anyway
    (`video.motion.codec_frames(keep=...)`), then replayed once by `frames` as `reader.frames` would decode
    them. Past the budget every frame is dropped and `complete` is False: the caller decodes the file again.
    pixels False: no picture is wanted (outputs such as the maps): `frames` then gives the frames' indices and
    times only, and the pass's end-of-decode checks are the reader's.

    A BT.601 yuv420p picture of even size (`keeps_planes`: what the overlay blends as it is) and of the
    stream's size is copied into blocks of BLOCK frames; any other frame (a rotated or non-square one, BT.709,
    10-bit, one past a resolution change, ...) is kept as FFmpeg decoded it, with its side data. reader: the video's reader (its header read); its warnings and
    decode records are the ones set. budget: bytes; None: `default_budget()`."""

    BLOCK = 32  # pictures per block (20 MB at 854x480)

    def __init__(self, reader: VideoReader, budget: int | None = None, pixels: bool = True):
        self.reader = reader
        self.pixels = pixels
        self.budget = default_budget() if budget is None else budget
        self._compact = reader.orientation.identity and reader.pixels.square == reader.pixels.stored
        self.restart()

    def restart(self) -> None:
        """Forget every frame offered so far: the pass starts again from the first frame (the codec's vectors
        turned out missing, and the optical-flow fallback decodes the video instead)."""
        self._frames: list[tuple[av.VideoFrame | _Picture, float]] = []
        self._times: list[float] = []  # of every frame the pass decoded, kept or not
        self._block: np.ndarray | None = None
        self._used = 0  # rows of `_block` filled
        self._bytes = 0
        self.dropped = self.reader.is_folder or not self.pixels or not self.fits(self.reader, self.budget)
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
        """Whether the pass ended with every decoded frame kept (or, `pixels` False, every frame's time), and
        `frames` has not replayed them yet."""
        return self.ended and (not self.dropped or not self.pixels) and not self.replayed

    def add(self, frame: av.VideoFrame | None, time: float, side_data: int = 0) -> None:
        """The pass's next frame (presentation order), shown at `time` s (`VideoReader.clock`): keep its picture
        (None: a pass that parses the vectors alone, whose times are kept all the same), which carries
        `side_data` bytes besides its planes (the exported motion vectors)."""
        self._times.append(time)
        if self.dropped or frame is None:
            return
        if self._compact and keeps_planes(frame) and (frame.width, frame.height) == self.reader.pixels.stored:
            rows, width = frame.height * 3 // 2, frame.width
            if self._block is None or self._used == len(self._block) or self._block.shape[1:] != (rows, width):
                self._bytes += self.BLOCK * rows * width
                if self._bytes <= self.budget:
                    self._block, self._used = _block(self.BLOCK, rows, width), 0
            if self._bytes <= self.budget:
                self._frames.append((_Picture(self._block, self._used, frame), time))  # type: ignore[arg-type]
                self._used += 1
        else:
            self._bytes += sum(p.buffer_size for p in frame.planes) + side_data
            if self._bytes <= self.budget:
                self._frames.append((frame, time))
        if self._bytes > self.budget:
            self.drop()

    def drop(self) -> None:
        """Drop every kept frame (the pass goes on without keeping any): the file will be decoded again."""
        self.dropped = True
        self._frames.clear()
        self._block = None

    def ended_by_reader(self) -> None:
        """The pass was the reader's own decode (`VideoReader.frames(keep=...)`), which ran its end-of-decode
        checks itself."""
        self.ended = True
        self._block = None

    def end(self, clock: Clock, timeline: Timeline, stream: StreamDecode) -> None:
        """The pass decoded its last frame (`stream`: its packets, with the FFmpeg error that stopped it early
        and those the decoder refused): run the reader's end-of-decode checks on the frames it decoded
        (`VideoReader.end_of_decode`), where nothing decodes them again: the pictures are all kept, or none is
        needed (`pixels` False)."""
        self.ended = True
        if self.dropped and self.pixels:
            return  # the file is decoded again, and that decode's checks are the ones said
        self.reader.end_of_decode(len(self._times), clock, timeline, self._times[-1] if self._times else 0.0, stream)
        self._block = None

    @property
    def warnings(self) -> list[str]:
        """The reader's warnings (what the kept pass found)."""
        return self.reader.warnings

    def frames(self, size: tuple[int, int] | None = None, planes: bool = False) -> Iterator[Frame]:
        """The kept frames as `VideoReader.frames(size, planes)` yields them, once: each is released as it is
        yielded. Raises RuntimeError if the frames are not `complete`."""
        if not self.complete:
            raise RuntimeError(f"{self.reader.path}: the decoded frames were not all kept")
        if not self.pixels:  # their times only; a frame's `image` raises RuntimeError
            self.replayed = True
            yield from (Frame(i, t, convert=partial(_no_pixels, self.reader.path)) for i, t in enumerate(self._times))
            return
        make = self.reader.frame_maker(size, planes)
        kept, self._frames, self.replayed = self._frames, [], True
        kept.reverse()  # popped from the end, first frame first
        index = 0
        while kept:
            item, t = kept.pop()
            if isinstance(item, _Picture):
                if planes and size is None:
                    yield Frame(index, t, planes=item.planes(), convert=partial(_rgb, item))
                else:
                    yield make(item.frame(), index, t)
            else:
                yield make(item, index, t)
            index += 1


def _block(n: int, rows: int, width: int) -> np.ndarray:
    """(n, rows, width) uint8 in fresh anonymous memory of ordinary pages. numpy asks for transparent huge
    pages for arrays from 4 MB, and where the kernel compacts memory to find them (its `defrag` setting),
    filling a gigabyte of them cost 1.9 CPU-s of system time against 0.3 s (`bench/saliency_vs_ffmpeg.py`)."""
    return np.frombuffer(mmap.mmap(-1, n * rows * width), np.uint8).reshape(n, rows, width)


def _no_pixels(path: Path) -> np.ndarray:
    raise RuntimeError(f"{path}: these frames carry no pixels (KeptFrames(pixels=False))")


def _rgb(picture: _Picture) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a kept picture, converted as `VideoReader.frames` converts a decoded one."""
    return picture.frame().to_ndarray(format="rgb24", threads=SWSCALE_THREADS)
