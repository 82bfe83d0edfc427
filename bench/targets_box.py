"""The video's motion area (`targets`' `video_box`, MOFO's union box) against the union of the object's masks
on DAVIS sequences: IoU of the plain union of the frame boxes and of the robust one (`union_box`).

    python bench/targets_box.py                      # the development sequences (breakdance, camel, car-shadow, dog)
    python bench/targets_box.py --sequences goat,bmx-trees
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.evaluation.segmentation import DEV_SEQUENCES  # noqa: E402
from mosi_tool.motion_targets.compute import compute_targets, union_box  # noqa: E402
from mosi_tool.saliency.boxes import box_iou  # noqa: E402

DAVIS = Path(os.environ.get("MOSI_SHARED_DATA", ROOT.parent / "shared" / "data")) / "davis"


def object_union(name: str) -> list[float]:
    """[x0, y0, x1, y1] around every annotated object pixel of the sequence."""
    union = None
    for path in sorted((DAVIS / "Annotations" / "480p" / name).glob("*.png")):
        mask = np.asarray(Image.open(path).convert("L")) > 127
        union = mask if union is None else union | mask
    assert union is not None, name
    ys, xs = np.nonzero(union)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sequences", default=",".join(DEV_SEQUENCES))
    args = p.parse_args(argv)
    print("| sequence | object's union box | plain union IoU | robust union IoU |\n|---|---|---:|---:|")
    plain, robust = [], []
    for name in args.sequences.split(","):
        t = compute_targets(DAVIS / "mp4" / f"{name}.mp4")
        truth = object_union(name)
        plain.append(box_iou(list(union_box(t.frame_boxes, share=0.0)), truth))
        robust.append(box_iou(list(t.video_box), truth))
        print(f"| {name} | {[int(v) for v in truth]} | {plain[-1]:.2f} | {robust[-1]:.2f} |", flush=True)
    print(f"| mean | | {np.mean(plain):.2f} | {np.mean(robust):.2f} |")


if __name__ == "__main__":
    main()
