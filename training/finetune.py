"""Supervised fine-tuning for action classification, initialised from a MoSI checkpoint (new head).

The paper's recipe (supplement): Adam, base lr 0.002 for 8 GPUs x 128 clips, weight decay 1e-3, 10 warm-up
epochs from lr/10, 300 epochs, spatial random crop, horizontal flip and clip-wise colour jitter with the
pre-training parameters; evaluation averages 10 uniformly spaced clips per video. Single-device defaults
here: batch 32, and lr = 0.002 x sqrt(32 / 1024) ~ 3.5e-4 (square-root scaling, as suits Adam; linear
scaling would give 6e-5) unless --lr is given. Output: a self-describing checkpoint with task "action".
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from mosi_tool.atomic import atomic_write_text, check_folder_writable
from mosi_tool.checkpoint import load_checkpoint, save_checkpoint
from mosi_tool.metadata import ModelMeta
from mosi_tool.models.clip_model import ClipModel
from mosi_tool.progress import info, progress_bar
from mosi_tool.runtimes.base import resolve_device

from .action_data import ActionClips, find_action_videos
from .jitter import JitterConfig, color_jitter
from .loop import append_metrics, param_groups, warmup_cosine

PAPER_LR, PAPER_BATCH = 0.002, 8 * 128
METRIC_FIELDS = ["epoch", "lr", "train_loss", "train_acc", "val_acc", "val_clip_acc", "clips_per_s", "epoch_s"]


@dataclass
class FinetuneConfig:
    model: str = ""
    data: str = ""
    classes: int = 0  # must equal the number of class folders
    out: str = "runs/finetune"
    epochs: int = 300
    batch_size: int = 32
    lr: float | None = None  # None: PAPER_LR * sqrt(batch_size / PAPER_BATCH)
    warmup_epochs: float = 10
    weight_decay: float = 1e-3
    frame_step: int = 2  # temporal stride between clip frames (our choice; the paper does not state it)
    eval_clips: int = 10
    val_fraction: float = 0.2  # per class, when the tree has no train/ and val/ folders
    val_every: int = 1
    jitter: bool = True
    workers: int = 4
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # bf16 autocast on CUDA

    @property
    def base_lr(self) -> float:
        return self.lr if self.lr is not None else PAPER_LR * math.sqrt(self.batch_size / PAPER_BATCH)


def clipwise_jitter(clips: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Colour jitter with one draw per clip: uint8 (B, T, H, W, 3) -> float (B, T, H, W, 3) in 0..255.

    The generator draws per frame, so each clip's frames are stacked into one tall frame first.
    """
    b, t, h, w, _ = clips.shape
    tall = clips.permute(0, 4, 1, 2, 3).reshape(b, 1, 3, t * h, w).float().div_(255)
    out = color_jitter(tall, JitterConfig(), generator)
    return out.reshape(b, 3, t, h, w).permute(0, 2, 3, 4, 1).mul_(255)


def build_model(cfg: FinetuneConfig, class_names: list[str]) -> tuple[ClipModel, ModelMeta]:
    """The MoSI backbone with a new linear head for the action classes, and the action-task metadata."""
    if Path(cfg.model).suffix.lower() != ".safetensors":
        raise ValueError(f"{cfg.model}: fine-tuning needs the weights, i.e. a .safetensors checkpoint (not an engine)")
    backbone, base = load_checkpoint(cfg.model)
    backbone.fc = nn.Linear(backbone.feature_dim, len(class_names))
    meta = dataclasses.replace(
        base, task="action", num_classes=len(class_names), class_names=list(class_names),
        model_id="", weights_sha256="", training={"init_model_id": base.model_id},
    )  # fmt: skip
    return ClipModel(backbone, meta), meta


@torch.no_grad()
def evaluate(model: ClipModel, loader: DataLoader, device: torch.device, amp: bool) -> tuple[float, float, int]:
    """(video top-1 from the mean softmax of its clips, clip top-1, videos)."""
    model.eval()
    correct = clip_correct = clips = videos = 0
    for batch, labels in loader:
        b, k = batch.shape[:2]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(batch.flatten(0, 1).to(device)).logits.float()
        probs = logits.softmax(1).view(b, k, -1)
        labels = labels.to(device)
        correct += (probs.mean(1).argmax(1) == labels).sum().item()
        clip_correct += (probs.argmax(2) == labels[:, None]).sum().item()
        clips += b * k
        videos += b
    return correct / max(videos, 1), clip_correct / max(clips, 1), videos


def finetune(cfg: FinetuneConfig, command: str = "") -> Path:
    """Fine-tune as `cfg` says; write best/last checkpoints, metrics.csv and config.json to cfg.out."""
    run = Path(cfg.out)
    if (run / "last.safetensors").exists():
        raise FileExistsError(f"{run}: already holds a fine-tuning run; choose another --out")
    device = resolve_device(cfg.device)
    amp = cfg.amp and device.type == "cuda"
    classes, train_videos, val_videos = find_action_videos(cfg.data, cfg.val_fraction, cfg.seed)
    if cfg.classes != len(classes):
        raise ValueError(f"{cfg.data}: found {len(classes)} class folders ({', '.join(classes)}) but --classes is {cfg.classes}")
    if not val_videos:
        info(f"warning: {cfg.data}: no validation videos (a val/ folder, or at least 2 videos per class for "
              f"--val-fraction {cfg.val_fraction}); best.safetensors is chosen by training accuracy")
    torch.manual_seed(cfg.seed)
    model, meta = build_model(cfg, classes)
    model = model.to(device)
    train_set = ActionClips(train_videos, meta.frames, meta.crop, cfg.frame_step, True, seed=cfg.seed)
    val_set = ActionClips(val_videos, meta.frames, meta.crop, cfg.frame_step, False, clips=cfg.eval_clips)
    batch_size = min(cfg.batch_size, len(train_set))
    args: dict[str, Any] = {"num_workers": cfg.workers, "pin_memory": device.type == "cuda"}
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, drop_last=True,
                              generator=torch.Generator().manual_seed(cfg.seed), **args)  # fmt: skip
    val_loader = DataLoader(val_set, batch_size=max(1, batch_size // cfg.eval_clips), shuffle=False, **args)
    optimizer = torch.optim.Adam(param_groups(model.backbone, cfg.weight_decay), lr=cfg.base_lr)
    gen = torch.Generator(device).manual_seed(cfg.seed)
    check_folder_writable(run)  # made here, once the data and the model are known good
    atomic_write_text(run / "config.json", json.dumps(dataclasses.asdict(cfg), indent=2, sort_keys=True))
    summary = {
        "task": "action", "initialised_from": str(cfg.model), "init_model_id": meta.training["init_model_id"], "data": str(cfg.data),
        "train_videos": len(train_videos), "val_videos": len(val_videos), "batch_size": batch_size,
        "lr": cfg.base_lr, "epochs_planned": cfg.epochs, "frame_step": cfg.frame_step, "seed": cfg.seed, "command": command,
    }  # fmt: skip
    steps = len(train_loader)
    best = -1.0
    for epoch in range(cfg.epochs):
        train_set.set_epoch(epoch)
        model.train()
        loss_sum, correct, count = 0.0, 0, 0
        t0 = time.perf_counter()
        with progress_bar(f"finetune {epoch + 1}/{cfg.epochs}", total=steps, unit="batch") as bar:
            for step, (clips, labels) in enumerate(train_loader):
                lr = warmup_cosine(epoch + step / steps, cfg.base_lr, cfg.base_lr / 10, cfg.warmup_epochs, cfg.epochs)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                clips, labels = clips.to(device, non_blocking=True), labels.to(device)
                x = clipwise_jitter(clips, gen) if cfg.jitter else clips
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    logits = model(x).logits
                loss = F.cross_entropy(logits.float(), labels)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss.item() * len(labels)
                correct += (logits.argmax(1) == labels).sum().item()
                count += len(labels)
                bar.advance(1, loss=f"{loss_sum / count:.3f}", acc=f"{100 * correct / count:.1f}%")
        epoch_s = time.perf_counter() - t0
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr, "train_loss": loss_sum / max(count, 1),
                               "train_acc": correct / max(count, 1), "clips_per_s": count / epoch_s, "epoch_s": epoch_s}  # fmt: skip
        last = epoch + 1 == cfg.epochs
        if val_videos and ((epoch + 1) % cfg.val_every == 0 or last):
            row["val_acc"], row["val_clip_acc"], _ = evaluate(model, val_loader, device, amp)
        append_metrics(run / "metrics.csv", row, METRIC_FIELDS)
        print(" | ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
        training = dict(summary, epochs=epoch + 1, val_acc=row.get("val_acc"), train_acc=row["train_acc"])
        save_checkpoint(run / "last.safetensors", model.backbone, dataclasses.replace(meta, training=training))
        score = row.get("val_acc", row["train_acc"])
        if score > best:
            best = score
            save_checkpoint(run / "best.safetensors", model.backbone, dataclasses.replace(meta, training=dict(training, best=True)))
    return run
