"""`mosi-tool targets` on a folder of many short videos: the same bytes however the run is split or stopped.

    python bench/targets_batch.py --videos 200

Makes N short videos with known motion (2 of them not videos), then runs `mosi-tool targets` on the folder:
whole (2 workers), in 3 shards, with Ray, and once killed with SIGKILL part-way and run again. Prints whether every
run wrote byte-identical files and the same failures.jsonl, and the wall time of each.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.evaluation import known_motion as km  # noqa: E402


def outputs(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith("failures")}


def run(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mosi_tool", "targets", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=int, default=200)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-targets-batch-") as tmp:
        root = Path(tmp) / "videos"
        for i in range(args.videos - 2):
            folder = root / f"part{i % 7}"
            folder.mkdir(parents=True, exist_ok=True)
            sq = km.MovingSquare(10.0 + i % 20, 12.0, 24, (0.25 * (i % 9) - 1, 0.5), seed=i)
            km.encode(km.Scene(width=96, height=64, frames=10 + i % 13, background=(0.5 * (i % 3), -0.25), squares=(sq,)), folder / f"v{i}.mp4")
        (root / "part0" / "text.mp4").write_text("not a video\n")
        (root / "part1" / "empty.mp4").write_bytes(b"")
        out = Path(tmp) / "out"
        times = {"whole, 2 workers": run([str(root), "-o", str(out / "whole"), "-j", "2"])}
        t = 0.0
        for i in range(3):
            t += run([str(root), "-o", str(out / "shards"), "-j", "1", "--shard", f"{i}/3"])
        times["3 shards"] = t
        times["ray, 2 tasks"] = run([str(root), "-o", str(out / "ray"), "-j", "2", "--backend", "ray"])
        proc = subprocess.Popen([sys.executable, "-m", "mosi_tool", "targets", str(root), "-o", str(out / "killed"), "-j", "2"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        while len(list((out / "killed").rglob("*.npz"))) < args.videos // 3 and proc.poll() is None:
            time.sleep(0.05)  # kill it a third of the way through
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        partial = len(outputs(out / "killed"))
        times["killed, then resumed"] = run([str(root), "-o", str(out / "killed"), "-j", "2"])
        whole = outputs(out / "whole")
        fails = (out / "whole" / "failures.jsonl").read_text()
        print(f"{args.videos} inputs, {len(whole)} files written by the whole run")
        for name, folder in (("3 shards", "shards"), ("ray, 2 tasks", "ray"), ("killed, then resumed", "killed")):
            same = outputs(out / folder) == whole and (out / folder / "failures.jsonl").read_text() == fails
            extra = f" ({partial} files before the kill)" if folder == "killed" else ""
            print(f"{name}: byte-identical {same}{extra}, {times[name]:.1f} s")
        print(f"whole, 2 workers: {times['whole, 2 workers']:.1f} s")


if __name__ == "__main__":
    main()
