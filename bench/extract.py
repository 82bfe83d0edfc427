"""End-to-end feature extraction speed on real videos: our pipeline against a baseline and two ceilings.

    python bench/extract.py                          # CPU here: every real video under ../shared/data
    python bench/extract.py --workers 16 --decode nvdec --device cuda   # on a GPU machine

One run measures, on the same videos and the same engine (default: a random-init full-size R(2+1)D-10,
16x112x112; weights do not change speed):
  ours      `extract()` with default settings (`--workers` to tune): decode processes -> engine -> writer
  ours bf16 (--bf16) the same with `--precision bf16`, against its own engine ceiling
  baseline  in the style of v-iashin/video_features: each video read whole into memory by a single-threaded
            reader, resized/cropped as float tensors, PyTorch eager fp32, batch = that video's clips
  decode    the decode ceiling: all decode workers feeding the same queue, no engine
  engine    the engine ceiling: the same engine on pre-decoded clips at the same batch size
  ours, W decoders (--also-workers W) ours again with W decode processes and FFmpeg's own thread count:
            the decode plan before `decode_plan` (one process on 2 CPUs)
  ours, T engine threads (--also-threads T) ours again with `features --threads T`
Per run: videos/s, clips/s, the cores it kept busy (CPU seconds of this process and its children over the
wall time) and each stage's busy time (decode, H2D, engine, write) and share of the wall time; the stage
with the largest share is named the limit. Records the run with bench/report.py (docs/benchmarks/, docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.agreement import clip_agreement, matched_features  # noqa: E402
from bench.report import append_report  # noqa: E402
from mosi_tool.models.clip_model import ClipOutput  # noqa: E402
from mosi_tool.pipeline.extract import ExtractOptions, extract  # noqa: E402
from mosi_tool.batch.jobs import VideoJob, find_inputs  # noqa: E402
from mosi_tool.hardware import available_cpus  # noqa: E402
from mosi_tool.pipeline.dataset import decode_plan  # noqa: E402
from mosi_tool.pipeline.local import run_local  # noqa: E402
from mosi_tool.pipeline.messages import ClipMessage, DecodePlan, DoneMessage, Message  # noqa: E402
from mosi_tool.loader import load_engine, resolve_runtime  # noqa: E402
from mosi_tool.runtimes.base import Engine  # noqa: E402
from mosi_tool.video.clips import ClipSpec, count_clips, geometry  # noqa: E402
from mosi_tool.video.decode import VideoError, VideoReader  # noqa: E402

SHARED = Path(os.environ.get("MOSI_SHARED_DATA", ROOT.parent / "shared" / "data"))
VIDEO_SETS = ("videos", "davis/mp4")
STAGES = ("decode", "h2d", "engine", "write")


@dataclass
class Run:
    name: str
    videos: int
    clips: int
    wall: float
    busy: dict[str, float] = field(default_factory=dict)  # stage -> busy seconds per lane
    note: str = ""
    cpu: float = 0.0  # CPU seconds of this process and its (ended) children during the run

    @property
    def cores(self) -> float:
        return self.cpu / self.wall if self.wall else 0.0

    @property
    def clips_per_s(self) -> float:
        return self.clips / self.wall if self.wall else 0.0

    @property
    def videos_per_s(self) -> float:
        return self.videos / self.wall if self.wall else 0.0

    @property
    def limit(self) -> str:
        return max(self.busy, key=lambda k: self.busy[k]) if self.busy else "-"


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children that have ended (decode processes)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def with_cpu(make: Any) -> Run:
    """`make()`, with the CPU seconds it used recorded in the run."""
    c0 = cpu_seconds()
    run: Run = make()
    run.cpu = cpu_seconds() - c0
    return run


def load_avg() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def real_videos(folders: list[Path] | None, limit: int | None) -> list[Path]:
    """The fixed set: every video in ../shared/data/videos and davis/mp4 (missing folders skipped)."""
    roots = folders or [SHARED / s for s in VIDEO_SETS]
    found = find_inputs([r for r in roots if r.exists()]).videos
    return found[:limit] if limit else found


PRESETS = {"full": (64, 16, 112), "tiny": (16, 8, 64)}  # width, frames, crop (training/config.py's tiny preset)


def make_checkpoint(folder: Path, preset: str = "full") -> Path:
    """A random-init R(2+1)D-10: full size (width 64, 16x112x112 clips) or tiny (width 16, 8x64x64)."""
    from mosi_tool.checkpoint import save_checkpoint
    from mosi_tool.metadata import ModelMeta
    from mosi_tool.models.backbones import build_backbone

    width, frames, crop = PRESETS[preset]
    torch.manual_seed(0)
    model = build_backbone("r2plus1d_10", 9, width=width)
    path = folder / f"r2plus1d_10-w{width}-random.safetensors"
    save_checkpoint(path, model, ModelMeta(arch="r2plus1d_10", width=width, frames=frames, crop=crop, feature_dim=model.feature_dim))
    return path


def engine_artifact(checkpoint: Path, runtime: str, folder: Path) -> tuple[Path, str, str]:
    """(model file, runtime, note) for `--runtime`: `auto` is the path `--runtime auto` measures fastest."""
    if runtime in ("torch", "auto") or checkpoint.suffix != ".safetensors":
        return checkpoint, runtime if checkpoint.suffix == ".safetensors" else "auto", ""
    try:
        from mosi_tool.export.onnx import build  # noqa: F401 - the export work (ONNX and its runtime)
        from mosi_tool.export.options import ExportOptions

        import mosi_tool.runtimes.onnx_runtime  # noqa: F401
    except ImportError as e:
        note = f"ONNX Runtime path not available in this checkout ({e}); measured with PyTorch eager"
        if runtime == "onnx":
            raise SystemExit(f"--runtime onnx: {note.split(';')[0]}. Use --runtime torch.")
        return checkpoint, "torch", note
    out = folder / (checkpoint.stem + ".onnx")
    build(checkpoint, out, ExportOptions(verify=False))
    return out, "onnx", ""


# -- the four runs ---------------------------------------------------------------------------------------


def run_ours(videos: list[Path], model: Path, runtime: str, precision: str, args: argparse.Namespace, out: Path,
             plan_: tuple[int, int] | None = None, engine_threads: int | None = None) -> Run:  # fmt: skip
    """`extract()` as users run it; `plan_` = (workers, FFmpeg threads) overrides `decode_plan`'s choice, and
    `engine_threads` the engine's intra-op threads (`features --threads`)."""
    workers, threads = plan_ or decode_plan(args.workers, len(videos))
    opts = ExtractOptions(model=str(model), out_dir=out, devices=[args.device], runtime=runtime, batch_size=args.batch_size,
                          workers=workers, decode_threads=threads, overwrite=True, progress=False, decode=args.decode,
                          precision=precision, threads=engine_threads)  # fmt: skip
    report = extract(videos, opts)
    busy = {"decode": report.decode_s / max(workers, 1), "h2d": report.times.h2d, "engine": report.times.engine, "write": report.write_s}
    t = report.times
    note = (f"{workers} decode workers x {threads or 'auto'} FFmpeg threads; {t.batches} batches for {t.clips} clips ({t.padding} zero rows of padding); "
            f"the engine thread waited {t.wait:.1f} s for clips")  # fmt: skip
    if report.failed:
        note += f"; {report.failed} failed"
    return Run("ours", report.ok, report.clips, report.seconds, busy, note)


class _NullEngine(Engine):
    """Returns a zero feature per clip at once: the pipeline without its engine."""

    name = "none"

    def __init__(self, meta: Any):
        super().__init__(meta, torch.device("cpu"))

    def run(self, clips: torch.Tensor) -> ClipOutput:
        z = torch.zeros(clips.shape[0], 1)
        return ClipOutput(z, z, z)


class _CountingWriter:
    def __init__(self) -> None:
        self.videos = self.clips = 0
        self.decode_s = 0.0

    def handle(self, msg: Message) -> None:
        if isinstance(msg, ClipMessage):
            self.clips += 1
        elif isinstance(msg, DoneMessage):
            self.videos += 1
            self.decode_s += msg.decode_s


def run_decode_ceiling(videos: list[Path], meta: Any, spec: ClipSpec, args: argparse.Namespace) -> Run:
    workers, threads = decode_plan(args.workers, len(videos))
    jobs = [VideoJob(i, str(v), str(Path(tempfile.gettempdir()) / f"{i}.npz")) for i, v in enumerate(videos)]  # nothing is written
    writer = _CountingWriter()
    plan = DecodePlan(dataclasses.replace(spec, decoder=args.decode), workers, threads)
    t0 = time.perf_counter()
    times = run_local(jobs, writer, ExtractOptions(devices=["cpu"], batch_size=args.batch_size), plan, engine=_NullEngine(meta))  # type: ignore[arg-type]
    wall = time.perf_counter() - t0
    busy = {"decode": writer.decode_s / workers, "h2d": times.h2d}
    return Run("decode ceiling", writer.videos, writer.clips, wall, busy, f"{workers} decode workers x {threads or 'auto'} FFmpeg threads, no engine")


def run_engine_ceiling(engine: Engine, videos: list[Path], spec: ClipSpec, args: argparse.Namespace, batches: int) -> Run:
    pool: list[np.ndarray] = []
    for v in videos:
        try:
            pool += [c.frames for _, c in zip(range(args.batch_size - len(pool)), spec.clips(v)[1])]
        except VideoError:
            continue
        if len(pool) >= args.batch_size:
            break
    batch = torch.from_numpy(np.stack(pool))
    engine(batch)  # warm-up
    c0, t0 = cpu_seconds(), time.perf_counter()
    for _ in range(batches):
        engine(batch).features.cpu()
    wall = time.perf_counter() - t0
    return Run("engine ceiling", 0, batches * len(pool), wall, {"engine": wall}, cpu=cpu_seconds() - c0)


def read_whole(path: Path) -> tuple[np.ndarray, float]:
    """Every frame of the video, full size, in memory: one thread, as torchvision's read_video does."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type, stream.thread_count = "NONE", 1
        frames = []
        try:
            for f in container.decode(stream):
                frames.append(f.to_ndarray(format="rgb24"))
        except av.FFmpegError:
            pass  # a truncated file: keep what decoded
    return np.stack(frames), float(stream.average_rate or 25)


def baseline_clips(frames: np.ndarray, spec: ClipSpec) -> torch.Tensor:
    """Float transforms on the whole video (short side 128, centre crop 112), then clips of `stack`."""
    import torch.nn.functional as F

    n, h, w, _ = frames.shape
    geo = geometry("center", spec.size, w, h)
    x0, y0, cw, ch = geo.crop
    out = []
    for i in range(0, n, 64):  # the same float work as the whole-video transform, in slices of 64 frames
        x = torch.from_numpy(frames[i : i + 64]).permute(0, 3, 1, 2).float() / 255
        x = F.interpolate(x, size=(geo.resize[1], geo.resize[0]), mode="bilinear", align_corners=False, antialias=True)
        x = x[:, :, y0 : y0 + ch, x0 : x0 + cw]
        out.append((x * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1))
    video = torch.cat(out)
    count = count_clips(n, spec)
    if n < spec.stack:
        video = torch.cat([video, video[-1:].expand(spec.stack - n, *video.shape[1:])])
    return torch.stack([video[k * spec.stride : k * spec.stride + spec.stack] for k in range(count)])


def run_baseline(videos: list[Path], engine: Engine, spec: ClipSpec, out: Path) -> Run:
    busy = dict.fromkeys(("decode", "transform", "engine", "write"), 0.0)
    n_videos = n_clips = 0
    sizes: list[int] = []
    t_start = time.perf_counter()
    for v in videos:
        t0 = time.perf_counter()
        try:
            VideoReader(v)
            frames, _ = read_whole(v)
        except (VideoError, ValueError):
            continue
        t1 = time.perf_counter()
        clips = baseline_clips(frames, spec)
        del frames
        t2 = time.perf_counter()
        feats = engine(clips).features.cpu().numpy()  # batch = every clip of this video
        t3 = time.perf_counter()
        np.save(out / f"{n_videos:03d}.npy", feats)
        t4 = time.perf_counter()
        for k, dt in zip(busy, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            busy[k] += dt
        n_videos += 1
        n_clips += len(feats)
        sizes.append(len(feats))
    wall = time.perf_counter() - t_start
    weighted = sum(b * b for b in sizes) / max(sum(sizes), 1)
    note = (f"video_features style: whole video in memory, 1 reader thread, eager fp32, batch = one video "
            f"({min(sizes, default=0)} to {max(sizes, default=0)} clips; {weighted:.1f} on average per clip)")  # fmt: skip
    return Run("baseline", n_videos, n_clips, wall, busy, note)


# -- report ----------------------------------------------------------------------------------------------


def table(runs: list[Run]) -> str:
    head = "| run | videos | clips | wall s | videos/s | clips/s | cores busy | " + " | ".join(f"{s} s (%)" for s in (*STAGES, "transform")) + " | limit |"
    lines = [head, "|---|" + "---:|" * 6 + "---:|" * (len(STAGES) + 1) + "---|"]
    for r in runs:
        cells = []
        for s in (*STAGES, "transform"):
            cells.append(f"{r.busy[s]:.1f} ({100 * r.busy[s] / r.wall:.0f}%)" if s in r.busy and r.wall else "-")
        videos = str(r.videos) if r.videos else "-"
        vps = f"{r.videos_per_s:.3f}" if r.videos else "-"
        lines.append(f"| {r.name} | {videos} | {r.clips} | {r.wall:.1f} | {vps} | {r.clips_per_s:.2f} | {r.cores:.2f} | " + " | ".join(cells) + f" | {r.limit} |")
    return "\n".join(lines)


def by_name(runs: list[Run]) -> dict[str, Run]:
    return {r.name: r for r in runs}


def ratios(runs: dict[str, Run]) -> list[str]:
    out = []
    base = runs.get("baseline")
    for name in ("ours", "ours bf16"):
        if (ours := runs.get(name)) is None:
            continue
        if base:
            out.append(f"{name} / baseline: {ours.clips_per_s / base.clips_per_s:.2f}x clips/s (target >= 3x)")
        ceilings = [runs[k] for k in ("decode ceiling", f"engine ceiling{name[4:]}") if k in runs]
        if ceilings:
            low = min(ceilings, key=lambda r: r.clips_per_s)
            out.append(f"{name} / min(decode, engine ceiling) = {name} / {low.name}: {ours.clips_per_s / low.clips_per_s:.0%} (target >= 90%)")
        dec, eng = runs.get("decode ceiling"), runs.get(f"engine ceiling{name[4:]}")
        if dec and eng and dec.cpu and eng.cpu and ours.clips:
            # Decoding and the engine share the CPUs: together they cannot end sooner than their CPU seconds
            # spread over every core, nor sooner than either ceiling alone.
            engine_cpu, cores = eng.cpu * ours.clips / eng.clips, available_cpus()
            bound = max((dec.cpu + engine_cpu) / cores, dec.wall, ours.clips / eng.clips_per_s)
            out.append(f"{name} / shared-CPU bound: {bound / ours.wall:.0%} (decode {dec.cpu:.1f} + engine "
                       f"{engine_cpu:.1f} CPU-s over {cores} cores = {bound:.1f} s)")  # fmt: skip
    for name, run in runs.items():
        if name.startswith("ours, ") and "ours" in runs:
            what = "the engine threads' effect" if "engine thread" in name else "the decode plan's gain"
            out.append(f"ours / {name}: {runs['ours'].clips_per_s / run.clips_per_s:.2f}x clips/s ({what})")
    return out


def feature_agreement(a: Path, b: Path) -> str:
    """Worst clip's cosine similarity, and worst video's relative error, between two output folders."""
    cos, rel = [], []
    for _, x, y in matched_features(a, b):
        cos.append(clip_agreement(x, y)[0].min())
        rel.append(np.linalg.norm(x.astype(np.float64) - y) / (np.linalg.norm(x.astype(np.float64)) + 1e-12))
    return f"cosine >= {min(cos):.5f}, relative error <= {max(rel):.4f} over {len(cos)} videos" if cos else "no files"


def environment(args: argparse.Namespace, runtime: str, engine: Engine) -> dict[str, str]:
    dev = engine.device
    env = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU {platform.processor() or ''} ({available_cpus()} cores)".replace("  ", " "),
        "engine": f"{engine.describe()} (runtime {runtime}), batch {args.batch_size}, {torch.get_num_threads()} intra-op threads",
        "decode": args.decode,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    for name in ("av", "onnxruntime", "ray"):
        try:
            env[name] = __import__(name).__version__
        except (ImportError, AttributeError):
            env[name] = "not installed"
    return env


def markdown(runs: list[Run], env: dict[str, str], command: str, loads: list[str], videos: list[Path], notes: list[str]) -> str:
    out = [f"## Extraction end to end: {env['device']}, {env['date']}", "", f"Command: `{command}`", ""]
    out += [f"- {k}: {v}" for k, v in env.items() if k not in ("date", "device")]
    out += [f"- videos: {len(videos)} ({', '.join(sorted({str(Path(v).parent.relative_to(SHARED)) if SHARED in Path(v).parents else str(Path(v).parent) for v in videos}))})"]
    out += [f"- load average (1 min) at each step: {' -> '.join(loads)} (other processes share this machine)"]
    out += ["", table(runs), ""]
    out += [f"- {r}" for r in ratios(by_name(runs))]
    out += [f"- {r.name}: {r.note}" for r in runs if r.note]
    out += [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=Path, nargs="*", help="folders or files (default: ../shared/data/videos and davis/mp4)")
    p.add_argument("--limit", type=int, help="only the first N videos")
    p.add_argument("--model", type=Path, help="checkpoint or engine (default: random-init full-size R(2+1)D-10)")
    p.add_argument("--runtime", choices=("auto", "onnx", "torch"), default="auto", help="ours' runtime (auto: the path measured fastest, cached)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="full", help="random-init model when no --model: full or tiny (width 16, 8x64x64)")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, help="decode processes (default: the pipeline's)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--decode", choices=("cpu", "nvdec"), default="cpu")
    p.add_argument("--engine-batches", type=int, default=6, help="timed batches for the engine ceiling (half before ours, half after)")
    p.add_argument("--also-workers", type=int, metavar="W", help="also run ours with W decode processes and FFmpeg's own threads (the earlier plan: 1 on 2 CPUs)")
    p.add_argument("--also-threads", type=int, metavar="T", help="also run ours with T intra-op engine threads (`features --threads T`)")
    p.add_argument("--bf16", action="store_true", help="also run ours with --precision bf16 (PyTorch; fast on CPUs with AMX)")
    p.add_argument("--skip", default="", help="comma-separated runs to leave out: baseline,decode,engine")
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md", help="summary to record the run in ('-': print only)")
    p.add_argument("--note", action="append", default=[], help="a line for the notes")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    skip = set(filter(None, args.skip.split(",")))
    videos = real_videos(args.videos, args.limit)
    if not videos:
        raise SystemExit(f"no videos found (looked in {', '.join(str(SHARED / s) for s in VIDEO_SETS)})")
    loads = [f"{load_avg():.1f}"]
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as tmp:
        folder = Path(tmp)
        os.environ["MOSI_TOOL_CACHE"] = str(folder / "cache")  # `auto` measures on this run's machine state, not a cached choice
        checkpoint = args.model or make_checkpoint(folder, args.preset)
        model, runtime, note = engine_artifact(checkpoint, args.runtime, folder)
        notes = [note] if note else []
        engine = load_engine(model, device=args.device, runtime=runtime, batch_size=args.batch_size)
        args.device = str(engine.device)
        meta = engine.meta
        spec = ClipSpec(stack=meta.frames, mode="center", size=meta.crop)
        runs: list[Run] = []

        def step(make: Any) -> None:
            run = with_cpu(make) if callable(make) else make
            runs.append(run)
            loads.append(f"{load_avg():.1f}")
            print(f"{run.name}: {run.clips} clips in {run.wall:.1f} s = {run.clips_per_s:.2f} clips/s (limit {run.limit})", flush=True)

        if "decode" not in skip:
            step(lambda: run_decode_ceiling(videos, meta, spec, args))
        def ours_and_ceiling(name: str, eng: Engine, model: Path, runtime: str, precision: str) -> None:
            # The engine ceiling brackets ours (half its batches before, half after), so that load from other
            # processes that changes during the run weighs on both alike.
            first = run_engine_ceiling(eng, videos, spec, args, (args.engine_batches + 1) // 2) if "engine" not in skip else None
            ours = with_cpu(lambda: run_ours(videos, model, runtime, precision, args, folder / name.replace(" ", "-")))
            ours.name = name
            if first is not None:
                second = run_engine_ceiling(eng, videos, spec, args, args.engine_batches // 2)
                n = args.engine_batches
                step(Run(f"engine ceiling{name[4:]}", 0, first.clips + second.clips, first.wall + second.wall, {"engine": first.wall + second.wall},
                         f"{n} batches of {args.batch_size} pre-decoded clips, {(n + 1) // 2} before {name} and {n // 2} after",
                         first.cpu + second.cpu))  # fmt: skip
            step(ours)

        ours_and_ceiling("ours", engine, model, runtime, "fp32")
        if args.also_workers:
            w = args.also_workers
            earlier = with_cpu(lambda: run_ours(videos, model, runtime, "fp32", args, folder / "ours-w", (w, 0)))
            earlier.name = f"ours, {w} decoder{'s' * (w != 1)}"
            step(earlier)
        if args.also_threads:
            t = args.also_threads
            resolve_runtime(model, args.device, runtime, "fp32", args.batch_size, t)  # auto measures once per thread count, before the clock
            fewer = with_cpu(lambda: run_ours(videos, model, runtime, "fp32", args, folder / "ours-t", engine_threads=t))
            fewer.name = f"ours, {t} engine thread{'s' * (t != 1)}"
            step(fewer)
        if args.bf16 and checkpoint.suffix == ".safetensors":
            ours_and_ceiling("ours bf16", load_engine(checkpoint, device=args.device, runtime="torch", precision="bf16"), checkpoint, "torch", "bf16")
            notes.append(f"ours bf16: PyTorch, bf16 autocast, channels-last; features vs ours (fp32): {feature_agreement(folder / 'ours', folder / 'ours-bf16')}")
        if "baseline" not in skip:
            (folder / "base").mkdir()
            base_engine = load_engine(checkpoint, device=args.device, runtime="torch")
            base_engine.model.to(memory_format=torch.contiguous_format)  # type: ignore[attr-defined]  # plain eager, as the peers run it
            step(lambda: run_baseline(videos, base_engine, spec, folder / "base"))
            if runs[-1].clips != by_name(runs)["ours"].clips:
                notes.append(f"clip counts differ: ours {by_name(runs)['ours'].clips}, baseline {runs[-1].clips}")
        env = environment(args, runtime, engine)
    print()
    print(table(runs))
    for line in ratios(by_name(runs)):
        print(line)
    if str(args.report) != "-":
        command = "python bench/extract.py" + "".join(f" {shlex.quote(a)}" for a in (argv if argv is not None else sys.argv[1:]))
        append_report(args.report, markdown(runs, env, command, loads, videos, notes + args.note))
        print(f"recorded in {args.report}")
    print(json.dumps({r.name: round(r.clips_per_s, 3) for r in runs}))


if __name__ == "__main__":
    main()
