"""The MoSI pre-training loop: one function, one block per step of the recipe."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import pickle
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, RandomSampler, Subset
from torch.utils.data.distributed import DistributedSampler

from mosi_tool.atomic import atomic_path, atomic_write_bytes, check_folder_writable
from mosi_tool.cache import cache_root
from mosi_tool.artifact import first_line
from mosi_tool.checkpoint import CheckpointError, load_checkpoint, load_state, read_meta, save_checkpoint, verified_state
from mosi_tool.metadata import ModelMeta
from mosi_tool.models.backbones import build_backbone
from mosi_tool.progress import progress_bar
from mosi_tool.runtimes.base import resolve_device

from . import distributed
from .config import TrainConfig
from .curves import plot_curves
from .data import Source, SourceDataset, find_sources, roots_of, split_sources, subsample_per_class
from .precision import autocast, resolve_precision
from .pseudo_motion import PseudoMotion
from .source_cache import build_cache

METRIC_FIELDS = [
    "epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "val_acc_unmasked",
    "images_per_s", "clips_per_s", "epoch_s", "cpu_s", "classes", "skipped_steps",
]  # fmt: skip
RESUME_FILE = "resume.pt"


def warmup_cosine(progress: float, lr: float, start_lr: float, warmup: float, epochs: float) -> float:
    """Learning rate at `progress` epochs: linear warm-up from start_lr to lr, then half-cosine to 0."""
    if progress < warmup:
        return start_lr + (lr - start_lr) * progress / warmup
    rest = max(epochs - warmup, 1e-8)
    return 0.5 * lr * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / rest)))


def lr_at(progress: float, cfg: TrainConfig) -> float:
    """The pre-training schedule: warm-up from warmup_start_lr over warmup_epochs, then half-cosine."""
    o = cfg.optim
    return warmup_cosine(progress, o.lr, o.warmup_start_lr, o.warmup_epochs, cfg.epochs)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on conv and linear weights only; none on BN parameters or biases."""
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return (seed * 1_000_003 + epoch * 7919 + rank * 104_729) % (2**63)


def model_meta(cfg: TrainConfig, training: dict[str, Any]) -> ModelMeta:
    m = cfg.motion
    model = build_backbone(cfg.arch, m.num_classes, width=cfg.width)
    return ModelMeta(
        arch=cfg.arch, width=cfg.width, num_classes=m.num_classes, task="mosi",
        class_names=[f"({x},{y})" for x, y in m.classes], frames=m.frames, crop=m.crop,
        source_size=m.source_size, speeds=m.speeds, axes=m.axes, mask=m.mask, mask_ratio=m.mask_ratio, camera=m.camera,
        mean=m.mean, std=m.std, feature_dim=model.feature_dim, training=training,
    )  # fmt: skip


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, motion: PseudoMotion, device: torch.device, precision: str) -> tuple[float, float, int]:
    """Pretext loss sum, correct count and clip count on held-out sources (validation mode)."""
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    for sources, ids in loader:
        batch = motion(sources.to(device, non_blocking=True), train=False, source_ids=ids)
        with autocast(device, precision):
            logits = model(to_memory_format(batch.clips, model)).logits.float()
        loss_sum += F.cross_entropy(logits, batch.labels, reduction="sum").item()
        correct += (logits.argmax(1) == batch.labels).sum().item()
        count += batch.labels.numel()
    return loss_sum, correct, count


def to_memory_format(clips: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """Clips (N, 3, T, L, L) in the model's memory format (channels_last_3d when its first conv weight is)."""
    weight = next(model.parameters())
    if weight.ndim == 5 and weight.is_contiguous(memory_format=torch.channels_last_3d):
        return clips.contiguous(memory_format=torch.channels_last_3d)
    return clips


def forward_backward(net: nn.Module, clips: torch.Tensor, labels: torch.Tensor, device: torch.device, precision: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One step's forward and backward pass: returns (loss, logits); gradients land in the parameters."""
    with autocast(device, precision):
        logits = net(clips).logits
    loss = F.cross_entropy(logits.float(), labels)
    loss.backward()
    return loss, logits


def load_init(model: nn.Module, cfg: TrainConfig) -> dict[str, str]:
    """Copy the weights of checkpoint `cfg.init` (safetensors, digest-checked) into `model`; returns the record
    kept in the run's checkpoints: {"path", "model_id"}.

    Raises CheckpointError when its architecture, width or class count differs from the run's.
    """
    init = Path(cfg.init or "")
    source, meta = load_checkpoint(init)
    want = (cfg.arch, cfg.width, cfg.motion.num_classes)
    if (meta.arch, meta.width, meta.num_classes) != want:
        raise CheckpointError(f"{init}: --init needs {want[0]} at width {want[1]} with {want[2]} classes, "
                              f"the checkpoint is {meta.arch} at width {meta.width} with {meta.num_classes}")  # fmt: skip
    load_state(model, source.state_dict(), str(init))
    return {"path": str(cfg.init), "model_id": meta.model_id}


def source_datasets(cfg: TrainConfig, train_src: list[Source], val_src: list[Source]) -> tuple[SourceDataset, SourceDataset]:
    """Training and validation datasets; image kinds read from the decoded source cache unless disabled."""
    m = cfg.motion
    train_cache = val_cache = None
    if cfg.data.cache and cfg.data.kind != "videos":
        root = cache_root() / "sources"
        train_cache = build_cache([s.path for s in train_src], m.source_size, root, cfg.data.workers)
        if val_src:
            val_cache = build_cache([s.path for s in val_src], m.source_size, root, cfg.data.workers)
    train_set = SourceDataset(train_src, cfg.data.kind, m.source_size, True, cfg.seed, cfg.data.frames_per_video, train_cache)
    val_set = SourceDataset(val_src, cfg.data.kind, m.source_size, False, cfg.seed, cache=val_cache)
    return train_set, val_set


def select_sources(cfg: TrainConfig) -> tuple[list[Source], list[Source]]:
    """(training, held-out) sources of a run: found, subsampled (ImageNet-S<N>), split by the seeded hash,
    the training part cut to `--limit`."""
    sources = find_sources(cfg.data.kind, cfg.data.root)
    if cfg.data.per_class:
        sources = subsample_per_class(sources, cfg.data.per_class, cfg.seed)
    train_src, val_src = split_sources(sources, cfg.data.val_fraction, cfg.seed)
    return (train_src[: cfg.data.limit] if cfg.data.limit else train_src), val_src


def training_loop(cfg: TrainConfig, resume: bool = False, command: str = "", stop_after: int | None = None) -> Path:
    """Train MoSI as `cfg` says; write checkpoints, metrics.csv and curves.png to cfg.out. Returns the run dir.

    stop_after: return once this many epochs are saved, as if the run were killed (for tests of --resume).
    """
    device = resolve_device(cfg.device)
    dist = distributed.init(device.type)
    if device.type == "cuda" and dist.world > 1:
        device = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(device)
    run = Path(cfg.out)
    cuda = device.type == "cuda"
    precision = resolve_precision(cfg.precision, device)
    m = cfg.motion

    if not resume and dist.main and (run / "last.safetensors").exists():  # before the sources are read and cached
        raise FileExistsError(f"{run}: already holds a run; pass --resume to continue it or choose another --out")
    train_src, val_src = select_sources(cfg)  # missing data fails here, before the run folder is made
    if dist.main:
        check_folder_writable(run)  # a read-only run folder fails now, in one line, not after the first epoch
    train_set, val_set = source_datasets(cfg, train_src, val_src)
    # Cropping from the cache is cheap: loader processes would only compete with the step for the cores.
    workers = 0 if train_set.cache is not None else cfg.data.workers
    per_rank = len(train_set) // dist.world
    batch_size = min(cfg.batch_size, per_rank)
    if batch_size < 1:
        raise ValueError(f"{cfg.data.root}: {len(train_set)} training sources is too few for {dist.world} ranks")
    loader_args: dict[str, Any] = {
        "batch_size": batch_size, "num_workers": workers, "pin_memory": cuda,
        "persistent_workers": False,
    }  # fmt: skip
    if workers:
        loader_args["prefetch_factor"] = 4
    sampler: DistributedSampler | RandomSampler
    if dist.world > 1:  # each rank reads its own shard
        sampler = DistributedSampler(train_set, dist.world, dist.rank, shuffle=True, seed=cfg.seed, drop_last=True)
    else:
        sampler = RandomSampler(train_set, generator=torch.Generator())
    train_loader = DataLoader(train_set, sampler=sampler, drop_last=True, **loader_args)
    val_loader = DataLoader(Subset(val_set, range(dist.rank, len(val_set), dist.world)), shuffle=False, **loader_args)
    steps_per_epoch = len(train_loader)

    # Model, optimiser, generators of pseudo motion (masked as trained, and unmasked for reference).
    torch.manual_seed(cfg.seed)  # same initial weights on every rank and in every rerun
    model: nn.Module = build_backbone(cfg.arch, m.num_classes, width=cfg.width, dropout=cfg.dropout).to(device)
    if cfg.channels_last:  # faster on CUDA and on CPU (oneDNN): 1.45x per training step measured on 2 cores
        model = model.to(memory_format=torch.channels_last_3d)
    optimizer = torch.optim.Adam(param_groups(model, cfg.optim.weight_decay), lr=cfg.optim.lr, betas=cfg.optim.betas)
    motion = PseudoMotion(m, device)
    motion_unmasked = PseudoMotion(dataclasses.replace(m, mask=False), device) if m.mask else None
    start_epoch, best, cpu_s = 0, -1.0, 0.0
    init: dict[str, str] | None = None
    if resume:
        start_epoch, best, cpu_s = _load_resume(run, model, optimizer)
        init = read_meta(run / "last.safetensors").training.get("init")  # not the --init file: it may be gone
    elif cfg.init:
        init = load_init(model, cfg)
    net: nn.Module = DistributedDataParallel(model) if dist.world > 1 else model
    summary: dict[str, Any] = {
        "data": cfg.data.kind, "root": cfg.data.root if isinstance(cfg.data.root, str) else [str(r) for r in cfg.data.root],
        "root_resolved": [str(r.resolve()) for r in roots_of(cfg.data.root)], "train_sources": len(train_src),
        "val_sources": len(val_src), "per_class": cfg.data.per_class, "seed": cfg.seed,
        "batch_size": batch_size * dist.world, "world_size": dist.world, "device": device.type,
        "command": command, "epochs_planned": cfg.epochs, "precision": precision,
    }  # fmt: skip
    if init:
        summary["init"] = init
    if dist.main:
        run.mkdir(parents=True, exist_ok=True)
        with atomic_path(run / "config.json") as tmp:
            tmp.write_text(cfg.to_json())
        _trim_metrics(run / "metrics.csv", start_epoch)
        if resume:
            print(f"resuming {run} after epoch {start_epoch} of {cfg.epochs} ({cpu_s / 3600:.2f} CPU-hours so far)", flush=True)

    for epoch in range(start_epoch, cfg.epochs):
        # Seed everything from (seed, epoch, rank): a resumed run repeats an uninterrupted one exactly.
        torch.manual_seed(epoch_seed(cfg.seed, epoch, dist.rank))
        gen = torch.Generator(device).manual_seed(epoch_seed(cfg.seed, epoch, dist.rank) + 1)
        train_set.set_epoch(epoch)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        else:
            assert sampler.generator is not None
            sampler.generator.manual_seed(epoch_seed(cfg.seed, epoch, 0))

        # Train one epoch.
        net.train()
        loss_sum, correct, count, images, skipped = 0.0, 0, 0, 0, 0
        t0, c0 = time.perf_counter(), time.process_time()
        bar = progress_bar(f"epoch {epoch + 1}/{cfg.epochs}", total=steps_per_epoch, enabled=dist.main, unit="img")
        with bar:
            for step, (sources, _) in enumerate(train_loader):
                lr = lr_at(epoch + step / steps_per_epoch, cfg)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                batch = motion(sources.to(device, non_blocking=True), train=True, generator=gen)
                optimizer.zero_grad(set_to_none=True)
                loss, logits = forward_backward(net, to_memory_format(batch.clips, model), batch.labels, device, precision)
                # Guard as mixed-precision training does: a non-finite gradient skips the step, never the run.
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
                if torch.isfinite(grad_norm):
                    optimizer.step()
                    # Accumulate statistics.
                    loss_sum += loss.item() * batch.labels.numel()
                    correct += (logits.argmax(1) == batch.labels).sum().item()
                    count += batch.labels.numel()
                else:
                    skipped += 1
                images += sources.shape[0]
                elapsed = time.perf_counter() - t0
                bar.advance(
                    loss=f"{loss_sum / max(count, 1):.3f}", acc=f"{100 * correct / max(count, 1):.1f}%",
                    speed=f"{images * dist.world / elapsed:.1f} img/s",
                )  # fmt: skip
        epoch_s = time.perf_counter() - t0
        cpu_s += time.process_time() - c0  # this process's CPU time, all threads: the budget measure on CPU
        train_loss, train_correct, train_count, train_images = distributed.all_sum(
            [loss_sum, correct, count, images], dist
        )

        # Validate on held-out sources: deterministic starts, seeded masks, no jitter; masked and unmasked.
        row: dict[str, Any] = {
            "epoch": epoch + 1, "lr": lr_at(epoch + 1, cfg), "train_loss": train_loss / max(train_count, 1),
            "train_acc": train_correct / max(train_count, 1), "images_per_s": train_images / epoch_s,
            "clips_per_s": train_images * m.num_classes / epoch_s, "epoch_s": epoch_s, "cpu_s": cpu_s,
            "classes": m.num_classes, "skipped_steps": skipped,
        }  # fmt: skip
        last_epoch = epoch + 1 == cfg.epochs
        if len(val_set) and ((epoch + 1) % cfg.val_every == 0 or last_epoch):
            # The bare model, not DDP: ranks hold different numbers of validation batches, and a DDP
            # forward would wait for the others (buffer broadcast).
            vl, vc, vn = distributed.all_sum(list(evaluate(model, val_loader, motion, device, precision)), dist)
            row.update(val_loss=vl / vn, val_acc=vc / vn)
            if motion_unmasked is not None:
                _, uc, un = distributed.all_sum(list(evaluate(model, val_loader, motion_unmasked, device, precision)), dist)
                row["val_acc_unmasked"] = uc / un

        # Save (rank 0 only): metrics, curves, last and best checkpoints, resume state.
        if dist.main:
            append_metrics(run / "metrics.csv", row)
            plot_curves(run / "metrics.csv", run / "curves.png")
            _report(row)
            score = row.get("val_acc", row["train_acc"])
            training = dict(summary, epochs=epoch + 1, cpu_hours=round(cpu_s / 3600, 5), val_acc=row.get("val_acc"), val_acc_unmasked=row.get("val_acc_unmasked"))
            if (epoch + 1) % cfg.save_every == 0 or last_epoch:
                save_checkpoint(run / "last.safetensors", model, model_meta(cfg, training))
                if score > best:
                    best = score
                    save_checkpoint(run / "best.safetensors", model, model_meta(cfg, dict(training, best=True)))
                _save_resume(run, optimizer, epoch + 1, best, cpu_s)
        distributed.barrier(dist)
        if stop_after is not None and epoch + 1 >= stop_after:
            break
    distributed.shutdown(dist)
    return run


def _report(row: dict[str, Any]) -> None:
    parts = [f"epoch {row['epoch']}", f"loss {row['train_loss']:.3f}", f"train {100 * row['train_acc']:.1f}%"]
    if "val_acc" in row:
        parts.append(f"val {100 * row['val_acc']:.1f}%")
    if "val_acc_unmasked" in row:
        parts.append(f"val unmasked {100 * row['val_acc_unmasked']:.1f}%")
    parts.append(f"{row['images_per_s']:.1f} img/s")
    print(" | ".join(parts), flush=True)


def append_metrics(path: Path, row: dict[str, Any], fields: list[str] = METRIC_FIELDS) -> None:
    """Rewrite metrics.csv atomically with one more row (it is small)."""
    rows = []
    if path.exists():
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    rows.append({k: row.get(k, "") for k in fields})
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _trim_metrics(path: Path, epochs_done: int) -> None:
    """On resume, drop rows of epochs that were not fully saved."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(float(r["epoch"])) <= epochs_done]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=METRIC_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def _save_resume(run: Path, optimizer: torch.optim.Optimizer, epochs_done: int, best: float, cpu_s: float) -> None:
    state = {"optimizer": optimizer.state_dict(), "epoch": epochs_done, "best": best, "cpu_s": cpu_s}
    buf = io.BytesIO()  # serialised first: torch's own writer turns a full disk into a RuntimeError
    torch.save(state, buf)
    atomic_write_bytes(run / RESUME_FILE, buf.getvalue())


def _load_resume(run: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, float, float]:
    """Restore weights (from last.safetensors, checked against its digest) and optimiser state; never
    unpickles arbitrary objects. CheckpointError naming the file that is damaged or not this tool's."""
    ckpt, state_file = run / "last.safetensors", run / RESUME_FILE
    if not ckpt.exists() or not state_file.exists():
        raise FileNotFoundError(f"{run}: nothing to resume (needs last.safetensors and {RESUME_FILE})")
    load_state(model, verified_state(ckpt)[0], str(ckpt))
    try:
        state = torch.load(state_file, map_location="cpu", weights_only=True)
        optimizer.load_state_dict(state["optimizer"])
        return int(state["epoch"]), float(state["best"]), float(state.get("cpu_s", 0.0))
    except Exception as e:  # noqa: BLE001 - torch raises several types for a damaged file or a foreign pickle
        reason = "it holds objects other than tensors, refused unread" if isinstance(e, pickle.UnpicklingError) else first_line(e)
        raise CheckpointError(f"{state_file}: not a resume file of this run, or damaged ({reason})") from None
