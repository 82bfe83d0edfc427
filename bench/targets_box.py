"""`targets`' motion boxes on DAVIS sequences: each frame's box (`frame_boxes`) against the box around the
frame's object mask, and the video's box (`video_box`, MOFO's union box) against the box around every
annotated object pixel of the sequence. Rows: the boxes `targets` writes, and the rule before them (the union
of the half-of-peak rule's boxes on the raw `patch_motion`, `saliency.regions.motion_boxes`), from the same
targets in the same run.

    python bench/targets_box.py                      # the development sequences (breakdance, camel, car-shadow, dog)
    python bench/targets_box.py --sequences goat,bmx-trees

Per frame (all frames but the first and last, as the DAVIS protocol scores them; frames without an object
are left out): mean IoU, hit rate (IoU >= 0.5) and how often the box's centre lies on the object; a frame
without a box scores 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.evaluation.davis import find_sequences, load_masks  # noqa: E402
from mosi_tool.evaluation.segmentation import DEV_SEQUENCES, box_scores  # noqa: E402
from mosi_tool.motion_targets.compute import PATCH, compute_targets, union_box  # noqa: E402
from mosi_tool.saliency.boxes import box_iou, mask_box  # noqa: E402
from mosi_tool.saliency.regions import motion_boxes  # noqa: E402

DAVIS = Path(os.environ.get("MOSI_SHARED_DATA", ROOT.parent / "shared" / "data")) / "davis"


def half_peak_boxes(patch_motion: np.ndarray) -> np.ndarray:
    """(F, 4): the rule before, the union of each frame's half-of-peak boxes on the normalised patch motion."""
    out = np.full((len(patch_motion), 4), np.nan, np.float32)
    for t, frame in enumerate(patch_motion.astype(np.float32)):
        boxes = motion_boxes(frame, (PATCH, PATCH))
        if boxes:
            b = np.array(boxes, np.float32)[:, :4]
            out[t] = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
    return out


def frame_scores(boxes: np.ndarray, masks: np.ndarray) -> tuple[float, float, float]:
    """(mean IoU, hit rate, centre on object) over the frames that hold the object (`segmentation.box_scores`,
    a frame without a box scoring 0)."""
    rows = [box_scores(list(boxes[t]) if np.isfinite(boxes[t]).all() else None, masks[t])
            for t in range(1, min(len(masks), len(boxes)) - 1) if masks[t].any()]  # fmt: skip
    return tuple(float(v) for v in np.mean(rows, axis=0))  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sequences", default=",".join(DEV_SEQUENCES))
    args = p.parse_args(argv)
    rules = {"`targets`": lambda t: t.frame_boxes, "before: half of the peak": lambda t: half_peak_boxes(t.patch_motion)}
    print("| sequence | boxes | frame box IoU | frame box hit | centre on object | video box IoU |\n|---|---|---:|---:|---:|---:|")
    totals: dict[str, list[tuple[float, ...]]] = {k: [] for k in rules}
    for name in args.sequences.split(","):
        t = compute_targets(DAVIS / "mp4" / f"{name}.mp4")
        seq = find_sequences(DAVIS, [name], source="mp4")[0]
        masks = load_masks(seq, len(seq.masks), (t.info["width"], t.info["height"]))
        whole = [float(v) for v in mask_box(np.any(masks, axis=0)) or ()]
        for rule, boxes_of in rules.items():
            boxes = boxes_of(t)
            row = (*frame_scores(boxes, masks), box_iou(list(union_box(boxes)), whole))
            totals[rule].append(row)
            print(f"| {name} | {rule} | {row[0]:.3f} | {row[1]:.3f} | {row[2]:.3f} | {row[3]:.3f} |", flush=True)
    for rule, rows in totals.items():
        mean = np.mean(rows, axis=0)
        print(f"| mean | {rule} | {mean[0]:.3f} | {mean[1]:.3f} | {mean[2]:.3f} | {mean[3]:.3f} |")


if __name__ == "__main__":
    main()
