"""`mosi-tool saliency --maps` on long videos: peak memory and time against the video's length.

    python bench/saliency_long.py                              # 1, 5 and 20 minutes of 640x360 at 25 fps
    python bench/saliency_long.py --old-code DIR               # also a checkout of older code (at 1 minute)
    python bench/saliency_long.py --method cam                 # another --method

The videos are stream copies of ../shared/bugcases/long_5min_640x360.mp4 (FFmpeg's testsrc2; `--source`),
cut or repeated to length at its 10 s keyframes, so every length has the same content per minute. Each run is
a fresh `python -m mosi_tool saliency VIDEO --out O.mp4 --maps M.npy` process on the CPU; its peak RSS comes
from wait4(). The baseline, measured in the same run, is the same command without `--maps` (the overlay
alone; `--baseline-minutes`, default 1). The engine is a random-init R(2+1)D-10 at width 16 with 8x64x64 clips, the architecture of the
current default model (weights do not change speed or memory). Records the run with bench/report.py (docs/benchmarks/, docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import av
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.child import run_child  # noqa: E402

SOURCE = ROOT.parent / "shared" / "bugcases" / "long_5min_640x360.mp4"


@dataclass
class Run:
    name: str
    minutes: float
    frames: int
    wall: float
    peak_mb: float
    maps_mb: float | None


from mosi_tool.saliency.defaults import DEFAULT_METHOD  # noqa: E402
from mosi_tool.video.clips import geometry  # noqa: E402


def make_video(source: Path, out: Path, minutes: float) -> int:
    """Stream-copy `source` into `out`, repeated or cut at a keyframe to `minutes`; returns the frame count."""
    limit = minutes * 60
    frames = 0
    with av.open(str(source)) as src, av.open(str(out), "w") as dst:
        vs = src.streams.video[0]
        os_ = dst.add_stream_from_template(vs)
        tb = vs.time_base
        length = round(src.duration / av.time_base / tb)  # the source's duration in its own ticks
        offset = 0
        while True:
            src.seek(0)
            for packet in src.demux(vs):
                if packet.dts is None:
                    continue
                if float((packet.pts + offset) * tb) >= limit and packet.is_keyframe:
                    return frames
                packet.pts += offset
                packet.dts += offset
                packet.stream = os_
                dst.mux(packet)
                frames += 1
            offset += length


def tiny_checkpoint(path: Path) -> Path:
    from mosi_tool.checkpoint import save_checkpoint
    from mosi_tool.metadata import ModelMeta
    from mosi_tool.models.backbones import build_backbone

    torch.manual_seed(0)
    model = build_backbone("r2plus1d_10", 9, width=16)
    save_checkpoint(path, model, ModelMeta(arch="r2plus1d_10", width=16, frames=8, crop=64, source_size=128, feature_dim=model.feature_dim))
    return path


def joined_davis(out: Path) -> None:
    """One minute of the shared DAVIS videos (854x480, 24 fps), joined and re-encoded once."""
    from bench.auto_features import davis_videos, make_video as join

    join(out, 60, davis_videos())


def probe(video: Path) -> tuple[int, int, float]:
    """(width, height, frame rate) of the video's first stream."""
    with av.open(str(video)) as c:
        vs = c.streams.video[0]
        return vs.width, vs.height, float(vs.average_rate or 0)


def measure(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process; raises if it fails."""
    usage = run_child(cmd, cwd)
    return usage.wall_s, usage.peak_mb


def saliency_cmd(video: Path, model: Path, folder: Path, maps: bool, method: str | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "mosi_tool", "saliency", str(video), "--model", str(model), "--out", str(folder / f"{video.stem}.overlay.mp4"), "--device", "cpu"]
    cmd += ["--method", method] if method else []
    return cmd + (["--maps", str(folder / f"{video.stem}.maps.npy")] if maps else [])


def table(runs: list[Run]) -> str:
    lines = ["| run | video min | frames | wall s | s per video min | frames/s | peak RSS MB | maps file MB |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        maps = f"{r.maps_mb:.0f}" if r.maps_mb is not None else "-"
        lines.append(f"| {r.name} | {r.minutes:g} | {r.frames} | {r.wall:.1f} | {r.wall / r.minutes:.1f} | {r.frames / r.wall:.1f} | {r.peak_mb:.0f} | {maps} |")
    return "\n".join(lines)


def ratios(runs: list[Run]) -> list[str]:
    maps = [r for r in runs if r.name == "maps"]
    base = {r.minutes: r for r in runs if r.name == "overlay only (baseline)"}
    out = []
    if len(maps) > 1:
        a, b = maps[0], maps[-1]
        out.append(
            f"maps, {b.minutes:g} min vs {a.minutes:g} min: {b.minutes / a.minutes:.0f}x the length, "
            f"{b.wall / a.wall:.2f}x the time ({b.wall / b.minutes / (a.wall / a.minutes):.2f}x per minute), {b.peak_mb / a.peak_mb:.2f}x the peak RSS"
        )
    for r in (r for r in runs if r.name == "maps, older code"):
        new = next((m for m in maps if m.frames == r.frames), None)
        if new:
            out.append(f"maps / older code at {r.minutes:g} min: {new.wall / r.wall:.2f}x the time, {new.peak_mb / r.peak_mb:.2f}x the peak RSS")
    for r in maps:
        if r.minutes in base:
            o = base[r.minutes]
            out.append(f"maps / overlay only at {r.minutes:g} min: {r.wall / o.wall:.2f}x the time, {r.peak_mb / o.peak_mb:.2f}x the peak RSS")
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 20])
    p.add_argument("--source", type=Path, default=SOURCE,
                   help="the video repeated or cut to each length; 'davis': the shared DAVIS sequences joined into one 854x480 minute")
    p.add_argument("--old-code", type=Path, help="a checkout of older code, run the same way at --old-minutes")
    p.add_argument("--old-minutes", type=float, nargs="*", default=[1])
    p.add_argument("--baseline-minutes", type=float, nargs="*", default=[1], help="lengths also run without --maps")
    p.add_argument("--method", help="saliency --method (default: the command's own default)")
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md", help="summary to record the run in ('-': print only)")
    args = p.parse_args(argv)
    davis = str(args.source) == "davis"
    if not davis and not args.source.exists():
        raise SystemExit(f"{args.source}: no such file (see ../shared/bugcases/make_cases.sh, or pass --source)")
    runs: list[Run] = []
    loads = []
    with tempfile.TemporaryDirectory(prefix="mosi-bench-") as tmp:
        folder = Path(tmp)
        if davis:
            args.source = folder / "davis-joined.mp4"
            joined_davis(args.source)
        width, height, rate = probe(args.source)
        model = tiny_checkpoint(folder / "tiny.safetensors")
        warm = folder / "warm.mp4"
        make_video(args.source, warm, 10 / 60)
        measure(saliency_cmd(warm, model, folder, True, args.method), ROOT)  # untimed: builds the cached ONNX engine once
        for minutes in args.minutes:
            video = folder / f"long_{minutes:g}min.mp4"
            frames = make_video(args.source, video, minutes)
            with av.open(str(video)) as c:
                length = float(c.duration / av.time_base) / 60
            baseline = [("overlay only (baseline)", False)] if minutes in args.baseline_minutes else []
            for name, maps in [*baseline, ("maps", True)]:
                loads.append(f"{os.getloadavg()[0]:.1f}")
                wall, peak = measure(saliency_cmd(video, model, folder, maps, args.method), ROOT)
                size = (folder / f"{video.stem}.maps.npy").stat().st_size / 1e6 if maps else None
                runs.append(Run(name, length, frames, wall, peak, size))
                print(table(runs[-1:]).splitlines()[-1], flush=True)
                (folder / f"{video.stem}.maps.npy").unlink(missing_ok=True)
            if args.old_code and minutes in args.old_minutes:
                loads.append(f"{os.getloadavg()[0]:.1f}")
                wall, peak = measure(saliency_cmd(video, model, folder, True, args.method), args.old_code)
                size = (folder / f"{video.stem}.maps.npy").stat().st_size / 1e6
                runs.append(Run("maps, older code", length, frames, wall, peak, size))
                print(table(runs[-1:]).splitlines()[-1], flush=True)
                (folder / f"{video.stem}.maps.npy").unlink(missing_ok=True)
            video.unlink()
    maps_w, maps_h = geometry("full", 64, width, height).resize
    commit = ""
    if args.old_code:  # a git checkout, or an unpacked `git archive` with its commit written to COMMIT
        stamp = args.old_code / "COMMIT"
        git = ["git", "rev-parse", "--short", "HEAD"]
        commit = stamp.read_text().strip() if stamp.exists() else subprocess.run(git, cwd=args.old_code, capture_output=True, text=True).stdout.strip()
    env = [
        f"device: CPU {platform.processor() or ''} ({os.cpu_count()} cores, the 2-core development machine when run there)".replace("  ", " "),
        f"python {platform.python_version()}, torch {torch.__version__}, av {av.__version__}",
        f"method: {args.method or 'the default (' + DEFAULT_METHOD + ')'}; model: random-init R(2+1)D-10 width 16, 8x64x64 clips, "
        f"default runtime on CPU (with `mv` it only sets the maps' scale); maps {maps_w}x{maps_h} float16 (the model's input scale)",
        f"source: {'the DAVIS sequences joined (bench/auto_features.make_video)' if davis else args.source.name} ({width}x{height}, {rate:g} fps), stream-copied to each length",
        f"load average (1 min) before each run: {' -> '.join(loads)}",
    ]
    if args.old_code:
        env.append(f"older code: {args.old_code} at {commit} (maps at the original resolution)")
    command = "python bench/saliency_long.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    section = "\n".join(
        [f"## Saliency maps on long videos: CPU, {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}", "", f"Command: `{command.strip()}`", ""]
        + [f"- {e}" for e in env] + ["", table(runs), ""] + [f"- {r}" for r in ratios(runs)]
    ) + "\n"  # fmt: skip
    print("\n" + section)
    if str(args.report) != "-":
        from bench.report import append_report

        append_report(args.report, section)


if __name__ == "__main__":
    main()
