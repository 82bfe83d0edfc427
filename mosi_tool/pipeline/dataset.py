"""Decode stage: an `IterableDataset` of videos, read by `torch.utils.data.DataLoader` workers.

Each worker claims the next unclaimed video from a shared counter (so every worker decodes a disjoint share,
and a long video never leaves the others idle) and yields that video's records in order: one `ClipMessage`
per clip, then a `DoneMessage` or an `ErrorMessage`. A bad file becomes its `ErrorMessage`; nothing is raised.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import traceback
from dataclasses import asdict
from typing import Any, Iterator

from torch.utils.data import IterableDataset, get_worker_info

from ..batch.jobs import VideoJob
from ..hardware import available_cpus
from ..video.clips import ClipSpec
from ..video.decode import VideoError, VideoReader
from .messages import ClipMessage, DoneMessage, ErrorMessage, Message

MAX_WORKERS = 8  # default cap on decode workers


def decode_plan(workers: int | None, videos: int, cpus: int | None = None) -> tuple[int, int]:
    """(decode workers, FFmpeg threads per video) for `videos` inputs on `cpus` CPUs (default: ours).

    Workers: `workers` if given, else one per CPU but one, at least 2 where there are 2 CPUs, at most 8;
    never more than there are videos. Threads: the CPUs shared among the decoders busy at once (0, FFmpeg's
    own choice, when only one is). On 2 cores two one-thread decoders kept 1.8 to 1.9 cores busy, one with
    FFmpeg's threads 1.3 (each frame's resize and colour conversion runs on the decoder's own thread), and
    ended 1.06 to 1.18x sooner: docs/benchmarks/2026-11-29-1802-extraction-end-to-end.md.
    """
    cpus = cpus or available_cpus()
    n = workers if workers is not None else max(1, min(MAX_WORKERS, cpus, max(2, cpus - 1)))
    n = min(n, max(videos, 1))
    return n, (max(1, cpus // n) if n > 1 else 0)


def video_info(reader: VideoReader) -> dict[str, Any]:
    """The header's `VideoInfo` plus what decoding found: frames decoded and lost, the first frame's
    timestamp (`start_time`, seconds; `time_range` counts from it) and the warnings."""
    return dict(asdict(reader.info), decoded_frames=reader.decoded, lost_frames=reader.lost_frames,
                start_time=reader.start_time, warnings=list(reader.warnings))  # fmt: skip


def decode_messages(job: int, path: str, spec: ClipSpec, threads: int = 0) -> Iterator[Message]:
    """One video's records, streamed: a `ClipMessage` per clip, then one `DoneMessage` or `ErrorMessage`.
    threads: FFmpeg's per video (`ClipSpec.open`). Every failure becomes the error record; nothing is raised.
    Shared by both backends."""
    busy = 0.0  # seconds spent decoding, not waiting for the consumer to take a clip
    t0 = time.perf_counter()
    n = 0
    try:
        reader, clips = spec.clips(path, threads)
        for clip in clips:
            busy += time.perf_counter() - t0
            yield ClipMessage(job, n, clip.frames, (clip.start, clip.end), (float(clip.times[0]), float(clip.times[-1])), clip.padded)
            t0 = time.perf_counter()
            n += 1
        if n == 0:
            raise VideoError(path, "no frames could be decoded")
        yield DoneMessage(job, n, video_info(reader), busy + time.perf_counter() - t0)
    except VideoError as e:
        yield ErrorMessage(job, str(e))
    except MemoryError:
        yield ErrorMessage(job, f"{path}: out of memory while decoding")
    except Exception as e:  # noqa: BLE001 - a bad file must not stop the batch
        detail = traceback.format_exception_only(type(e), e)[-1].strip()
        yield ErrorMessage(job, f"{path}: cannot decode ({detail})")


class VideoDataset(IterableDataset):
    """The records of `jobs`' videos (module docstring), for one pass. `workers`: the DataLoader's worker count
    (0: read in this process); `ctx`: its multiprocessing context, which makes the shared counter. A worker
    killed while it holds the counter's lock stalls the others only until the loader, seeing the death,
    stops them all (`local.run_local` then starts a new pass with a new dataset)."""

    def __init__(self, jobs: list[VideoJob], spec: ClipSpec, threads: int, workers: int, ctx: Any = mp):
        self.jobs = [(j.index, j.path) for j in jobs]
        self.spec, self.threads = spec, threads
        self.next = ctx.Value("q", 0)  # the next place in `jobs` to claim
        self.pids = ctx.Array("q", max(workers, 1), lock=False)  # per worker: its process id...
        self.current = ctx.Array("q", [-1] * max(workers, 1), lock=False)  # ...and the place it claimed last

    def __iter__(self) -> Iterator[Message]:
        worker = get_worker_info()
        me = worker.id if worker is not None else 0
        self.pids[me] = os.getpid()
        while True:
            with self.next.get_lock():
                place = self.next.value
                self.next.value += 1
            if place >= len(self.jobs):
                return
            self.current[me] = place
            job, path = self.jobs[place]
            yield from decode_messages(job, path, self.spec, self.threads)

    def claimed(self, pids: set[int]) -> list[int]:
        """The jobs (`VideoJob.index`) that the workers with these process ids claimed last: the videos they
        were decoding, or had just finished."""
        return [self.jobs[self.current[w]][0] for w in range(len(self.pids)) if self.pids[w] in pids and self.current[w] >= 0]
