"""The Python API's mirror of `mosi-tool features`: one video in, the arrays its command writes out."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def features(
    path: str | Path,
    model: str | Path | None = None,
    *,
    device: str = "auto",
    runtime: str | None = None,
    batch_size: int = 16,
    stack: int | None = None,
    step: int | None = None,
    fps: float | None = None,
    mode: str = "center",
    dtype: str = "float32",
    precision: str = "fp32",
    pool: str = "clip",
    stream: int | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """What `mosi-tool features PATH` writes for one video (or frame folder), with the same options and
    defaults (README, Features), returned instead of written:

        features       float32 (n_clips, D) (float16 with dtype="float16"), one row per clip
        video_feature  (D,), the mean over clips (pool="video" only)
        frame_range    int64 (n_clips, 2): first and last frame index of each clip
        time_range     float64 (n_clips, 2): their timestamps in seconds
        padded         int64 (n_clips,): frames repeated to fill a clip
        model_id       str; settings, info: dicts (the file's JSON entries)

    The arrays are those of the `.npz` the command writes (the same pipeline runs, into a temporary folder),
    so they match it bit for bit. `runtime=None` on CPU runs the path `mosi-tool tune` chose, as the command
    does.

    Errors, as `mosi_tool.saliency`, `targets` and `motion` raise them: `VideoError` (a ValueError; str(e) is
    one line, "PATH: reason") for a path that does not exist, a folder without image frames and a file that
    cannot be read as a video; ValueError naming the option for a bad option; the loader's errors for a model.
    """
    from .pipeline.extract import ExtractOptions, extract
    from .video.decode import VideoError, VideoReader

    video = Path(path)
    VideoReader(video, stream=stream, fps=fps)  # the header, as the other calls open it: their VideoErrors, before any model
    with tempfile.TemporaryDirectory(prefix="mosi-features-") as tmp:
        opts = ExtractOptions(
            model=str(model or ""), out_dir=Path(tmp), devices=[device], runtime=runtime, batch_size=batch_size, workers=0,
            stack=stack, step=step, fps=fps, mode=mode, dtype=dtype, precision=precision, pool=pool, stream=stream,
            progress=False, threads=threads,
        )  # fmt: skip
        report = extract([video], opts)
        if report.failed or report.ok != 1:
            raise VideoError(video, report.errors[0].removeprefix(f"{video}: ") if report.errors else "no features written")
        (written,) = Path(tmp).rglob("*.npz")
        with np.load(written) as npz:
            out: dict[str, Any] = {k: npz[k] for k in npz.files}
    out["model_id"] = str(out["model_id"])
    out["settings"], out["info"] = json.loads(str(out["settings"])), json.loads(str(out["info"]))
    return out
