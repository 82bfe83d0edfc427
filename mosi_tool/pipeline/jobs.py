"""Which videos to process and where each one's output goes.

Inputs are files, folders (searched recursively: video files, and folders of frames), and list files.
Hidden files and folders (".x") found in folders, and macOS AppleDouble companions ("._clip.mp4") anywhere,
are not inputs: they are skipped and counted (`Found.hidden`).
Each output mirrors its input's path relative to the inputs' common folder, keeping the extension
(`a/clip.mp4` -> `OUT/a/clip.mp4.npz`), so two `clip.mp4` in different folders never collide.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..video.decode import FRAME_SUFFIXES, VIDEO_SUFFIXES
from ..video.hidden import is_appledouble, is_hidden

OUTPUT_SUFFIX = ".npz"


@dataclass(frozen=True)
class VideoJob:
    index: int  # position in the full (unsharded) job list: stable across reruns and shards
    path: str
    out: str


@dataclass
class Found:
    videos: list[Path]  # inputs to process, in order, without duplicates
    hidden: list[Path]  # skipped: hidden files with a video suffix, AppleDouble companions


def _is_frame_folder(folder: Path) -> bool:
    try:
        suffixes = {p.suffix.lower() for p in folder.iterdir() if p.is_file() and not is_hidden(p.name)}
    except OSError:
        return False
    return bool(suffixes & FRAME_SUFFIXES) and not suffixes & VIDEO_SUFFIXES


def _scan(folder: Path, hidden: list[Path]) -> list[Path]:
    """Videos and frame folders under `folder` (following symlinks), sorted; hidden ones go to `hidden`."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        here = Path(root)
        dirs[:] = [d for d in dirs if not is_hidden(d)]
        media = [f for f in files if Path(f).suffix.lower() in VIDEO_SUFFIXES | FRAME_SUFFIXES]
        hidden += [here / f for f in media if is_hidden(f) and Path(f).suffix.lower() in VIDEO_SUFFIXES]
        media = [f for f in media if not is_hidden(f)]
        vids = [here / f for f in media if Path(f).suffix.lower() in VIDEO_SUFFIXES]
        if here != folder and not vids and media:
            found.append(here)  # a folder of frames (and no videos) is one video
            dirs.clear()
            continue
        found += vids
    return sorted(found)


def discover(inputs: list[Path], list_file: Path | None = None) -> list[Path]:
    """The videos of `find_inputs` (hidden files skipped)."""
    return find_inputs(inputs, list_file).videos


def find_inputs(inputs: list[Path], list_file: Path | None = None) -> Found:
    """Expand inputs into video paths: files as given (whatever their suffix: a bad one fails later, named),
    folders searched recursively, a folder of frames as one video; duplicates dropped, order kept.
    Skipped and counted: AppleDouble companions anywhere, hidden files and folders inside folders."""
    items = list(inputs)
    if list_file is not None:
        base = list_file.parent
        for line in list_file.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                p = Path(line)
                items.append(p if p.is_absolute() else base / p)
    videos: list[Path] = []
    hidden: list[Path] = []
    for item in items:
        if item.is_dir():
            videos += [item] if _is_frame_folder(item) else _scan(item, hidden)
        elif is_appledouble(item):
            hidden.append(item)
        else:
            videos.append(item)  # missing or unreadable files are reported per video, not here
    seen: set[str] = set()
    unique = []
    for v in videos:
        key = os.path.abspath(v)
        if key not in seen:
            seen.add(key)
            unique.append(v)
    return Found(unique, sorted(set(hidden), key=hidden.index))


def plan(videos: list[Path], out_dir: Path) -> list[VideoJob]:
    """One job per video, its output mirroring the path under the videos' common folder."""
    if not videos:
        return []
    absolute = [Path(os.path.abspath(v)) for v in videos]
    parents = [p.parent for p in absolute]
    common = Path(os.path.commonpath([str(p) for p in parents]))
    jobs = []
    for i, (video, path) in enumerate(zip(videos, absolute)):
        rel = path.relative_to(common)
        jobs.append(VideoJob(i, str(video), str(out_dir / (str(rel) + OUTPUT_SUFFIX))))
    return jobs


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'i/n' -> (i, n) with 0 <= i < n."""
    if not text:
        return None
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like 0/4, got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"--shard {text}: need 0 <= i < n")
    return i, n


def shard(jobs: list[VideoJob], part: tuple[int, int] | None) -> list[VideoJob]:
    """A deterministic subset for array jobs: every n-th job by its place in the sorted output list."""
    if part is None:
        return jobs
    i, n = part
    ordered = sorted(jobs, key=lambda j: j.out)
    return [j for k, j in enumerate(ordered) if k % n == i]
