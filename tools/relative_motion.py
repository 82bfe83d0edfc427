"""Does a model's `motion` map find a square that moves against its background, with and without a panning camera?

    python tools/relative_motion.py MODEL.safetensors [MODEL ...]

Each synthetic clip (8 frames of 64x64, the default model's input) shows a textured background cut from a
held-out shared image, panning at `camera` px/frame, and a 24x24 square cut from another part of the same image,
moving at `object` px/frame on top of the pan. The score is the `motion` CAM's mean inside the square over its
mean outside (1.0: no preference; above 1: the map finds the square), the median over 24 images. DAVIS objects
are tracked by a moving camera, so the rows with `camera` > 0 are the ones a saliency map has to pass.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.checkpoint import load_checkpoint  # noqa: E402
from mosi_tool.models.clip_model import ClipModel  # noqa: E402
from mosi_tool.saliency.targets import select_maps  # noqa: E402

IMAGES = ROOT.parent / "shared" / "data" / "images" / "imagenette-val"
CASES = ((0, 0), (1, 0), (4, 0), (0, 2), (2, 2), (4, 2), (0, 4), (4, 4), (8, 4))  # (object, camera) px/frame
SIZE, SIDE, AT = 64, 24, 20  # frame size, square side, square position


def clip(image: np.ndarray, obj: float, cam: float, frames: int = 8) -> np.ndarray:
    """(T, 64, 64, 3) uint8: background panning at `cam`, the square moving at `obj` relative to it."""
    out = []
    for t in range(frames):
        bx = int(round(64 + cam * t))
        frame = image[40 : 40 + SIZE, bx : bx + SIZE].copy()
        ox = int(round(140 + (cam + obj) * t))
        frame[AT : AT + SIDE, AT : AT + SIDE] = image[150 : 150 + SIDE, ox : ox + SIDE]
        out.append(frame)
    return np.stack(out)


def score(path: Path, images: list[np.ndarray]) -> list[float]:
    """Median inside/outside ratio of the `motion` map, one per case in CASES."""
    backbone, meta = load_checkpoint(path)
    model = ClipModel(backbone, meta).eval()
    inside = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    inside[AT : AT + SIDE, AT : AT + SIDE] = True
    ratios = []
    for obj, cam in CASES:
        clips = torch.from_numpy(np.stack([clip(im, obj, cam, meta.frames) for im in images]))
        with torch.no_grad():
            out = model(clips)
        maps = select_maps(out.cam, out.logits, "motion", meta.static_class).mean(1)  # (N, h, w)
        up = F.interpolate(maps[:, None], size=(SIZE, SIZE), mode="bilinear", align_corners=False)[:, 0]
        r = up[:, inside].mean(1) / up[:, ~inside].mean(1).clamp_min(1e-9)
        ratios.append(float(r.median()))
    return ratios


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", type=Path, nargs="+")
    a = p.parse_args()
    if not IMAGES.is_dir():
        sys.exit(f"{IMAGES}: shared images not found (see ../shared/data/README.md)")
    torch.set_num_threads(1)
    files = sorted(IMAGES.rglob("*.JPEG"))[::97][:24]
    images = [np.asarray(Image.open(f).convert("RGB").resize((256, 256))) for f in files]
    print("| model | " + " | ".join(f"obj {o} / cam {c}" for o, c in CASES) + " |")
    print("|---|" + "---:|" * len(CASES))
    for m in a.models:
        print(f"| {m} | " + " | ".join(f"{r:.2f}" for r in score(m, images)) + " |", flush=True)


if __name__ == "__main__":
    main()
