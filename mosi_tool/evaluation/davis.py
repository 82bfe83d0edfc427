"""DAVIS-layout datasets: sequences as frame folders or videos, with one object mask per frame.

Layout (DAVIS-2016):
    <root>/JPEGImages/480p/<seq>/00000.jpg ...   frames (or <root>/JPEGImages/<seq>/; 1080p or Full-Resolution
                                                  where 480p is not there)
    <root>/mp4/<seq>.mp4                         the same frames as a video (optional)
    <root>/Annotations/480p/<seq>/00000.png ...  masks, 0 = background, >127 = object; or palette PNGs of
                                                 object ids (DAVIS-2017), every id but 0 the object
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..video.decode import FRAME_SUFFIXES, VIDEO_SUFFIXES, VideoReader

DAVIS_FPS = 24.0
SOURCES = ("auto", "jpeg", "mp4")


@dataclass(frozen=True)
class Sequence:
    name: str
    source: Path  # a frame folder or a video file
    masks: tuple[Path, ...]  # one per frame, in order
    fps: float

    @property
    def is_folder(self) -> bool:
        return self.source.is_dir()


RESOLUTIONS = ("480p", "1080p", "Full-Resolution")  # DAVIS's resolution levels, the first found taken


def _resolution_dir(base: Path) -> Path:
    """`base/<level>` for the first of RESOLUTIONS that exists, else `base` (sequence folders directly in it)."""
    return next((base / r for r in RESOLUTIONS if (base / r).is_dir()), base)


def _frame_files(folder: Path, suffixes: set[str]) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in suffixes), key=lambda p: p.name)


def find_sequences(root: str | Path, names: list[str] | None = None, source: str = "auto", fps: float = DAVIS_FPS) -> list[Sequence]:
    """The sequences under a DAVIS-layout `root` (all, or `names` in that order)."""
    root = Path(root)
    if source not in SOURCES:
        raise ValueError(f"--source must be one of {', '.join(SOURCES)}, got {source!r}")
    annotations = root / "Annotations"
    if not annotations.is_dir():
        raise FileNotFoundError(f"{root}: no Annotations folder (expected the DAVIS layout: Annotations/480p/<seq>/*.png)")
    annotations = _resolution_dir(annotations)
    images = _resolution_dir(root / "JPEGImages")
    videos = root / "mp4"
    available = sorted(p.name for p in annotations.iterdir() if p.is_dir())
    if not available:
        raise FileNotFoundError(f"{annotations}: no sequence folders")
    wanted = names or available
    out = []
    for name in wanted:
        mask_dir = annotations / name
        if not mask_dir.is_dir():
            raise FileNotFoundError(f"{mask_dir}: no annotations for sequence {name!r} (have: {', '.join(available)})")
        masks = tuple(_frame_files(mask_dir, {".png"}))
        if not masks:
            raise FileNotFoundError(f"{mask_dir}: no annotation masks (*.png)")
        folder, video = images / name, _find_video(videos, name)
        if source == "mp4" or (source == "auto" and not folder.is_dir()):
            if video is None:
                raise FileNotFoundError(f"{videos}: no video for sequence {name!r} ({name}.mp4)")
            src = video
        else:
            if not folder.is_dir():
                raise FileNotFoundError(f"{folder}: no frame folder for sequence {name!r}")
            src = folder
        out.append(Sequence(name, src, masks, fps))
    return out


def _find_video(folder: Path, name: str) -> Path | None:
    if not folder.is_dir():
        return None
    found = [p for p in sorted(folder.iterdir()) if p.stem == name and p.suffix.lower() in VIDEO_SUFFIXES]
    return found[0] if found else None


def frame_count(seq: Sequence) -> int | None:
    """Frames in the sequence's source: files in a folder, else what the container claims (None if unknown)."""
    if seq.is_folder:
        return len(_frame_files(seq.source, FRAME_SUFFIXES))
    return VideoReader(seq.source).info.frames


def check_counts(seq: Sequence) -> None:
    """Refuse a sequence whose frame count and mask count differ (one line naming both)."""
    n = frame_count(seq)
    if n is not None and n != len(seq.masks):
        raise ValueError(f"{seq.source}: {n} frames but {len(seq.masks)} masks in {seq.masks[0].parent}; they must match")


def load_masks(seq: Sequence, count: int, size: tuple[int, int]) -> np.ndarray:
    """The first `count` masks as bool (count, H, W); each must be `size` = (width, height). A palette PNG
    (DAVIS-2017: one index per object) holds the object wherever its index is not 0."""
    out = np.zeros((count, size[1], size[0]), bool)
    for i, path in enumerate(seq.masks[:count]):
        with Image.open(path) as im:
            if im.size != size:
                raise ValueError(f"{path}: mask is {im.size[0]}x{im.size[1]} but the frames are {size[0]}x{size[1]}")
            out[i] = np.asarray(im) != 0 if im.mode == "P" else np.asarray(im.convert("L")) > 127
    return out


POSITION_GRID = (96, 54)  # (width, height) on which sequences' object positions are pooled (shuffled AUC)


def object_positions(seq: Sequence, count: int, grid: tuple[int, int] = POSITION_GRID) -> np.ndarray:
    """How often each place of the frame holds the object over the first `count` masks: (h, w) float32 in
    [0, 1] on `grid`, whatever the sequence's size (the negatives of the shuffled AUC, `metrics.shuffled_auc`)."""
    import cv2

    with Image.open(seq.masks[0]) as im:
        size = im.size
    mean = load_masks(seq, count, size).mean(axis=0, dtype=np.float32)
    return cv2.resize(mean, grid, interpolation=cv2.INTER_AREA)


def trimmed_source(seq: Sequence, max_frames: int | None, workdir: Path) -> Path:
    """A source holding only the first `max_frames` frames: a folder of links for frame folders.

    Videos are returned as they are (their extra frames are decoded and then ignored).
    """
    if max_frames is None or not seq.is_folder:
        return seq.source
    files = _frame_files(seq.source, FRAME_SUFFIXES)
    if len(files) <= max_frames:
        return seq.source
    out = workdir / seq.name
    out.mkdir(parents=True, exist_ok=True)
    for f in files[:max_frames]:
        link = out / f.name
        if not link.exists():
            os.symlink(f.resolve(), link)
    return out
