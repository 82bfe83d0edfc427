"""The anchors' own file formats, so their training code reads our targets unchanged (docs/TARGETS.md).

- `npz` (ours): every array, `DIR/<name>.npz`.
- `mme`: MME's per-video trajectory file `DIR/<name>_<L>.gz` (XinyuSun/MME, `m3video/feat.py`,
  `PredecodeTrajLoader`): a gzip-compressed pickle (`compress_pickle.load(path, 'gzip')`) of a dict with
  `traj_feat`, int8 (2L, S, H/8, W/8): channel c * L + n is coordinate c (0: dx, 1: dy) of step n, in pixels
  clamped to +-20 (MME's `SparseTracker` clamp), one column per start frame (every frame: `--starts 1`), and
  `traj_type`, uint8 (S, H/8, W/8): 1 where the trajectory is valid. S = frames - 1 - L, as MME's own
  extractor lays its files out (`m3video/extract.py`, `extract_traj_dense`: the F - 1 flows of F frames,
  starts `range(F - 1 - L)`), one start fewer than the frames allow: MME's loader clamps a sampled frame past
  the last column to that column, so a clip that reaches the video's last L + 1 frames reads start F - 2 - L
  from our file as from MME's. The arrays are pickled as plain `numpy.ndarray(shape, dtype, buffer)` calls,
  which every numpy version can read back.
- `mofo`: MOFO's motion-box JSON `DIR/<name>.json` (Moohnai/MOFO, `scripts/data/SSV2/bounding_box_creator_SSV.py`
  and its loaders, which read `data[video][0]['labels'][0]['box2d']`): `{video: [per frame {"labels":
  [{"box2d": {"x1", "y1", "x2", "y2"}, "gt_annotation": "union"}]}]}`, every frame holding the video's union box
  in integer pixels, the key being the file name up to its first dot (MOFO's `name.split('.')[0]`). A video
  without a motion area gets MOFO's own fallback, the central half of the frame.

Neither format has room for our settings, so an MME or MOFO file gets them beside it, `<file>.settings` (JSON:
the options and code as the .npz's `settings`, and the video's size and modification time; not `.json`, which
MOFO's merge reads): a rerun makes again a file made with other options or code, or from another video, as
for an .npz (`state`).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path, atomic_write_text
from ..batch.jobs import SourceStamp
from ..batch.per_video import JobError
from ..progress import counted
from .compute import TargetOptions, Targets
from .files import COMPLETE, npz_state, settings_state, write_targets

FORMATS = ("npz", "mme", "mofo")
SETTINGS_SUFFIX = ".settings"  # beside an MME or MOFO file (module docstring)
MOFO_UNUSED = ("length", "starts", "compensate")  # the trajectories' options: a MOFO file holds boxes only
UNRECORDED = "settings not recorded"  # `state`: an MME or MOFO file made before its settings were recorded
MME_CLAMP = 20  # px: MME's SparseTracker clamps every step to +-20


def suffix(fmt: str, opts: TargetOptions) -> str:
    """The output suffix of a format (appended to the video's output name)."""
    return {"npz": ".npz", "mme": f"_{opts.length}.gz", "mofo": ".json"}[fmt]


def check(fmt: str, opts: TargetOptions) -> None:
    """Raises ValueError when a format cannot hold what `opts` asks for."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "mme" and opts.starts != 1:
        raise ValueError("--format mme needs --starts 1: MME's loader indexes trajectories by frame")


class _PlainArrays(pickle.Pickler):
    """Pickles numpy arrays as `numpy.ndarray(shape, dtype, bytes)`: no numpy-internal module path, so files
    written with numpy 2 load under numpy 1 (MME's environment) and back."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is np.ndarray:
            a = np.ascontiguousarray(obj)
            return np.ndarray, (a.shape, a.dtype.str, a.tobytes())
        return NotImplemented


def mme_starts(frames: int, length: int) -> int:
    """How many start frames (columns) MME's extractor writes for a video of `frames` frames and trajectories of
    `length` steps: `range(frames - 1 - length)` (module docstring), none for a video that short."""
    return max(0, frames - 1 - length)


def mme_arrays(targets: Targets, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(`traj_feat` int8 (2L, S, H/8, W/8), `traj_type` uint8 (S, H/8, W/8)) of MME's file (module docstring),
    converted `chunk` start frames at a time: a long video's float steps are never all copied at once (the
    trajectories may be a memory map of a file). Raises ValueError for a video too short to hold one of MME's
    columns (frames - 1 - L < 1)."""
    L = targets.trajectories.shape[3]
    columns = mme_starts(len(targets.times), L)
    if columns < 1:
        raise ValueError(f"{counted(len(targets.times), 'frame')}: too few for MME's trajectories of --length {L} (at least {L + 2} frames)")
    rows = np.flatnonzero(targets.start_frames < columns)  # MME's columns, starts 0, 1, ...
    h, w = targets.trajectories.shape[1:3]
    feat = np.empty((2, L, len(rows), h, w), np.int8)  # coordinate-major, as MME's '(c n)'
    for a in range(0, len(rows), chunk):
        steps = targets.trajectories[rows[a : a + chunk]].astype(np.float32)  # (k, h, w, L, 2) px
        np.clip(np.rint(steps, out=steps), -MME_CLAMP, MME_CLAMP, out=steps)
        feat[:, :, a : a + chunk] = steps.transpose(4, 3, 0, 1, 2)  # whole numbers in [-20, 20]: exact as int8
    return feat.reshape(2 * L, len(rows), h, w), targets.valid[rows].astype(np.uint8)  # uint8, as MME's extractor writes it


def write_mme(path: str | os.PathLike[str], targets: Targets) -> None:
    """MME's gzip-compressed pickle of `traj_feat` and `traj_type` (module docstring), written atomically and
    deterministically (no time or name in the gzip header), the pickle streamed into the compressor."""
    feat, traj_type = mme_arrays(targets)
    with atomic_path(path) as tmp, open(tmp, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        _PlainArrays(gz, protocol=4).dump({"traj_feat": feat, "traj_type": traj_type})


def mofo_key(video: str | os.PathLike[str]) -> str:
    """The key MOFO's loaders look a video up by: its file name up to the first dot."""
    return Path(video).name.split(".")[0]


def mofo_json(targets: Targets, video: str | os.PathLike[str]) -> str:
    """MOFO's box JSON for one video (module docstring)."""
    w, h = targets.info["width"], targets.info["height"]
    box = targets.video_box
    if not np.isfinite(box).all():
        x1, y1, x2, y2 = int(0.25 * w), int(0.25 * h), int(0.75 * w), int(0.75 * h)
    else:
        x1, y1 = max(0, math.floor(float(box[0]))), max(0, math.floor(float(box[1])))
        x2, y2 = min(w, math.ceil(float(box[2]))), min(h, math.ceil(float(box[3])))
    frame = {"labels": [{"box2d": {"x1": x1, "y1": y1, "x2": x2, "y2": y2}, "gt_annotation": "union"}]}
    return json.dumps({mofo_key(video): [frame] * len(targets.times)}, sort_keys=True)


def anchor_geometry_warning(fmt: str, targets: Targets) -> str | None:
    """What a user of `fmt` (mme, mofo) must know about a video shown otherwise than it is stored (rotated,
    mirrored or with non-square pixels), or None: MME's and MOFO's loaders read frames with decord, which gives
    the picture as stored, while the targets are for the picture as displayed, so the two do not line up."""
    info = targets.info
    stored = info.get("stored_size")
    if fmt not in ("mme", "mofo") or stored is None:
        return None
    how = []
    if info.get("rotation", 0) % 360:
        how.append(f"rotated {info['rotation']} degrees")
    if info.get("mirrored"):
        how.append("mirrored")
    if info.get("sample_aspect_ratio", "1:1") != "1:1":
        how.append(f"non-square pixels, SAR {info['sample_aspect_ratio']}")
    if not how:
        return None
    dw, dh = info.get("displayed_size", [info["width"], info["height"]])
    return (f"--format {fmt}: the video is shown otherwise than it is stored ({', '.join(how)}): these targets are for the "
            f"{dw}x{dh} picture as displayed, but {'MME' if fmt == 'mme' else 'MOFO'}'s loader reads frames with decord, "
            f"which gives the {stored[0]}x{stored[1]} picture as stored, so its clips and these targets do not line up "
            "(re-encode the video upright with square pixels first)")


def _as_made(fmt: str, opts: TargetOptions) -> TargetOptions:
    """`opts` as a file of `fmt` records them: a MOFO file's with MOFO_UNUSED at their defaults, so that
    changing those (ignored, the command says) does not make it again."""
    return replace(opts, **{k: getattr(TargetOptions(), k) for k in MOFO_UNUSED}) if fmt == "mofo" else opts


def write(fmt: str, path: str | os.PathLike[str], targets: Targets, opts: TargetOptions, video: str,
          stamp: SourceStamp | None = None) -> None:  # fmt: skip
    """Write `targets` of `video` to `path` in format `fmt`, atomically. stamp: the video as it was read,
    recorded in the .npz or beside an MME or MOFO file (`state`). The settings beside a file are removed
    before it is replaced and written after it, so a run killed between leaves a file without them."""
    if fmt == "npz":
        write_targets(path, targets, opts, source=video, stamp=stamp)
        return
    settings = Path(str(path) + SETTINGS_SUFFIX)
    settings.unlink(missing_ok=True)
    if fmt == "mme":
        try:
            write_mme(path, targets)
        except ValueError as e:
            raise JobError(f"{video}: {e}") from None
    else:
        atomic_write_text(path, mofo_json(targets, video))
    record = {"settings": json.loads(_as_made(fmt, opts).to_json()), "file": stamp.to_dict() if stamp is not None else None}
    atomic_write_text(settings, json.dumps(record, sort_keys=True) + "\n")


def state(fmt: str, path: str | os.PathLike[str], opts: TargetOptions, stamp: SourceStamp | None = None) -> str:
    """Whether `path` holds the output of these options for the video as it is now (`stamp`; None: not
    compared), as `files.npz_state` says it: the .npz's own settings, an MME or MOFO file's beside it
    (`files.settings_state`); UNRECORDED for an MME or MOFO file without them, made by an earlier version, that
    is not older than the video (kept: nothing says what made it)."""
    if fmt == "npz":
        return npz_state(path, opts, stamp)
    try:
        made = os.stat(path).st_mtime_ns
    except OSError:
        return ""
    try:
        saved = json.loads(Path(str(path) + SETTINGS_SUFFIX).read_text())
    except FileNotFoundError:
        return UNRECORDED if stamp is None or made >= stamp.mtime_ns else ""
    except (OSError, ValueError):
        return ""
    if not isinstance(saved, dict):
        return ""
    return settings_state(saved.get("settings"), saved.get("file"), _as_made(fmt, opts), stamp)

