"""Labelled videos for supervised fine-tuning: a folder per class, clips decoded on CPU workers.

Layouts:
    <root>/<class>/*.mp4                          split per class by a seeded hash (--val-fraction)
    <root>/train/<class>/*, <root>/val/<class>/*  (or test/) an explicit split
Training clips: one random window, short side resized to 128/112 x crop, random crop, random horizontal
flip. Evaluation: `clips` uniformly spaced windows per video, centre-cropped (the feature standard).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mosi_tool.video.clips import geometry
from mosi_tool.video.decode import VIDEO_SUFFIXES, VideoReader

from .data import Source, split_sources, walk_files

EVAL_SPLITS = ("val", "test")


@dataclass(frozen=True)
class LabelledVideo:
    path: str
    label: int


def _class_videos(folder: Path) -> dict[str, list[Path]]:
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    return {c: walk_files(folder / c, VIDEO_SUFFIXES) for c in classes}


def find_action_videos(root: str | Path, val_fraction: float, seed: int) -> tuple[list[str], list[LabelledVideo], list[LabelledVideo]]:
    """(class names, training videos, evaluation videos) of a folder-per-class tree."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: data folder not found")
    eval_dir = next((root / s for s in EVAL_SPLITS if (root / s).is_dir()), None)
    if (root / "train").is_dir() and eval_dir is not None:
        train_map, eval_map = _class_videos(root / "train"), _class_videos(eval_dir)
        if sorted(train_map) != sorted(eval_map):
            raise ValueError(f"{root}: train/ and {eval_dir.name}/ hold different class folders")
        classes = sorted(train_map)
        split = {c: (train_map[c], eval_map[c]) for c in classes}
    else:
        per_class = _class_videos(root)
        classes = sorted(per_class)
        split = {}
        for c in classes:
            tr, va = split_sources([Source(str(p), c) for p in per_class[c]], val_fraction, seed)
            split[c] = ([Path(s.path) for s in tr], [Path(s.path) for s in va])
    if not classes:
        raise FileNotFoundError(f"{root}: no class folders (expected <root>/<class>/*.mp4)")
    empty = [c for c in classes if not split[c][0]]
    if empty:
        raise FileNotFoundError(f"{root}: no training videos for class(es) {', '.join(empty)}")
    train = [LabelledVideo(str(p), k) for k, c in enumerate(classes) for p in split[c][0]]
    val = [LabelledVideo(str(p), k) for k, c in enumerate(classes) for p in split[c][1]]
    return classes, train, val


def read_frames(path: str, size: tuple[int, int], limit: int | None = None) -> np.ndarray:
    """Up to `limit` frames resized to `size` (width, height): uint8 (F, H, W, 3)."""
    frames = [f.image for f in itertools.islice(VideoReader(path).frames(size), limit)]
    return np.stack(frames)


def window(frames: np.ndarray, start: int, count: int, step: int) -> np.ndarray:
    """`count` frames every `step` from `start`, clamped to the last frame (short videos repeat it)."""
    idx = np.minimum(start + step * np.arange(count), len(frames) - 1)
    return frames[idx]


class ActionClips(Dataset):
    """uint8 clips with labels: (T, L, L, 3) for training, (clips, T, L, L, 3) for evaluation."""

    def __init__(self, videos: list[LabelledVideo], frames: int, crop: int, step: int, train: bool, clips: int = 10, seed: int = 0):
        self.videos = videos
        self.frames, self.crop, self.step = frames, crop, step
        self.train = train
        self.clips = clips
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        item = self.videos[index]
        reader = VideoReader(item.path)
        geo = geometry("center", self.crop, reader.info.width, reader.info.height)
        span = (self.frames - 1) * self.step + 1
        if self.train:
            rng = random.Random(f"{self.seed}:{self.epoch}:{index}")
            claimed = reader.info.frames or span
            start = rng.randint(0, max(0, claimed - span))
            frames = read_frames(item.path, geo.resize, start + span)
            clip = window(frames, max(0, min(start, len(frames) - span)), self.frames, self.step)
            (rw, rh), size = geo.resize, self.crop
            x0, y0 = rng.randint(0, rw - size), rng.randint(0, rh - size)
            clip = clip[:, y0 : y0 + size, x0 : x0 + size]
            if rng.random() < 0.5:
                clip = clip[:, :, ::-1]
            return torch.from_numpy(np.ascontiguousarray(clip)), item.label
        frames = read_frames(item.path, geo.resize)
        starts = np.linspace(0, max(0, len(frames) - span), self.clips).round().astype(int)
        x0, y0, w, h = geo.crop
        out = np.stack([window(frames, s, self.frames, self.step)[:, y0 : y0 + h, x0 : x0 + w] for s in starts])
        return torch.from_numpy(np.ascontiguousarray(out)), item.label
