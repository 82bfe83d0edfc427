"""Motion targets of codecs other than H.264: MPEG-4 Part 2 (Xvid, as UCF-101 is stored) with and without
B-frames, and VP9 (as YouTube serves video; FFmpeg exports no vectors for it, so the optical-flow fallback runs):
the error against the known motion of `bench/targets.py`'s random scenes, transcoded by FFmpeg.

    python bench/targets_codecs.py [--scenes 6] [--baseline-code OLD] [--only xvid|vp9]

FFmpeg's MPEG-4 Part 2 decoder exports every vector of a B-frame as (0, 0); `video/motion/codec.py` takes such
frames as frames without vectors (`ZERO_B_VECTORS`), and a run of at most 2 of them counts as known
(`streaming.bridge_short_gaps`). VP9 has no exported vectors: `video/motion/flow.py`'s DIS optical flow
(`FALLBACK_PRESET`) gives the field. Prints, per encoding, the objects' and background's mean error (px/step of
the camera-compensated steps, over every scored point), the worst scene's objects, the share of valid points
and the CPU ms per frame (decoding included); with --baseline-code, the same for another checkout on the same
files (`bench/targets.py`'s `other_code_route`). Needs an `ffmpeg` with libxvid and libvpx-vp9 on the PATH.
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

ENCODINGS = {  # name -> (suffix, FFmpeg's encoder options)
    "Xvid, no B-frames": (".avi", ["-c:v", "libxvid", "-q:v", "2", "-bf", "0"]),
    "Xvid, B-frames (-bf 2)": (".avi", ["-c:v", "libxvid", "-q:v", "2", "-bf", "2"]),
    "VP9 (crf 15)": (".webm", ["-c:v", "libvpx-vp9", "-crf", "15", "-b:v", "0", "-deadline", "good", "-cpu-used", "4", "-threads", "1"]),
}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenes", type=int, default=6)
    p.add_argument("--baseline-code", type=Path, help="another checkout: its targets on the same files")
    p.add_argument("--only", choices=("xvid", "vp9"), help="only these encodings")
    args = p.parse_args(argv)
    routes = {"this code": bt.ours}
    if args.baseline_code is not None:
        routes["baseline"] = bt.other_code_route(args.baseline_code)
    print("| encode | code | objects | worst scene | background | valid | CPU ms/frame |\n|---|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="targets-codecs-") as tmp:
        for name, (suffix, options) in ENCODINGS.items():
            if args.only and not name.lower().startswith(args.only):
                continue
            errs: dict[str, list[tuple[float, float, float]]] = {r: [] for r in routes}
            cpu: dict[str, list[float]] = {r: [] for r in routes}
            for scene in bt.random_scenes(args.scenes):
                src = km.encode(scene, Path(tmp) / "scene.mp4")
                dst = Path(tmp) / f"scene{suffix}"
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *options, str(dst)], check=True)
                truth, region = km.truth(scene, np.arange(scene.frames - bt.L), bt.L)
                for route, fn in routes.items():
                    steps, valid, seconds, frames = fn(dst)
                    n = min(len(steps), len(truth))  # FFmpeg decodes 2 frames fewer from Xvid's packed B-frames
                    err = np.linalg.norm(steps[:n] - truth[:n], axis=-1).mean(axis=-1)
                    errs[route].append((float(err[region[:n] > 0].mean()), float(err[region[:n] == 0].mean()), float(valid.mean())))
                    cpu[route].append(1000 * seconds / max(frames, 1))
            for route, e in errs.items():
                a = np.array(e)
                print(f"| {name} | {route} | {a[:, 0].mean():.3f} | {a[:, 0].max():.3f} | {a[:, 1].mean():.3f} | {a[:, 2].mean():.0%} | "
                      f"{np.mean(cpu[route]):.1f} |", flush=True)


if __name__ == "__main__":
    main()
