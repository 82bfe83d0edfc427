"""The synthetic movers of `tests/test_masks.py` through the mask variants of `mosi-tool eval segmentation`.

    python bench/masks_synthetic.py                                   # masks, still camera and panning
    python bench/masks_synthetic.py --methods masks,masks-one-map,masks-valleys
    python bench/masks_synthetic.py --methods masks,masks-estimated-refs    # reference distances measured or not
    python bench/masks_synthetic.py --scenes parallax --methods masks,masks-no-parallax   # a camera translating sideways

Three textured 40-px squares 15 px apart move right at 1, 2 and 3 px/frame over a textured background,
320x192, 36 frames, libx264 (`tests.test_masks.movers`); the camera is still or pans at 2 px/frame. Each
method of the registry (`evaluation.segmentation.METHODS`, the same code `eval segmentation` scores on
DAVIS) makes masks of the video; per pan it prints, over frames 1 .. 34: the union J (the mask against the
three squares together), the share of frames with all three at least half covered and each square's share,
and the share of frames where the three are apart (no component of the mask touches two squares, each
touches one). Prints a Markdown table.

`--scenes parallax`: the scenes of `tests.parallax_scenes` (a camera translating sideways over ground at
several depths, 640x360, 48 frames, one known mover each; `--scale` resizes them); per scene, the mover's J over
frames 1 .. 46.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.evaluation.segmentation import METHODS, Inputs, jaccard  # noqa: E402
from tests.conftest import encode_frames  # noqa: E402
from tests.parallax_scenes import SCENES, parallax_scene  # noqa: E402
from tests.test_masks import N, movers  # noqa: E402


def apart(mask: np.ndarray, objects: list[np.ndarray]) -> bool:
    """Whether each object touches a component of `mask` and no component touches two objects (8-connected)."""
    import cv2

    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    touched = [set(np.unique(labels[o & mask]).tolist()) - {0} for o in objects]
    return all(touched) and all(not (a & b) for i, a in enumerate(touched) for b in touched[i + 1 :])


def score(masks: list[np.ndarray], truth: list[list[np.ndarray]]) -> tuple[float, float, np.ndarray, float]:
    """(union J, share of frames with every object half covered, each object's share, share of frames apart)."""
    frames = range(1, N - 1)
    union = [jaccard(masks[t], np.any(truth[t], axis=0)) for t in frames]
    covered = np.array([[(masks[t] & o).sum() / o.sum() >= 0.5 for o in truth[t]] for t in frames])
    return float(np.mean(union)), float(covered.all(1).mean()), covered.mean(0), float(np.mean([apart(masks[t], truth[t]) for t in frames]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default="masks", help="comma-separated keys of evaluation.segmentation.METHODS")
    ap.add_argument("--scenes", choices=("movers", "parallax"), default="movers")
    ap.add_argument("--scale", type=float, default=1.0, help="--scenes parallax: resize the scenes by this factor (0.5: 320x180)")
    args = ap.parse_args()
    keys = [k for k in args.methods.split(",") if k]
    unknown = [k for k in keys if k not in METHODS]
    if unknown:
        raise SystemExit(f"error: unknown methods {', '.join(unknown)}; known: {', '.join(METHODS)}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.scenes == "parallax":
            parallax_table(keys, Path(tmp), args.scale)
        else:
            movers_table(keys, Path(tmp))


def movers_table(keys: list[str], tmp: Path) -> None:
    """The three movers, still camera and panning: one row per method and camera."""
    print("| method | camera | union J | all three covered | each (1, 2, 3 px/frame) | three apart |")
    print("|---|---|---:|---:|---|---:|")
    for pan in (0, 2):
        frames, truth = movers(pan)
        x = Inputs(encode_frames(tmp / f"movers{pan}.mp4", frames), None, N)
        for key in keys:
            masks, _ = METHODS[key].run(x)
            union, every, each, sep = score(masks, truth)
            camera = "still" if pan == 0 else f"panning {pan} px/frame"
            print(f"| {key} | {camera} | {union:.3f} | {every:.0%} | {', '.join(f'{v:.0%}' for v in each)} | {sep:.0%} |")


def parallax_table(keys: list[str], tmp: Path, scale: float = 1.0) -> None:
    """The parallax scenes (at `scale` x their size): one row per method, the mover's J in each scene and their mean."""
    import cv2

    scores: dict[str, list[float]] = {k: [] for k in keys}
    for name in SCENES:
        frames, truth = parallax_scene(name)
        if scale != 1:
            size = (round(frames[0].shape[1] * scale), round(frames[0].shape[0] * scale))
            frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR) for f in frames]
            truth = np.array([cv2.resize(t.view(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0 for t in truth])
        x = Inputs(encode_frames(tmp / f"{name}.mp4", frames), None, len(frames))
        for key in keys:
            masks, _ = METHODS[key].run(x)
            scores[key].append(float(np.mean([jaccard(masks[t], truth[t]) for t in range(1, len(truth) - 1)])))
    print("| method | " + " | ".join(SCENES) + " | mean |")
    print("|---|" + "---:|" * (len(SCENES) + 1))
    for key, row in scores.items():
        print(f"| {key} | " + " | ".join(f"{v:.3f}" for v in row) + f" | {np.mean(row):.3f} |")
    print("\n" + "\n".join(f"- {name}: {what}" for name, what in SCENES.items()))


if __name__ == "__main__":
    main()
