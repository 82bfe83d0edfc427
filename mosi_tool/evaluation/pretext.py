"""Pretext accuracy: classify the pseudo motion of held-out source images, exactly as training validates.

The held-out sources come from the training split function with the training seed (read from the
checkpoint when it recorded them); clips are made in validation mode (centred starts, masks seeded by
source index, no jitter, no flip), masked and unmasked, as uint8 and fed through the `Engine`, so every
runtime can be evaluated.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from mosi_tool.training.data import Source, SourceDataset, find_sources, roots_of, split_sources, subsample_per_class
from mosi_tool.training.pseudo_motion import MotionConfig, PseudoMotion

from ..metadata import ModelMeta
from ..progress import progress_bar
from ..runtimes.base import Engine
from .random_init import random_init_engine
from .report import format_table

VARIANTS = ("masked", "unmasked")


@dataclass
class SplitConfig:
    """Where the held-out sources come from; None fields are read from the checkpoint's training record."""

    root: str | list[str]  # as given to `train --root`: one folder or several
    data: str | None = None
    val_fraction: float | None = None
    seed: int | None = None
    per_class: int | None = None
    max_sources: int | None = None


@dataclass
class HeldOut:
    sources: list[Source]
    kind: str
    val_fraction: float
    seed: int
    per_class: int | None
    notes: list[str]
    unreadable: int = 0  # sources `confusion_matrices` could not read, left out of the counts


def held_out_sources(meta: ModelMeta, cfg: SplitConfig) -> HeldOut:
    """The sources to score: every image of a folder the model was not trained on, else the training split's
    validation sources (same function, seed and subsampling).

    A folder counts as "not trained on" when the checkpoint records another training root and no
    --val-fraction is given; val_fraction is then reported as 1.0. The split hashes each source's path, so
    the training folders' paths are hashed as training wrote them (`--root ../data` and `--root /abs/data`
    hold out the same images).
    """
    t = meta.training
    kind = cfg.data or t.get("data") or "imagenet"
    seed = cfg.seed if cfg.seed is not None else int(t.get("seed", 0))
    per_class = cfg.per_class if cfg.per_class is not None else t.get("per_class")
    sources = find_sources(kind, cfg.root)
    if per_class:
        sources = subsample_per_class(sources, per_class, seed)
    notes = []
    trained = _training_roots(t, kind)
    given = [_image_base(kind, p) for p in roots_of(cfg.root)]
    other_root = trained is not None and {r for _, r in trained} != {p.resolve() for p in given}
    if other_root and cfg.val_fraction is None:
        val, val_fraction = sources, 1.0
        notes.append(f"training used {t['root']}: every image of {cfg.root} is scored")
    else:
        val_fraction = cfg.val_fraction if cfg.val_fraction is not None else float(t.get("val_fraction", 0.05))
        val = _split_as_trained(sources, given, trained, val_fraction, seed)
        if not val:
            raise ValueError(f"{cfg.root}: --val-fraction {val_fraction} holds out no sources")
        recorded = t.get("val_sources")
        if recorded is not None and recorded != len(val):
            notes.append(f"this split holds out {len(val)} sources but training held out {recorded}: "
                         "the data folder or split differs, so some evaluated sources may have been trained on")  # fmt: skip
        elif other_root:
            notes.append(f"training used {t['root']}, evaluating {cfg.root}: held-out status depends on the two matching")
    if cfg.max_sources is not None:
        val = val[: cfg.max_sources]
    return HeldOut(val, kind, val_fraction, seed, per_class, notes)


def _image_base(kind: str, root: Path) -> Path:
    """The folder `find_sources` lists a root's images from: an ImageNet root's `train/` when it has one."""
    return root / "train" if kind == "imagenet" and (root / "train").is_dir() else root


def _training_roots(t: dict[str, Any], kind: str) -> list[tuple[str, Path]] | None:
    """The training's image folders (`_image_base` of each `train --root`): (as training wrote them, resolved),
    or None when not recorded. Runs that recorded `root_resolved` are resolved as trained; older ones from here
    (right for absolute roots)."""
    if "root" not in t:
        return None
    written = [str(r) for r in roots_of(t["root"])]
    resolved = [Path(r) for r in t["root_resolved"]] if "root_resolved" in t else [Path(r).resolve() for r in written]
    out = []
    for w, r in zip(written, resolved, strict=True):
        base = _image_base(kind, r)
        out.append((str(Path(w) / base.relative_to(r)), base))  # "X/train" when training listed X's train/
    return out


def _split_as_trained(sources: list[Source], given: list[Path], trained: list[tuple[str, Path]] | None,
                      val_fraction: float, seed: int) -> list[Source]:  # fmt: skip
    """`split_sources`' held-out part, with each source under a training folder keyed by the path training
    hashed (that folder as written then), so the split does not depend on how --root is spelled now."""
    as_trained = {r: w for w, r in trained or []}
    keyed: dict[str, Source] = {}
    for s in sources:
        key = s.path
        for root in given:
            w = as_trained.get(root.resolve())
            if w is not None and Path(s.path).is_relative_to(root):  # Path compares parts: "." and "./" work
                key = str(Path(w) / Path(s.path).relative_to(root))  # as find_sources(w) built it
                break
        keyed[key] = s
    _, val = split_sources([Source(k, s.group) for k, s in keyed.items()], val_fraction, seed)
    return sorted((keyed[v.path] for v in val), key=lambda s: s.path)


def axis_groups(meta: ModelMeta) -> dict[str, list[int]]:
    """Class indices moving along x, along y, and the static class."""
    pool = meta.speed_table()
    return {
        "x-moving": [i for i, (x, y) in enumerate(pool) if x != 0],
        "y-moving": [i for i, (x, y) in enumerate(pool) if y != 0],
        "static": [i for i, (x, y) in enumerate(pool) if (x, y) == (0, 0)],
    }


def summarise(cm: np.ndarray, groups: dict[str, list[int]]) -> dict[str, Any]:
    """Overall accuracy, accuracy within each axis group, and axis-level accuracy (right group, any speed)."""
    total = cm.sum()
    out: dict[str, Any] = {"accuracy": float(np.trace(cm) / total) if total else float("nan"), "clips": int(total)}
    group_of = np.zeros(cm.shape[0], int)
    for g, (name, idx) in enumerate(groups.items()):
        rows = cm[idx].sum()
        out[name] = float(cm[idx, idx].sum() / rows) if rows else float("nan")
        group_of[idx] = g
    same_group = group_of[:, None] == group_of[None, :]
    out["axis_accuracy"] = float(cm[same_group].sum() / total) if total else float("nan")
    out["per_class"] = [float(cm[i, i] / cm[i].sum()) if cm[i].sum() else float("nan") for i in range(cm.shape[0])]
    return out


def motion_config(meta: ModelMeta, mask: bool, camera: int | None = None) -> MotionConfig:
    """The generator of `meta`'s clips in validation mode, with its training's camera pan unless `camera`
    (source pixels; 0 = the paper's still camera) replaces it. A pan moves the masked clips' background and
    shortens every trajectory (`MotionConfig`), so it changes unmasked clips too.

    Raises ValueError when `camera` leaves no room for the trajectories (see `MotionConfig`).
    """
    return MotionConfig(frames=meta.frames, crop=meta.crop, source_size=meta.source_size, speeds=meta.speeds,
                        axes=meta.axes, mask=mask, mask_ratio=meta.mask_ratio,
                        camera=meta.camera if camera is None else camera, jitter=False, flip=False)  # fmt: skip


def confusion_matrices(engines: dict[str, Engine], held: HeldOut, batch_size: int = 8, workers: int = 0,
                       camera: int | None = None) -> dict[str, dict[str, np.ndarray]]:  # fmt: skip
    """{engine name: {"masked"|"unmasked": (C, C) counts, rows = true class}} over the held-out sources;
    `camera` as in `motion_config`. A source that cannot be read is left out (the dataset hands the next one
    instead, which is counted once), and `held` records how many with a note."""
    meta = next(iter(engines.values())).meta
    if meta.task != "mosi":
        raise ValueError(f"pretext evaluation needs a MoSI model (task 'mosi'); this one is a '{meta.task}' model")
    c = meta.num_classes
    gens = {v: PseudoMotion(motion_config(meta, v == "masked", camera)) for v in VARIANTS}
    dataset = SourceDataset(held.sources, held.kind, meta.source_size, train=False, seed=held.seed)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    out = {name: {v: np.zeros((c, c), np.int64) for v in VARIANTS} for name in engines}
    seen = np.zeros(len(dataset), bool)
    with progress_bar("pretext eval", total=len(dataset), unit="img") as bar:
        for sources, ids in loader:
            bar.advance(len(ids))
            index = ids.numpy()
            first = np.zeros(len(index), bool)
            first[np.unique(index, return_index=True)[1]] = True  # one of each index in the batch ...
            keep = torch.from_numpy(first & ~seen[index])  # ... that no batch before had
            seen[index] = True
            if not keep.any():
                continue
            sources, ids = sources[keep], ids[keep]
            for variant, gen in gens.items():
                batch = gen(sources, train=False, source_ids=ids, raw=True)
                labels = batch.labels.numpy()
                for name, engine in engines.items():
                    pred = engine(batch.clips).logits.argmax(1).cpu().numpy()
                    out[name][variant] += np.bincount(labels * c + pred, minlength=c * c).reshape(c, c)
    held.unreadable = int(len(dataset) - seen.sum())
    note = f"{held.unreadable} of {len(dataset)} held-out sources cannot be read and are left out (warnings above name them)"
    if held.unreadable and note not in held.notes:  # once, however many times the sources are scored
        held.notes.append(note)
    return out


def pretext_report(engine: Engine, held: HeldOut, matrices: dict[str, dict[str, np.ndarray]], camera: int) -> dict[str, Any]:
    meta = engine.meta
    groups = axis_groups(meta)
    results = {
        name: {v: summarise(cm, groups) | {"confusion": cm.tolist()} for v, cm in per.items()}
        for name, per in matrices.items()
    }  # fmt: skip
    return {
        "evaluation": "pretext",
        "model": {"path": str(engine.path), "runtime": engine.name, "model_id": meta.model_id, "arch": meta.arch,
                  "width": meta.width, "frames": meta.frames, "crop": meta.crop, "mask": meta.mask, "training": meta.training},
        "split": {"data": held.kind, "sources": len(held.sources) - held.unreadable, "unreadable": held.unreadable, "val_fraction": held.val_fraction, "seed": held.seed,
                  "per_class": held.per_class, "first_sources": [s.path for s in held.sources[:5]],
                  "camera": camera, "training_camera": meta.camera},
        "classes": meta.class_names or [str(s) for s in meta.speed_table()],
        "chance": 1.0 / meta.num_classes,
        "results": results,
        "notes": held.notes,
        "reference": "paper (R-2D3D-18, masked, ImageNet 5/10/20/30 per class): 83.1 / 87.8 / 96.9 / 97.7",
    }  # fmt: skip


def render_tables(report: dict[str, Any]) -> str:
    rows = []
    for name, per in report["results"].items():
        for variant, r in per.items():
            rows.append([f"{name}, {variant}", r["accuracy"], r["x-moving"], r["y-moving"], r["static"], r["axis_accuracy"], r["clips"]])
    split = report["split"]
    camera, trained = split.get("camera", 0), split.get("training_camera", 0)
    pan = f", camera pan {camera} px" if camera else (f", still camera (trained with a {trained} px pan)" if trained else "")
    title = (f"pretext accuracy on {split['sources']} held-out sources ({split['data']}, seed {split['seed']}, "
             f"val fraction {split['val_fraction']}{pan}); chance {report['chance']:.3f}")  # fmt: skip
    table = format_table(["model", "accuracy", "x-moving", "y-moving", "static", "right axis", "clips"], rows, title)
    notes = [f"note: {n}" for n in report["notes"]]
    return "\n".join([table, *notes])


def pretext_chart(report: dict[str, Any], path: str | Path) -> None:
    from .charts import confusion_chart

    name = next(iter(report["results"]))
    matrices = {f"{name}, {v}": np.asarray(r["confusion"]) for v, r in report["results"][name].items()}
    title = f"MoSI pretext confusion, {Path(report['model']['path']).name}, {report['split']['sources']} held-out sources"
    confusion_chart(matrices, report["classes"], path, title)


def evaluate_pretext(engine: Engine, split: SplitConfig, batch_size: int = 8, workers: int = 0, random_init: bool = True,
                     camera: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Held-out pretext accuracy of `engine` (and of the random-init control when `random_init`).

    `camera` (source pixels) scores the masked clips under another camera pan than the training's, e.g. 0 to
    compare a model trained with `--camera` against one trained on the paper's still-camera task.
    """
    pan = engine.meta.camera if camera is None else camera
    motion_config(engine.meta, True, pan)  # a pan that does not fit fails here, before any work
    held = held_out_sources(engine.meta, split)
    with tempfile.TemporaryDirectory(prefix="mosi-eval-") as tmp:
        engines = {"MoSI": engine}
        if random_init:
            engines["random init"] = random_init_engine(engine.meta, Path(tmp), engine.device)
        with torch.inference_mode():
            matrices = confusion_matrices(engines, held, batch_size, workers, pan)
    return pretext_report(engine, held, matrices, pan)

