"""`mosi_tool.saliency(path, ...)`: the arrays `mosi-tool saliency` writes, in memory, for Python callers."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..video.decode import VideoInfo
from .run import Outputs, SaliencyOptions, run


@dataclass
class SaliencyArrays:
    """One video's saliency, as the command writes it.

    maps: float16 (F, H, W) in [0, 1], one per decoded frame, at `SaliencyOptions.maps_size` (default: the
    whole frame at the model's input scale), as `--maps` writes them: one scale for the whole video (each
    frame to its own min..max with norm="frame"), whatever the overlay's `--norm bounded`.
    masks: bool (F, H, W) motion masks at the video's size, or `masks_size` (`regions.MasksFile`), when asked
    for; else None.
    boxes: one dict per frame, {"frame", "time", "boxes": [[x0, y0, x1, y1, score, ...], ...]} in frame pixels
    (`regions.BoxesFile`, the `--boxes` JSON lines), when asked for; else None.
    times: float64 (F,) seconds of each frame, from its timestamp. info: the video's header. cuts: bool (F,),
    the frames that begin a new shot (scene cuts, `saliency.shots`; the `"cut": true` of the boxes' lines).
    """

    maps: np.ndarray
    masks: np.ndarray | None
    boxes: list[dict[str, Any]] | None
    times: np.ndarray
    info: VideoInfo
    notes: list[str] = field(default_factory=list)
    cuts: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


def saliency(path: str | Path, *, masks: bool = False, boxes: bool = False, **options: Any) -> SaliencyArrays:
    """Motion saliency of a video file or frame folder: `mosi-tool saliency`'s maps (and masks, boxes) as arrays.

    options: the fields of `SaliencyOptions` (method="mv" by default; model, maps_size=(w, h), norm, fps, ...),
    validated as the command validates them (ValueError naming the option). The same code as the command
    runs (`saliency.run.run`), writing into a temporary folder that is read back and removed, so the arrays
    equal the command's files. Errors: VideoError (a ValueError; str(e) is one line, "PATH: reason") for a
    path that does not exist, a folder without image frames and a file that cannot be read as a video, as
    `mosi_tool.features`, `targets` and `motion` raise it; the loader's errors (a bad model); OSError (the
    temporary folder could not be written).

        >>> s = mosi_tool.saliency("video.mp4", masks=True)
        >>> s.maps.shape, s.masks.shape      # ((F, 64, 112), (F, 480, 854)) for a 854x480 video
    """
    opts = SaliencyOptions(**options)
    with tempfile.TemporaryDirectory(prefix="mosi-saliency-") as tmp:
        folder = Path(tmp)
        outputs = Outputs(maps=folder / "maps.npy", masks=folder / "masks.npy" if masks else None,
                          boxes=folder / "boxes.jsonl" if boxes else None)  # fmt: skip
        done = run(path, opts, outputs)
        made = {"maps"} | ({"masks"} if masks else set()) | ({"boxes"} if boxes else set())
        done.notes.extend(opts.ignored_notes(made, flag=False))
        if done.failed:
            raise OSError("; ".join(f"{p}: {why}" for p, why in done.failed.items()))
        return SaliencyArrays(
            maps=np.load(folder / "maps.npy"),
            masks=np.load(folder / "masks.npy") if masks else None,
            boxes=[json.loads(line) for line in (folder / "boxes.jsonl").read_text().splitlines()] if boxes else None,
            times=np.asarray(done.frame_times, dtype=np.float64),
            info=done.info,
            notes=done.notes,
            cuts=np.zeros(len(done.frame_times), bool) if done.cuts is None else np.asarray(done.cuts, bool),  # type: ignore[arg-type]
        )
