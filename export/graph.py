"""The module every exporter traces: ClipModel at a precision, returning a plain tuple of float32 outputs."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from mosi_tool.checkpoint import load_checkpoint
from mosi_tool.metadata import ModelMeta
from mosi_tool.models.clip_model import ClipModel

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class ExportModule(nn.Module):
    """uint8 (or float32) clips (B, T, H, W, 3) -> (logits, features, cam), all float32.

    The input is cast to float32 before anything else: TensorRT converts uint8 only to fp32/fp16 and only
    right at the network input. The weights and arithmetic are in `dtype`; outputs are cast back so every
    runtime binds the same float32 buffers whatever the precision.
    """

    def __init__(self, model: ClipModel, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.model = model.to(dtype)
        self.eval()

    def forward(self, clips: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        logits, features, cam = self.model(clips.to(torch.float32))
        return logits.float(), features.float(), cam.float()


def export_module(checkpoint: Path, precision: str, device: torch.device | str = "cpu") -> tuple[ExportModule, ModelMeta]:
    backbone, meta = load_checkpoint(checkpoint)
    return ExportModule(ClipModel(backbone, meta), DTYPES[precision]).to(device), meta


def example_clips(meta: ModelMeta, dtype: str = "uint8", device: torch.device | str = "cpu") -> Tensor:
    """A trace input whose batch, H and W all differ (and differ from T and 3), so none is specialised."""
    crop = meta.crop
    shape = (2, meta.frames, crop, crop + 16, 3)
    clips = torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return clips.to(device=device, dtype=getattr(torch, dtype))


def dynamic_dims(batch: tuple[int, int] | None = None, hw: tuple[int, int] | None = None) -> tuple[dict[int, object], ...]:
    """torch.export dynamic_shapes for the one input: batch, H and W dynamic, within (min, max) if given."""
    from torch.export import Dim

    def dim(name: str, bounds: tuple[int, int] | None) -> object:
        return Dim(name, min=bounds[0], max=bounds[1]) if bounds else Dim(name)

    return ({0: dim("batch", batch), 2: dim("height", hw), 3: dim("width", hw)},)
