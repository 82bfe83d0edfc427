"""Motion-vector extraction and `saliency --method mv` speed on the DAVIS videos (854x480 H.264).

    python bench/motion_vectors.py                    # ../shared/data/davis/mp4, recorded in docs/BENCHMARKS.md

Runs, on the same videos in one process run (frames/s over all videos; wall and CPU seconds):
  decode only       PyAV decode, frame threads, no vectors, no pixel conversion (the decoder's own speed)
  vectors           `codec_frames`: decode with exported vectors + per-cell rasterisation (one thread:
                    frame threads export racy vectors)
  motion field      `read_motion`: the above + reference distances, gap filling and the camera fit
  motion field x2   the same, two videos at a time in two processes (throughput of a batch of videos)
  baseline flow     the previous camera-compensated baseline: decode to grey at 427x240 + Farneback flow
  saliency mv       `mosi-tool saliency --method mv` end to end: motion field, maps, and the overlay video
                    (decoded again, blended, x264-encoded) at the original resolution
Records the run with bench/report.py (docs/benchmarks/, docs/BENCHMARKS.md) with the machine, versions, command, load average and ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.evaluation import baselines as bl  # noqa: E402
from mosi_tool.video import motion as mv  # noqa: E402
from mosi_tool.video.motion.codec import codec_frames  # noqa: E402
from mosi_tool.video.decode import VideoReader  # noqa: E402

SHARED = Path(os.environ.get("MOSI_SHARED_DATA", ROOT.parent / "shared" / "data"))


def decode_only(path: Path) -> int:
    n = 0
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        for _ in c.decode(vs):
            n += 1
    return n


def vectors(path: Path) -> int:
    info = VideoReader(path).info
    got = codec_frames(path, 0, (info.width, info.height), mv.CELL, None)
    assert got is not None, f"{path}: no motion vectors"
    return sum(1 for _ in got[1])


def motion_field(path: Path) -> int:
    return len(mv.read_motion(path).vectors)


def baseline_flow(path: Path) -> int:
    info = VideoReader(path).info
    gray = bl.read_gray(path, bl.working_size(info.width, info.height))
    bl.compensated_flow(bl.farneback_flow(gray))
    return len(gray)


def saliency_mv(path: Path) -> int:
    from mosi_tool.saliency.compute import compute_motion_saliency
    from mosi_tool.saliency.render import render

    with tempfile.TemporaryDirectory(prefix="bench-mv-") as tmp:
        result = compute_motion_saliency(path)
        render(path, result, overlay=Path(tmp) / "o.mp4")
    return len(result.frame_times)


def timed(fn, videos: list[Path], jobs: int = 1) -> tuple[int, float, float]:  # noqa: ANN001
    """(frames, wall seconds, CPU seconds of this process and its children)."""
    c0, w0 = os.times(), time.perf_counter()
    if jobs == 1:
        frames = sum(fn(v) for v in videos)
    else:
        with ProcessPoolExecutor(jobs) as pool:
            frames = sum(pool.map(fn, videos))
    c1, w1 = os.times(), time.perf_counter()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
    return frames, w1 - w0, cpu


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=Path, nargs="*", help="video files (default: ../shared/data/davis/mp4/*.mp4)")
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md", help="summary to record the run in ('-': print only)")
    args = p.parse_args(argv)
    videos = args.videos or sorted((SHARED / "davis" / "mp4").glob("*.mp4"))
    if not videos:
        raise SystemExit(f"no videos (looked in {SHARED / 'davis' / 'mp4'})")
    for v in videos:  # warm the file cache
        v.read_bytes()
    runs = [("decode only", decode_only, 1), ("vectors", vectors, 1), ("motion field", motion_field, 1),
            ("motion field x2", motion_field, 2), ("baseline flow", baseline_flow, 1), ("saliency mv", saliency_mv, 1)]  # fmt: skip
    rows, loads = {}, [f"{os.getloadavg()[0]:.1f}"]
    for name, fn, jobs in runs:
        rows[name] = timed(fn, videos, jobs)
        loads.append(f"{os.getloadavg()[0]:.1f}")
        f, w, c = rows[name]
        print(f"{name:16s} {f} frames  {f / w:7.1f} frames/s wall  {c / f * 1000:6.2f} CPU ms/frame", flush=True)
    sizes = sorted({f"{VideoReader(v).info.width}x{VideoReader(v).info.height}" for v in videos})
    head = "| run | frames | wall s | frames/s | CPU ms/frame | vs baseline flow |\n|---|---:|---:|---:|---:|---:|"
    base = rows["baseline flow"][0] / rows["baseline flow"][1]
    lines = [f"| {n} | {f} | {w:.2f} | {f / w:.1f} | {c / f * 1000:.2f} | {f / w / base:.1f}x |" for n, (f, w, c) in rows.items()]
    command = "python " + " ".join(shlex.quote(a) for a in ["bench/motion_vectors.py", *(argv if argv is not None else sys.argv[1:])])
    section = "\n".join([
        f"## Motion vectors and `saliency --method mv`: CPU ({os.cpu_count()} cores), {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
        "", f"Command: `{command}`", "",
        f"- videos: {len(videos)} ({', '.join(sizes)}, H.264), {sum(r for r, *_ in [rows['decode only']])} frames",
        f"- python {platform.python_version()}, av {av.__version__}, numpy {np.__version__}, opencv {__import__('cv2').__version__}",
        f"- load average (1 min) before and after each run: {' -> '.join(loads)} (other processes share this machine)",
        "", head, *lines, "",
        "- vectors / motion field run in one thread (frame-threaded decoding exports racy vectors); `x2` runs two",
        "  videos at a time in two processes. CPU ms/frame counts this process and its children.",
    ])  # fmt: skip
    print(section)
    if str(args.report) != "-":
        from bench.report import append_report

        append_report(args.report, section)


if __name__ == "__main__":
    main()
