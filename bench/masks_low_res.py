"""Motion masks on DAVIS at a lower resolution: the shared DAVIS videos and masks scaled down (the videos
re-encoded with libx264, crf 18; the masks by nearest neighbour), then `mosi-tool eval segmentation`'s
`masks` method on them (J, F and boxes; development and unseen sequences as in docs/EVALUATION.md 2c).

    python bench/masks_low_res.py --size 320x180      # needs FFmpeg's command line (apt-get install ffmpeg)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAVIS = ROOT.parent / "shared" / "data" / "davis"


def scaled_davis(out: Path, size: tuple[int, int]) -> Path:
    """A DAVIS-layout folder under `out` with every mp4 and annotation of the shared DAVIS at `size` = (W, H)."""
    import cv2

    (out / "mp4").mkdir(parents=True)
    for video in sorted((DAVIS / "mp4").glob("*.mp4")):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(video), "-vf", f"scale={size[0]}:{size[1]}", "-c:v", "libx264",
                        "-crf", "18", str(out / "mp4" / video.name)], check=True)  # fmt: skip
    for seq in sorted((DAVIS / "Annotations" / "480p").iterdir()):
        (out / "Annotations" / "480p" / seq.name).mkdir(parents=True)
        for png in sorted(seq.glob("*.png")):
            mask = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
            cv2.imwrite(str(out / "Annotations" / "480p" / seq.name / png.name), cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="320x180", help="WxH to scale the 854x480 DAVIS videos to")
    p.add_argument("--methods", default="masks")
    args = p.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg not found: apt-get install -y ffmpeg")
    if not (DAVIS / "mp4").is_dir():
        sys.exit(f"{DAVIS}: the shared DAVIS data is not here")
    from mosi_tool.evaluation.davis import find_sequences
    from mosi_tool.evaluation.segmentation import evaluate_segmentation, render
    from mosi_tool.video.clips import parse_size

    size = parse_size(args.size)
    assert size is not None
    with tempfile.TemporaryDirectory(prefix="davis-scaled-") as tmp:
        root = scaled_davis(Path(tmp), size)
        report = evaluate_segmentation(find_sequences(root, source="mp4"), args.methods.split(","))
    print(f"DAVIS at {size[0]}x{size[1]} (`python bench/masks_low_res.py --size {args.size}`)\n")
    print(render(report))


if __name__ == "__main__":
    main()
