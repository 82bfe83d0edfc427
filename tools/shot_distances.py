"""The colour-histogram distances between consecutive frames that `saliency.shots` calls scene cuts above 0.4.

    python tools/shot_distances.py                      # the shared videos and DAVIS's H.264 videos
    python tools/shot_distances.py VIDEO [VIDEO ...]

For each video: its frame count, the frames with the largest distances (frame index, distance) and the cuts
found (`shots.CUT_DISTANCE`). The pictures are those the mask step makes (`saliency.pictures.picture`, as
`mosi-tool eval segmentation` reads them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"


def distances(path: Path) -> list[float]:
    """The distance of every frame from the one before (0 for the first)."""
    import cv2

    from mosi_tool.evaluation.segmentation import Inputs
    from mosi_tool.saliency.masks import MaskConfig
    from mosi_tool.saliency.shots import colour_histogram

    out, previous = [], None
    for pic in Inputs(path, None, 10**9).pictures(MaskConfig()):
        hist = colour_histogram(pic)
        out.append(float(cv2.compareHist(previous, hist, cv2.HISTCMP_BHATTACHARYYA)) if previous is not None else 0.0)
        previous = hist
    return out


def main(argv: list[str] | None = None) -> None:
    from mosi_tool.saliency.shots import CUT_DISTANCE

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("videos", nargs="*", type=Path)
    p.add_argument("--top", type=int, default=6, help="how many of each video's largest distances to print")
    a = p.parse_args(argv)
    videos = a.videos or sorted((SHARED / "videos").glob("*")) + sorted((SHARED / "davis" / "mp4").glob("*.mp4"))
    if not videos:
        raise SystemExit(f"error: no videos given and none in {SHARED}")
    for v in videos:
        d = distances(v)
        top = sorted(range(len(d)), key=lambda i: -d[i])[: a.top]
        cuts = [i for i, x in enumerate(d) if x > CUT_DISTANCE]
        print(f"{v.name}: {len(d)} frames; largest {', '.join(f'{i}: {d[i]:.2f}' for i in top)}; cuts (> {CUT_DISTANCE}) at {cuts or 'none'}")


if __name__ == "__main__":
    main()
