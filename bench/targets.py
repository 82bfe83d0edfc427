"""Motion targets (`mosi-tool targets`): accuracy against known motion, agreement with MME's own route on the
DAVIS videos, and speed against FFmpeg's decode with vector export.

    python bench/targets.py                                   # appends a section to docs/BENCHMARKS.md
    python bench/targets.py --speed-video V.mp4 --report -    # print only

1. Accuracy: videos made by `mosi_tool.evaluation.known_motion` (a textured background panning at a sub-pixel
   velocity under textured squares moving at their own sub-pixel velocities), encoded with libx264 (crf 18,
   preset medium: B-frames in a pyramid, 3 reference frames). For every trajectory point away from the
   squares' edges: the error |ours - truth| in px/step of the camera-compensated per-step displacement, for
   the background (truth 0) and the squares (truth: their velocity less the background's), averaged over the
   points each route calls valid. Routes: ours (codec vectors, `compute_targets`) and MME's (OpenCV Farneback
   flow between consecutive decoded frames at full size, points tracked through it with bilinear reads, the
   camera removed by a RANSAC similarity fitted to the flow on the 8-px grid). CPU ms per frame of each, from
   the file (decoding included). Every encode uses one x264 thread, so the videos are the same on any machine.
   Then the same errors over random scenes, for five encoder settings (`ENCODINGS`), both routes.
2. Agreement on DAVIS videos: mean |ours - MME route| px/step over points both call valid.
3. Speed: `mosi-tool targets V -j 0` as a whole process against `ffmpeg -threads 1 -flags2 +export_mvs -i V
   -f null -` (CPU time of each child process, alternated, best of `--repeats`), on the same machine in the
   same run: the ratio is what counts (the machine is shared, so absolute times vary). Also what one more
   video costs in a batch (`targets` over a folder of 3 copies of V, less the one-video run, halved): a
   dataset's per-video cost, without the process's start-up (imports, loading the compiled kernels).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.evaluation import known_motion as km  # noqa: E402
from mosi_tool.motion_targets.compute import compute_targets  # noqa: E402
from mosi_tool.motion_targets.trajectories import start_grid  # noqa: E402

SHARED = Path(os.environ.get("MOSI_SHARED_DATA", ROOT.parent / "shared" / "data"))
L = 4
SCENES = {
    "pan + 2 squares, 320x192": km.Scene(),
    "slow pan + fast square, 640x360": km.Scene(
        width=640, height=360, frames=48, background=(-0.75, 0.25),
        squares=(km.MovingSquare(100.0, 100.0, 96, (3.5, 1.25), seed=5), km.MovingSquare(420.0, 200.0, 80, (0.0, -1.75), seed=6)),
    ),
}  # fmt: skip


def farneback_route(path: Path, length: int = L) -> tuple[np.ndarray, np.ndarray, float, int]:
    """MME's route on CPU: (steps (S, H/8, W/8, L, 2) compensated px, valid (S, H/8, W/8), CPU s, frames)."""
    import cv2

    from mosi_tool.evaluation import baselines as bl
    from mosi_tool.video.decode import VideoReader

    c0 = time.process_time()
    info = VideoReader(path).info
    gray = bl.read_gray(path, (info.width, info.height))
    flows = bl.farneback_flow(gray)  # flows[t]: forward flow from t-1 to t at frame t-1's pixels
    h, w = gray.shape[1:]
    grid = start_grid(h, w)
    p0 = grid.reshape(-1, 2)
    cams = []
    for t in range(len(flows)):  # forward camera model of each flow: p -> p + f(p), fitted on the 8-px grid
        f = flows[t][p0[:, 1].astype(int), p0[:, 0].astype(int)]
        a, _ = cv2.estimateAffinePartial2D(p0, p0 + f, method=cv2.RANSAC, ransacReprojThreshold=1.0)
        cams.append(a if a is not None else np.eye(2, 3))
    starts = np.arange(len(gray) - length)
    steps = np.zeros((len(starts), *grid.shape[:2], length, 2), np.float32)
    valid = np.ones((len(starts), *grid.shape[:2]), bool)
    for i, s in enumerate(starts):
        p = grid.copy()
        for k in range(length):
            t = s + k + 1
            f = cv2.remap(flows[t], p[..., 0].astype(np.float32), p[..., 1].astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            a = cams[t]
            cam = p @ a[:, :2].T + a[:, 2] - p
            steps[i, :, :, k] = f - cam
            p = p + f
            valid[i] &= (p[..., 0] >= 0) & (p[..., 0] < w) & (p[..., 1] >= 0) & (p[..., 1] < h)
    return steps, valid, time.process_time() - c0, len(gray)


def ours(path: Path) -> tuple[np.ndarray, np.ndarray, float, int]:
    c0 = time.process_time()
    t = compute_targets(path)
    return t.trajectories.astype(np.float32), t.valid, time.process_time() - c0, len(t.times)


def accuracy(tmp: Path) -> list[str]:
    rows = []
    for i, (name, scene) in enumerate(SCENES.items()):
        path = km.encode(scene, tmp / "scene.mp4")
        if i == 0:
            ours(path)  # once untimed: the process loads its compiled kernels on first use (a batch does it once)
        truth, region = km.truth(scene, np.arange(scene.frames - L), L)
        for route, fn in (("ours (codec vectors)", ours), ("MME route (Farneback)", farneback_route)):
            steps, valid, cpu, frames = fn(path)
            err = np.linalg.norm(steps - truth, axis=-1).mean(axis=-1)  # (S, h, w) mean over the L steps
            bg = (region == 0) & valid
            cells = [f"{err[bg].mean():.3f}"]
            for k in range(len(scene.squares)):
                sq = (region == k + 1) & valid
                v = np.subtract(scene.squares[k].velocity, scene.background)
                cells.append(f"{err[sq].mean():.3f} (v {v[0]:+.2f},{v[1]:+.2f})")
            scored = ((region >= 0) & valid).sum() / max(1, (region >= 0).sum())
            rows.append(f"| {name} | {route} | {' | '.join(cells[:1])} | {' / '.join(cells[1:])} | {scored:.0%} | {cpu / frames * 1000:.1f} |")
            print(rows[-1], flush=True)
    return rows


# encoder settings for the robustness table: (crf, x264 options)
ENCODINGS = {
    "crf 18, preset medium (the default above)": (18, {}),
    "crf 26, preset medium": (26, {}),
    "crf 18, preset slow": (18, {"preset": "slow"}),
    "crf 18, preset veryfast": (18, {"preset": "veryfast"}),
    "crf 18, macroblock tree off": (18, {"x264-params": "mbtree=0"}),
}


def random_scenes(n: int, seed: int = 7) -> list[km.Scene]:
    """`n` 320x192 scenes of 40 frames: a background panning at up to 2 px/frame and two squares at up to
    3.5 px/frame each way, in quarter and eighth pixels."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        bg = tuple(float(v) for v in np.round(rng.uniform(-2, 2, 2) * 4) / 4)
        squares = tuple(km.MovingSquare(float(rng.uniform(20, 200)), float(rng.uniform(20, 100)), int(rng.integers(48, 80)),
                                        tuple(float(v) for v in np.round(rng.uniform(-3.5, 3.5, 2) * 8) / 8), seed=20 + 2 * i + k)  # type: ignore[arg-type]
                        for k in range(2))  # fmt: skip
        out.append(km.Scene(width=320, height=192, frames=40, background=bg, squares=squares))  # type: ignore[arg-type]
    return out


def other_code_route(code: Path) -> Callable[[Path], tuple[np.ndarray, np.ndarray, float, int]]:
    """`ours`, computed by the `mosi_tool` of another checkout `code` (a baseline in the same run, on the same
    video files), in a child process."""

    def run(path: Path) -> tuple[np.ndarray, np.ndarray, float, int]:
        out = path.with_suffix(".baseline.npz")
        script = ("import sys, time, numpy as np; sys.path.insert(0, sys.argv[1]); "
                  "from mosi_tool.motion_targets.compute import compute_targets; c0 = time.process_time(); "
                  "t = compute_targets(sys.argv[2]); cpu = time.process_time() - c0; "
                  "np.savez(sys.argv[3], steps=t.trajectories.astype(np.float32), valid=t.valid, frames=len(t.times), cpu=cpu)")  # fmt: skip
        subprocess.run([sys.executable, "-c", script, str(code), str(path), str(out)], check=True, cwd=code)
        with np.load(out) as d:
            return d["steps"], d["valid"], float(d["cpu"]) if "cpu" in d.files else 0.0, int(d["frames"])

    return run


def robustness(tmp: Path, scenes: int, baseline: Path | None = None) -> list[str]:
    """Mean and worst errors over `scenes` random scenes, for each encoder setting and route (and the code in
    `baseline`, on the same files)."""
    routes: dict[str, Callable[[Path], tuple[np.ndarray, np.ndarray, float, int]]] = {"ours": ours, "Farneback": farneback_route}
    if baseline is not None:
        routes["before"] = other_code_route(baseline)
    rows = []
    for name, (crf, options) in ENCODINGS.items():
        errs: dict[str, list[tuple[float, float]]] = {route: [] for route in routes}
        for scene in random_scenes(scenes):
            path = km.encode(scene, tmp / "scene.mp4", crf=crf, options=options)
            truth, region = km.truth(scene, np.arange(scene.frames - L), L)
            for route, fn in routes.items():
                steps, valid, _, _ = fn(path)
                err = np.linalg.norm(steps - truth, axis=-1).mean(axis=-1)
                errs[route].append((float(err[(region == 0) & valid].mean()), float(err[(region > 0) & valid].mean())))
        cells = []
        for route in routes:
            e = np.array(errs[route])
            cells += [f"{e[:, 0].mean():.3f}", f"{e[:, 1].mean():.3f}", f"{e[:, 1].max():.3f}"]
        rows.append(f"| {name} | {' | '.join(cells)} |")
        print(rows[-1], flush=True)
    return rows


def agreement(videos: list[Path]) -> list[str]:
    rows = []
    for v in videos:
        a, va, ca, n = ours(v)
        b, vb, cb, _ = farneback_route(v)
        both = va & vb
        diff = np.linalg.norm(a - b, axis=-1).mean(axis=-1)
        mag = np.linalg.norm(b, axis=-1).mean(axis=-1)
        rows.append(f"| {v.name} | {n} | {diff[both].mean():.2f} | {np.median(diff[both]):.2f} | {mag[both].mean():.2f} | "
                    f"{both.mean():.0%} | {ca / n * 1000:.1f} | {cb / n * 1000:.1f} | {cb / ca:.0f}x |")  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def child_cpu(cmd: list[str], cwd: Path | None = None) -> float:
    """CPU seconds (user + system) of one child process run to completion (in `cwd`: `python -m mosi_tool`
    there runs that checkout's code). The child keeps Python's bytecode caches, as an installed package does
    (PYTHONDONTWRITEBYTECODE, which a development shell may set, is left out of its environment: without the
    caches every start compiles the project's modules again)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def speed(video: Path, repeats: int, tmp: Path, batch: int = 3, baseline: Path | None = None) -> list[str]:
    """Rows of the speed table: FFmpeg's decode, `targets` on the one video in a fresh process, and the cost of
    one more video in a batch (one process over `batch` copies of the video, less the one-video run, over
    batch - 1: what each video of a dataset costs once the process has started and loaded its kernels).
    baseline: another checkout, timed the same way in the same rounds (its row follows ours). Ours is timed with
    its default (scene cuts found and each block's reference frame measured on the decoded pictures), with
    `--estimate-references` (the references estimated from the vectors) and with `--no-cuts --estimate-references`
    (the vectors parsed alone)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return ["| (ffmpeg not installed: `apt-get install ffmpeg` for this comparison) | | | | | | |"]
    video, folder = video.resolve(), tmp.resolve() / "batch"
    folder.mkdir(exist_ok=True)
    for k in range(batch):  # copies: the inputs' discovery counts links to one file once
        copy = folder / f"v{k}{video.suffix}"
        if not copy.exists():
            shutil.copyfile(video, copy)
    codes = {"this code": (ROOT, []), "this code, --estimate-references": (ROOT, ["--estimate-references"]),
             "this code, --no-cuts --estimate-references": (ROOT, ["--no-cuts", "--estimate-references"]),
             **({"before": (baseline.resolve(), [])} if baseline else {})}  # fmt: skip
    ff: list[float] = []
    runs: dict[tuple[str, str], list[float]] = {(c, k): [] for c in codes for k in ("one", "batch")}
    for r in range(repeats):
        ff.append(child_cpu([ffmpeg, "-v", "error", "-threads", "1", "-flags2", "+export_mvs", "-i", str(video), "-f", "null", "-"]))
        for k, (c, (code, extra)) in enumerate(codes.items()):
            out = tmp.resolve() / f"code{k}-{r}"
            runs[c, "one"].append(child_cpu([sys.executable, "-m", "mosi_tool", "targets", str(video), "-o", str(out / "one"), "-j", "0", *extra], code))
            runs[c, "batch"].append(child_cpu([sys.executable, "-m", "mosi_tool", "targets", str(folder), "-o", str(out / "batch"), "-j", "0", *extra], code))
    from mosi_tool.video.decode import VideoReader

    info = VideoReader(video).info
    f = min(ff)
    rows = []
    for c in codes:
        t, b = min(runs[c, "one"]), min(runs[c, "batch"])
        more = (b - t) / (batch - 1)
        rows.append(f"| {video.name} ({info.width}x{info.height}, {info.frames or 0} frames) | {c} | {f:.2f} | {t:.2f} | "
                    f"{t / f:.2f}x | {more:.2f} | {more / f:.2f}x |")
    return rows


def peak_memory(cmd: list[str], cwd: Path | None = None, every: float = 0.02) -> tuple[float, float]:
    """(anonymous MB, mapped file MB): the peaks of a child process's resident memory, sampled from Linux's
    /proc/PID/status every `every` s. Anonymous memory is the process's own; mapped file pages belong to the OS
    page cache, which takes them back under pressure (ru_maxrss counts both)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    anon = file = 0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except OSError:
            break
        kb = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in status.splitlines() if line.startswith("Rss"))}
        anon, file = max(anon, kb.get("RssAnon", 0)), max(file, kb.get("RssFile", 0))
        time.sleep(every)
    if proc.wait() != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return anon / 1024, file / 1024


def memory(video: Path, tmp: Path, baseline: Path | None = None, fmt: str = "npz") -> list[str]:
    """Rows of the memory table: `targets V -j 0 --format fmt`'s peak anonymous and mapped-file memory, this
    code and the baseline's, on the same video."""
    from mosi_tool.video.decode import VideoReader

    info = VideoReader(video).info
    rows = []
    for c, code in {"this code": ROOT, **({"before": baseline.resolve()} if baseline else {})}.items():
        out = tmp.resolve() / f"memory-{c.replace(' ', '-')}"
        anon, file = peak_memory([sys.executable, "-m", "mosi_tool", "targets", str(video.resolve()), "-o", str(out), "-j", "0", "--format", fmt], code)
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and p.name != "failures.jsonl") / 2**20
        rows.append(f"| {video.name} ({info.width}x{info.height}, {info.frames or 0} frames) | {c} | {anon:.0f} | {file:.0f} | {size:.0f} |")
    return rows


MEMORY_HEADER = ["| video | code | peak anonymous memory MB | peak mapped file MB | file written MB |", "|---|---|---:|---:|---:|"]
SPEED_HEADER = ["| video | code | ffmpeg CPU s | targets CPU s (one process) | ratio | one more video in a batch, CPU s | ratio |",
                "|---|---|---:|---:|---:|---:|---:|"]


def speed_video_or_default(video: Path | None, tmp: Path) -> Path:
    """The given speed video, or the shared DAVIS videos joined to one minute (made in `tmp`)."""
    if video is not None:
        return video
    from bench.auto_features import davis_videos, make_video

    made = tmp / "davis-60s.mp4"
    make_video(made, 60.0, davis_videos())
    return made


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", nargs="*", type=Path, help="DAVIS videos for the agreement (default: 4 of ../shared/data/davis/mp4)")
    p.add_argument("--speed-video", type=Path, help="an 854x480 H.264 video for the speed run (default: the shared DAVIS "
                   "videos joined to one minute, as bench/saliency_vs_ffmpeg.py makes it)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--scenes", type=int, default=6, help="random scenes per encoder setting in the robustness table")
    p.add_argument("--baseline-code", type=Path, help="another checkout (e.g. `git archive REV | tar -x -C OLD`): its "
                   "targets on the same videos in the robustness table")
    p.add_argument("--baseline-name", default="", help="what --baseline-code is, for the report (e.g. 'commit 95879e1')")
    p.add_argument("--memory-video", type=Path, help="the video of the memory table (default: the speed video)")
    p.add_argument("--memory-format", default="npz", choices=("npz", "mme", "mofo"), help="the format of the memory run")
    p.add_argument("--only", choices=("robustness", "speed", "memory"), help="run only this part (printed, not recorded)")
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md", help="'-': print only")
    args = p.parse_args(argv)
    videos = args.videos or sorted((SHARED / "davis" / "mp4").glob("*.mp4"))[:4]
    with tempfile.TemporaryDirectory(prefix="bench-targets-") as tmp:
        if args.only == "robustness":
            robustness(Path(tmp), args.scenes, args.baseline_code)
            return
        if args.only == "speed":
            print("\n".join([*SPEED_HEADER, *speed(speed_video_or_default(args.speed_video, Path(tmp)), args.repeats, Path(tmp),
                                                    baseline=args.baseline_code)]))
            return
        if args.only == "memory":
            video = args.memory_video or speed_video_or_default(args.speed_video, Path(tmp))
            print("\n".join([*MEMORY_HEADER, *memory(video, Path(tmp), args.baseline_code, args.memory_format)]))
            return
        acc = accuracy(Path(tmp))
        robust = robustness(Path(tmp), args.scenes, args.baseline_code)
        agree = agreement(videos)
        speed_rows = speed(speed_video_or_default(args.speed_video, Path(tmp)), args.repeats, Path(tmp), baseline=args.baseline_code)
        print("\n".join(speed_rows), flush=True)
        memory_rows = memory(args.memory_video or speed_video_or_default(args.speed_video, Path(tmp)), Path(tmp), args.baseline_code, args.memory_format)
        print("\n".join(memory_rows), flush=True)
    from bench.report import cpu_section, publish

    section = cpu_section(
        "Motion targets: accuracy, agreement with MME's route, speed", "bench/targets.py", argv,
        [f"python {sys.version.split()[0]}, numpy {np.__version__}, opencv {__import__('cv2').__version__}, "
         f"ffmpeg {shutil.which('ffmpeg') or 'absent'}"],
        ["Accuracy on videos with known motion (libx264 crf 18, preset medium), camera-compensated trajectories, "
         "mean error px/step over the points each route calls valid:", "",
         "| video | route | background | squares (true compensated velocity) | points scored | CPU ms/frame |",
         "|---|---|---:|---|---:|---:|", *acc, "",
         f"Robustness: {args.scenes} random scenes (320x192, 40 frames; background up to 2 px/frame, two squares up to 3.5 "
         "px/frame, `random_scenes`) per encoder setting, mean error px/step (objects: mean over the scenes, and the worst scene):", "",
         "| encoder | ours background | ours objects | ours worst | Farneback background | Farneback objects | Farneback worst |"
         + (" before: background | before: objects | before: worst |" if args.baseline_code else ""),
         "|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if args.baseline_code else ""), *robust, "",
         "Agreement with MME's route on DAVIS videos (854x480), px/step over points valid in both:", "",
         "| video | frames | mean diff | median diff | mean Farneback step | both valid | ours CPU ms/frame | Farneback CPU ms/frame | speed ratio |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|", *agree, "",
         "Speed of the whole `targets` process against FFmpeg's single-threaded decode with vector export (CPU s, best of "
         f"{args.repeats}, alternated):", "",
         *SPEED_HEADER, *speed_rows, "",
         "Memory of `targets V -j 0` (peaks sampled from /proc every 20 ms; the mapped file pages are the OS page "
         "cache's, which it takes back under pressure):", "",
         *MEMORY_HEADER, *memory_rows],
        [*([f"before: {args.baseline_name or args.baseline_code}, on the same files"] if args.baseline_code else []),
         "CPU time per frame includes decoding the file for both routes.",
         "Targets: objects within 0.5 px/step, background within 0.25 px/step, >= 10x the Farneback route's speed; "
         "`targets` within 2x FFmpeg's decode."],
    )  # fmt: skip
    publish(section, args.report)


if __name__ == "__main__":
    main()
