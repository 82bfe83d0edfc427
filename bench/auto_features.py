"""`mosi-tool features` with `--runtime auto` against eager PyTorch fp32, on one 20 s 854x480 video.

    python bench/auto_features.py                    # random-init small model (width 16, 8x64x64)
    python bench/auto_features.py --model best.safetensors

The video is made once from the DAVIS sequences under ../shared/data/davis/mp4 (854x480, 24 fps), joined
until it lasts `--seconds`. One run measures, side by side and in alternation (`--repeats`):
  dense    --step 1 (a clip at every frame: the engine dominates), `--runtime torch --precision fp32` vs `auto`
  default  the default step (= the model's frames), the same two
auto's one-time measurement is made first and timed on its own (later runs read the cached choice).
Reports wall seconds, clips/s, the ratio auto / eager and the features' worst cosine between the two.
Records the run with bench/report.py (docs/benchmarks/, docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.agreement import clip_agreement, matched_features  # noqa: E402
from mosi_tool.pipeline.extract import ExtractOptions, extract  # noqa: E402

SHARED = Path(os.environ.get("MOSI_SHARED_DATA", ROOT.parent / "shared" / "data"))


def davis_videos() -> list[Path]:
    """The shared DAVIS sequences' mp4 files (854x480, 24 fps), sorted; exits when there are none."""
    sources = sorted((SHARED / "davis" / "mp4").glob("*.mp4"))
    if not sources:
        raise SystemExit(f"no DAVIS videos under {SHARED / 'davis' / 'mp4'}")
    return sources


def make_video(out: Path, seconds: float, sources: list[Path]) -> tuple[int, int, int]:
    """Join the sources' frames (all one size) into an H.264 video of `seconds`; returns (frames, width, height)."""
    import av

    with av.open(str(sources[0])) as c:
        rate = c.streams.video[0].average_rate or 24
    want = int(seconds * float(rate))
    n = 0
    with av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=rate)
        stream.pix_fmt, stream.options = "yuv420p", {"crf": "23", "preset": "veryfast"}
        while n < want:
            for src in sources:
                with av.open(str(src)) as c:
                    for frame in c.decode(video=0):
                        if n == 0:
                            stream.width, stream.height = frame.width, frame.height
                        if (frame.width, frame.height) != (stream.width, stream.height) or n >= want:
                            continue
                        out_frame = frame.reformat(format="yuv420p")
                        out_frame.pts, out_frame.time_base = n, Fraction(1) / Fraction(rate)  # one timeline across sources
                        dst.mux(stream.encode(out_frame))
                        n += 1
        dst.mux(stream.encode())
    return n, stream.width, stream.height


def tiny_checkpoint(folder: Path) -> Path:
    from mosi_tool.checkpoint import save_checkpoint
    from mosi_tool.metadata import ModelMeta
    from mosi_tool.models.backbones import build_backbone

    torch.manual_seed(0)
    model = build_backbone("r2plus1d_10", 9, width=16)
    path = folder / "r2plus1d_10-w16-random.safetensors"
    save_checkpoint(path, model, ModelMeta(arch="r2plus1d_10", width=16, frames=8, crop=64, source_size=160, feature_dim=model.feature_dim))
    return path


def run(video: Path, model: Path, out: Path, runtime: str, precision: str, step: int | None, args: argparse.Namespace) -> tuple[float, int]:
    opts = ExtractOptions(model=str(model), out_dir=out, devices=["cpu"], runtime=runtime, precision=precision, step=step,
                          batch_size=args.batch_size, workers=args.workers, overwrite=True, progress=False)  # fmt: skip
    t0 = time.perf_counter()
    report = extract([video], opts)
    if report.failed:
        raise SystemExit(f"{video}: extraction failed ({out / 'failures.jsonl'})")
    return time.perf_counter() - t0, report.clips


def worst_cosine(a: Path, b: Path) -> float:
    return float(min(clip_agreement(x, y)[0].min() for _, x, y in matched_features(a, b)))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, help="checkpoint (default: random-init width-16 8x64x64 R(2+1)D-10)")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, help="decode processes (default: the pipeline's)")
    p.add_argument("--repeats", type=int, default=2, help="alternations of eager and auto per setting")
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md", help="summary to record the run in ('-': print only)")
    args = p.parse_args(argv)
    sources = davis_videos()
    from mosi_tool.tune import tune

    loads = [f"{os.getloadavg()[0]:.1f}"]
    with tempfile.TemporaryDirectory(prefix="bench-auto-") as tmp:
        folder = Path(tmp)
        os.environ["MOSI_TOOL_CACHE"] = str(folder / "cache")  # auto measures afresh, its one-time cost included
        video = folder / "davis-joined.mp4"
        frames, width, height = make_video(video, args.seconds, sources)
        model = args.model or tiny_checkpoint(folder)
        t0 = time.perf_counter()
        choice = tune(model, args.batch_size, None, log=print)
        choose_s = time.perf_counter() - t0
        rows = []
        for name, step in (("dense (--step 1)", 1), ("default step", None)):
            times: dict[str, list[float]] = {"eager": [], "auto": []}
            clips = 0
            for _ in range(args.repeats):
                for label, runtime, precision in (("eager", "torch", "fp32"), ("auto", "auto", "fp32")):
                    wall, clips = run(video, model, folder / f"{label}-{step}", runtime, precision, step, args)
                    times[label].append(wall)
                    print(f"{name} {label}: {clips} clips in {wall:.1f} s", flush=True)
            loads.append(f"{os.getloadavg()[0]:.1f}")
            eager, auto = statistics.median(times["eager"]), statistics.median(times["auto"])
            cos = worst_cosine(folder / f"eager-{step}", folder / f"auto-{step}")
            rows.append((name, clips, eager, auto, cos))
    lines = [
        "| run | clips | eager torch fp32 s | auto s | eager clips/s | auto clips/s | auto / eager | features cosine (worst clip) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, clips, eager, auto, cos in rows:
        lines.append(f"| {name} | {clips} | {eager:.1f} | {auto:.1f} | {clips / eager:.1f} | {clips / auto:.1f} | {eager / auto:.2f}x | {cos:.6f} |")
    table = "\n".join(lines)
    print(table)
    if str(args.report) != "-":
        from mosi_tool.runtimes.cpu import cpu_info

        cpu = cpu_info()
        command = "python bench/auto_features.py" + "".join(f" {shlex.quote(a)}" for a in (argv if argv is not None else sys.argv[1:]))
        section = [
            f"## features --runtime auto vs eager: CPU {cpu.name} ({cpu.cores} cores), {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}", "",
            f"Command: `{command}`", "",
            f"- video: {frames} frames {width}x{height} ({args.seconds:g} s of DAVIS sequences joined); batch {args.batch_size}; "
            f"model: {args.model or 'random-init R(2+1)D-10 width 16, 8x64x64 (the small default size; weights do not change speed)'}",
            f"- auto's choice: {choice.label}; {choice.reason}; measuring it took {choose_s:.1f} s once (cached after)",
            f"- torch {torch.__version__}; medians of {args.repeats} alternating runs; load average (1 min): {' -> '.join(loads)} "
            "(other processes share this machine)", "", table, "",
        ]  # fmt: skip
        from bench.report import append_report

        append_report(args.report, "\n".join(section))
        print(f"recorded in {args.report}")


if __name__ == "__main__":
    main()
