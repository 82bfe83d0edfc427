"""What `saliency --masks --boxes` adds to the CPU time of `saliency` (the default `--method mv`) on 854x480.

    python bench/masks.py                          # DAVIS camel and dog (854x480 H.264), 3 rounds
    python bench/masks.py --videos A.mp4 B.mp4 --rounds 5

Each round runs, for every video, `python -m mosi_tool saliency VIDEO --out O.mp4` with and without
`--masks M.npy --boxes B.jsonl` as fresh processes, alternating which goes first, and reads each process's
CPU time (user + system, all threads) from wait4(). The ratio is of the sums over rounds, so load from
other jobs on a shared machine hits both sides alike; absolute times are not comparable across machines
or loads. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAVIS = ROOT.parent / "shared" / "data" / "davis" / "mp4"


def cpu_seconds(args: list[str]) -> float:
    """CPU seconds (user + system) of one child process running `args`; raises if it fails."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"error: {' '.join(args)} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", nargs="*", type=Path, default=[DAVIS / "camel.mp4", DAVIS / "dog.mp4"])
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    for v in a.videos:
        if not v.is_file():
            raise SystemExit(f"error: {v}: no such video")
    base = [sys.executable, "-m", "mosi_tool", "saliency"]
    totals = {"plain": 0.0, "masks+boxes": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for r in range(a.rounds):
            for v in a.videos:
                runs = {"plain": [*base, str(v), "--out", str(t / "o.mp4")],
                        "masks+boxes": [*base, str(v), "--out", str(t / "o.mp4"), "--masks", str(t / "m.npy"), "--boxes", str(t / "b.jsonl")]}
                order = list(runs) if r % 2 == 0 else list(runs)[::-1]
                for name in order:
                    totals[name] += cpu_seconds(runs[name])
    names = ", ".join(v.name for v in a.videos)
    print(f"| videos ({a.rounds} rounds) | saliency CPU s | with --masks --boxes CPU s | ratio |\n|---|---:|---:|---:|")
    print(f"| {names} | {totals['plain']:.1f} | {totals['masks+boxes']:.1f} | {totals['masks+boxes'] / totals['plain']:.2f}x |")


if __name__ == "__main__":
    main()
