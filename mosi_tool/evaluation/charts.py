"""The PNG charts of the evaluations (matplotlib, headless, written atomically)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..atomic import atomic_path


def _pyplot():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    _pyplot().close(fig)


def confusion_chart(matrices: dict[str, np.ndarray], labels: Sequence[str], path: str | Path, title: str) -> None:
    """One row-normalised confusion matrix per entry (rows: true class, columns: predicted), with counts."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(matrices), figsize=(5.2 * len(matrices), 4.8), squeeze=False)
    for ax, (name, cm) in zip(axes[0], matrices.items()):
        rows = cm.sum(axis=1, keepdims=True)
        frac = np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
        ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                if cm[i, j]:
                    ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=7, color="white" if frac[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(labels)), labels, rotation=60, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_xlabel("predicted (x, y)")
        ax.set_ylabel("true (x, y)")
        acc = np.trace(cm) / max(cm.sum(), 1)
        ax.set_title(f"{name}: {100 * acc:.1f}%")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def grouped_bars(
    groups: Sequence[str], panels: Mapping[str, Mapping[str, Sequence[Any]]], path: str | Path, title: str,
    reference: dict[str, float] | None = None,
) -> None:  # fmt: skip
    """One panel per metric; in each, one bar per (group, series). reference: metric -> a dotted line (chance)."""
    plt = _pyplot()
    rows = len(panels)
    fig, axes = plt.subplots(rows, 1, figsize=(max(6.0, 0.9 * len(groups) + 2), 2.6 * rows + 1.2), squeeze=False, sharex=True)
    for ax, (metric, data) in zip(axes[:, 0], panels.items()):
        width = 0.8 / max(1, len(data))
        x = np.arange(len(groups))
        for k, (name, values) in enumerate(data.items()):
            vals = np.array([np.nan if v is None else v for v in values], dtype=float)
            ax.bar(x + (k - (len(data) - 1) / 2) * width, vals, width, label=name)
        if reference and metric in reference:
            ax.axhline(reference[metric], color="grey", ls=":", lw=1)
        ax.set_xticks(x, groups, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(metric)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)
