"""ONNX -> TensorRT engine with an optimisation profile, a persistent timing cache and a JSON sidecar.

Precision depends on the TensorRT version:
- TensorRT >= 11 builds strongly typed networks only (the FP16/BF16 builder flags are gone): reduced
  precision comes from an fp16/bf16 ONNX graph.
- TensorRT 10 builds the fp32 graph and lets the FP16/BF16 builder flag pick reduced-precision kernels.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from mosi_tool.artifact import INPUT_NAME, ExportInfo, read_onnx
from mosi_tool.atomic import atomic_write_bytes
from mosi_tool.cache import cache_root
from mosi_tool.metadata import MetadataError
from mosi_tool.runtimes.base import EngineError, resolve_device
from mosi_tool.runtimes.tensorrt_env import TrtTarget, current_target, major_version, require_tensorrt

from .metadata import write_sidecar
from .options import ExportOptions


@dataclass(frozen=True)
class Recipe:
    onnx_precision: str  # weights/arithmetic of the ONNX graph TensorRT parses
    builder_flag: str | None  # BuilderFlag name (TensorRT 10 only)


def recipe(tensorrt_version: str, precision: str) -> Recipe:
    if major_version(tensorrt_version) >= 11:
        return Recipe(precision, None)
    return Recipe("fp32", {"fp32": None, "fp16": "FP16", "bf16": "BF16"}[precision])


def timing_cache_path(target: TrtTarget) -> Path:
    """One timing cache per TensorRT version and GPU (timings do not transfer between them)."""
    gpu = "".join(c if c.isalnum() else "-" for c in target.gpu)
    return cache_root() / "tensorrt" / f"timing-{target.tensorrt_version}-{gpu}-sm{target.compute_capability}.cache"


def build(checkpoint: Path, out: Path, options: ExportOptions, log: Callable[[str], None] = lambda _: None) -> ExportInfo:
    """Build `out` (+ `out`.json) for the GPU `options.device` on this machine."""
    version = require_tensorrt()
    device = resolve_device(options.device)
    if device.type != "cuda":
        raise EngineError(f"{out}: TensorRT engines are built on and for a CUDA GPU; this machine has none (--device {options.device})")
    how = recipe(version, options.precision)
    with tempfile.TemporaryDirectory(prefix="mosi-trt-") as tmp:
        onnx_path = _onnx_for(checkpoint, how.onnx_precision, options, Path(tmp), log)
        meta, _ = read_onnx(onnx_path)
        with torch.cuda.device(device):
            target = current_target(version, device)
            batch = [options.min_batch, options.opt_batch, options.max_batch]
            hw = list(options.hw_range(meta.crop))
            cache = options.timing_cache or timing_cache_path(target)
            engine = _build_serialized(onnx_path, meta.frames, batch, hw, how, options.workspace_gib, cache)
    atomic_write_bytes(out, engine)
    info = ExportInfo(
        format="tensorrt", precision=options.precision, batch=batch, hw=hw, opset=None, device="cuda",
        target=target.as_dict(), torch_version=torch.__version__,
    )  # fmt: skip
    write_sidecar(out, meta, info)
    flag = f", builder flag {how.builder_flag}" if how.builder_flag else ", strongly typed"
    log(f"tensorrt: built for {target.describe()}; {how.onnx_precision} graph{flag}; timing cache {cache}")
    return info


def _onnx_for(checkpoint: Path, precision: str, options: ExportOptions, tmp: Path, log: Callable[[str], None]) -> Path:
    """The ONNX the same command wrote, if it has the right precision and model; else a temporary export."""
    from mosi_tool.checkpoint import read_meta

    from . import onnx as onnx_export

    source = options.onnx_source
    if source is not None and source.exists():
        try:
            meta, info = read_onnx(source)
            if info.precision == precision and meta.model_id == read_meta(checkpoint).model_id:
                return source
        except MetadataError:
            pass
    path = tmp / f"model-{precision}.onnx"
    onnx_export.build(checkpoint, path, ExportOptions(precision=precision), log=lambda _: None)
    log(f"tensorrt: parsing a temporary {precision} ONNX export")
    return path


def _build_serialized(
    onnx_path: Path, frames: int, batch: list[int], hw: list[int], how: Recipe, workspace_gib: float, cache_file: Path
) -> bytes:
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in 10+; strong typing is the default in 11+
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"{onnx_path}: TensorRT cannot parse the ONNX graph: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if how.builder_flag is not None:
        config.set_flag(getattr(trt.BuilderFlag, how.builder_flag))
    profile = builder.create_optimization_profile()
    shapes = [trt.Dims([b, frames, side, side, 3]) for b, side in zip(batch, hw)]
    profile.set_shape(INPUT_NAME, shapes[0], shapes[1], shapes[2])
    config.add_optimization_profile(profile)
    old = cache_file.read_bytes() if cache_file.exists() else b""
    cache = config.create_timing_cache(old)
    if not config.set_timing_cache(cache, False):  # a cache from another GPU/version: start a fresh one
        config.set_timing_cache(config.create_timing_cache(b""), False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineError(f"{onnx_path}: TensorRT failed to build an engine (see the TensorRT messages above)")
    atomic_write_bytes(cache_file, bytes(config.get_timing_cache().serialize()))
    return bytes(serialized)
