"""The module every exporter traces: ClipModel at a precision, returning a plain tuple of float32 outputs."""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path
from typing import Iterator

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


def trace_input(
    meta: ModelMeta,
    input_dtype: str = "uint8",
    device: torch.device | str = "cpu",
    batch: tuple[int, int] | None = None,
    hw: tuple[int, int] | None = None,
) -> tuple[Tensor, tuple[dict[int, object], ...]]:
    """A trace input and torch.export dynamic_shapes for it: batch, H and W dynamic within (min, max) when
    given (unbounded otherwise), static where min == max.

    The example's batch, H and W differ from each other (and from T and 3) wherever they are dynamic, so
    the tracer cannot specialise one to another.
    """
    from torch.export import Dim

    def pick(want: int, bounds: tuple[int, int] | None) -> int:
        return want if bounds is None else min(max(want, bounds[0]), bounds[1])

    dims: dict[int, object] = {}
    sizes = {0: pick(2, batch), 2: pick(meta.crop, hw), 3: pick(meta.crop + 16, hw)}
    for axis, name, bounds in ((0, "batch", batch), (2, "height", hw), (3, "width", hw)):
        if bounds is None:
            dims[axis] = Dim(name)
        elif bounds[0] < bounds[1]:
            dims[axis] = Dim(name, min=bounds[0], max=bounds[1])
    shape = (sizes[0], meta.frames, sizes[2], sizes[3], 3)
    clips = torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return clips.to(device=device, dtype=getattr(torch, input_dtype)), (dims,)


@contextlib.contextmanager
def quiet_tracing() -> Iterator[None]:
    """The exporters log progress and 'torchvision is not installed' at WARNING and torch warns about its own
    deprecations; keep an export's output to our one line."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "torch.export")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch-internal deprecations, not ours to fix
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
