"""The one small interface every runtime implements, whatever artifact it runs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import torch

from ..metadata import ModelMeta
from ..models.clip_model import ClipOutput


class EngineError(RuntimeError):
    """An engine that cannot be loaded or run here; the message names the file and the reason."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda:1', 'cpu', ... as given."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EngineError(f"device {device!r} requested but CUDA is not available on this machine")
    return dev


class Engine(ABC):
    """Runs uint8 RGB clips (B, T, H, W, 3) and returns logits, features and CAMs as torch tensors.

    Outputs are float32 on `self.device`. Inputs may live on any device; the engine moves them.
    """

    name: str = "engine"
    dynamic_width: bool = True  # accepts any H, W (fully convolutional); False: only `input_hw`
    input_hw: tuple[int, int] | None = None
    max_batch: int | None = None
    hw_range: tuple[tuple[int, int], tuple[int, int]] | None = None  # ((min H, min W), (max H, max W)) if bounded
    precision: str = "fp32"  # the arithmetic it runs: fp32, bf16, fp16 or int8

    def __init__(self, path: Path, meta: ModelMeta, device: torch.device):
        self.path = path
        self.meta = meta
        self.device = device

    @abstractmethod
    def run(self, clips: torch.Tensor) -> ClipOutput:
        """One batch; `clips` already on `self.device`, uint8, contiguous, batch <= max_batch."""

    def __call__(self, clips: torch.Tensor) -> ClipOutput:
        if clips.dtype != torch.uint8 or clips.ndim != 5 or clips.shape[-1] != 3:
            raise ValueError(f"expected uint8 clips (B, T, H, W, 3), got {clips.dtype} {tuple(clips.shape)}")
        if clips.shape[1] != self.meta.frames:
            raise ValueError(f"{self.path.name}: model takes {self.meta.frames} frames per clip, got {clips.shape[1]}")
        if not self.dynamic_width and self.input_hw and tuple(clips.shape[2:4]) != self.input_hw:
            raise ValueError(
                f"{self.path.name}: engine was built for {self.input_hw[0]}x{self.input_hw[1]} input, "
                f"got {clips.shape[2]}x{clips.shape[3]}; re-export with a dynamic width"
            )
        if self.hw_range and not all(lo <= n <= hi for lo, n, hi in zip(self.hw_range[0], clips.shape[2:4], self.hw_range[1])):
            (h0, w0), (h1, w1) = self.hw_range
            raise ValueError(
                f"{self.path.name}: engine accepts {h0}x{w0} to {h1}x{w1} input, got {clips.shape[2]}x{clips.shape[3]}; "
                f"re-export with a larger --max-size"
            )
        clips = clips.to(self.device, non_blocking=True).contiguous()
        step = self.max_batch or clips.shape[0]
        if clips.shape[0] <= step:
            return self.run(clips)
        parts = [self.run(clips[i : i + step]) for i in range(0, clips.shape[0], step)]
        return ClipOutput(*(torch.cat(p) for p in zip(*parts)))

    def describe(self) -> str:
        return f"{self.name} {self.precision} on {self.device} ({self.path.name}, {self.meta.model_id})"
