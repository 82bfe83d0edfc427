"""Follow a training run on real video: score each finished epoch's checkpoint on DAVIS as it appears.

    python tools/track_davis.py training/state/camera            # watch until the run stops, one row per epoch
    python tools/track_davis.py training/state/camera --once     # score the current checkpoint and exit

Each row of RUN/davis.csv holds the AUC-Judd of `--target motion` (no stabilisation) on `../shared/data/davis`
(mp4, first 40 frames per sequence, ONNX Runtime fp32, like the bundled model's scores), overall and by camera
subset, next to the epoch's validation pretext accuracy from RUN/metrics.csv, and the overall shuffled AUC
(`sauc_all`, which a centre bias does not raise). The checkpoint with the best shuffled AUC so far is kept as
RUN/best_davis.safetensors, so the run can be stopped or shipped at its best DAVIS epoch (docs/MODEL_CARD.md,
"Longer training").
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.evaluation.saliency_report import summary_auc  # noqa: E402

DAVIS = ROOT.parent / "shared" / "data" / "davis"
FIELDS = ("epoch", "auc_all", "auc_static", "auc_moving", "val_acc", "val_acc_unmasked", "cpu_s", "eval_s", "sauc_all")
SUBSETS = {"auc_all": "all", "auc_static": "static", "auc_moving": "moving"}
BEST = "sauc_all"  # the shuffled AUC picks best_davis: AUC-Judd also rewards a mere centre bias (docs/MODEL_CARD.md)


def epochs_done(run: Path) -> list[dict[str, str]]:
    """Rows of RUN/metrics.csv (one per finished epoch), or [] before the first."""
    path = run / "metrics.csv"
    return list(csv.DictReader(path.open())) if path.exists() else []


def scored(run: Path) -> set[int]:
    path = run / "davis.csv"
    return {int(r["epoch"]) for r in csv.DictReader(path.open())} if path.exists() else set()


def davis_auc(checkpoint: Path, max_frames: int) -> dict[str, float]:
    """AUC-Judd of the `motion` target, overall and by camera subset (a subprocess of `mosi-tool eval saliency`)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "davis.json"
        cmd = [sys.executable, "-m", "mosi_tool", "eval", "saliency", "--model", str(checkpoint), "--davis", str(DAVIS),
               "--max-frames", str(max_frames), "--source", "mp4", "--targets", "motion", "--stabilize", "none",
               "--no-fusion", "--no-random-init", "--device", "cpu", "--runtime", "onnx", "--json", str(report)]  # fmt: skip
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        doc = json.loads(report.read_text())
    scores = {key: summary_auc(doc, "motion", subset) for key, subset in SUBSETS.items()}
    return {**scores, "sauc_all": summary_auc(doc, "motion", "all", "sauc")}


def score_latest(run: Path, max_frames: int) -> bool:
    """Score RUN/last.safetensors if it holds an epoch not yet in davis.csv. True when a row was added."""
    rows = epochs_done(run)
    if not rows or int(rows[-1]["epoch"]) in scored(run):
        return False
    row = rows[-1]
    with tempfile.TemporaryDirectory() as tmp:
        # A private copy: the trainer may replace last.safetensors while we read it.
        ckpt = Path(tmp) / "epoch.safetensors"
        shutil.copy2(run / "last.safetensors", ckpt)
        if epochs_done(run)[-1]["epoch"] != row["epoch"]:
            return False  # a newer epoch landed during the copy: score that one next time
        t0 = time.perf_counter()
        auc = davis_auc(ckpt, max_frames)
        out = {"epoch": row["epoch"], **{k: f"{v:.4f}" for k, v in auc.items()}, "val_acc": row["val_acc"],
               "val_acc_unmasked": row["val_acc_unmasked"], "cpu_s": row["cpu_s"],
               "eval_s": f"{time.perf_counter() - t0:.0f}"}  # fmt: skip
        path = run / "davis.csv"
        previous = list(csv.DictReader(path.open())) if path.exists() else []
        if all(auc[BEST] > float(r.get(BEST) or "-inf") for r in previous):  # rows from before sAUC have none
            shutil.copy2(ckpt, run / "best_davis.tmp")
            os.replace(run / "best_davis.tmp", run / "best_davis.safetensors")
    tmp = path.with_suffix(".tmp")  # the whole table rewritten, so rows from before a new column get it empty
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows([*previous, out])
    os.replace(tmp, path)
    print(f"epoch {out['epoch']}: DAVIS AUC-Judd {out['auc_all']} (static {out['auc_static']}, moving "
          f"{out['auc_moving']}), val {float(out['val_acc']):.3f}", flush=True)  # fmt: skip
    return True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="training run folder (metrics.csv, last.safetensors)")
    p.add_argument("--max-frames", type=int, default=40, help="DAVIS frames per sequence")
    p.add_argument("--once", action="store_true", help="score the current checkpoint and exit")
    p.add_argument("--poll-s", type=float, default=60.0)
    a = p.parse_args()
    if not DAVIS.is_dir():
        sys.exit(f"{DAVIS}: DAVIS not found (see ../shared/data/README.md)")
    while True:
        score_latest(a.run, a.max_frames)
        if a.once:
            return
        time.sleep(a.poll_s)


if __name__ == "__main__":
    main()
