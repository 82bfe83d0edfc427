"""Which videos to process and where each one's output goes.

Inputs are files, folders (searched recursively: video files, and folders of frames), and list files.
Hidden files and folders (".x") found in folders, and macOS AppleDouble companions ("._clip.mp4") anywhere,
are not inputs: they are skipped and counted (`Found.hidden`).
Each output's path depends only on the input that names its video, never on the inputs' order, and adding an
input to a rerun finds every finished output where it was (a video reached twice: below): a video found in a folder keeps its path relative
to that folder (`features videos/` -> `OUT/a/clip.mp4.npz` for `videos/a/clip.mp4`), a file or frame folder
named directly keeps its name (`OUT/clip.mp4.npz`), and a `--list` entry its path relative to the list's
folder (or its absolute path, less the root, outside it). A video reached twice (two inputs, a symlink) is one
job, named by the broadest input that reaches it: a folder given (the outermost of several), else the list,
else the file given directly; so a rerun that adds a list or a file to the folders of a first run finds that
run's outputs (no name can match both runs when each input alone names the video differently). Two videos
that would write the same output (same-named files in two folders given side by side) are refused before any
work.
"""

from __future__ import annotations

import csv
import operator
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..video.decode import FRAME_SUFFIXES, VIDEO_SUFFIXES
from ..video.hidden import is_appledouble, is_hidden

OUTPUT_SUFFIX = ".npz"


@dataclass(frozen=True)
class SourceStamp:
    """What identifies a video's bytes on disk: a file's size and modification time, or for a folder of
    frames, the number of frame files, their total size and their latest modification time."""

    size: int  # bytes
    mtime_ns: int  # nanoseconds since the epoch (st_mtime_ns)
    files: int | None = None  # frame folders only

    def to_dict(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def describe_change(self, now: SourceStamp | None) -> str:
        """How `now` differs from this stamp, in words (e.g. "size 1200 -> 5400 bytes")."""
        if now is None:
            return "it is gone or unreadable now"
        parts = []
        if now.size != self.size:
            parts.append(f"size {self.size} -> {now.size} bytes")
        if now.files != self.files:
            parts.append(f"{self.files} -> {now.files} frame files")
        if now.mtime_ns != self.mtime_ns:
            parts.append("modification time changed")
        return ", ".join(parts)


def source_stamp(path: str | os.PathLike[str]) -> SourceStamp | None:
    """The `SourceStamp` of a video file or frame folder as it is now; None if it cannot be read."""
    try:
        st = os.stat(path)
        if not os.path.isdir(path):
            return SourceStamp(st.st_size, st.st_mtime_ns)
        frames = [e.stat() for e in os.scandir(path) if e.is_file() and Path(e.name).suffix.lower() in FRAME_SUFFIXES and not is_hidden(e.name)]
    except OSError:
        return None
    return SourceStamp(sum(f.st_size for f in frames), max([st.st_mtime_ns, *(f.st_mtime_ns for f in frames)]), len(frames))


@dataclass(frozen=True)
class VideoJob:
    index: int  # position in the full (unsharded) job list: stable across reruns and shards
    path: str
    out: str
    stamp: SourceStamp | None = None  # the video as it was when the job was planned (None: unreadable then)


@dataclass
class Found:
    videos: list[Path]  # inputs to process, in order, without duplicates
    hidden: list[Path]  # skipped: hidden files with a video suffix, AppleDouble companions
    names: list[Path]  # per video: its output's path under OUT, without OUTPUT_SUFFIX
    in_out_dir: list[tuple[Path, int]] = field(default_factory=list)  # input folders inside OUT, with the videos skipped there


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


def check_inputs(inputs: Sequence[Path], list_file: Path | None = None) -> None:
    """Raise FileNotFoundError naming the first input (or list file) that does not exist, and how many more.
    Entries of the list file are checked per video later (a missing one fails alone, recorded)."""
    missing = [p for p in [*inputs, *([list_file] if list_file is not None else [])] if not p.exists()]
    if missing:
        more = f" (and {len(missing) - 1} more input(s) missing)" if len(missing) > 1 else ""
        what = "list file" if missing[0] == list_file else "file or folder"
        raise FileNotFoundError(f"{missing[0]}: no such {what}{more}")


def find_inputs(inputs: list[Path], list_file: Path | None = None, out_dir: Path | None = None) -> Found:
    """Expand inputs into video paths: files as given (whatever their suffix: a bad one fails later, named),
    folders searched recursively, a folder of frames as one video; duplicates dropped, order kept.
    Skipped and counted: AppleDouble companions anywhere, hidden files and folders inside folders. Skipped
    silently: what a folder search finds inside `out_dir` (a run's own outputs, e.g. `saliency`'s overlays,
    when the output folder lies inside an input folder); an input folder that lies inside `out_dir` itself
    is listed in `in_out_dir` with the number of videos so skipped, for the caller to say."""
    outputs = Path(os.path.realpath(out_dir)) if out_dir is not None else None
    items: list[tuple[Path, Path | None]] = [(p, None) for p in inputs]  # (input, folder its outputs are named from)
    if list_file is not None:
        base = list_file.parent
        for line in _list_lines(list_file):
            line = line.strip()
            if line and not line.startswith("#"):
                p = _listed(line, base)
                items.append((p if p.is_absolute() else base / p, base))
    videos: list[tuple[Path, Path, int]] = []  # (video, its name, the rank of the input that named it)
    hidden: list[Path] = []
    in_out_dir: list[tuple[Path, int]] = []
    for item, list_base in items:
        if item.is_dir():
            found = [item] if _is_frame_folder(item) else _scan(item, hidden)
            if outputs is not None:
                kept = [v for v in found if not Path(os.path.realpath(v)).is_relative_to(outputs)]
                if len(kept) < len(found) and Path(os.path.realpath(item)).is_relative_to(outputs):
                    in_out_dir.append((item, len(found) - len(kept)))  # the folder itself lies in OUT: all of it skipped
                found = kept
            videos += [(v, _name(v, list_base, None if v == item else item), _rank(list_base, v != item)) for v in found]
        elif is_appledouble(item):
            hidden.append(item)
        else:  # missing or unreadable files are reported per video, not here
            videos.append((item, _name(item, list_base, None), _rank(list_base, False)))
    # One job per real file (a symlinked alias is the same video), at its first place, with the name of the
    # broadest input that reaches it (module docstring), whatever the inputs' order.
    unique: dict[str, tuple[Path, Path, int]] = {}
    for v, name, rank in videos:
        key = os.path.realpath(v)
        if key not in unique:
            unique[key] = (v, name, rank)
        elif _name_order(name, rank) > _name_order(*unique[key][1:]):
            unique[key] = (unique[key][0], name, rank)
    return Found([v for v, _, _ in unique.values()], sorted(set(hidden), key=hidden.index), [n for _, n, _ in unique.values()], in_out_dir)


def _rank(list_base: Path | None, in_folder: bool) -> int:
    """How broad the input that names a video is: 2 a folder given (searched), 1 the list, 0 a file given."""
    return 1 if list_base is not None else 2 if in_folder else 0


def _name_order(name: Path, rank: int) -> tuple[int, int, str]:
    """Of a video's names, the greatest wins: the broadest input's; of folders, the outermost's (the longest
    name); then the text, so that even two names of one length (a symlink's) do not depend on the order."""
    return rank, len(name.parts), str(name)


def _list_lines(list_file: Path) -> list[str]:
    """The lines of a list file, UTF-8 with or without a BOM (Windows editors write one: it is not part of the
    first path). ValueError naming the file for another encoding (UTF-16, or a Latin-1 name)."""
    try:
        return list_file.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as e:
        raise ValueError(f"{list_file}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}): save the list as UTF-8") from None


_LABELLED = re.compile(r"(.*\S)(?:[ \t]+|[ \t]*,[ \t]*)-?\d+")  # "PATH LABEL": a whole number after a space, tab or comma


def _listed(line: str, base: Path) -> Path:
    """The path of a list file's line (relative to `base` unless absolute). A line "PATH LABEL" with a whole
    number after the last space, tab or comma, as the training lists of VideoMAE, MME and MMAction2 write them,
    or "PATH FRAMES LABEL" (MMAction2's lists of frame folders), names PATH unless the whole line names a file;
    a line that starts with a double quote is CSV, its first field the path (`"a, b.mp4",3`);
    of the two readings, the one that names something, else the first (a missing PATH is then reported as
    missing, by its own name)."""
    def exists(text: str) -> bool:
        p = Path(text)
        return (p if p.is_absolute() else base / p).exists()

    if exists(line):
        return Path(line)
    if line.startswith('"'):  # a CSV line whose path is quoted (it holds a comma or a quote): the first field
        return Path(next(csv.reader([line]))[0])
    readings: list[str] = []
    rest = line
    for _ in range(2):
        labelled = _LABELLED.fullmatch(rest)
        if labelled is None:
            break
        rest = labelled[1]
        readings.append(rest)
    return Path(next((r for r in readings if exists(r)), readings[0] if readings else line))


def _name(video: Path, list_base: Path | None, folder: Path | None) -> Path:
    """`video`'s output name. A list entry: relative to the list's folder, or its whole absolute path (less
    the root) when it lies outside; else relative to the folder it was found in; else its own name."""
    path = Path(os.path.abspath(video))
    if list_base is not None:
        root = Path(os.path.abspath(list_base))
        return path.relative_to(root) if path.is_relative_to(root) and path != root else path.relative_to(path.anchor)
    if folder is not None and path.is_relative_to(root := Path(os.path.abspath(folder))) and path != root:
        return path.relative_to(root)
    return Path(path.name)


def plan(found: Found, out_dir: Path, suffix: str = OUTPUT_SUFFIX) -> list[VideoJob]:
    """One job per video of `found`, writing `out_dir/<its name><suffix>` (module docstring; `.npz` for features;
    `saliency` plans with suffix "" and adds one suffix per output to that stem), with the video's `SourceStamp`
    as it is now (before it is read).

    Raises ValueError, naming both videos, when two of them would write the same file.
    """
    jobs: list[VideoJob] = []
    by_out: dict[str, str] = {}
    for i, (video, name) in enumerate(zip(found.videos, found.names, strict=True)):
        out = str(out_dir / (str(name) + suffix))
        if out in by_out:
            raise ValueError(f"{by_out[out]} and {video} would both write {out if suffix else out + '.*'}: pass the folder that holds both "
                             "instead, or run them with different --out-dir")  # fmt: skip
        by_out[out] = str(video)
        jobs.append(VideoJob(i, str(video), out, source_stamp(video)))
    return jobs


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'i/n' -> (i, n) with 0 <= i < n."""
    if not text:
        return None
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like 0/4, got {text!r}") from None
    if n < 1:
        raise ValueError(f"--shard {text}: n, the number of parts, must be at least 1")
    if not 0 <= i < n:
        raise ValueError(f"--shard {text}: parts are numbered from 0, so i must be 0 to {n - 1} (the last of {n} is {n - 1}/{n})")
    return i, n


def shard(jobs: list[VideoJob], part: tuple[int, int] | None) -> list[VideoJob]:
    """A deterministic subset for array jobs: every n-th job by its place in the sorted output list. ValueError
    for a part that is not (i, n) with 0 <= i < n (Python callers; `parse_shard` checks the command's)."""
    if part is None:
        return jobs
    try:
        i, n = (operator.index(v) for v in part)  # numpy integers too
    except (TypeError, ValueError):
        i, n = -1, 0
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"shard {part!r}: part i of n needs whole numbers 0 <= i < n")
    ordered = sorted(jobs, key=lambda j: j.out)
    return [j for k, j in enumerate(ordered) if k % n == i]
