"""Decode stage: worker processes turn videos into uint8 clips (no torch here: fast to spawn).

Messages on the clip queue, in order for each video:
    ("clip", job, clip_no, slot, array_or_None, (start, end), (t0, t1), padded)
    ("done", job, n_clips, info, decode_seconds)   or   ("error", job, message)
(decode_seconds: time spent decoding, not waiting for room on the queue.)
and ("exit", worker_id) when a worker has no more jobs.
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
    if decode == "nvdec":
        from ..video.nvdec import NvdecReader as reader_class
    else:
        reader_class = VideoReader
    reader = reader_class(path, stream=stream, fps=fps if folder else None)
    if folder and sampling.fps:
        sampling = Sampling(sampling.stack, sampling.step, None, sampling.mode, sampling.size, sampling.cover_tail)
    return reader, iter_clips(reader, sampling)


def video_info(reader: VideoReader) -> dict[str, Any]:
    info = asdict(reader.info)
    info["decoded_frames"] = reader.decoded
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


def decode_job(job: int, path: str, sampling: Sampling, stream: int | None, fps: float | None, out: Any, slots: SlotPool | None, decode: str = "cpu") -> None:
    """Decode one video into `out`, each clip through a shared-memory slot when one fits."""
    for msg in decode_messages(job, path, sampling, stream, fps, decode):
        if msg[0] == "clip" and slots is not None and msg[4].shape == slots.shape:
            slot = slots.acquire()
            slots.array[slot] = msg[4]
            msg = (*msg[:3], slot, None, *msg[5:])
        out.put(msg)


def worker_main(
    worker_id: int, tasks: Any, out: Any, sampling: Sampling, stream: int | None, fps: float | None,
    slot_spec: tuple | None, decode: str = "cpu", current: Any = None,
) -> None:  # fmt: skip
    """Process entry point: take (job, path) tasks until None, then say ("exit", worker_id).

    `current` (a shared int array): this worker's job is kept in current[worker_id] (-1 between jobs), so
    the parent can report the video of a worker that died."""
    slots = SlotPool(*slot_spec) if slot_spec else None
    try:
        while (task := tasks.get()) is not None:
            if current is not None:
                current[worker_id] = task[0]
            decode_job(task[0], task[1], sampling, stream, fps, out, slots, decode)
            if current is not None:
                current[worker_id] = -1
    finally:
        out.put(("exit", worker_id))
        if slots is not None:
            slots.close()
