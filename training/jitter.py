"""Batched colour jitter for clips on the training device, with factors drawn per frame.

Follows the MoSI recipe: grayscale (p per clip) first, then brightness, contrast, saturation and hue in a
random order per clip, each with a factor drawn independently for every frame.
Clips are float (N, T, 3, H, W) in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class JitterConfig:
    brightness: float = 0.5
    contrast: float = 0.5
    saturation: float = 0.5
    hue: float = 0.25
    grayscale: float = 0.3


def _gray(x: Tensor) -> Tensor:
    w = torch.tensor(LUMA, device=x.device, dtype=x.dtype).view(3, 1, 1)
    return (x * w).sum(dim=-3, keepdim=True)  # (..., 1, H, W)


def _blend(a: Tensor, b: Tensor, ratio: Tensor) -> Tensor:
    return (ratio * a + (1 - ratio) * b).clamp_(0, 1)


def brightness(x: Tensor, f: Tensor) -> Tensor:
    return _blend(x, torch.zeros_like(x), f)


def contrast(x: Tensor, f: Tensor) -> Tensor:
    mean = _gray(x).mean(dim=(-3, -2, -1), keepdim=True)  # per frame
    return _blend(x, mean, f)


def saturation(x: Tensor, f: Tensor) -> Tensor:
    return _blend(x, _gray(x), f)


def rgb_to_hsv(x: Tensor) -> Tensor:
    r, g, b = x.unbind(dim=-3)
    maxc, _ = x.max(dim=-3)
    minc, _ = x.min(dim=-3)
    eq = maxc == minc
    cr = maxc - minc
    s = cr / torch.where(eq, torch.ones_like(maxc), maxc)
    crd = torch.where(eq, torch.ones_like(cr), cr)
    rc, gc, bc = (maxc - r) / crd, (maxc - g) / crd, (maxc - b) / crd
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.fmod(h / 6.0 + 1.0, 1.0)
    return torch.stack((h, s, maxc), dim=-3)


def hsv_to_rgb(x: Tensor) -> Tensor:
    h, s, v = x.unbind(dim=-3)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.long() % 6
    p = (v * (1 - s)).clamp(0, 1)
    q = (v * (1 - s * f)).clamp(0, 1)
    t = (v * (1 - s * (1 - f))).clamp(0, 1)
    # For each sector i, the (r, g, b) picks among (v, q, p, t).
    table = torch.stack(
        (
            torch.stack((v, q, p, p, t, v), dim=-3),
            torch.stack((t, v, v, q, p, p), dim=-3),
            torch.stack((p, p, t, v, v, q), dim=-3),
        ),
        dim=-4,
    )  # (..., 3, 6, H, W)
    idx = i.unsqueeze(-3).unsqueeze(-4).expand(*table.shape[:-3], 1, *table.shape[-2:])
    return table.gather(-3, idx).squeeze(-3)


def hue(x: Tensor, f: Tensor) -> Tensor:
    hsv = rgb_to_hsv(x)
    h = torch.remainder(hsv[..., 0:1, :, :] + f, 1.0)
    return hsv_to_rgb(torch.cat((h, hsv[..., 1:, :, :]), dim=-3))


OPS = (brightness, contrast, saturation, hue)


def color_jitter(clips: Tensor, cfg: JitterConfig, generator: torch.Generator | None = None) -> Tensor:
    """Jitter float clips (N, T, 3, H, W) in [0, 1]; returns a new tensor."""
    n, t = clips.shape[:2]
    dev = clips.device

    def rand(*shape: int) -> Tensor:
        return torch.rand(*shape, device=dev, generator=generator)

    def factors(amount: float, center: float) -> Tensor:
        lo = max(0.0, center - amount) if center else -amount
        return (lo + (center + amount - lo) * rand(n, t)).view(n, t, 1, 1, 1)

    out = clips.clone()
    gray = rand(n) < cfg.grayscale
    if gray.any():
        out[gray] = _gray(out[gray]).expand(-1, -1, 3, -1, -1)
    params = (
        factors(cfg.brightness, 1.0),
        factors(cfg.contrast, 1.0),
        factors(cfg.saturation, 1.0),
        factors(cfg.hue, 0.0),
    )
    order = rand(n, len(OPS)).argsort(dim=1)  # a random permutation of the ops for every clip
    for slot in range(len(OPS)):
        for k, op in enumerate(OPS):
            sel = order[:, slot] == k
            if sel.any():
                out[sel] = op(out[sel], params[k][sel])
    return out
