"""Decoding speed of one video at a time: `VideoReader.frames` against a plain PyAV loop, in the same run.

    python bench/decode.py                      # the shared DAVIS and sample videos, 3 alternating repeats

Both paths decode every frame of each video and resize it in swscale to the size the default model's
clips need (short side 73 px, `clips.geometry`), on the same videos, with FFmpeg's own thread count:
  plain PyAV loop   `for frame in container.decode(stream): frame.to_ndarray(...)` on one Python thread
                    (how video_features and most peers read a video)
  VideoReader       ours: the next frames decode on a helper thread while this one resizes (`read_ahead`)
Per run: frames/s and the cores kept busy. Records the run with bench/report.py (docs/benchmarks/, docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.extract import cpu_seconds  # noqa: E402
from bench.report import cpu_section, publish  # noqa: E402
from mosi_tool.batch.jobs import find_inputs  # noqa: E402
from mosi_tool.video.clips import geometry  # noqa: E402
from mosi_tool.video.decode import VideoError, VideoReader  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
CROP = 64  # the default model's crop


def plain_loop(path: Path, size: tuple[int, int]) -> int:
    """Frames decoded by the plain loop: decode and resize on one Python thread."""
    n = 0
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        for frame in c.decode(vs):
            frame.to_ndarray(format="rgb24", width=size[0], height=size[1])
            n += 1
    return n


def reader(path: Path, size: tuple[int, int]) -> int:
    """Frames decoded by ours."""
    return sum(1 for _ in VideoReader(path).frames(size))


def run_once(fn: Callable[[Path, tuple[int, int]], int], videos: list[tuple[Path, tuple[int, int]]]) -> tuple[int, float, float]:
    """(frames, wall s, CPU s) over every video."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    frames = sum(fn(p, size) for p, size in videos)
    return frames, time.perf_counter() - t0, cpu_seconds() - c0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=Path, nargs="*", help="folders or files (default: ../shared/data/davis/mp4 and videos)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md", help="summary to record the run in ('-': print only)")
    args = p.parse_args(argv)
    roots = args.videos or [SHARED / "davis" / "mp4", SHARED / "videos"]
    videos = []
    for path in find_inputs([r for r in roots if r.exists()]).videos:
        try:
            info = VideoReader(path).info
        except VideoError as e:
            print(f"skipped: {e}")
            continue
        videos.append((path, geometry("center", CROP, info.width, info.height).resize))
    if not videos:
        raise SystemExit(f"no videos found in {', '.join(map(str, roots))}")
    cases = {"plain PyAV loop": plain_loop, "VideoReader": reader}
    results: dict[str, list[tuple[int, float, float]]] = {name: [] for name in cases}
    for _ in range(args.repeats):  # alternating, so a change in load weighs on every case alike
        for name, fn in cases.items():
            results[name].append(run_once(fn, videos))
    rows, fps = [], {}
    for name, runs in results.items():
        frames = runs[0][0]
        wall = statistics.median(r[1] for r in runs)
        cores = statistics.median(r[2] / r[1] for r in runs)
        fps[name] = frames / wall
        rows.append(f"| {name} | auto | {frames} | {wall:.2f} | {frames / wall:.0f} | {cores:.2f} |")
    lines = [f"VideoReader / plain loop: {fps['VideoReader'] / fps['plain PyAV loop']:.2f}x frames/s"]
    sizes = sorted({f"{w}x{h}" for _, (w, h) in videos})
    table = ["| path | FFmpeg threads | frames | wall s | frames/s | cores busy |", "|---|---:|---:|---:|---:|---:|", *rows]
    facts = [f"{len(videos)} videos, every frame decoded and resized to {', '.join(sizes)} in swscale; medians of {args.repeats} alternating runs",
             f"av {av.__version__}, python {platform.python_version()}"]  # fmt: skip
    publish(cpu_section("Decoding one video at a time", "bench/decode.py", argv, facts, table, lines), args.report)


if __name__ == "__main__":
    main()
