"""Throughput and latency of every runtime on this machine's device, PyTorch eager fp32 as the baseline.

    python bench/runtimes.py                                  # CPU here: torch, onnx, aoti at fp32
    python bench/runtimes.py --runtimes torch,onnx --precisions fp32,bf16,int8 --batches 1,8,32   # every CPU path
    python bench/runtimes.py --preset tiny ...                # the small width-16 8x64x64 model
    python bench/runtimes.py --device cuda --runtimes torch,torch.compile,aoti,onnx,tensorrt --precisions fp32,bf16,fp16

Default model: a random-init full-size R(2+1)D-10 made on the fly (weights do not change speed).
Per runtime x precision x batch: median milliseconds per batch, clips/s, ratio to eager fp32 at the same
batch (same run), the features' worst cosine to eager fp32, and the fraction of the device's physical peak
for that precision (CPU: `mosi_tool.runtimes.cpu.peaks`, fp32 FMA / bf16 dot-product / int8 VNNI or AMX).
On CPU, each batch also names the path `--runtime auto`'s rules pick from these rows. Records the run (bench/report.py) in
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Callable, Mapping, TypeVar

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.runtimes.base import Engine, EngineError, resolve_device  # noqa: E402

K = TypeVar("K")
RUNTIMES = ("torch", "torch.compile", "onnx", "aoti", "tensorrt")

# Dense peak TFLOP/s by GPU name: (fp32 without tensor cores, bf16/fp16 tensor cores). Vendor datasheets.
GPU_PEAKS = {
    "H200": (67.0, 989.0),
    "H100 PCIe": (51.0, 756.0),
    "H100": (67.0, 989.0),  # SXM
    "A100": (19.5, 312.0),
    "L40S": (91.6, 362.0),
    "L4": (30.3, 121.0),
    "A10": (31.2, 125.0),
    "RTX 4090": (82.6, 165.0),
    "T4": (8.1, 65.0),
    "V100": (15.7, 125.0),
}


PRESETS = {"full": (64, 16, 112), "tiny": (16, 8, 64)}  # width, frames, crop (training/config.py's tiny preset)


@dataclass
class Config:
    model: Path | None
    arch: str
    width: int
    frames: int
    size: int
    batches: list[int]
    iters: int
    warmup: int
    runtimes: list[str]
    precisions: list[str]
    device: str
    report: Path | None
    input_compare: bool


@dataclass
class Row:
    runtime: str
    precision: str
    batch: int
    median_ms: float
    clips_per_s: float
    ratio: float = 0.0
    peak: float = 0.0
    cosine: float = 1.0  # features, worst clip, vs eager fp32 on the same clips


@dataclass
class Result:
    rows: list[Row] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    input_dtype: list[tuple[str, int, float]] = field(default_factory=list)  # (dtype, batch, median ms)
    auto: list[str] = field(default_factory=list)  # per batch: what --runtime auto's rules pick from the rows


def make_checkpoint(folder: Path, arch: str, frames: int, size: int, width: int = 64) -> Path:
    from mosi_tool.checkpoint import save_checkpoint
    from mosi_tool.metadata import ModelMeta
    from mosi_tool.models.backbones import build_backbone

    torch.manual_seed(0)
    model = build_backbone(arch, 9, width=width)
    meta = ModelMeta(arch=arch, width=width, frames=frames, crop=size, feature_dim=model.feature_dim)
    path = folder / f"{arch}-w{width}-random.safetensors"
    save_checkpoint(path, model, meta)
    return path


def flops_per_clip(checkpoint: Path) -> float:
    """Counted by PyTorch's FlopCounterMode on one clip (2 FLOPs per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    from mosi_tool.checkpoint import load_checkpoint

    backbone, meta = load_checkpoint(checkpoint)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        backbone(torch.zeros(1, 3, meta.frames, meta.crop, meta.crop))
    return float(counter.get_total_flops())


def cpu_peak(precision: str) -> tuple[float, str]:
    """This CPU's physical peak for `precision` (fp16 counts as fp32: no fp16 CPU path here)."""
    from mosi_tool.runtimes.cpu import peaks

    peak = peaks()[precision if precision in ("bf16", "int8") else "fp32"]
    return peak.ops_per_s, peak.formula


def gpu_peak(device: torch.device, precision: str) -> tuple[float, str]:
    name = torch.cuda.get_device_name(device)
    for key, (fp32, half) in GPU_PEAKS.items():
        if key in name:
            tflops = fp32 if precision == "fp32" else half
            kind = "fp32 non-tensor" if precision == "fp32" else f"{precision} dense tensor"
            return tflops * 1e12, f"{name}: {tflops:g} TFLOP/s {kind} (datasheet)"
    return 0.0, f"{name}: peak unknown (add it to GPU_PEAKS)"


def open_engine(runtime: str, precision: str, checkpoint: Path, device: torch.device, folder: Path, cfg: Config) -> Engine:
    from mosi_tool.export.options import ExportOptions
    from mosi_tool.loader import load_engine

    if runtime in ("torch", "torch.compile"):
        return load_engine(checkpoint, device=device, runtime="torch", compile=runtime == "torch.compile", precision=precision)
    if runtime == "onnx" and precision == "bf16" and device.type == "cpu":
        raise EngineError("onnxruntime's CPU provider has no bfloat16 kernels")
    if precision == "int8" and runtime != "onnx":
        raise EngineError("int8 runs in ONNX Runtime only")
    options = ExportOptions(
        precision=precision, max_batch=max(cfg.batches), opt_batch=max(cfg.batches), max_size=cfg.size,
        device=str(device), verify=False,
    )  # fmt: skip
    builders = {"onnx": ("mosi_tool.export.onnx", ".onnx"), "aoti": ("mosi_tool.export.aoti", ".pt2"), "tensorrt": ("mosi_tool.export.tensorrt", ".engine")}
    module, suffix = builders[runtime]
    out = folder / f"{runtime}-{precision}{suffix}"
    __import__(module, fromlist=["build"]).build(checkpoint, out, options, log=lambda line: print(line, flush=True))
    return load_engine(out, device=device)


def interleaved_ms(calls: Mapping[K, Callable[[], object]], iters: int, warmup: int, device: torch.device) -> dict[K, float]:
    """Median ms per call of each callable, timed round-robin (one call of each per round) so that load from
    other processes on a shared machine slows every runtime alike instead of whichever ran at the time."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for call in calls.values():
        for _ in range(warmup):
            call()
    sync()
    times: dict[K, list[float]] = {key: [] for key in calls}
    for _ in range(iters):
        for key, call in calls.items():
            start = time.perf_counter()
            call()
            sync()
            times[key].append((time.perf_counter() - start) * 1000)
    return {key: statistics.median(t) for key, t in times.items()}


def input_dtype_comparison(checkpoint: Path, device: torch.device, folder: Path, cfg: Config, result: Result) -> None:
    """ORT fed uint8 vs float32 clips (host arrays, as a caller has them after decoding), same graph otherwise."""
    import numpy as np
    import onnxruntime as ort

    from mosi_tool.export.onnx import build
    from mosi_tool.export.options import ExportOptions

    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.type == "cuda" else ["CPUExecutionProvider"]
    sessions = {}
    for dtype in ("uint8", "float32"):
        path = folder / f"input-{dtype}.onnx"
        build(checkpoint, path, ExportOptions(input_dtype=dtype, verify=False))
        sessions[dtype] = ort.InferenceSession(str(path), providers=providers)
    for batch in cfg.batches:
        clips = np.random.default_rng(0).integers(0, 256, (batch, cfg.frames, cfg.size, cfg.size, 3), dtype=np.uint8)
        feeds = {dtype: {"clips": clips.astype(dtype)} for dtype in sessions}
        calls = {dtype: partial(sessions[dtype].run, None, feeds[dtype]) for dtype in sessions}
        for dtype, ms in interleaved_ms(calls, cfg.iters, cfg.warmup, torch.device("cpu")).items():
            result.input_dtype.append((dtype, batch, ms))
            print(f"  onnx input {dtype:<7} batch {batch:>3}: {ms:9.1f} ms", flush=True)


def run(cfg: Config) -> tuple[Result, dict[str, str]]:
    device = resolve_device(cfg.device)
    result = Result()
    load_before = _load()
    with tempfile.TemporaryDirectory(prefix="mosi-bench-") as tmp:
        folder = Path(tmp)
        checkpoint = cfg.model or make_checkpoint(folder, cfg.arch, cfg.frames, cfg.size, cfg.width)
        from mosi_tool.checkpoint import read_meta

        meta = read_meta(checkpoint)
        cfg.frames, cfg.size = meta.frames, meta.crop
        flops = flops_per_clip(checkpoint)
        plan = [("torch", "fp32")] + [
            (r, p) for r in cfg.runtimes for p in cfg.precisions if (r, p) != ("torch", "fp32")
        ]  # the baseline first, always in the same run
        engines: dict[tuple[str, str], Engine] = {}
        for runtime, precision in plan:
            try:
                engines[(runtime, precision)] = open_engine(runtime, precision, checkpoint, device, folder, cfg)
            except (EngineError, ValueError) as e:
                result.skipped.append(f"{runtime} {precision}: {e}")
                print(f"skip {runtime} {precision}: {e}", flush=True)
        for batch in cfg.batches:
            gen = torch.Generator().manual_seed(batch)
            clips = torch.randint(0, 256, (batch, cfg.frames, cfg.size, cfg.size, 3), dtype=torch.uint8, generator=gen)
            clips = clips.to(device)
            calls = {key: partial(engine, clips) for key, engine in engines.items()}
            reference = engines[("torch", "fp32")](clips).features if ("torch", "fp32") in engines else None
            for (runtime, precision), ms in interleaved_ms(calls, cfg.iters, cfg.warmup, device).items():
                row = Row(runtime, precision, batch, ms, batch / (ms / 1000))
                if reference is not None:
                    got = engines[(runtime, precision)](clips).features
                    row.cosine = float(torch.nn.functional.cosine_similarity(reference.double(), got.double(), dim=1).min())
                result.rows.append(row)
                print(f"{runtime:<14} {precision} batch {batch:>3}: {ms:9.1f} ms  {row.clips_per_s:8.2f} clips/s  cosine {row.cosine:.6f}", flush=True)
            if device.type == "cpu":
                result.auto.append(auto_pick(batch, [r for r in result.rows if r.batch == batch]))
        engines.clear()
        if cfg.input_compare and ("onnx" in cfg.runtimes):
            input_dtype_comparison(checkpoint, device, folder, cfg, result)
    base = {r.batch: r.clips_per_s for r in result.rows if (r.runtime, r.precision) == ("torch", "fp32")}
    peaks: dict[str, str] = {}
    for row in result.rows:
        row.ratio = row.clips_per_s / base[row.batch] if row.batch in base else 0.0
        peak, note = cpu_peak(row.precision) if device.type == "cpu" else gpu_peak(device, row.precision)
        peaks[row.precision] = note
        row.peak = flops * row.clips_per_s / peak if peak else 0.0
    env = environment(device, flops)
    env["load average (1 min) before / after"] = f"{load_before} / {_load()} (other processes share this machine)"
    env.update({f"peak ({k})": v for k, v in peaks.items()})
    return result, env


def auto_pick(batch: int, rows: list[Row]) -> str:
    """What `--runtime auto`'s rules (mosi_tool.tune.choose) pick from one batch's rows.

    The rows' features cosine is measured on random clips here; auto itself measures on the bundled sample
    video, so this shows the rule at work on these timings, not a replay of a cached choice."""
    from mosi_tool.tune import Measured, choose

    measured = [Measured(r.runtime, r.precision, r.median_ms, r.cosine, r.cosine) for r in rows if r.runtime in ("torch", "onnx")]
    winner, reason = choose(measured)
    return f"batch {batch}: {winner.label}; {reason}"


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"


def environment(device: torch.device, flops: float) -> dict[str, str]:
    from mosi_tool.runtimes.cpu import cpu_info

    cpu = cpu_info()
    bf16 = "AMX" if cpu.has_amx else "AVX512-BF16" if cpu.has_bf16 else "none"
    env = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU {cpu.name} ({cpu.cores} cores, bf16 hardware: {bf16})",
        "threads": str(torch.get_num_threads()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "model FLOPs/clip": f"{flops / 1e9:.1f} GFLOPs",
    }
    for name in ("onnxruntime", "tensorrt"):
        try:
            env[name] = __import__(name).__version__
        except (ImportError, AttributeError):
            env[name] = "not installed"
    return env


def table(result: Result) -> str:
    lines = [
        "| runtime | precision | batch | median ms/batch | clips/s | vs eager fp32 | features cosine | % of peak for its precision |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result.rows:
        peak = f"{100 * r.peak:.1f}%" if r.peak else "-"
        lines.append(f"| {r.runtime} | {r.precision} | {r.batch} | {r.median_ms:.1f} | {r.clips_per_s:.2f} | {r.ratio:.2f}x | {r.cosine:.6f} | {peak} |")
    return "\n".join(lines)


def markdown(cfg: Config, result: Result, env: dict[str, str], command: str) -> str:
    out = [f"## {env['device']}, {env['date']}", "", f"Command: `{command}`", ""]
    out += [f"- {k}: {v}" for k, v in env.items() if k not in ("date", "device")]
    model = str(cfg.model) if cfg.model else f"random-init {cfg.arch} width {cfg.width} (weights do not change speed)"
    out += [f"- model: {model}; clips: {cfg.frames}x{cfg.size}x{cfg.size} uint8, {cfg.iters} timed runs after {cfg.warmup} warm-up per cell, round-robin", ""]
    out += [table(result), ""]
    if result.input_dtype:
        out += ["ONNX Runtime input dtype (host arrays into `session.run`):", "", "| input | batch | median ms |", "|---|---:|---:|"]
        out += [f"| {d} | {b} | {ms:.1f} |" for d, b, ms in result.input_dtype]
        out.append("")
    if result.auto:
        out += ["`--runtime auto`'s rules on these rows:", ""] + [f"- {line}" for line in result.auto] + [""]
    if result.skipped:
        out += ["Not measured: " + "; ".join(result.skipped), ""]
    return "\n".join(out) + "\n"


def parse(argv: list[str] | None) -> Config:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, help="checkpoint (default: random-init full-size model)")
    p.add_argument("--arch", default="r2plus1d_10")
    p.add_argument("--preset", choices=sorted(PRESETS), default="full", help="random-init model size: full (width 64, 16x112x112) or tiny (width 16, 8x64x64)")
    p.add_argument("--frames", type=int, help="override the preset's frames per clip")
    p.add_argument("--size", type=int, help="override the preset's clip size")
    p.add_argument("--batches", default="1,8", help="comma-separated batch sizes")
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--runtimes", default="torch,onnx,aoti", help=f"comma-separated from {', '.join(RUNTIMES)}")
    p.add_argument("--precisions", default="fp32", help="comma-separated from fp32, fp16, bf16")
    p.add_argument("--device", default="auto")
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md", help="summary to record the run in")
    p.add_argument("--no-report", action="store_true")
    p.add_argument("--no-input-compare", action="store_true", help="skip ORT uint8-vs-float32 input timing")
    a = p.parse_args(argv)
    runtimes = [r for r in a.runtimes.split(",") if r]
    unknown = set(runtimes) - set(RUNTIMES)
    if unknown:
        p.error(f"unknown runtimes {sorted(unknown)}")
    width, frames, size = PRESETS[a.preset]
    return Config(
        a.model, a.arch, width, a.frames or frames, a.size or size, [int(b) for b in a.batches.split(",")], a.iters, a.warmup, runtimes,
        a.precisions.split(","), a.device, None if a.no_report else a.report, not a.no_input_compare,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    cfg = parse(argv)
    command = "python bench/runtimes.py " + " ".join(sys.argv[1:] if argv is None else argv)
    result, env = run(cfg)
    print()
    print(table(result))
    if cfg.report:
        from bench.report import append_report

        append_report(cfg.report, markdown(cfg, result, env, command.strip()))
        print(f"\nrecorded in {cfg.report}")


if __name__ == "__main__":
    main()
