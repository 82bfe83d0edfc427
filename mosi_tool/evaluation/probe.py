"""A linear motion probe on real videos: a sanity check of frozen features, not a benchmark.

Clips are cut from real videos, and a crop window then moves over the (already moving) content with one of
MoSI's 9 global translations (the generator's own trajectories: directions, speeds and distances). A
multinomial logistic regression (L2, L-BFGS) on frozen, pooled features learns to name the translation; train and test
clips come from different videos. The same probe on the same architecture with random weights is the
control. This is NOT a substitute for fine-tuning on UCF101/HMDB51: it only shows whether the features
encode global motion on real footage.
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mosi_tool.training.data import Source, split_sources, walk_files
from mosi_tool.training.pseudo_motion import PseudoMotion

from ..metadata import ModelMeta
from ..progress import progress_bar
from ..runtimes.base import Engine
from ..video.decode import VIDEO_SUFFIXES, VideoReader
from .pretext import axis_groups, motion_config, summarise
from .random_init import random_init_engine
from .report import format_table


@dataclass
class ProbeConfig:
    windows: int = 6  # clip start positions per video, evenly spaced
    max_frames: int = 300  # frames decoded per video, from the start
    test_fraction: float = 0.3  # of the videos
    seed: int = 0
    steps: int = 100  # L-BFGS iterations of the classifier
    weight_decay: float = 1e-2  # L2 penalty on the classifier's weights
    batch_size: int = 16  # clips per engine call
    random_init: bool = True


def find_videos(paths: list[Path]) -> list[Source]:
    """Every video under the given folders (or the files themselves), sorted; the group is the folder."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += walk_files(p, VIDEO_SUFFIXES)
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    if not found:
        raise FileNotFoundError(f"no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) under {', '.join(map(str, paths))}")
    return [Source(str(p), p.parent.name) for p in sorted(set(found))]


def source_squares(path: str, size: int, max_frames: int) -> np.ndarray:
    """The first `max_frames` frames, short side resized to `size`, centre-cropped: (F, size, size, 3) uint8."""
    reader = VideoReader(path)
    w, h = reader.info.width, reader.info.height
    resize = (max(size, round(w * size / min(w, h))), max(size, round(h * size / min(w, h))))
    x0, y0 = (resize[0] - size) // 2, (resize[1] - size) // 2
    frames = [f.image[y0 : y0 + size, x0 : x0 + size] for f in itertools.islice(reader.frames(resize), max_frames)]
    return np.stack(frames)


def translated_clips(frames: np.ndarray, motion: PseudoMotion, windows: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """For each of `windows` evenly spaced starts and each class: a crop window moving over real frames.

    Returns uint8 clips (windows*C, T, L, L, 3) and their labels. Each clip draws a random valid start
    (as in training) for its window's trajectory.
    """
    cfg = motion.cfg
    t, size, c = cfg.frames, cfg.crop, cfg.num_classes
    if len(frames) < t:
        frames = np.concatenate([frames, np.repeat(frames[-1:], t - len(frames), axis=0)])
    starts = np.linspace(0, len(frames) - t, windows).round().astype(int)
    labels = torch.arange(c).repeat(windows)
    sx, sy = motion.speeds[labels].unbind(dim=1)
    n = len(labels)
    x = motion.trajectory(sx, torch.rand(n, generator=generator))  # (N, T)
    y = motion.trajectory(sy, torch.rand(n, generator=generator))
    video = torch.from_numpy(frames)  # (F, S, S, 3)
    first = torch.from_numpy(np.repeat(starts, c))  # (N,)
    ar = torch.arange(size)
    index_t = (first[:, None] + torch.arange(t))[:, :, None, None]  # (N, T, 1, 1)
    rows = (y[:, :, None] + ar)[:, :, :, None]  # (N, T, L, 1)
    cols = (x[:, :, None] + ar)[:, :, None, :]  # (N, T, 1, L)
    return video[index_t, rows, cols].contiguous(), labels


def extract(engines: dict[str, Engine], videos: list[Source], cfg: ProbeConfig) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Features of every probe clip for every engine, with the labels and the index of each clip's video."""
    meta = next(iter(engines.values())).meta
    motion = PseudoMotion(motion_config(meta, mask=False))
    feats: dict[str, list[np.ndarray]] = {k: [] for k in engines}
    labels, owner = [], []
    with progress_bar("probe clips", total=len(videos), unit="video") as bar, torch.inference_mode():
        for v, src in enumerate(videos):
            frames = source_squares(src.path, meta.source_size, cfg.max_frames)
            gen = torch.Generator().manual_seed(cfg.seed * 100_003 + v)
            clips, y = translated_clips(frames, motion, cfg.windows, gen)
            for name, engine in engines.items():
                parts = [engine(clips[i : i + cfg.batch_size]).features.cpu() for i in range(0, len(clips), cfg.batch_size)]
                feats[name].append(torch.cat(parts).numpy())
            labels.append(y.numpy())
            owner.append(np.full(len(y), v))
            bar.advance(1, video=Path(src.path).name)
    return {k: np.concatenate(v) for k, v in feats.items()}, np.concatenate(labels), np.concatenate(owner)


def fit_linear(x_train: np.ndarray, y_train: np.ndarray, classes: int, cfg: ProbeConfig) -> tuple[torch.nn.Linear, np.ndarray, np.ndarray]:
    """L2-regularised multinomial logistic regression on standardised features (full-batch L-BFGS,
    at most `cfg.steps` iterations, fixed seed). Returns the layer and the training (mean, std)."""
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x = torch.from_numpy((x_train - mean) / std).float()
    y = torch.from_numpy(y_train).long()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        layer = torch.nn.Linear(x.shape[1], classes)
    opt = torch.optim.LBFGS(layer.parameters(), lr=1.0, max_iter=cfg.steps, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(layer(x), y) + 0.5 * cfg.weight_decay * layer.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return layer, mean, std


def confusion(layer: torch.nn.Linear, mean: np.ndarray, std: np.ndarray, x: np.ndarray, y: np.ndarray, classes: int) -> np.ndarray:
    with torch.no_grad():
        pred = layer(torch.from_numpy((x - mean) / std).float()).argmax(1).numpy()
    return np.bincount(y * classes + pred, minlength=classes * classes).reshape(classes, classes)


def run_probe(engines: dict[str, Engine], videos: list[Source], cfg: ProbeConfig) -> dict[str, Any]:
    meta: ModelMeta = next(iter(engines.values())).meta
    if meta.task != "mosi":
        raise ValueError(f"the motion probe uses MoSI's translation classes; this is a '{meta.task}' model")
    if not 0 < cfg.test_fraction < 1:  # split_sources would name its own val_fraction, and allows 0
        raise ValueError(f"--test-fraction {cfg.test_fraction}: must lie between 0 and 1 (both left out)")
    train_src, test_src = split_sources(videos, cfg.test_fraction, cfg.seed)
    if not train_src or not test_src:
        raise ValueError(f"the probe needs at least 2 videos (one to train, one to test); found {len(videos)}")
    feats, labels, owner = extract(engines, videos, cfg)
    test_ids = {i for i, v in enumerate(videos) if v in test_src}
    is_test = np.isin(owner, sorted(test_ids))
    c = meta.num_classes
    groups = axis_groups(meta)
    results = {}
    for name, x in feats.items():
        layer, mean, std = fit_linear(x[~is_test], labels[~is_test], c, cfg)
        train_cm = confusion(layer, mean, std, x[~is_test], labels[~is_test], c)
        test_cm = confusion(layer, mean, std, x[is_test], labels[is_test], c)
        results[name] = {"train": summarise(train_cm, groups), "test": summarise(test_cm, groups) | {"confusion": test_cm.tolist()}}
    return {
        "evaluation": "probe",
        "model": {"model_id": meta.model_id, "arch": meta.arch, "width": meta.width, "frames": meta.frames, "crop": meta.crop,
                  "training": meta.training},
        "config": vars(cfg),
        "videos": {"train": [s.path for s in train_src], "test": [s.path for s in test_src]},
        "clips": {"train": int((~is_test).sum()), "test": int(is_test.sum())},
        "feature_dim": int(next(iter(feats.values())).shape[1]),
        "chance": 1.0 / c,
        "results": results,
        "caveat": "a sanity probe of frozen features on synthetic global translations of real footage; "
                  "not a substitute for UCF101/HMDB51 fine-tuning",
    }  # fmt: skip


def evaluate_probe(engine: Engine, video_paths: list[Path], cfg: ProbeConfig) -> dict[str, Any]:
    """The probe for `engine` and (when `cfg.random_init`) for the random-init control."""
    videos = find_videos(video_paths)
    with tempfile.TemporaryDirectory(prefix="mosi-eval-") as tmp:
        engines = {"MoSI": engine}
        if cfg.random_init:
            engines["random init"] = random_init_engine(engine.meta, Path(tmp), engine.device)
        report = run_probe(engines, videos, cfg)
    report["model"] |= {"path": str(engine.path), "runtime": engine.name}
    return report


def render_tables(report: dict[str, Any]) -> str:
    rows = []
    for name, r in report["results"].items():
        t = r["test"]
        rows.append([name, r["train"]["accuracy"], t["accuracy"], t["x-moving"], t["y-moving"], t["static"], t["axis_accuracy"]])
    v, c = report["videos"], report["clips"]
    title = (f"linear motion probe: {len(v['train'])} train videos ({c['train']} clips), {len(v['test'])} test videos "
             f"({c['test']} clips); chance {report['chance']:.3f}")  # fmt: skip
    table = format_table(["features", "train acc", "test acc", "x-moving", "y-moving", "static", "right axis"], rows, title)
    names = list(report["results"])
    lines = [table, "test videos: " + ", ".join(Path(p).name for p in v["test"])]
    if len(names) == 2:
        a, b = (report["results"][n]["test"]["accuracy"] for n in names)
        word = "beats" if a > b else "does NOT beat"
        lines.append(f"{names[0]} {word} {names[1]} on held-out videos ({100 * a:.1f}% vs {100 * b:.1f}%)")
    lines.append(f"note: {report['caveat']}")
    return "\n".join(lines)


def probe_chart(report: dict[str, Any], path: str | Path) -> None:
    from .charts import grouped_bars

    keys = ["accuracy", "x-moving", "y-moving", "static", "axis_accuracy"]
    groups = ["all", "x-moving", "y-moving", "static", "right axis"]
    series = {name: [r["test"][k] for k in keys] for name, r in report["results"].items()}
    grouped_bars(groups, {"test accuracy": series}, path, "Linear motion probe on held-out real videos (sanity check)",
                 reference={"test accuracy": report["chance"]})  # fmt: skip
