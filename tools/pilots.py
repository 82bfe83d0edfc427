"""Choose the default model by measurement: short MoSI pilots with equal CPU budgets, then the same scores.

    python tools/pilots.py train [--budget-cpu-s 720] [--only A,B]   # all pilots in parallel, 1 thread each
    python tools/pilots.py score                                     # DAVIS, pretext, speed -> runs/pilots/pilots.json
    python tools/pilots.py table                                     # markdown table (docs/EVALUATION.md)

Each pilot is one candidate config (width, clip, jitter) trained on the same images with the same recipe
(masked MoSI, Adam 1e-3, warm-up then cosine, bf16 where the CPU has it). The budget is CPU time, not wall
time, so pilots sharing a loaded machine still get equal compute: a short calibration measures each
candidate's CPU seconds per source image, and its epoch count and source limit are set to spend the budget.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.evaluation.saliency_report import summary_auc  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
ROOTS = [SHARED / "images" / "imagenet-sample", SHARED / "images" / "imagenette-val"]
OUT = ROOT / "runs" / "pilots"
SPEED_VIDEO = SHARED / "davis" / "mp4" / "camel.mp4"

# name -> (width, frames, crop, source size, colour jitter)
CANDIDATES: dict[str, tuple[int, int, int, int, bool]] = {
    "w16-8x64": (16, 8, 64, 160, False),
    "w16-8x64-jitter": (16, 8, 64, 160, True),
    "w24-8x64": (24, 8, 64, 160, False),
    "w32-8x64": (32, 8, 64, 160, False),
    "w16-8x96": (16, 8, 96, 240, False),
}


def config(name: str, epochs: int = 1, limit: int | None = None) -> Any:
    from mosi_tool.training.config import build_config

    width, frames, crop, source, jitter = CANDIDATES[name]
    motion: dict[str, Any] = {"frames": frames, "crop": crop, "source_size": source, "jitter": jitter}
    over: dict[str, Any] = {
        "width": width, "epochs": epochs, "batch_size": 8, "device": "cpu", "precision": "auto",
        "out": str(OUT / name), "motion": motion,
        "data": {"kind": "imagenet", "root": [str(r) for r in ROOTS], "val_fraction": 0.05, "workers": 2, "limit": limit},
        "optim": {"warmup_epochs": max(0.1 * epochs, 0.1)},
    }  # fmt: skip
    return build_config("paper", None, over)


def calibrate(name: str, steps: int = 3) -> float:
    """CPU seconds per source image in the candidate's training steps (bench/train.py's timed steps)."""
    from bench.train import time_run

    cfg = config(name)
    run = time_run(cfg, name, cfg.precision, True, steps, 1)
    return run.cpu_ms_per_step / 1000 / cfg.batch_size


def build_caches(names: list[str]) -> None:
    """Decode the sources once per source size before the pilots start (they would race to build them)."""
    from mosi_tool.training.data import find_sources, split_sources
    from mosi_tool.training.loop import source_datasets

    sizes = {}
    for n in names:
        sizes.setdefault(CANDIDATES[n][3], n)
    for n in sizes.values():
        cfg = config(n)
        train, val = split_sources(find_sources("imagenet", cfg.data.root), cfg.data.val_fraction, cfg.seed)
        source_datasets(cfg, train, val)


def train_one(name: str, budget: float) -> None:
    import torch

    from mosi_tool.training.data import find_sources, split_sources
    from mosi_tool.training.loop import training_loop

    torch.set_num_threads(1)
    cost = calibrate(name)
    n_train = len(split_sources(find_sources("imagenet", [str(r) for r in ROOTS]), 0.05, 0)[0])
    total = int(budget / cost)
    epochs = max(1, round(total / n_train))
    limit = None if total >= n_train else max(8, total)
    cfg = config(name, epochs, limit)
    plan = {"name": name, "cpu_s_per_source": cost, "budget_cpu_s": budget, "epochs": epochs, "limit": limit, "sources_planned": total}
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    (Path(cfg.out) / "plan.json").write_text(json.dumps(plan, indent=2))
    print(json.dumps(plan), flush=True)
    training_loop(cfg, command=f"python tools/pilots.py train --only {name} --budget-cpu-s {budget:g}")


def score_one(name: str, max_frames: int) -> dict[str, Any]:
    """DAVIS AUC-Judd (moving/static camera), held-out pretext accuracy and saliency speed of one pilot."""
    run = OUT / name
    ckpt = run / "last.safetensors"
    out: dict[str, Any] = {"name": name, "plan": json.loads((run / "plan.json").read_text())}
    cli = [sys.executable, "-m", "mosi_tool"]
    roots = [a for r in ROOTS for a in ("--root", str(r))]
    subprocess.run([*cli, "eval", "pretext", "--model", str(ckpt), *roots, "--no-random-init", "--device", "cpu",
                    "--json", str(run / "pretext.json")], check=True, cwd=ROOT)  # fmt: skip
    subprocess.run([*cli, "eval", "saliency", "--model", str(ckpt), "--davis", str(SHARED / "davis"), "--max-frames",
                    str(max_frames), "--targets", "motion,pred", "--no-random-init", "--device", "cpu",
                    "--json", str(run / "saliency.json")], check=True, cwd=ROOT)  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run([*cli, "saliency", str(SPEED_VIDEO), "--model", str(ckpt), "--device", "cpu", "--out",
                    str(run / "speed.mp4")], check=True, cwd=ROOT, capture_output=True)  # fmt: skip
    out["saliency_s"] = time.perf_counter() - t0
    out["pretext"] = json.loads((run / "pretext.json").read_text())
    out["saliency"] = json.loads((run / "saliency.json").read_text())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("train", "score", "table"))
    p.add_argument("--only", help="comma-separated candidate names (default: all)")
    p.add_argument("--budget-cpu-s", type=float, default=720.0, help="CPU seconds of training per pilot")
    p.add_argument("--max-frames", type=int, default=40, help="DAVIS frames per sequence for scoring")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: train this pilot in this process
    a = p.parse_args()
    names = a.only.split(",") if a.only else list(CANDIDATES)
    if a.what == "train" and a.one:
        train_one(a.one, a.budget_cpu_s)
    elif a.what == "train":
        OUT.mkdir(parents=True, exist_ok=True)
        build_caches(names)
        procs = [
            subprocess.Popen([sys.executable, __file__, "train", "--one", n, "--budget-cpu-s", str(a.budget_cpu_s)],
                             stdout=open(OUT / f"{n}.log", "w"), stderr=subprocess.STDOUT, cwd=ROOT,
                             env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
            for n in names
        ]
        sys.exit(max(pr.wait() for pr in procs))
    elif a.what == "score":
        path = OUT / "pilots.json"
        results = json.loads(path.read_text()) if path.exists() else {}
        for n in names:
            results[n] = score_one(n, a.max_frames)
            path.write_text(json.dumps(results, indent=2))
    else:
        print(table(json.loads((OUT / "pilots.json").read_text())))


def table(results: dict[str, Any]) -> str:
    head = ("| pilot | width | clip | jitter | epochs x sources | pretext masked / unmasked | DAVIS AUC motion / pred | "
            "moving / static camera (motion) | saliency s (camel, 854x480, 90 frames) |")  # fmt: skip
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for n, r in results.items():
        w, t, c, _, jit = CANDIDATES[n]
        plan = r["plan"]
        pre = r["pretext"]["results"]["MoSI"]
        sal = r["saliency"]
        lines.append(
            f"| {n} | {w} | {t}x{c}x{c} | {'yes' if jit else 'no'} | {plan['epochs']} x {plan['limit'] or 'all'} | "
            f"{100 * pre['masked']['accuracy']:.1f}% / {100 * pre['unmasked']['accuracy']:.1f}% | "
            f"{summary_auc(sal, 'motion'):.3f} / {summary_auc(sal, 'pred'):.3f} | "
            f"{summary_auc(sal, 'motion', 'moving'):.3f} / {summary_auc(sal, 'motion', 'static'):.3f} | {r['saliency_s']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
