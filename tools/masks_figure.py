"""The picture of README's `--masks`: motion masks of DAVIS frames, the rule before the enclosed speed and now.

    python tools/masks_figure.py [--sequences goat,motocross-jump,breakdance] [--out docs/images/masks_enclosed.jpg]

For each sequence (default: the two that the enclosed speed changed most, then a development one), the frame at
`--at` of its length (default the middle): one tile per method of `mosi-tool eval segmentation`'s registry
(default `masks-not-enclosed`, the rule before, and `masks`, `saliency --masks` now), the mask tinted red over
the frame and the annotated object's outline in green, labelled with the method and that frame's J. The masks
are those `eval segmentation` scores (docs/EVALUATION.md 2c), from the H.264 videos in ../shared/data/davis.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool import viz  # noqa: E402
from mosi_tool.evaluation.davis import find_sequences, load_masks  # noqa: E402
from mosi_tool.evaluation.segmentation import METHODS, Inputs, jaccard  # noqa: E402

NAMES = {"masks-not-enclosed": "before: the motion maps alone", "masks": "now: with the enclosed speed"}
LABEL_SIZE = 30  # px, at the video's size (the tiles are made smaller)


def tile(image: np.ndarray, mask: np.ndarray, truth: np.ndarray, text: str, width: int) -> np.ndarray:
    """The frame (H, W, 3) uint8 with `mask` (H, W) bool tinted red and `truth`'s outline in green, labelled,
    resized to `width`."""
    out = image.astype(np.float32)
    out[mask] = out[mask] * 0.45 + np.array([255, 40, 40], np.float32) * 0.55
    out = out.astype(np.uint8)
    contours, _ = cv2.findContours(truth.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, (60, 255, 60), 3, cv2.LINE_AA)
    out = viz.label(out, text, LABEL_SIZE)
    h, w = out.shape[:2]
    return cv2.resize(out, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--davis", type=Path, default=ROOT.parent / "shared" / "data" / "davis")
    p.add_argument("--sequences", default="goat,motocross-jump,breakdance")
    p.add_argument("--methods", default="masks-not-enclosed,masks", help="keys of evaluation.segmentation.METHODS, one column each")
    p.add_argument("--at", type=float, default=0.5, help="which frame of each sequence, as a share of its length")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "masks_enclosed.jpg")
    p.add_argument("--width", type=int, default=427, help="width of each tile, px")
    args = p.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"error: unknown methods {', '.join(unknown)}; known: {', '.join(METHODS)}")
    tiles = []
    for seq in find_sequences(args.davis, args.sequences.split(","), "mp4"):
        n = len(seq.masks)
        x = Inputs(seq.source, None, n)
        t = min(n - 1, max(0, round(args.at * (n - 1))))
        image = x.frames[t]
        truth = load_masks(seq, n, (image.shape[1], image.shape[0]))[t]
        for m in methods:
            mask = METHODS[m].run(x)[0][t]
            text = f"{seq.name} frame {t}, {NAMES.get(m, m)}: J {jaccard(mask, truth):.2f}"
            tiles.append(tile(image, mask, truth, text, args.width))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out = viz.grid(tiles, len(methods))
    cv2.imwrite(str(args.out), cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.out} ({out.shape[1]}x{out.shape[0]})")


if __name__ == "__main__":
    main()
