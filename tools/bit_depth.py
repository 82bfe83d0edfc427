"""Masks of 8-bit and 10-bit video of the same frames: DAVIS sequences encoded both ways, J of each.

    python tools/bit_depth.py                                   # the development sequences, 40 frames each
    python tools/bit_depth.py --sequences dog camel --frames 40 --formats yuv420p yuv420p10le yuv422p10le

Each sequence's first `--frames` frames (decoded from ../shared/data/davis/mp4) are encoded with libx264 once
per pixel format (one thread, 2 B-frames, crf 20, a keyframe every 250 frames), then `saliency --masks` (the
Python API) of each; printed: mean J against the DAVIS annotation per sequence and format, and the mean over
the sequences. Every sequence is decoded first, then every video encoded, then masked (libx264 in one process
gives other bytes when decodes, encodes and saliency runs are interleaved: tools/shot_leak.py). Needs
../shared/data/davis.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.shot_leak import DAVIS, annotations, frames  # noqa: E402

DEVELOPMENT = ("breakdance", "camel", "car-shadow", "dog")


def main(argv: list[str] | None = None) -> None:
    import mosi_tool
    from mosi_tool.evaluation.segmentation import jaccard
    from tests.conftest import encode_frames

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sequences", nargs="+", default=list(DEVELOPMENT), help="DAVIS sequence names")
    p.add_argument("--frames", type=int, default=40, help="frames of each sequence")
    p.add_argument("--formats", nargs="+", default=["yuv420p", "yuv420p10le"], help="pixel formats libx264 encodes")
    a = p.parse_args(argv)
    if not DAVIS.is_dir():
        raise SystemExit(f"error: {DAVIS} not found")
    options = {"g": "250", "threads": "1", "bf": "2", "crf": "20"}
    with tempfile.TemporaryDirectory() as tmp:
        clips = {name: frames(DAVIS / "mp4" / f"{name}.mp4", a.frames) for name in a.sequences}
        truth = {name: annotations(name, len(f), f[0].shape[1::-1]) for name, f in clips.items()}
        videos = {(name, fmt): encode_frames(Path(tmp) / f"{name}-{fmt}.mp4", f, pix_fmt=fmt, options=options)
                  for name, f in clips.items() for fmt in a.formats}  # fmt: skip
        scores = {key: float(np.mean([jaccard(m, t) for m, t in zip(mosi_tool.saliency(v, masks=True).masks, truth[key[0]])]))
                  for key, v in videos.items()}  # fmt: skip
    print("| sequence | " + " | ".join(a.formats) + " |")
    print("|---|" + "---:|" * len(a.formats))
    for name in a.sequences:
        print(f"| {name} | " + " | ".join(f"{scores[name, fmt]:.3f}" for fmt in a.formats) + " |")
    print("| mean | " + " | ".join(f"{np.mean([scores[n, fmt] for n in a.sequences]):.3f}" for fmt in a.formats) + " |")


if __name__ == "__main__":
    main()
