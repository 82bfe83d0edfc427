"""The pictures of README's `--masks`: motion masks of DAVIS frames, the rule before the enclosed speed and now;
and of synthetic scenes under a camera moving sideways, before the camera's parallax was taken as background.

    python tools/masks_figure.py [--sequences goat,motocross-jump,breakdance] [--out docs/images/masks_enclosed.jpg]
    python tools/masks_figure.py --scenes band,poles --methods masks-no-parallax,masks --out docs/images/masks_parallax.jpg
    python tools/masks_figure.py --sequences breakdance --at 0.45 --methods masks,masks-primary --labels "every mover (--masks),the primary mover (--primary)" --out docs/images/masks_primary.jpg

For each sequence (default: the two that the enclosed speed changed most, then a development one), the frame at
`--at` of its length (default the middle): one tile per method of `mosi-tool eval segmentation`'s registry
(default `masks-not-enclosed`, the rule before, and `masks`, `saliency --masks` now), the mask tinted red over
the frame and the annotated object's outline in green, labelled with the method and that frame's J. The masks
are those `eval segmentation` scores (docs/EVALUATION.md 2c), from the H.264 videos in ../shared/data/davis.
With `--scenes`, the scenes of `tests/parallax_scenes.py` (H.264 as `bench/masks_synthetic.py --scenes parallax`
scores them) instead of DAVIS sequences, the known mover's outline in green.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool import viz  # noqa: E402
from mosi_tool.evaluation.davis import find_sequences, load_masks  # noqa: E402
from mosi_tool.evaluation.segmentation import METHODS, Inputs, jaccard  # noqa: E402

NAMES = {"masks-not-enclosed": "before: the motion maps alone", "masks": "now: with the enclosed speed"}
SCENE_NAMES = {"masks-no-parallax": "before: parallax as a mover", "masks": "now: parallax as background"}
LABEL_SIZE = 30  # px, at a width of 854 px (the video's size; the tiles are made smaller)


def tile(image: np.ndarray, mask: np.ndarray, truth: np.ndarray, text: str, width: int) -> np.ndarray:
    """The frame (H, W, 3) uint8 with `mask` (H, W) bool tinted red and `truth`'s outline in green, labelled,
    resized to `width`."""
    out = image.astype(np.float32)
    out[mask] = out[mask] * 0.45 + np.array([255, 40, 40], np.float32) * 0.55
    out = out.astype(np.uint8)
    contours, _ = cv2.findContours(truth.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, (60, 255, 60), 3, cv2.LINE_AA)
    out = viz.label(out, text, round(LABEL_SIZE * out.shape[1] / 854))
    h, w = out.shape[:2]
    return cv2.resize(out, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


Shown = tuple[str, Inputs, int, np.ndarray, np.ndarray]  # name, its material, frame, that frame (H, W, 3), its truth (H, W)


def davis(root: Path, names: list[str], at: float) -> Iterator[Shown]:
    """The frame at `at` of each DAVIS sequence's H.264 video, with its annotated mask."""
    for seq in find_sequences(root, names, "mp4"):
        n = len(seq.masks)
        x = Inputs(seq.source, None, n)
        t = min(n - 1, max(0, round(at * (n - 1))))
        image = x.frames[t]
        yield seq.name, x, t, image, load_masks(seq, n, (image.shape[1], image.shape[0]))[t]


def scenes(names: list[str], at: float, tmp: Path) -> Iterator[Shown]:
    """The frame at `at` of each synthetic parallax scene, encoded as H.264 into `tmp`, with its mover's mask."""
    from tests.conftest import encode_frames
    from tests.parallax_scenes import parallax_scene

    for name in names:
        frames, truth = parallax_scene(name)
        t = min(len(frames) - 1, max(0, round(at * (len(frames) - 1))))
        x = Inputs(encode_frames(tmp / f"{name}.mp4", frames), None, len(frames))
        yield name, x, t, x.frames[t], truth[t]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--davis", type=Path, default=ROOT.parent / "shared" / "data" / "davis")
    p.add_argument("--sequences", default="goat,motocross-jump,breakdance")
    p.add_argument("--scenes", default="", help="scenes of tests/parallax_scenes.py instead of DAVIS sequences, e.g. band,poles")
    p.add_argument("--methods", default="masks-not-enclosed,masks", help="keys of evaluation.segmentation.METHODS, one column each")
    p.add_argument("--at", type=float, default=0.5, help="which frame of each sequence, as a share of its length")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "masks_enclosed.jpg")
    p.add_argument("--width", type=int, default=427, help="width of each tile, px")
    p.add_argument("--labels", default="", help="comma-separated labels of the methods, in their order (default: each method's own)")
    args = p.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    names = SCENE_NAMES if args.scenes else NAMES
    if args.labels:
        labels = args.labels.split(",")
        if len(labels) != len(methods):
            raise SystemExit(f"error: --labels gives {len(labels)} labels for {len(methods)} methods")
        names = dict(zip(methods, labels))
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"error: unknown methods {', '.join(unknown)}; known: {', '.join(METHODS)}")
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        shown = scenes(args.scenes.split(","), args.at, Path(tmp)) if args.scenes else davis(args.davis, args.sequences.split(","), args.at)
        for name, x, t, image, truth in shown:
            for m in methods:
                mask = METHODS[m].run(x)[0][t]
                text = f"{name} frame {t}, {names.get(m, m)}: J {jaccard(mask, truth):.2f}"
                tiles.append(tile(image, mask, truth, text, args.width))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out = viz.grid(tiles, len(methods))
    cv2.imwrite(str(args.out), cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.out} ({out.shape[1]}x{out.shape[0]})")


if __name__ == "__main__":
    main()
