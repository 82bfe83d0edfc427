"""`mosi-tool saliency` against FFmpeg transcoding the same video with the same x264 settings, side by side.

    apt-get install -y ffmpeg                       # the bench's reference only; mosi-tool decodes with PyAV
    python bench/saliency_vs_ffmpeg.py              # 60 s of the shared DAVIS videos joined (854x480, 24 fps)
    python bench/saliency_vs_ffmpeg.py --seconds 20 --rounds 3 --video V.mp4
    python bench/saliency_vs_ffmpeg.py --old-code /work/main   # also the command from an older checkout

Each round runs, one after the other in a fresh process each: FFmpeg's transcode (`ffmpeg -i V -c:v libx264
-preset veryfast -crf 20 -x264-params mbtree=0 -pix_fmt yuv420p`, the overlay's encoder settings,
`saliency/render.OverlayVideo`), `python -m mosi_tool saliency V --out O.mp4` (the defaults: --method mv,
the overlay), and the motion pass alone (`saliency.motion.motion_pass`, for the reading). CPU time is the
child's user + system time (wait4), so it counts every thread and process start-up; wall time and frames/s
are reported too. The figure to read is the ratio of CPU times within a round (the machine is shared, so
absolute times move with the load); the medians over rounds make the table, recorded with bench/report.py
(docs/benchmarks/, docs/BENCHMARKS.md; `--report -` prints only). `--old-code DIR` adds the same command
run from an older checkout (e.g. `git archive COMMIT | tar -x -C DIR`), a baseline measured in the same rounds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.child import run_child  # noqa: E402

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-x264-params", "mbtree=0", "-pix_fmt", "yuv420p"]
MOTION_ONLY = "import sys; from mosi_tool.saliency.motion import motion_pass; motion_pass(sys.argv[1])[1].close()"




def frames_of(video: Path) -> tuple[int, int, int]:
    import av

    with av.open(str(video)) as c:
        vs = c.streams.video[0]
        return sum(1 for _ in c.decode(vs)), vs.width, vs.height


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, help="the video (default: the shared DAVIS videos joined to --seconds)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--old-code", type=Path, help="also run `saliency` from this checkout of older code (a baseline in the same run)")
    ap.add_argument("--old-name", default="", help="what --old-code is, for the report (e.g. 'commit f69f9f7')")
    ap.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md", help="summary to record the run in ('-': print only)")
    args = ap.parse_args()
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        sys.exit("ffmpeg not found: apt-get install -y ffmpeg (the bench's reference only)")
    with tempfile.TemporaryDirectory(prefix="bench-saliency-") as tmp:
        folder = Path(tmp)
        video = args.video
        if video is None:
            from bench.auto_features import davis_videos, make_video

            video = folder / "davis.mp4"
            make_video(video, args.seconds, davis_videos())
        n, w, h = frames_of(video)
        runs = {
            "ffmpeg transcode": [ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-threads", "0", "-i", str(video), *X264, "-an", str(folder / "t.mp4")],
            "mosi-tool saliency": [sys.executable, "-m", "mosi_tool", "saliency", str(video), "--out", str(folder / "o.mp4")],
            "motion pass alone": [sys.executable, "-c", MOTION_ONLY, str(video)],
        }
        code = {name: ROOT for name in runs}
        if args.old_code:
            runs["saliency, older code"] = [sys.executable, "-m", "mosi_tool", "saliency", str(video), "--out", str(folder / "old.mp4")]
            code["saliency, older code"] = args.old_code.resolve()
        cpu: dict[str, list[float]] = {k: [] for k in runs}
        wall: dict[str, list[float]] = {k: [] for k in runs}
        peak: dict[str, list[float]] = {k: [] for k in runs}
        ratio: list[float] = []
        loads = [os.getloadavg()[0]]
        for r in range(args.rounds):
            for name, cmd in runs.items():
                usage = run_child(cmd, code[name])
                cpu[name].append(usage.cpu_s)
                wall[name].append(usage.wall_s)
                peak[name].append(usage.peak_mb)
            ratio.append(cpu["mosi-tool saliency"][-1] / cpu["ffmpeg transcode"][-1])
            loads.append(os.getloadavg()[0])
            print(f"round {r + 1}: " + ", ".join(f"{k} {cpu[k][-1]:.1f} CPU-s" for k in runs) + f"; ratio {ratio[-1]:.2f}x", file=sys.stderr)
    base = statistics.median(cpu["ffmpeg transcode"])
    table = ["| run | CPU s | vs transcode (CPU) | wall s | frames/s (wall) | peak memory MB |", "|---|---:|---:|---:|---:|---:|"]
    for name in runs:
        c, t = statistics.median(cpu[name]), statistics.median(wall[name])
        table.append(f"| {name} | {c:.1f} | {c / base:.2f}x | {t:.1f} | {n / t:.1f} | {max(peak[name]):.0f} |")
    facts = [
        f"video: {n} frames, {w}x{h}, {video.name if args.video else f'{args.seconds:g} s of the shared DAVIS videos joined'}",
        f"ffmpeg -i V {' '.join(X264)} against `python -m mosi_tool saliency V --out O.mp4` (defaults: --method mv, "
        "the overlay; its own x264 settings), each a fresh process; CPU = user + system time of the process and its threads",
        f"medians of {args.rounds} interleaved rounds; 1-min load average before/after each round: " + " -> ".join(f"{x:.1f}" for x in loads),
    ]  # fmt: skip
    reading = [f"saliency / transcode CPU per round: {', '.join(f'{x:.2f}x' for x in ratio)} (median {statistics.median(ratio):.2f}x); "
               f"target at most 1.5x: {'met' if statistics.median(ratio) <= 1.5 else 'not met'}"]  # fmt: skip
    motion = statistics.median(cpu["motion pass alone"])
    reading.append("the command decodes the video once: its motion pass decodes the pictures with the vectors (one thread: "
                   "frame-threaded decoding exports racy vectors) and keeps them in memory for the overlay "
                   "(`video.kept_frames`), because the overlay's display range needs every frame's map before its first "
                   "frame is drawn (`saliency.display`); hence its peak memory")
    reading.append(f"the motion pass alone decodes the pictures with the vectors too, to measure each block's reference frame "
                   f"(`saliency.motion.MEASURE_REFERENCES`), without keeping them; with its process start-up it costs "
                   f"{motion / base:.2f}x the transcode")  # fmt: skip
    if args.old_code:
        old = [a / b for a, b in zip(cpu["saliency, older code"], cpu["mosi-tool saliency"])]
        reading.append(f"older code ({args.old_name or args.old_code}) / this code, CPU per round: {', '.join(f'{x:.2f}x' for x in old)}")
    from bench.report import cpu_section, publish

    publish(cpu_section("Saliency vs FFmpeg transcode", "bench/saliency_vs_ffmpeg.py", None, facts, table, reading), args.report)

if __name__ == "__main__":
    main()
