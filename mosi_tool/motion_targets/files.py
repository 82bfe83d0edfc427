"""The per-video targets file (`.npz`, read with `np.load(path)`; the arrays of `compute`, plus `settings` and
`info` as JSON strings) and the anchors' own formats (`formats`), each written atomically and
deterministically: a file that exists is complete, and the same video and options give the same bytes."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..batch.jobs import SourceStamp
from ..npz import save_npz
from .compute import TargetOptions, Targets

REQUIRED = ("trajectories", "valid", "start_frames", "vectors", "camera", "patch_motion", "frame_boxes", "video_box", "times",
            "settings", "info")  # fmt: skip


def write_targets(path: str | os.PathLike[str], targets: Targets, opts: TargetOptions, source: str | None = None,
                  stamp: SourceStamp | None = None) -> None:  # fmt: skip
    """Write `targets` to `path` (.npz), atomically. source: the input path recorded in `info`; stamp: the
    video's size and modification time when it was read, recorded as info["file"] (as `features` does)."""
    info: dict[str, Any] = dict(targets.info, source=source) if source is not None else dict(targets.info)
    if stamp is not None:
        info["file"] = stamp.to_dict()
    arrays: dict[str, np.ndarray] = dict(targets.arrays())
    arrays.update(settings=np.array(opts.to_json()), info=np.array(json.dumps(info, sort_keys=True)))
    save_npz(path, arrays)


CODE_KEYS = ("version", "revision", "motion_revision")  # what `settings` records of the code, beside the options
COMPLETE, OTHER_CODE = "complete", "made by other code"  # `npz_state`, `settings_state`


def npz_state(path: str | os.PathLike[str], opts: TargetOptions, stamp: SourceStamp | None = None) -> str:
    """COMPLETE if `path` is a readable targets file made with exactly these options, from the video as it is
    now (`stamp`, compared with info["file"]; None: not compared; a file made before the stamp was recorded is
    trusted, so an existing dataset is not made again); OTHER_CODE if it was made with these options by another
    version or revision of the code (a rerun makes it again, and says why); "" for anything else (other
    options, another video, a file unreadable, truncated or foreign). One read of the file for both."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if any(k not in data.files for k in REQUIRED):
                return ""
            recorded = json.loads(str(data["info"])).get("file")  # absent from files made before it was recorded
            saved = json.loads(str(data["settings"]))
    except Exception:  # noqa: BLE001 - unreadable, truncated or foreign: not complete
        return ""
    return settings_state(saved, recorded, opts, stamp)


def settings_state(saved: object, recorded: object, opts: TargetOptions, stamp: SourceStamp | None = None) -> str:
    """`npz_state` of a file whose settings (`TargetOptions.to_json`, read back) are `saved` and whose video
    was `recorded` (`SourceStamp.to_dict`; None: not recorded, trusted), for these options and the video as it
    is now (`stamp`; None: not compared)."""
    wanted = json.loads(opts.to_json())
    if saved != wanted:
        if not isinstance(saved, dict):
            return ""
        # an option added since (absent from the file) counts as the code's change, not the user's
        strip = lambda d: {k: v for k, v in d.items() if k not in CODE_KEYS and k in saved}  # noqa: E731
        return OTHER_CODE if strip(saved) == strip(wanted) else ""
    if stamp is not None and recorded is not None and recorded != stamp.to_dict():
        return ""
    return COMPLETE
