"""A few real clips spread over one video or a folder of videos: calibration and timing inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .clips import ClipSpec, iter_clips
from .decode import VIDEO_SUFFIXES, VideoError, VideoReader


def videos_in(source: Path, label: str = "") -> list[Path]:
    """The videos of a folder (recursively, sorted) or the one file given; ValueError if none.

    label: how the caller names `source` in errors (e.g. "--calibration ")."""
    if not source.exists():
        raise ValueError(f"{label}{source}: no such file or folder")
    videos = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise ValueError(f"{label}{source}: no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) in it")
    return videos


def spread_clips(source: Path, stack: int, size: int, n: int, label: str = "", part: int | None = None) -> np.ndarray:
    """Up to `n` uint8 centre clips (n, stack, size, size, 3) from the videos under `source`, spread evenly over
    the videos and over each video's length. Unreadable videos are skipped; ValueError if none gives a clip.

    `part` 0 or 1: only the even or the odd clips of each video (clips do not overlap), so that one set (int8
    calibration) and the other (checking the int8 engine, `tune`) share no frame."""
    videos = videos_in(source, label)
    per_video = max(1, -(-n // len(videos)))
    clips: list[np.ndarray] = []
    for video in videos:
        try:
            every = [c.frames for c in iter_clips(VideoReader(video), ClipSpec(stack=stack, size=size))]
        except VideoError:
            continue
        if part is not None:
            every = every[part::2]
        picks: list[int] = np.linspace(0, len(every) - 1, num=min(per_video, len(every))).round().astype(int).tolist() if every else []
        clips += [every[i] for i in picks]
        if len(clips) >= n:
            break
    if not clips:
        raise ValueError(f"{label}{source}: no readable video with a full {stack}-frame clip")
    return np.stack(clips[:n])
