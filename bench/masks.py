"""What `saliency --masks --boxes` adds to the CPU time of `saliency` (the default `--method mv`) on 854x480.

    python bench/masks.py                          # DAVIS camel and dog (854x480 H.264), 3 rounds
    python bench/masks.py --videos A.mp4 B.mp4 --rounds 5
    python bench/masks.py --videos V.mp4 --baseline-code /path/to/older/checkout --baseline-name 'commit abc'
    python bench/masks.py --refines                # CPU ms/frame of the mask step per appearance refinement
    python bench/masks.py --primary                # also `--masks --boxes --primary` in every round

Each round runs, for every video, `python -m mosi_tool saliency VIDEO --out O.mp4` with and without
`--masks M.npy --boxes B.jsonl` as fresh processes, alternating which goes first (and, with --baseline-code,
the same two runs of that checkout's code, alternated with this code's), and reads each process's CPU time
(user + system, all threads) from wait4(). The ratio is of the sums over rounds, so load from other jobs on a
shared machine hits both sides alike; absolute times are not comparable across machines or loads. Records the
table with bench/report.py (docs/BENCHMARKS.md; --report - prints only). The budget: masks and boxes add at
most 25% (docs/EVALUATION.md 2c, "Speed"). With --refines, it times instead, in this process,
`MaskTracker.update` alone (CPU time, the videos' maps, the masks' own maps and pictures made once) for each
`MaskConfig.refine`, the colour step at short side 240, without the masks' own map, with the valley cut and
with the optical-flow maps (`MaskConfig.optical_flow`),
alternating the order per round, to compare settings that `saliency` has no option for.
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
sys.path.insert(0, str(ROOT))


def cpu_seconds(args: list[str], code: Path = ROOT) -> float:
    """CPU seconds (user + system) of one child process running `args` with the package of checkout `code`;
    raises if it fails."""
    env = dict(os.environ, PYTHONPATH=str(code))  # and run from `code`: `python -m` puts the working folder first
    proc = subprocess.Popen(args, env=env, cwd=code, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"error: {' '.join(args)} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return usage.ru_utime + usage.ru_stime


def refine_costs(videos: list[Path], rounds: int) -> None:
    """Print CPU ms/frame of `MaskTracker.update` per refinement (see the module docstring)."""
    import time

    from mosi_tool.evaluation.segmentation import Inputs
    from mosi_tool.saliency.appearance import AppearanceConfig
    from mosi_tool.saliency.masks import VALLEY_SHARE, MaskConfig, MaskTracker, map_size

    configs = {"none": MaskConfig(refine="none"), "colour (default)": MaskConfig(), "grabcut": MaskConfig(refine="grabcut"),
               "colour at 240": MaskConfig(appearance=AppearanceConfig(short_side=240)),
               "colour, without the masks' own map": MaskConfig(sharp=False), "colour, cut along valleys": MaskConfig(valley=VALLEY_SHARE),
               "colour, with optical-flow maps": MaskConfig(optical_flow=True)}  # fmt: skip
    data = []
    for v in videos:
        x = Inputs(v, None, 10**9)
        w, h = x.size
        size = map_size(w, h)  # every config's but GrabCut's colour size is the default's
        data.append(((w, h), x.raw_maps(size), x.raw_maps(size, sharp=True), {n: x.pictures(c) for n, c in configs.items()}))
    totals, frames = dict.fromkeys(configs, 0.0), sum(len(p["none"]) for *_, p in data)
    for r in range(rounds):
        for name in list(configs)[:: 1 if r % 2 == 0 else -1]:
            for frame, raw, sharp, pictures in data:
                tracker = MaskTracker(configs[name])
                t0 = time.process_time()
                for i, pic in enumerate(pictures[name]):
                    tracker.update(raw[min(i, len(raw) - 1)], pic, frame_size=frame, sharp=sharp[min(i, len(sharp) - 1)])
                totals[name] += time.process_time() - t0
    base = totals["none"]
    print(f"| refine ({', '.join(v.name for v in videos)}, {rounds} rounds) | CPU ms/frame | x none |\n|---|---:|---:|")
    for name, t in totals.items():
        print(f"| {name} | {1000 * t / (rounds * frames):.1f} | {t / base:.2f}x |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", nargs="*", type=Path, default=[DAVIS / "camel.mp4", DAVIS / "dog.mp4"])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--baseline-code", type=Path, help="a checkout of other code (its repository root) measured in the same rounds")
    p.add_argument("--baseline-name", default="baseline code")
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md", help="'-': print only")
    p.add_argument("--refines", action="store_true", help="time the mask step per appearance refinement instead")
    p.add_argument("--primary", action="store_true", help="also run `--masks --boxes --primary` (the primary mover) in every round")
    a = p.parse_args(argv)
    for v in a.videos:
        if not v.is_file():
            raise SystemExit(f"error: {v}: no such video")
    if a.baseline_code is not None and not (a.baseline_code / "mosi_tool").is_dir():
        raise SystemExit(f"error: {a.baseline_code}: no mosi_tool package in it")
    if a.refines:
        return refine_costs(a.videos, a.rounds)
    import av
    import numpy as np

    from bench.report import cpu_section, publish

    codes = {"this code": ROOT} | ({a.baseline_name: a.baseline_code.resolve()} if a.baseline_code else {})
    base = [sys.executable, "-m", "mosi_tool", "saliency"]
    kinds = ("plain", "masks", "primary") if a.primary else ("plain", "masks")
    totals = {(c, k): 0.0 for c in codes for k in kinds}
    ratios: dict[str, list[float]] = {c: [] for c in codes}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for r in range(a.rounds):
            for c in list(codes)[:: 1 if r % 2 == 0 else -1]:
                spent = dict.fromkeys(kinds, 0.0)
                for v in a.videos:
                    runs = {"plain": [*base, str(v), "--out", str(t / "o.mp4")],
                            "masks": [*base, str(v), "--out", str(t / "o.mp4"), "--masks", str(t / "m.npy"), "--boxes", str(t / "b.jsonl")]}  # fmt: skip
                    if a.primary:
                        runs["primary"] = [*runs["masks"], "--primary"]
                    for name in list(runs)[:: 1 if r % 2 == 0 else -1]:
                        spent[name] += cpu_seconds(runs[name], codes[c])
                for k, x in spent.items():
                    totals[c, k] += x
                ratios[c].append(spent["masks"] / spent["plain"])
    frames = sum(int(av.open(str(v)).streams.video[0].frames) for v in a.videos)
    extra = " with --primary CPU s | ratio | --primary's own, CPU ms/frame |" if a.primary else ""
    table = ["| code | saliency CPU s | with --masks --boxes CPU s | ratio | ratio per round | masks and boxes, CPU ms/frame |" + extra,
             "|---|---:|---:|---:|---|---:|" + ("---:|---:|---:|" if a.primary else "")]  # fmt: skip
    for c in codes:
        plain, masks = totals[c, "plain"], totals[c, "masks"]
        row = (f"| {c} | {plain:.1f} | {masks:.1f} | {masks / plain:.2f}x | {', '.join(f'{x:.2f}' for x in ratios[c])} | "
               f"{1000 * (masks - plain) / (a.rounds * frames):.2f} |")  # fmt: skip
        if a.primary:
            primary = totals[c, "primary"]
            row += f" {primary:.1f} | {primary / plain:.2f}x | {1000 * (primary - masks) / (a.rounds * frames):.2f} |"
        table.append(row)
    import cv2

    facts = [f"videos: {', '.join(v.name for v in a.videos)} ({frames} frames), {a.rounds} rounds; CPU s summed over the rounds",
             f"Python {sys.version.split()[0]}, numpy {np.__version__}, OpenCV {cv2.__version__}, PyAV {av.__version__}"]  # fmt: skip
    lines = ["budget: masks and boxes add at most 25% to `saliency`'s CPU time (docs/EVALUATION.md 2c)"]
    publish(cpu_section("Motion masks and boxes: their cost in `saliency`", "bench/masks.py", argv, facts, table, lines), a.report)


if __name__ == "__main__":
    main()
