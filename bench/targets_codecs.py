"""Motion targets of codecs other than H.264: MPEG-4 Part 2 (Xvid, as UCF-101 is stored) with and without
B-frames, and VP9 (as YouTube serves video; FFmpeg exports no vectors for it, so the optical-flow fallback runs):
the error against the known motion of `bench/targets.py`'s random scenes, transcoded by FFmpeg.

    python bench/targets_codecs.py [--scenes 6] [--baseline-code OLD] [--only xvid|vp9]
    python bench/targets_codecs.py --davis-gaps camel,breakdance,dog,car-shadow

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


def xvid_gaps(names: list[str], tmp: Path, gaps: tuple[int, ...] = (2, 5)) -> None:
    """DAVIS videos transcoded to Xvid with two B-frames (FFmpeg's GOP of 12: B B I B B around each I-frame),
    their targets with runs of at most each of `gaps` frames without vectors counted as known
    (`streaming.SHORT_GAP`), against the targets of the H.264 original: the share of valid points, and the mean
    |difference| px/step over the points valid in both at the shortest run, and over those that only the longer
    runs make valid."""
    from mosi_tool.motion_targets.compute import compute_targets
    from mosi_tool.video.motion import streaming

    davis = bt.SHARED / "davis" / "mp4"
    print("| sequence | valid, runs <= " + " | valid, runs <= ".join(map(str, gaps)) + f" | diff, valid at {gaps[0]} | diff, made valid by {gaps[-1]} |")
    print("|---|" + "---:|" * (len(gaps) + 2))
    saved = streaming.SHORT_GAP
    try:
        for name in names:
            xvid = tmp / f"{name}.avi"
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(davis / f"{name}.mp4"), "-c:v", "libxvid", "-q:v", "3", "-bf", "2", str(xvid)], check=True)
            ref = compute_targets(davis / f"{name}.mp4")
            runs = {}
            for g in gaps:
                streaming.SHORT_GAP = g
                runs[g] = compute_targets(xvid)
            n = min(len(ref.trajectories), *(len(t.trajectories) for t in runs.values()))
            truth = ref.trajectories[:n].astype(np.float32)
            diff = {g: np.linalg.norm(t.trajectories[:n].astype(np.float32) - truth, axis=-1).mean(-1) for g, t in runs.items()}
            first = runs[gaps[0]].valid[:n] & ref.valid[:n]
            added = runs[gaps[-1]].valid[:n] & ref.valid[:n] & ~first
            print(f"| {name} | " + " | ".join(f"{t.valid.mean():.0%}" for t in runs.values())
                  + f" | {diff[gaps[0]][first].mean():.3f} | {diff[gaps[-1]][added].mean() if added.any() else float('nan'):.3f} |", flush=True)
    finally:
        streaming.SHORT_GAP = saved


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenes", type=int, default=6)
    p.add_argument("--baseline-code", type=Path, help="another checkout: its targets on the same files")
    p.add_argument("--only", choices=("xvid", "vp9"), help="only these encodings")
    p.add_argument("--davis-gaps", help="comma-separated DAVIS sequences: only the Xvid run-length check (`xvid_gaps`)")
    args = p.parse_args(argv)
    if args.davis_gaps:
        with tempfile.TemporaryDirectory(prefix="targets-gaps-") as tmp:
            xvid_gaps(args.davis_gaps.split(","), Path(tmp))
        return
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
