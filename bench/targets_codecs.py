"""Motion targets of MPEG-4 Part 2 videos (Xvid, as UCF-101 is stored), with and without B-frames:
the error against the known motion of `bench/targets.py`'s random scenes, transcoded to Xvid by FFmpeg.

    python bench/targets_mpeg4.py [--scenes 6] [--baseline-code OLD]

FFmpeg's MPEG-4 Part 2 decoder exports every vector of a B-frame as (0, 0); `video/motion/codec.py` takes such
frames as frames without vectors (`ZERO_B_VECTORS`). Prints, per setting, the objects' and background's mean
error (px/step of the camera-compensated steps, over every scored point: with B-frames no point is `valid`), the
worst scene's, and the share of valid points; with --baseline-code, the same for another checkout on the same
files (`bench/targets.py`'s `other_code_route`). Needs an `ffmpeg` with libxvid on the PATH.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import targets as bt  # noqa: E402  (its scenes and routes)
from mosi_tool.evaluation import known_motion as km  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenes", type=int, default=6)
    p.add_argument("--baseline-code", type=Path, help="another checkout: its targets on the same files")
    args = p.parse_args(argv)
    routes = {"this code": bt.ours}
    if args.baseline_code is not None:
        routes["baseline"] = bt.other_code_route(args.baseline_code)
    with tempfile.TemporaryDirectory(prefix="targets-mpeg4-") as tmp:
        for bf in (0, 2):
            errs: dict[str, list[tuple[float, float, float]]] = {r: [] for r in routes}
            for scene in bt.random_scenes(args.scenes):
                src = km.encode(scene, Path(tmp) / "scene.mp4")
                dst = Path(tmp) / f"scene_bf{bf}.avi"
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c:v", "libxvid", "-q:v", "2", "-bf", str(bf), str(dst)], check=True)
                truth, region = km.truth(scene, np.arange(scene.frames - bt.L), bt.L)
                for route, fn in routes.items():
                    steps, valid, _, _ = fn(dst)
                    n = min(len(steps), len(truth))  # FFmpeg decodes 2 frames fewer from Xvid's packed B-frames
                    err = np.linalg.norm(steps[:n] - truth[:n], axis=-1).mean(axis=-1)
                    errs[route].append((float(err[region[:n] > 0].mean()), float(err[region[:n] == 0].mean()), float(valid.mean())))
            for route, e in errs.items():
                a = np.array(e)
                print(f"| Xvid, {'B-frames (-bf 2)' if bf else 'no B-frames'} | {route} | {a[:, 0].mean():.3f} | {a[:, 0].max():.3f} | "
                      f"{a[:, 1].mean():.3f} | {a[:, 2].mean():.0%} |", flush=True)


if __name__ == "__main__":
    main()
