"""Training precision: `--precision auto|fp32|bf16`, resolved once per run and recorded in the checkpoint."""

from __future__ import annotations

import contextlib
from typing import ContextManager

import torch

from mosi_tool.hardware import cpu_has_fast_bf16

TRAIN_PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' -> 'bf16' on CUDA and on CPUs with hardware bf16 (AMX or AVX512-BF16), else 'fp32'.

    Raises ValueError for a name outside TRAIN_PRECISIONS.
    """
    if precision not in TRAIN_PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(TRAIN_PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16"
    return "bf16" if device.type == "cpu" and cpu_has_fast_bf16() else "fp32"


def autocast(device: torch.device, precision: str) -> ContextManager[object]:
    """bf16 autocast for a resolved 'bf16' (weights, optimiser state and loss stay fp32); no-op for 'fp32'."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
