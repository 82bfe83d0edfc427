"""Several artifacts from one checkpoint in one command: each is built and verified on its own, so one
failure (say, no TensorRT here) leaves the others written."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from mosi_tool.artifact import ExportInfo, sidecar_path
from mosi_tool.atomic import OutputError, check_writable
from mosi_tool.checkpoint import CheckpointError, read_meta
from mosi_tool.metadata import MetadataError
from mosi_tool.runtimes.base import EngineError, resolve_device

from .formats import Format, builder, check_request
from .options import ExportOptions
from .parity import Parity, verify


@dataclass(frozen=True)
class Target:
    fmt: Format
    out: Path


@dataclass
class Outcome:
    target: Target
    info: ExportInfo | None = None
    parity: Parity | None = None
    error: str | None = None


def unverifiable(fmt: Format, precision: str, device: torch.device) -> str | None:
    """Why an artifact cannot be run here to check it, or None."""
    if fmt.name == "onnx" and precision == "bf16":
        from mosi_tool.runtimes.onnx_runtime import runs_bf16

        if not runs_bf16(device):
            return "onnxruntime here has no CUDA provider, and its CPU provider has no bfloat16 kernels (the graph is for TensorRT or CUDA)"
    return None


def export_artifacts(
    checkpoint: Path, targets: list[Target], options: ExportOptions, log: Callable[[str], None] = print
) -> list[Outcome]:
    """Build every target (ONNX first, so TensorRT can parse it); errors are recorded per target."""
    read_meta(checkpoint)  # a bad checkpoint fails once, before anything is built
    for t in targets:
        check_request(t.fmt, t.out, options.precision)
    for t in targets:
        check_writable(t.out)  # a read-only folder fails here, before any target is built
    outcomes = []
    onnx_out: Path | None = None
    for target in sorted(targets, key=lambda t: t.fmt.name != "onnx"):
        outcome = Outcome(target)
        outcomes.append(outcome)
        opts = dataclasses.replace(options, onnx_source=onnx_out)
        try:
            outcome.info = builder(target.fmt).build(checkpoint, target.out, opts, log)
            if options.verify:
                outcome.parity = _verify(target, checkpoint, options, log)
            # Said only now: a file that fails its parity check is moved aside, not left where it was asked for.
            log(f"{target.fmt.name}: wrote {target.out}" + (" (+ .json)" if sidecar_path(target.out).exists() else ""))
            if target.fmt.name == "onnx":  # verified (or unverifiable): later targets may build from it
                onnx_out = target.out
        except (EngineError, MetadataError, CheckpointError, ValueError, OutputError) as e:  # OutputError: e.g. a full disk
            outcome.error = str(e)
    return outcomes


def _verify(target: Target, checkpoint: Path, options: ExportOptions, log: Callable[[str], None]) -> Parity | None:
    name = target.fmt.name
    device = resolve_device(options.device)
    reason = unverifiable(target.fmt, options.precision, device)
    if reason:
        log(f"{name}: not verified here: {reason}")
        return None
    parity, source = verify(target.out, checkpoint, options.precision, str(device))
    log(f"{name}: {options.precision} on {device} vs PyTorch fp32, {source}:")
    for line in parity.lines():
        log(line)
    failures = parity.failures(options.precision)
    if failures:
        # Not left under the name asked for, where later commands would run it as if it were fine.
        kept = target.out.with_name(f"{target.out.stem}.parity-failed{target.out.suffix}")
        target.out.replace(kept)
        if sidecar_path(target.out).exists():  # a TensorRT engine's metadata goes with it
            sidecar_path(target.out).replace(sidecar_path(kept))
        raise EngineError(f"{target.out}: parity check failed ({'; '.join(failures)}); not written there, kept as {kept.name} for inspection")
    return parity
