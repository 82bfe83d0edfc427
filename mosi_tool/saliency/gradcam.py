"""Grad-CAM with a real backward pass (PyTorch runtime only), at any stage of the backbone.

On conv5 it equals the forward-only CAM the engines output (spec §5); on conv4 it gives maps at twice the
resolution, for users who want finer maps.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..models.clip_model import ClipModel
from .targets import motion_weights

LAYERS = ("conv2", "conv3", "conv4", "conv5")


def target_score(logits: Tensor, target: str | int, static_class: int | None) -> Tensor:
    """The scalar per clip (B,) whose gradient Grad-CAM follows; mirrors `select_maps` targets."""
    if isinstance(target, int):
        return logits[:, target]
    if target == "pred":
        return logits.gather(1, logits.argmax(1, keepdim=True))[:, 0]
    w = motion_weights(logits.detach(), static_class)
    motion = (w * logits).sum(1)
    if target == "motion":
        return motion
    if target == "static-contrast" and static_class is not None:
        return motion - logits[:, static_class]
    raise ValueError(f"target {target!r} is not available for Grad-CAM with this model")


def grad_cam(model: ClipModel, clips: Tensor, target: str | int, layer: str = "conv5", static_class: int | None = 8) -> tuple[Tensor, Tensor]:
    """Grad-CAM maps (B, t, h, w) at `layer` and the logits (B, C) for uint8 clips (B, T, H, W, 3)."""
    if layer not in LAYERS:
        raise ValueError(f"--layer must be one of {', '.join(LAYERS)}")
    module = getattr(model.backbone, layer)
    store: dict[str, Tensor] = {}

    def keep(_: torch.nn.Module, __: object, output: Tensor) -> None:
        output.retain_grad()
        store["a"] = output

    handle = module.register_forward_hook(keep)
    try:
        with torch.enable_grad(), torch.inference_mode(False):
            out = model(clips)
            score = target_score(out.logits, target, static_class)
            score.sum().backward()  # clips are independent (eval-mode BN), so one backward serves the batch
        acts = store["a"]
        assert acts.grad is not None
        alpha = acts.grad.mean(dim=(2, 3, 4), keepdim=True)  # (B, K, 1, 1, 1)
        cam = torch.relu((alpha * acts).sum(dim=1))  # (B, t, h, w)
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
    return cam.detach(), out.logits.detach()
