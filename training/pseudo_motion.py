"""MoSI pseudo-motion clips from static source images, batched on the training device.

Input: uint8 sources (B, 3, Ls, Ls). Output: B*C clips (C = number of classes, 9 by default), the C clips
of each source consecutive, so every batch holds every class for every source ("same-batch training").
All per-clip randomness is drawn as tensors; the only Python loops run over augmentation kinds.

Geometry (spec §1): for speed s on an axis, the crop window travels d = (Ls - L) * s / (K // 2) pixels
over T frames; +x moves the window right (content moves left), +y moves it down.

Camera motion (`camera` > 0, an extension beyond the paper): the whole clip also pans by a random travel of
up to `camera` pixels per axis, and the background outside the static mask pans with it instead of standing
still. The label stays the square's motion relative to the background, so the network learns the motion of
a region against its surroundings, which is what a moving camera leaves of an object's motion. The class
trajectories then use the room left after the camera's: d = (Ls - L - camera) * s / (K // 2). Unmasked clips
(mask=False) have no background to pan against, so they do not pan; they keep the same class speeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from mosi_tool.metadata import VIDEO_MEAN, VIDEO_STD, label_pool

from .jitter import JitterConfig, color_jitter


@dataclass(frozen=True)
class MotionConfig:
    frames: int = 16  # T
    crop: int = 112  # L
    source_size: int = 320  # Ls
    speeds: int = 5  # K: speeds per axis, {-K//2 .. K//2}
    axes: str = "xy"
    mask: bool = True
    mask_ratio: tuple[float, float] = (0.3, 0.5)
    camera: int = 0  # most camera travel per clip and axis, in source pixels (0: a still camera, as in the paper)
    jitter: bool = True
    flip: bool = True
    mean: tuple[float, float, float] = VIDEO_MEAN
    std: tuple[float, float, float] = VIDEO_STD
    color: JitterConfig = field(default_factory=JitterConfig)

    def __post_init__(self) -> None:
        if self.crop < 1:
            raise ValueError(f"crop must be >= 1, got {self.crop}")
        if self.crop >= self.source_size:
            raise ValueError(f"crop {self.crop} must be smaller than source size {self.source_size} (the window needs room to move)")
        if self.frames < 2:
            raise ValueError("frames must be >= 2")
        label_pool(self.speeds, self.axes)  # validates speeds and axes
        if self.camera < 0 or self.camera >= self.source_size - self.crop:
            raise ValueError(f"camera travel {self.camera} must lie in [0, {self.source_size - self.crop}) (source size minus crop)")

    @property
    def classes(self) -> list[tuple[int, int]]:
        return label_pool(self.speeds, self.axes)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass
class MotionBatch:
    clips: Tensor  # float (N, 3, T, L, L) normalised, or uint8 (N, T, L, L, 3) when raw
    labels: Tensor  # (N,) int64; N = B * C, source-major
    x: Tensor  # (N, T) crop-window left edge per frame (of the square's content, pan included)
    y: Tensor  # (N, T) crop-window top edge per frame
    flipped: Tensor  # (N,) bool
    mask_box: Tensor  # (N, 3) (x0, y0, side) of the moving square; side = L when unmasked
    background: Tensor  # (N,) index q of the frame shown outside the square (with a camera: whose window pans)


def _signed64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


_MIX1, _MIX2, _GOLD = _signed64(0xBF58476D1CE4E5B9), _signed64(0x94D049BB133111EB), _signed64(0x9E3779B97F4A7C15)


def _uniform(
    shape: tuple[int, ...], device: torch.device, generator: torch.Generator | None, keys: Tensor | None, salt: int
) -> Tensor:
    """Uniform [0, 1) numbers: from `generator`, or, when `keys` (N,) is given, a counter-based hash of
    (key, element, salt), so validation draws do not depend on batch size or order."""
    if keys is None:
        return torch.rand(shape, device=device, generator=generator)
    inner = math.prod(shape[1:])
    z = keys.view(-1, 1) * inner + torch.arange(inner, device=device).view(1, -1)  # (N, inner) distinct counters
    z = z * _GOLD + _signed64(salt * _MIX2)  # int64 arithmetic wraps, as in splitmix64
    z = (z ^ ((z >> 30) & ((1 << 34) - 1))) * _MIX1  # logical shifts: mask off the sign extension
    z = (z ^ ((z >> 27) & ((1 << 37) - 1))) * _MIX2
    z = z ^ ((z >> 31) & ((1 << 33) - 1))
    return (((z >> 11) & ((1 << 53) - 1)).double() / float(1 << 53)).float().view(shape)


class PseudoMotion:
    """Generates the C pseudo-motion clips of each source image (see module docstring)."""

    def __init__(self, cfg: MotionConfig, device: torch.device | str = "cpu"):
        self.cfg = cfg
        self.device = torch.device(device)
        pool = torch.tensor(cfg.classes, dtype=torch.long)
        self.speeds = pool.to(self.device)  # (C, 2) as (x, y)
        # Horizontal flip turns class (x, y) into (-x, y); the static and vertical classes map to themselves.
        index = {tuple(s): i for i, s in enumerate(cfg.classes)}
        self.flip_class = torch.tensor([index[(-sx, sy)] for sx, sy in cfg.classes], device=self.device)
        self.mean = torch.tensor(cfg.mean, device=self.device).view(1, 1, 3, 1, 1)
        self.std = torch.tensor(cfg.std, device=self.device).view(1, 1, 3, 1, 1)

    def trajectory(self, speed: Tensor, u: Tensor | None) -> Tensor:
        """Integer window positions (N, T) along one axis for per-clip speeds (N,).

        `u` (N,) uniform draws pick a random valid start (training); None gives the centred start.
        Positions lie in [0, Ls - L - camera], leaving the camera's pan its room.
        """
        cfg = self.cfg
        room = cfg.source_size - cfg.crop - cfg.camera
        d = room * speed.double() / (cfg.speeds // 2)  # (N,) signed travel in pixels
        if u is None:
            start = torch.floor((room - d) / 2)
        else:
            lo = torch.ceil(torch.clamp(-d, min=0))
            hi = torch.floor(torch.clamp(room - d, max=room))
            start = lo + torch.floor(u.double() * (hi - lo + 1)).clamp(max=hi - lo)
        pos = start[:, None] + d[:, None] * self._steps(speed.device)  # (N, T)
        return torch.trunc(pos).long().clamp(0, room)

    def _steps(self, device: torch.device) -> Tensor:
        return torch.arange(self.cfg.frames, device=device, dtype=torch.float64) / (self.cfg.frames - 1)

    def pan(self, u: Tensor) -> Tensor:
        """Camera offsets (N, T) in [0, camera] for uniform draws u (N,): a travel drawn in [-camera, camera]."""
        d = torch.round((2 * u.double() - 1) * self.cfg.camera)  # (N,) signed travel in pixels
        pos = torch.clamp(-d, min=0)[:, None] + d[:, None] * self._steps(u.device)
        return torch.trunc(pos).long().clamp(0, self.cfg.camera)

    @torch.no_grad()
    def __call__(
        self,
        sources: Tensor,
        train: bool = True,
        generator: torch.Generator | None = None,
        source_ids: Tensor | None = None,
        raw: bool = False,
    ) -> MotionBatch:
        """Make B*C clips from uint8 sources (B, 3, Ls, Ls).

        train: random starts, jitter and flip (as configured). Validation (train=False): centred starts,
        no jitter, no flip; masks drawn from `source_ids` (default 0..B-1) so they are reproducible.
        raw: return uint8 (N, T, L, L, 3) un-normalised clips (the engines' input; jitter is re-quantised).
        """
        cfg = self.cfg
        dev = self.device
        b, _, hs, ws = sources.shape
        if (hs, ws) != (cfg.source_size, cfg.source_size):
            raise ValueError(f"sources must be {cfg.source_size}x{cfg.source_size}, got {hs}x{ws}")
        c, t, size = cfg.num_classes, cfg.frames, cfg.crop
        n = b * c
        jitter = train and cfg.jitter
        keys = None
        if not train:
            ids = source_ids if source_ids is not None else torch.arange(b)
            keys = (ids.to(dev).long()[:, None] * c + torch.arange(c, device=dev)).reshape(-1)

        def uniform(*shape: int, salt: int) -> Tensor:
            return _uniform(shape, dev, generator, keys, salt)

        labels = torch.arange(c, device=dev).repeat(b)  # (N,) source-major
        flipped = (uniform(n, salt=1) < 0.5) if (train and cfg.flip) else torch.zeros(n, dtype=torch.bool, device=dev)
        # A flipped clip is generated with the mirrored motion, so after the flip it shows `labels`.
        drawn = torch.where(flipped, self.flip_class[labels], labels)
        sx, sy = self.speeds[drawn].unbind(dim=1)
        x = self.trajectory(sx, uniform(n, salt=2) if train else None)  # (N, T)
        y = self.trajectory(sy, uniform(n, salt=3) if train else None)

        panning = cfg.mask and cfg.camera > 0
        if panning:
            # The background is the window at frame q's position; both it and the square pan with the camera.
            q = torch.floor(uniform(n, salt=7) * t).long().clamp(max=t - 1)
            cx, cy = self.pan(uniform(n, salt=8)), self.pan(uniform(n, salt=9))  # (N, T)
            ix = torch.arange(n, device=dev)
            bx, by = x[ix, q][:, None] + cx, y[ix, q][:, None] + cy
            x, y = x + cx, y + cy
            x, y = torch.cat((x, bx), dim=1), torch.cat((y, by), dim=1)  # (N, 2T): square frames, then background

        # Gather every frame's L x L window with broadcast indices: (N, T, L, L, 3) uint8 ((N, 2T, ...) panning).
        src = sources.to(dev, non_blocking=True).permute(0, 2, 3, 1)  # (B, Ls, Ls, 3)
        ar = torch.arange(size, device=dev)
        rows = (y[:, :, None] + ar)[:, :, :, None]  # (N, T, L, 1)
        cols = (x[:, :, None] + ar)[:, :, None, :]  # (N, T, 1, L)
        owner = (torch.arange(n, device=dev) // c).view(n, 1, 1, 1)
        clips = src[owner, rows, cols]  # (N, T, L, L, 3)

        frames = clips.permute(0, 1, 4, 2, 3)  # (N, T, 3, L, L) uint8
        if jitter or not raw:
            frames = frames.float().div_(255)
            if jitter:
                frames = color_jitter(frames, cfg.color, generator)
            if raw:  # jittered preview: back to uint8
                frames = frames.mul_(255).round_().to(torch.uint8)
            else:
                frames = (frames - self.mean) / self.std
        if flipped.any():
            frames[flipped] = frames[flipped].flip(-1)
        if panning:
            frames, background = frames[:, :t], frames[:, t:]
            x, y = x[:, :t], y[:, :t]

        # Static mask: outside a random square every frame shows background frame q (panned, with a camera).
        if cfg.mask:
            lo, hi = cfg.mask_ratio
            side = (size * (lo + (hi - lo) * uniform(n, salt=4))).long().clamp(1, size)
            x0 = torch.floor(uniform(n, salt=5) * (size - side + 1)).long()
            y0 = torch.floor(uniform(n, salt=6) * (size - side + 1)).long()
            if not panning:
                q = torch.floor(uniform(n, salt=7) * t).long().clamp(max=t - 1)
                background = frames[torch.arange(n, device=dev), q][:, None]  # (N, 1, 3, L, L)
            inside_r = (ar[None, :] >= y0[:, None]) & (ar[None, :] < (y0 + side)[:, None])  # (N, L)
            inside_c = (ar[None, :] >= x0[:, None]) & (ar[None, :] < (x0 + side)[:, None])
            inside = (inside_r[:, :, None] & inside_c[:, None, :]).view(n, 1, 1, size, size)
            frames = torch.where(inside, frames, background)
        else:
            side = torch.full((n,), size, device=dev)
            x0 = y0 = torch.zeros(n, dtype=torch.long, device=dev)
            q = torch.zeros(n, dtype=torch.long, device=dev)

        if raw:
            out = frames.permute(0, 1, 3, 4, 2).contiguous()  # (N, T, L, L, 3)
        else:
            out = frames.permute(0, 2, 1, 3, 4).contiguous()  # (N, 3, T, L, L)
        box = torch.stack((x0, y0, side), dim=1)
        return MotionBatch(out, labels, x, y, flipped, box, q)
