"""AUC-Judd of one model's `motion` maps on chosen DAVIS sequences, for several `mosi-tool saliency` settings.

    python tools/map_variants.py --sequences breakdance,drift-chicane \
        cam method=gradcam:layer=conv4 size=96 size=128 step=1

Each VARIANT is `cam` (the defaults of `--method cam`) or `key=value` pairs joined by `:` from method (cam or
gradcam), layer (conv4 or conv5), size (the input's short side) and step (frames between clip starts). Maps
come from `compute_saliency` in PyTorch fp32, are scored like `mosi-tool eval saliency` scores them (mp4
sources, the first `--max-frames` frames, frames whose mask is neither empty nor full) and printed as one row
per sequence. docs/MODEL_CARD.md cites it for the static-camera pair.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.default_model import default_model_path  # noqa: E402
from mosi_tool.evaluation.davis import DAVIS_FPS, find_sequences, load_masks, trimmed_source  # noqa: E402
from mosi_tool.evaluation.metrics import auc_judd  # noqa: E402
from mosi_tool.evaluation.saliency_eval import _model_heat  # noqa: E402
from mosi_tool.runtimes import open_engine  # noqa: E402
from mosi_tool.saliency.compute import compute_saliency  # noqa: E402
from mosi_tool.video.decode import VideoReader  # noqa: E402

KEYS = {"method": str, "layer": str, "size": int, "step": int}


def parse_variant(text: str) -> dict[str, object]:
    """`cam` -> {}; `method=gradcam:layer=conv4` -> {"method": "gradcam", "layer": "conv4"}."""
    if text == "cam":
        return {}
    out: dict[str, object] = {}
    for part in text.split(":"):
        key, _, value = part.partition("=")
        if key not in KEYS or not value:
            raise SystemExit(f"variant {text!r}: expected cam or key=value pairs of {', '.join(KEYS)}")
        out[key] = KEYS[key](value)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("variants", nargs="+")
    p.add_argument("--model", type=Path, help="a .safetensors checkpoint (default: the bundled model)")
    p.add_argument("--davis", type=Path, default=ROOT.parent / "shared" / "data" / "davis")
    p.add_argument("--sequences", required=True, help="comma-separated sequence names")
    p.add_argument("--max-frames", type=int, default=40)
    args = p.parse_args(argv)
    variants = {v: parse_variant(v) for v in args.variants}
    engine = open_engine(args.model or default_model_path(), torch.device("cpu"), runtime="torch")
    print("| sequence | " + " | ".join(variants) + " |")
    print("|---|" + "---:|" * len(variants))
    with tempfile.TemporaryDirectory() as tmp:
        for seq in find_sequences(args.davis, args.sequences.split(","), source="mp4"):
            src = trimmed_source(seq, args.max_frames, Path(tmp))
            info = VideoReader(src).info
            size = (info.width, info.height)
            n = min(len(seq.masks), args.max_frames)
            masks = load_masks(seq, n, size)
            cells = []
            for kw in variants.values():
                result = compute_saliency(engine, src, "motion", fps=DAVIS_FPS, **kw)  # type: ignore[arg-type]
                scores = [auc_judd(h, m) for h, m in zip(_model_heat(result, n, size), masks) if m.any() and not m.all()]
                cells.append(f"{np.mean(scores):.3f}")
            print(f"| {seq.name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
