"""Decode stage: worker processes turn videos into uint8 clips (no torch here: fast to spawn).

For each video, in order: one `ClipMessage` per clip, then a `DoneMessage` or an `ErrorMessage`
(`pipeline.messages`).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict
from typing import Any, Iterator

from ..video.decode import VideoError, VideoReader
from .jobs import VideoJob
from .messages import SLOT_REQUEST, ClipMessage, DecoderMessage, DoneMessage, ErrorMessage
from .options import DecodeOptions
from .slots import SlotPool


def video_info(reader: VideoReader) -> dict[str, Any]:
    """The header's `VideoInfo` plus what decoding found: frames decoded and lost, the first frame's
    timestamp (`start_time`, seconds; `time_range` counts from it) and the warnings."""
    info = asdict(reader.info)
    info["decoded_frames"] = reader.decoded
    info["lost_frames"] = reader.lost_frames
    info["start_time"] = reader.start_time
    info["warnings"] = list(reader.warnings)
    return info


def decode_messages(job: int, path: str, opts: DecodeOptions) -> Iterator[DecoderMessage]:
    """One video's messages, streamed: a `ClipMessage` (frames in the message) per clip, then one
    `DoneMessage` or `ErrorMessage`. Every failure becomes the error message; nothing is raised.
    Shared by both backends."""
    busy = 0.0  # seconds spent decoding, not waiting for the consumer to take a clip
    t0 = time.perf_counter()
    n = 0
    try:
        reader, clips = opts.spec(path).clips(opts.sampling)
        for clip in clips:
            busy += time.perf_counter() - t0
            yield ClipMessage("clip", job, n, -1, clip.frames, (clip.start, clip.end), (float(clip.times[0]), float(clip.times[-1])), clip.padded)
            t0 = time.perf_counter()
            n += 1
        if n == 0:
            raise VideoError(path, "no frames could be decoded")
        yield DoneMessage("done", job, n, video_info(reader), busy + time.perf_counter() - t0)
    except VideoError as e:
        yield ErrorMessage("error", job, str(e))
    except MemoryError:
        yield ErrorMessage("error", job, f"{path}: out of memory while decoding")
    except Exception as e:  # noqa: BLE001 - a bad file must not stop the batch
        detail = traceback.format_exception_only(type(e), e)[-1].strip()
        yield ErrorMessage("error", job, f"{path}: cannot decode ({detail})")


def decoder_main(conn: Any, opts: DecodeOptions, slot_spec: tuple | None) -> None:
    """Process entry point. Over its own pipe to the parent: receive `VideoJob`s until None; send each
    video's messages; for a clip that fits a shared-memory slot, send `SLOT_REQUEST` and receive the slot
    number first, then send the clip with only that number."""
    slots = SlotPool(*slot_spec) if slot_spec else None
    try:
        job: VideoJob | None
        while (job := conn.recv()) is not None:
            for msg in decode_messages(job.index, job.path, opts):
                if isinstance(msg, ClipMessage) and slots is not None and msg.frames is not None and msg.frames.shape == slots.shape:
                    conn.send(SLOT_REQUEST)
                    slot = conn.recv()
                    slots.array[slot] = msg.frames
                    msg = msg._replace(slot=slot, frames=None)
                conn.send(msg)
    except (EOFError, BrokenPipeError):
        pass  # the parent is gone or stopping
    finally:
        if slots is not None:
            slots.close()
