"""What `saliency --masks --boxes` adds to the CPU time of `saliency` (the default `--method mv`) on 854x480.

    python bench/masks.py                          # DAVIS camel and dog (854x480 H.264), 3 rounds
    python bench/masks.py --videos A.mp4 B.mp4 --rounds 5
    python bench/masks.py --refines                # CPU ms/frame of the mask step per appearance refinement

Each round runs, for every video, `python -m mosi_tool saliency VIDEO --out O.mp4` with and without
`--masks M.npy --boxes B.jsonl` as fresh processes, alternating which goes first, and reads each process's
CPU time (user + system, all threads) from wait4(). The ratio is of the sums over rounds, so load from
other jobs on a shared machine hits both sides alike; absolute times are not comparable across machines
or loads. Prints a Markdown table. With --refines, it times instead, in this process, `MaskTracker.update`
alone (CPU time, the videos' maps, the masks' own maps and frames made once) for each `MaskConfig.refine`,
the colour step at short side 240, without the masks' own map and with the valley cut, alternating the order
per round, to compare settings that `saliency` has no option for.
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


def refine_costs(videos: list[Path], rounds: int) -> None:
    """Print CPU ms/frame of `MaskTracker.update` per refinement (see the module docstring)."""
    import time

    sys.path.insert(0, str(ROOT))
    from mosi_tool.evaluation.segmentation import Inputs
    from mosi_tool.saliency.appearance import AppearanceConfig
    from mosi_tool.saliency.masks import VALLEY_SHARE, MaskConfig, MaskTracker, work_size

    configs = {"none": MaskConfig(refine="none"), "colour (default)": MaskConfig(), "grabcut": MaskConfig(refine="grabcut"),
               "colour at 240": MaskConfig(appearance=AppearanceConfig(short_side=240)),
               "colour, without the masks' own map": MaskConfig(sharp=False), "colour, cut along valleys": MaskConfig(valley=VALLEY_SHARE)}  # fmt: skip
    data = []
    for v in videos:
        x = Inputs(v, None, 10**9)
        h, w = x.frames[0].shape[:2]
        data.append((x.raw_maps(work_size(w, h)), x.raw_maps(work_size(w, h), sharp=True), x.frames))
    totals, frames = dict.fromkeys(configs, 0.0), sum(len(f) for _, _, f in data)
    for r in range(rounds):
        for name in list(configs)[:: 1 if r % 2 == 0 else -1]:
            for raw, sharp, images in data:
                tracker = MaskTracker(configs[name])
                t0 = time.process_time()
                for i, image in enumerate(images):
                    tracker.update(raw[min(i, len(raw) - 1)], image, sharp=sharp[min(i, len(sharp) - 1)])
                totals[name] += time.process_time() - t0
    base = totals["none"]
    print(f"| refine ({', '.join(v.name for v in videos)}, {rounds} rounds) | CPU ms/frame | x none |\n|---|---:|---:|")
    for name, t in totals.items():
        print(f"| {name} | {1000 * t / (rounds * frames):.1f} | {t / base:.2f}x |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", nargs="*", type=Path, default=[DAVIS / "camel.mp4", DAVIS / "dog.mp4"])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--refines", action="store_true", help="time the mask step per appearance refinement instead")
    a = p.parse_args()
    for v in a.videos:
        if not v.is_file():
            raise SystemExit(f"error: {v}: no such video")
    if a.refines:
        return refine_costs(a.videos, a.rounds)
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
