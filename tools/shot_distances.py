"""The cut scores between consecutive frames that `saliency.shots` calls scene cuts above 0.3.

    python tools/shot_distances.py                      # the shared videos and DAVIS's H.264 videos
    python tools/shot_distances.py VIDEO [VIDEO ...]
    python tools/shot_distances.py --joins A.mp4 B.mp4 [C.mp4 ...]   # the videos one after another: each join's score
    python tools/shot_distances.py --short-side 112     # the frames as the network's clips read them (`saliency --method cam`)
    python tools/shot_distances.py --time VIDEO          # CPU ms a frame of the cut test itself (`CutDetector.is_cut`)

For each video: its frame count, the frames with the largest scores (frame index i: the score between frames i - 1
and i, so i is the first frame of a new shot; the colour histograms' distance d and the layouts' correlation r
beside it) and the cuts found (`shots.CUT_SCORE`; the frames compared on what both show, black bars left out:
`shots.compare`; a flat frame is not skipped here as the detector skips it). The pictures are those the motion
pass reads (`shots.colour_picture` of the decoded frames), or with `--short-side` those of the frames resized to that short
side, as `saliency --method cam` finds the cuts in its clips' frames.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"


def frames(path: Path, short: int | None = None) -> list:
    """Every frame as the cut test sees it (`shots.seen`), from the decoded frames as the motion pass reads them
    (`VideoReader.frames(planes=True)`), or resized to a short side of `short` pixels."""
    from mosi_tool.saliency.pictures import work_size
    from mosi_tool.saliency.shots import seen
    from mosi_tool.video.clips import ClipSpec

    reader = ClipSpec().open(path)
    size = work_size(reader.info.width, reader.info.height, short) if short else None
    return [seen(f) for f in reader.frames(size, planes=size is None)]


def scores(path: Path, short: int | None = None) -> list[tuple[float, float, float]]:
    """(score, d, r) of every frame from the one before (zeros for the first): `shots.compare`, on what both
    show (the bars both have left out)."""
    from mosi_tool.saliency.shots import compare

    f = frames(path, short)
    return [(0.0, 0.0, 1.0)] + [compare(a, b) for a, b in zip(f, f[1:])]


def main(argv: list[str] | None = None) -> None:
    from mosi_tool.saliency.shots import CUT_SCORE, compare

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("videos", nargs="*", type=Path)
    p.add_argument("--top", type=int, default=6, help="how many of each video's largest scores to print")
    p.add_argument("--joins", action="store_true", help="the videos one after another: the score where each meets the next")
    p.add_argument("--short-side", type=int, default=None, help="the frames resized to this short side (pixels)")
    p.add_argument("--time", action="store_true", help="time the cut test on each video's decoded frames (CPU ms a frame)")
    a = p.parse_args(argv)
    if a.time:
        return timing(a.videos, a.short_side)
    if a.joins:
        if len(a.videos) < 2:
            raise SystemExit("error: --joins takes two videos or more")
        ends = [(f[0], f[-1]) for f in (frames(v, a.short_side) for v in a.videos)]
        for (v, (_, last)), (w, (first, _)) in zip(zip(a.videos, ends), zip(a.videos[1:], ends[1:])):
            s, d, r = compare(last, first)
            print(f"{v.name} -> {w.name}: {s:.2f} (d {d:.2f}, r {r:.2f}){' cut' if s > CUT_SCORE else ''}")
        return
    videos = a.videos or sorted((SHARED / "videos").glob("*")) + sorted((SHARED / "davis" / "mp4").glob("*.mp4"))
    if not videos:
        raise SystemExit(f"error: no videos given and none in {SHARED}")
    for v in videos:
        found = scores(v, a.short_side)
        top = sorted(range(len(found)), key=lambda i: -found[i][0])[: a.top]
        cuts = [i for i, (score, _, _) in enumerate(found) if score > CUT_SCORE]
        largest = ", ".join(f"{i}: {found[i][0]:.2f} (d {found[i][1]:.2f}, r {found[i][2]:.2f})" for i in top)
        print(f"{v.name}: {len(found)} frames; largest {largest}; cuts (> {CUT_SCORE}) at {cuts or 'none'}")


def timing(videos: list[Path], short: int | None) -> None:
    """`--time`: the CPU time of `CutDetector.is_cut` per decoded frame (decoding not counted), and the cuts; with
    OpenCV's default threads and with one (as `targets` runs: its thread pool costs more CPU than it saves on
    pictures this small)."""
    import time

    from mosi_tool.hardware import opencv_threads
    from mosi_tool.saliency.pictures import work_size
    from mosi_tool.saliency.shots import CutDetector
    from mosi_tool.video.clips import ClipSpec

    for v in videos:
        reader = ClipSpec().open(v)
        size = work_size(reader.info.width, reader.info.height, short) if short else None
        decoded = list(reader.frames(size, planes=size is None))
        ms = []
        for threads in (None, 1):
            with opencv_threads(threads) if threads else contextlib.nullcontext():
                detector = CutDetector()
                t = time.process_time()
                cuts = [k for k, f in enumerate(decoded) if detector.is_cut(f)]
                ms.append((time.process_time() - t) / max(len(decoded), 1) * 1000)
        print(f"{v.name}: {len(decoded)} frames, {ms[0]:.3f} CPU ms a frame ({ms[1]:.3f} with one OpenCV thread); cuts at {cuts or 'none'}")


if __name__ == "__main__":
    main()
