"""A `torch.utils.data.Dataset` of (clip, its motion targets) for training loops.

The videos and a folder written by `mosi-tool targets` (npz format) are paired by the output naming rule of
`features` and `targets` (`batch.jobs`: a file given directly is `DIR/<its name>.npz`, a video found in
a folder `DIR/<its path under that folder>.npz`, a `--list` entry `DIR/<its path from the list's folder>.npz`),
so pass the same inputs (and list file) that made the folder.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
from torch.utils.data import Dataset

from ..batch.jobs import SourceStamp, find_inputs, plan, source_stamp
from ..npz import map_npz
from ..video.clips import shot_ids
from ..video.decode import VideoError, VideoReader
from .files import REQUIRED

PER_FRAME = ("vectors", "camera", "patch_motion", "frame_boxes", "times")


class TargetClips(Dataset):
    """Item i: a clip of video i and the targets of its frames.

    clip: (frames, H, W, 3) uint8 tensor, frames `start + k * stride` (the video resized to the targets'
    size); targets: a dict of tensors, every per-frame array of the targets file at the clip's frames
    (`vectors` (T, H/8, W/8, 2), `camera` (T, 2, 3), `patch_motion` (T, H/16, W/16), `frame_boxes` (T, 4),
    `times` (T,), and where the file has them `cuts` (T,) bool, whether a scene cut lies between the clip's frame
    and the one before it, or on its first frame), the trajectories starting at them (`trajectories` (T, H/8, W/8, L, 2), `valid`
    (T, H/8, W/8): all False for a frame no trajectory starts at, near the end or between `--starts`),
    `video_box` (4,) and `frames` (T,) int64, the frame indices.
    A clip lies within one shot where the video has scene cuts (the file's `cuts`) and a shot is long enough;
    else it may span one. The start is drawn at random (numpy, seeded by `seed`, the item and one draw from torch's random generator:
    a new clip every epoch, with or without worker processes, repeatable after `torch.manual_seed`), or the
    middle clip with `random=False`. The frames are decoded from the stream (and a frame folder at the rate)
    the targets were made from (the file's `settings`). A video shorter than the clip repeats its last frame. Videos without
    a targets file (failed ones) are left out and listed in `missing`. list_file: the `--list` file the folder
    was made from (its entries are named from the list's folder), read as `targets --list` reads it.

    Raises ValueError naming the file for an item whose targets file cannot be read (cut short, or another
    tool's .npz), and (naming the video and its targets file) for an item whose video changed since its
    targets file was made (its size differs from the one the file records): its frames would no longer be
    the targets' frames. `mosi-tool targets` run again remakes exactly those files.
    """

    def __init__(self, videos: Sequence[str | Path], targets_dir: str | Path, frames: int = 16, stride: int = 2,
                 random: bool = True, seed: int = 0, list_file: str | Path | None = None):  # fmt: skip
        if frames < 1 or stride < 1:
            raise ValueError(f"frames and stride must be at least 1, got {frames} and {stride}")
        found = find_inputs([Path(v) for v in videos], Path(list_file) if list_file is not None else None, Path(targets_dir))
        jobs = plan(found, Path(targets_dir))
        self.jobs = [j for j in jobs if Path(j.out).is_file()]
        self.missing = [j.path for j in jobs if not Path(j.out).is_file()]  # no targets file (failed, or not made yet)
        if not self.jobs:
            raise ValueError(f"{targets_dir}: no targets file for any of the {len(jobs)} videos (run `mosi-tool targets` on the same inputs)")
        self.frames, self.stride, self.random, self.seed = frames, stride, random, seed

    def __len__(self) -> int:
        return len(self.jobs)

    def _indices(self, item: int, count: int, cuts: np.ndarray | None = None) -> np.ndarray:
        """(frames,) int64: the clip's frame indices in a video of `count` frames; cuts: (count,) bool, the frames
        that begin a shot (a start whose clip would span one is not drawn, unless every start's would)."""
        span = (self.frames - 1) * self.stride + 1
        starts = np.arange(max(0, count - span) + 1)
        if cuts is not None and len(cuts) == count and cuts[1:].any():
            shot = shot_ids(cuts)
            within = starts[shot[starts] == shot[np.minimum(starts + span - 1, count - 1)]]
            starts = within if len(within) else starts
        if self.random:
            rng = np.random.default_rng([self.seed, item, int(torch.randint(0, 2**31 - 1, ()).item())])
            start = int(starts[rng.integers(0, len(starts))])
        else:
            start = int(starts[(len(starts) - 1) // 2])
        return np.minimum(start + np.arange(self.frames) * self.stride, count - 1)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        job = self.jobs[item]
        data = _map_targets(job.out)  # memory maps: only the clip's rows are read, however long the video
        count = len(data["times"])
        cuts = np.asarray(data["cuts"]) if "cuts" in data else None  # files of revision 8 on
        idx = self._indices(item, count, cuts)
        out: dict[str, Any] = {k: np.asarray(data[k][idx]) for k in PER_FRAME}
        if cuts is not None:  # a cut between two of the clip's frames (with stride > 1, it may fall between them)
            shot = shot_ids(cuts)[idx]
            out["cuts"] = np.concatenate([cuts[idx[:1]], shot[1:] != shot[:-1]])
        starts = np.asarray(data["start_frames"])
        row = np.searchsorted(starts, idx)
        has = (row < len(starts)) & (starts[np.minimum(row, len(starts) - 1)] == idx) if len(starts) else np.zeros(len(idx), bool)
        traj, valid = data["trajectories"], data["valid"]
        out["trajectories"] = np.zeros((len(idx), *traj.shape[1:]), traj.dtype)
        out["valid"] = np.zeros((len(idx), *valid.shape[1:]), bool)
        out["trajectories"][has] = traj[row[has]]
        out["valid"][has] = valid[row[has]]
        out["video_box"] = np.array(data["video_box"])  # a copy: the map is read-only
        info = json.loads(str(data["info"]))
        _check_unchanged(job.path, job.out, info.get("file"))
        settings = json.loads(str(data["settings"]))
        times = np.asarray(data["times"]) if info.get("times_as_stored") else None  # a file from before: no seeking
        del data, traj, valid
        out["frames"] = idx.astype(np.int64)
        size = (int(info["width"]), int(info["height"]))
        clip = _read_frames(job.path, idx, size, settings.get("stream"), settings.get("fps"), times)
        return torch.from_numpy(clip), {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()}


def _map_targets(path: str) -> dict[str, np.ndarray]:
    """The arrays of a targets file as memory maps (`npz.map_npz`). Raises ValueError naming the file when it
    cannot be read or lacks an array a targets file has (cut short by a copy, or another tool's file)."""
    try:
        data = map_npz(path)
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable targets file ({e}): run `mosi-tool targets` again (it remakes it)") from None
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ValueError(f"{path}: not a targets file (no {', '.join(missing)}): run `mosi-tool targets` again (it remakes it)")
    return data


def _check_unchanged(video: str, targets: str, recorded: dict[str, int] | None) -> None:
    """Raises ValueError if `video` is not the file its targets file `targets` was made from: its size (a frame
    folder's: and its number of frames) differs from `recorded`, the file's info["file"] (None in files made
    before it was recorded: trusted). The modification time is not compared: a copy of a dataset (to a
    training machine's disk) changes it and nothing else."""
    if recorded is None:
        return
    was, now = SourceStamp(**recorded), source_stamp(video)
    if now is None or (now.size, now.files) != (was.size, was.files):
        raise ValueError(f"{video}: the video changed since its targets file {targets} was made ({was.describe_change(now)}): "
                         "run `mosi-tool targets` again on the same inputs (it remakes the changed videos' files)")


def _read_frames(path: str, idx: np.ndarray, size: tuple[int, int], stream: int | None = None, fps: float | None = None,
                 times: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """(len(idx), H, W, 3) uint8: frames idx (sorted, repeats allowed) of `path` (its video stream `stream`; a
    frame folder at `fps`) at `size` = (W, H). times: every frame's time (s) when the targets file says they
    were the stream's own timestamps: decoding then starts at the keyframe before the clip (`frames_from`),
    each frame placed by its time; else, or if a time matches no frame, it starts at the first frame."""
    reader = VideoReader(path, stream=stream, fps=fps)
    resize = size if size != (reader.info.width, reader.info.height) else None
    if times is not None and len(times) > 1:
        got = _seek_frames(reader, idx, resize, times)
        if got is not None:
            return got
    wanted = set(int(i) for i in idx)
    found: dict[int, np.ndarray] = {}
    last = int(idx.max())
    frame = None
    for frame in reader.frames(resize, lazy=True):  # only the clip's frames are converted
        if frame.index in wanted:
            found[frame.index] = frame.image
        if frame.index >= last:
            break
    if frame is None:
        raise ValueError(f"{path}: no frames could be decoded")
    fallback = frame.image
    return np.stack([found.get(int(i), fallback) for i in idx])


def _seek_frames(reader: VideoReader, idx: np.ndarray, size: tuple[int, int] | None, times: np.ndarray) -> np.ndarray | None:
    """`_read_frames` from the keyframe before frame idx[0], or None where a decoded frame's time matches no
    frame of `times` within a quarter of a frame period (a seek that landed elsewhere: decode from the start)."""
    tol = 0.25 * float(np.median(np.diff(times)))
    wanted, last = set(int(i) for i in idx), int(idx.max())
    found: dict[int, np.ndarray] = {}
    try:
        for n, frame in enumerate(reader.frames_from(float(times[idx[0]]), size, lazy=True)):
            k = int(np.searchsorted(times, frame.time - tol))
            if k >= len(times) or abs(times[k] - frame.time) > tol or (n == 0 and k > idx[0]):
                return None
            if k in wanted:
                found[k] = frame.image
            if k >= last:
                break
    except (VideoError, av.FFmpegError):  # no timestamps to seek by, or a seek FFmpeg refused
        return None
    if len(found) < len(wanted):
        return None
    return np.stack([found[int(i)] for i in idx])
