"""Which class activation map a saliency map shows (`--target`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

TARGETS = ("pred", "motion", "static-contrast")


def parse_target(target: str, num_classes: int) -> str | int:
    """'pred', 'motion', 'static-contrast' or a class index."""
    if target in TARGETS:
        return target
    try:
        index = int(target)
    except ValueError:
        raise ValueError(f"--target must be one of {', '.join(TARGETS)} or a class index, got {target!r}") from None
    if not 0 <= index < num_classes:
        raise ValueError(f"--target {index} is out of range: the model has {num_classes} classes")
    return index


def motion_weights(logits: Tensor, static_class: int | None) -> Tensor:
    """Per-class weights (B, C): class probabilities with the static class removed, renormalised."""
    import torch  # here, not at the top: `parse_target` serves `--method mv`, which needs no torch

    p = torch.softmax(logits.float(), dim=1)
    if static_class is not None:
        p = p.clone()
        p[:, static_class] = 0
    return p / p.sum(dim=1, keepdim=True).clamp_min(1e-12)


def select_maps(cam: Tensor, logits: Tensor, target: str | int, static_class: int | None) -> Tensor:
    """Reduce per-class maps (B, C, t, h, w) to one map per clip (B, t, h, w).

    pred: the top class of each clip. motion: the moving classes weighted by their probability.
    static-contrast: where the moving classes' evidence exceeds the static class's, ReLU(motion - static).
    An integer: that class.
    """
    import torch

    cam = cam.float()
    if isinstance(target, int):
        return cam[:, target]
    if target == "pred":
        top = logits.argmax(dim=1)
        return cam[torch.arange(cam.shape[0], device=cam.device), top]
    w = motion_weights(logits, static_class).to(cam.device)
    motion = torch.einsum("bc,bcthw->bthw", w, cam)
    if target == "motion":
        return motion
    if target == "static-contrast":
        if static_class is None:
            raise ValueError("static-contrast needs a MoSI model with a static class")
        return torch.relu(motion - cam[:, static_class])
    raise ValueError(f"unknown target {target!r}")
