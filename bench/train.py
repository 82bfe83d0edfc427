"""MoSI training throughput: source images/s and clips/s per precision, with where the time goes.

    python bench/train.py                                   # CPU, tiny preset, fp32 and bf16 + today's path
    python bench/train.py --device cuda --preset paper --precisions fp32,bf16 --no-baseline

Each run times `--steps` training steps (after `--warmup` untimed ones) of the real training code
(training/loop.py: PseudoMotion, forward_backward, Adam) and splits each step into data (the loader),
generator (pseudo-motion clips), forward/backward and optimizer. Runs:

- `baseline` (CPU only): the path before the source cache and CPU bf16: fp32, every source decoded and
  resized from its JPEG in loader processes each time.
- one run per `--precisions` entry on the current path: sources cropped from the decoded uint8 cache.

Prints `bf16/fp32 speed-up: N.NNx` (same path, same run) and each run's ratio to the baseline, and records the run
(bench/report.py) in docs/BENCHMARKS.md. Data: `--root` (ImageNet layout), default ../shared/data/images/imagenette-val,
else images cut from the bundled sample picture.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.runtimes.base import resolve_device  # noqa: E402
from mosi_tool.training.config import TrainConfig, build_config  # noqa: E402

PHASES = ("data", "generator", "fwd/bwd", "optimizer")
DEFAULT_ROOT = ROOT.parent / "shared" / "data" / "images" / "imagenette-val"


@dataclass
class Run:
    name: str
    precision: str
    cached: bool
    images_per_s: float
    clips_per_s: float
    shares: dict[str, float]  # phase -> fraction of step time
    ms_per_step: float
    cpu_ms_per_step: float  # process CPU time (all threads) per timed step


def sample_images(folder: Path, n: int = 96) -> Path:
    """An ImageNet-layout folder of `n` crops of the bundled sample picture (when no real data is at hand)."""
    from PIL import Image

    src = Image.open(ROOT / "mosi_tool" / "assets" / "sample.jpg").convert("RGB")
    g = torch.Generator().manual_seed(0)
    out = folder / "train" / "n00000000"
    out.mkdir(parents=True, exist_ok=True)
    w, h = src.size
    for i in range(n):
        side = int(min(w, h) * (0.5 + 0.5 * torch.rand(1, generator=g).item()))
        x, y = (int(torch.randint(0, max(1, d - side + 1), (1,), generator=g)) for d in (w, h))
        src.crop((x, y, x + side, y + side)).save(out / f"{i:04d}.jpg", quality=90)
    return folder


def time_run(cfg: TrainConfig, name: str, precision: str, cached: bool, steps: int, warmup: int) -> Run:
    """Time `steps` training steps of `cfg` on the current or the baseline data path."""
    from torch.utils.data import DataLoader, RandomSampler

    from mosi_tool.models.backbones import build_backbone
    from mosi_tool.training.data import find_sources, split_sources
    from mosi_tool.training.loop import forward_backward, param_groups, source_datasets, to_memory_format
    from mosi_tool.training.precision import resolve_precision
    from mosi_tool.training.pseudo_motion import PseudoMotion

    device = resolve_device(cfg.device)
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, cache=cached))
    precision = resolve_precision(precision, device)
    sources, _ = split_sources(find_sources(cfg.data.kind, cfg.data.root), 0.0, cfg.seed)
    train_set, _ = source_datasets(cfg, sources, [])
    workers = 0 if cached else cfg.data.workers
    loader = DataLoader(
        train_set, batch_size=cfg.batch_size, sampler=RandomSampler(train_set, replacement=True, num_samples=10**6),
        num_workers=workers, drop_last=True, pin_memory=device.type == "cuda", **({"prefetch_factor": 4} if workers else {}),
    )  # fmt: skip
    torch.manual_seed(cfg.seed)
    model = build_backbone(cfg.arch, cfg.motion.num_classes, width=cfg.width, dropout=cfg.dropout).to(device)
    model = model.to(memory_format=torch.channels_last_3d).train()
    optimizer = torch.optim.Adam(param_groups(model, cfg.optim.weight_decay), lr=cfg.optim.lr)
    motion = PseudoMotion(cfg.motion, device)
    gen = torch.Generator(device).manual_seed(0)

    def sync() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()

    totals = dict.fromkeys(PHASES, 0.0)
    cpu = 0.0
    it = iter(loader)
    for step in range(warmup + steps):
        c0 = time.process_time()
        t0 = sync()
        sources, _ = next(it)
        sources = sources.to(device, non_blocking=True)
        t1 = sync()
        batch = motion(sources, train=True, generator=gen)
        t2 = sync()
        optimizer.zero_grad(set_to_none=True)
        forward_backward(model, to_memory_format(batch.clips, model), batch.labels, device, precision)
        t3 = sync()
        optimizer.step()
        t4 = sync()
        if step >= warmup:
            cpu += time.process_time() - c0
            for phase, dt in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                totals[phase] += dt
    del it
    total = sum(totals.values())
    images = steps * cfg.batch_size
    return Run(
        name, precision, cached, images / total, images * cfg.motion.num_classes / total,
        {k: v / total for k, v in totals.items()}, 1000 * total / steps, 1000 * cpu / steps,
    )  # fmt: skip


def table(runs: list[Run], baseline: Run | None) -> str:
    head = "| run | precision | sources | src img/s | clips/s | ms/step | " + " | ".join(f"{p} %" for p in PHASES) + " | vs baseline |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in runs:
        ratio = f"{r.images_per_s / baseline.images_per_s:.2f}x" if baseline else "-"
        shares = " | ".join(f"{100 * r.shares[p]:.0f}" for p in PHASES)
        src = "cache" if r.cached else "JPEG decode"
        lines.append(f"| {r.name} | {r.precision} | {src} | {r.images_per_s:.2f} | {r.clips_per_s:.1f} | {r.ms_per_step:.0f} | {shares} | {ratio} |")
    return "\n".join(lines)


def speedups(runs: list[Run], baseline: Run | None) -> list[str]:
    out = []
    by = {r.name: r for r in runs}
    if "fp32" in by and "bf16" in by:
        out.append(f"bf16/fp32 speed-up: {by['bf16'].images_per_s / by['fp32'].images_per_s:.2f}x")
    if baseline:
        best = max((r for r in runs if r is not baseline), key=lambda r: r.images_per_s, default=None)
        if best:
            out.append(f"current path ({best.name}) / baseline (fp32, JPEG decode): {best.images_per_s / baseline.images_per_s:.2f}x")
    return out


def environment(device: torch.device, cfg: TrainConfig) -> dict[str, str]:
    from mosi_tool.hardware import cpu_has_fast_bf16, cpu_name

    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu_name()}, {torch.get_num_threads()} threads"
    m = cfg.motion
    return {
        "device": dev, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "torch": torch.__version__, "python": platform.python_version(),
        "hardware bf16": str(cpu_has_fast_bf16()) if device.type == "cpu" else "cuda",
        "model": f"{cfg.arch} width {cfg.width}, {m.frames}x{m.crop}x{m.crop} clips from {m.source_size}px sources, "
                 f"{m.num_classes} clips per source, batch {cfg.batch_size} sources",
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tiny", help="training preset: tiny or paper")
    p.add_argument("--root", type=Path, help="ImageNet-layout images (default: shared imagenette-val, else sample crops)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precisions", default="fp32,bf16", help="comma-separated from fp32, bf16, auto")
    p.add_argument("--batch-size", type=int, help="source images per step (default: the preset's)")
    p.add_argument("--width", type=int, help="network width (default: the preset's)")
    p.add_argument("--steps", type=int, default=12, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--no-baseline", action="store_true", help="skip the pre-cache fp32 path (always skipped on CUDA)")
    p.add_argument("--report", default=str(ROOT / "docs" / "BENCHMARKS.md"), help="summary to record the run in ('-': print only)")
    a = p.parse_args(argv)
    command = "python bench/train.py " + " ".join(sys.argv[1:] if argv is None else argv)

    with tempfile.TemporaryDirectory() as tmp:
        root = a.root or (DEFAULT_ROOT if DEFAULT_ROOT.is_dir() else sample_images(Path(tmp)))
        over: dict[str, Any] = {"device": a.device, "data": {"root": str(root)}}
        if a.batch_size:
            over["batch_size"] = a.batch_size
        if a.width:
            over["width"] = a.width
        cfg = build_config(a.preset, None, over)
        device = resolve_device(cfg.device)
        runs: list[Run] = []
        baseline = None
        if device.type == "cpu" and not a.no_baseline:
            baseline = time_run(cfg, "baseline", "fp32", False, a.steps, a.warmup)
            runs.append(baseline)
            print(table(runs, baseline), flush=True)
        for prec in a.precisions.split(","):
            runs.append(time_run(cfg, prec, prec, True, a.steps, a.warmup))
            print(table(runs[-1:], baseline).splitlines()[-1], flush=True)

    env = environment(device, cfg)
    text = table(runs, baseline)
    lines = speedups(runs, baseline)
    print("\n" + text + "\n" + "\n".join(lines))
    if a.report != "-":
        from bench.report import append_report

        report = Path(a.report)
        section = [f"## Training throughput: {env['device']}, {env['date']}", "", f"Command: `{command}` (data: `{root}`)", ""]
        section += [f"- {k}: {v}" for k, v in env.items() if k not in ("device", "date")]
        section += [f"- {a.steps} timed steps after {a.warmup} warm-up per run", "", text, ""] + [f"- {x}" for x in lines]
        append_report(report, "\n".join(section))
        print(f"recorded in {report}")


if __name__ == "__main__":
    main()
