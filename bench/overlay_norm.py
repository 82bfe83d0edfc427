"""Which overlay scale (`saliency --norm`) colours the moving object and not the still background, on DAVIS.

    python bench/overlay_norm.py                       # every sequence of ../shared/data/davis (mp4)
    python bench/overlay_norm.py --sequences camel,dog

For each sequence, the `--method mv` maps (`compute_motion_saliency`) are scaled by each norm
(`saliency.display.frame_ranges`) at the frame's size, and on every frame with an object two things are
counted: whether the object is coloured (at least a quarter of its pixels at 0.5 or more: the overlay's
colour is clearly visible there, `viz.overlay_opacity`), and the share of background pixels at 0.5 or more.
Reported per subset: the development sequences (`evaluation.segmentation.DEV_SEQUENCES`), the others, all.
`--gammas 0.7,0.5` adds rows for a display `bounded` ** gamma (a slow mover brighter, and the background too).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.evaluation.davis import find_sequences, load_masks  # noqa: E402
from mosi_tool.evaluation.segmentation import DEV_SEQUENCES  # noqa: E402
from mosi_tool.saliency.compute import compute_motion_saliency  # noqa: E402
from mosi_tool.saliency.display import NORMS  # noqa: E402
from mosi_tool.saliency.render import heat_frames  # noqa: E402

SHOWN = 0.5  # heat at which the colour is clearly visible
OBJECT_SHARE = 0.25  # of the object's pixels


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--davis", type=Path, default=ROOT.parent / "shared" / "data" / "davis")
    p.add_argument("--sequences", default=None)
    p.add_argument("--gammas", default="", help="comma-separated exponents for extra rows: bounded ** gamma")
    a = p.parse_args()
    gammas = [float(g) for g in a.gammas.split(",") if g]
    rows = list(NORMS) + [f"bounded ** {g:g}" for g in gammas]
    seqs = find_sequences(a.davis, a.sequences.split(",") if a.sequences else None, "mp4")
    stats: dict[str, dict[str, tuple[list[float], list[float]]]] = {n: {} for n in rows}
    for seq in seqs:
        result = compute_motion_saliency(seq.source)
        n = min(len(seq.masks), len(result.frame_times))
        w, h = result.info.width, result.info.height
        truth = load_masks(seq, n, (w, h))
        for row in rows:
            norm, gamma = (row, 1.0) if row in NORMS else ("bounded", float(row.split("** ")[1]))
            shown = SHOWN ** (1 / gamma)  # heat ** gamma >= SHOWN
            obj, bg = [], []
            for start in range(0, n, 16):
                heat = heat_frames(result, start, min(n, start + 16), w, h, norm)
                for m, g in zip(heat, truth[start : start + 16]):
                    if g.any():
                        obj.append(float((m[g] >= shown).mean() >= OBJECT_SHARE))
                    bg.append(float((m[~g] >= shown).mean()))
            stats[row][seq.name] = (obj, bg)
    names = [s.name for s in seqs]
    subsets = {"development": [s for s in names if s in DEV_SEQUENCES], "unseen": [s for s in names if s not in DEV_SEQUENCES], "all": names}
    print("| --norm | " + " | ".join(f"{k}: object coloured | {k}: background coloured" for k, v in subsets.items() if v) + " |")
    print("|---|" + "---:|---:|" * sum(1 for v in subsets.values() if v))
    for norm in rows:
        cells = []
        for members in subsets.values():
            if members:
                obj = np.mean([np.mean(stats[norm][s][0]) for s in members])
                bg = np.mean([np.mean(stats[norm][s][1]) for s in members])
                cells += [f"{obj:.1%}", f"{bg:.2%}"]
        print(f"| {norm} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
