"""Re-create the bundled sample files from the shared data (both Apache-2.0 / BSD-3-Clause, OpenCV samples).

    python tools/make_assets.py [--shared ../shared/data]

- mosi_tool/assets/sample.mp4: vtest.avi frames 0-159 (16 s at 10 fps), 384x288, H.264.
- mosi_tool/assets/sample.jpg: frame 120 of cup.mp4, for `mosi-tool motions`.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

ASSETS = Path(__file__).resolve().parents[1] / "mosi_tool" / "assets"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    ASSETS.mkdir(exist_ok=True)
    with av.open(str(args.shared / "videos" / "vtest.avi")) as src, av.open(str(ASSETS / "sample.mp4"), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 384, 288, "yuv420p"
        stream.options = {"crf": "26", "preset": "veryslow"}
        for i, frame in enumerate(src.decode(video=0)):
            if i >= 160:
                break
            img = frame.to_ndarray(format="rgb24", width=384, height=288)
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, 10)
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with av.open(str(args.shared / "videos" / "cup.mp4")) as src:
        for i, frame in enumerate(src.decode(video=0)):
            if i == 120:
                img = frame.to_ndarray(format="rgb24")
                break
    h, w = img.shape[:2]
    Image.fromarray(np.asarray(img)).resize((round(w * 320 / h), 320), Image.BILINEAR).save(ASSETS / "sample.jpg", quality=90)
    for p in sorted(ASSETS.iterdir()):
        print(p, p.stat().st_size)


if __name__ == "__main__":
    main()
