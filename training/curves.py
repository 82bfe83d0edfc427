"""Training curves: metrics.csv -> curves.png (loss and pretext accuracy per epoch)."""

from __future__ import annotations

import csv
from pathlib import Path

from mosi_tool.atomic import atomic_path


def read_metrics(path: Path) -> list[dict[str, float]]:
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def plot_curves(metrics_csv: Path, out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_csv)
    if not rows:
        return
    epochs = [r["epoch"] for r in rows]
    # Markers: a run of one epoch has one point per curve, which a line alone does not draw.
    style = {"marker": "o", "markersize": 4}
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], label="train", **style)
    if "val_loss" in rows[0]:
        ax_loss.plot(epochs, [r.get("val_loss", float("nan")) for r in rows], label="val", **style)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.legend()
    ax_acc.plot(epochs, [100 * r["train_acc"] for r in rows], label="train (jittered)", **style)
    for key, label in (("val_acc", "val"), ("val_acc_unmasked", "val, unmasked")):
        if key in rows[0]:
            ax_acc.plot(epochs, [100 * r.get(key, float("nan")) for r in rows], label=label, **style)
    n_classes = rows[0].get("classes", 9)
    ax_acc.axhline(100 / n_classes, color="grey", ls=":", label="chance")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("pretext accuracy (%)")
    ax_acc.set_ylim(0, 100)
    ax_acc.legend()
    fig.suptitle(f"MoSI pre-training ({metrics_csv.parent.name})")
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
