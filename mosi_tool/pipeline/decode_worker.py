"""Decode stage: worker processes turn videos into uint8 clips (no torch here: fast to spawn).

Messages on the clip queue, in order for each video:
    ("clip", job, clip_no, slot, array_or_None, (start, end), (t0, t1), padded)
    ("done", job, n_clips, info, decode_seconds)   or   ("error", job, message)
(decode_seconds: time spent decoding, not waiting for room on the queue; slot -1: the array is in the message.)
"""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

from ..video.clips import Clip, Sampling, iter_clips
from ..video.decode import VideoError, VideoReader
from .slots import SlotPool


def video_clips(path: str, sampling: Sampling, stream: int | None, fps: float | None, decode: str = "cpu") -> tuple[VideoReader, Iterator[Clip]]:
    """The reader and clip stream for one input (frame folders take `fps` as their rate).

    decode: "cpu" (FFmpeg, resized in swscale) or "nvdec" (GPU decoder via torchcodec; experimental)."""
    folder = Path(path).is_dir()
    reader_class: type[VideoReader] = VideoReader
    if decode == "nvdec":
        from ..video.nvdec import NvdecReader

        reader_class = NvdecReader
    reader = reader_class(path, stream=stream, fps=fps if folder else None)
    if folder and sampling.fps:
        sampling = Sampling(sampling.stack, sampling.step, None, sampling.mode, sampling.size, sampling.cover_tail)
    return reader, iter_clips(reader, sampling)


def video_info(reader: VideoReader) -> dict[str, Any]:
    """The header's `VideoInfo` plus what decoding found: frames decoded and lost, the first frame's
    timestamp (`start_time`, seconds; `time_range` counts from it) and the warnings."""
    info = asdict(reader.info)
    info["decoded_frames"] = reader.decoded
    info["lost_frames"] = reader.lost_frames
    info["start_time"] = reader.start_time
    info["warnings"] = list(reader.warnings)
    return info


def decode_messages(job: int, path: str, sampling: Sampling, stream: int | None, fps: float | None, decode: str = "cpu") -> Iterator[tuple]:
    """One video's messages, streamed: ("clip", job, n, -1, frames, ...) per clip, then one ("done", ...)
    or ("error", ...). Every failure becomes the error message; nothing is raised. Shared by both backends."""
    busy = 0.0  # seconds spent decoding, not waiting for the consumer to take a clip
    t0 = time.perf_counter()
    n = 0
    try:
        reader, clips = video_clips(path, sampling, stream, fps, decode)
        for clip in clips:
            busy += time.perf_counter() - t0
            yield ("clip", job, n, -1, clip.frames, (clip.start, clip.end), (float(clip.times[0]), float(clip.times[-1])), clip.padded)
            t0 = time.perf_counter()
            n += 1
        if n == 0:
            raise VideoError(path, "no frames could be decoded")
        yield ("done", job, n, video_info(reader), busy + time.perf_counter() - t0)
    except VideoError as e:
        yield ("error", job, str(e))
    except MemoryError:
        yield ("error", job, f"{path}: out of memory while decoding")
    except Exception as e:  # noqa: BLE001 - a bad file must not stop the batch
        detail = traceback.format_exception_only(type(e), e)[-1].strip()
        yield ("error", job, f"{path}: cannot decode ({detail})")


def decoder_main(conn: Any, sampling: Sampling, stream: int | None, fps: float | None, slot_spec: tuple | None, decode: str = "cpu") -> None:
    """Process entry point. Over its own pipe to the parent: receive (job, path) tasks until None; send
    each video's messages; for a clip that fits a shared-memory slot, send ("slot",) and receive the slot
    number first, then send only that number."""
    slots = SlotPool(*slot_spec) if slot_spec else None
    try:
        while (task := conn.recv()) is not None:
            for msg in decode_messages(task[0], task[1], sampling, stream, fps, decode):
                if msg[0] == "clip" and slots is not None and msg[4].shape == slots.shape:
                    conn.send(("slot",))
                    slot = conn.recv()
                    slots.array[slot] = msg[4]
                    msg = (*msg[:3], slot, None, *msg[5:])
                conn.send(msg)
    except (EOFError, BrokenPipeError):
        pass  # the parent is gone or stopping
    finally:
        if slots is not None:
            slots.close()
