"""The report of `mosi-tool eval saliency`: the best target and mode, comparisons, tables, notes, the
examples picture and the chart (the scoring is in `saliency_eval`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..progress import counted
from .report import fmt, format_table
from .saliency_methods import METRIC_NAMES, METRICS, MV, MV_RAW, model_row

SUBSETS = ("all", "static camera", "moving camera")


def summary_auc(report: dict[str, Any], target: str, subset: str = "all", metric: str = "auc") -> float:
    """Mean AUC-Judd (metric "sauc": shuffled AUC) of the plain MoSI row for `target` in an
    `evaluate_saliency` report (or its --json), overall or for the "moving" / "static" camera subset.
    StopIteration if the report has no such row."""
    key = {"all": "all", "moving": "moving camera", "static": "static camera"}[subset]
    method = next(m for m in report["methods"] if m["kind"] == "mosi" and m["target"] == target)
    return float(method["summary"][key][metric])


def best_target(methods: list[dict[str, Any]]) -> str | None:
    """The model's target with the highest mean AUC over all sequences (NSS breaks ties)."""
    mosi = [m for m in methods if m["kind"] == "mosi" and np.isfinite(m["summary"]["all"]["auc"])]
    if not mosi:
        return None
    top = max(mosi, key=lambda m: (m["summary"]["all"]["auc"], m["summary"]["all"]["nss"]))
    return str(top["target"])


SALIENCY_KINDS = ("mosi", "stabilized", "fused", "mv")  # rows `mosi-tool saliency` can produce


def best_method(methods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Among the rows `mosi-tool saliency` can produce, the one with the highest mean AUC-Judd over all sequences
    (NSS breaks ties), as the saliency options that give it."""
    rows = [m for m in methods if m["kind"] in SALIENCY_KINDS and np.isfinite(m["summary"]["all"]["auc"])]
    if not rows:
        return None
    top = max(rows, key=lambda m: (m["summary"]["all"]["auc"], m["summary"]["all"]["nss"]))
    method = {"mv": "mv", "fused": "fused"}.get(top["kind"], "cam")
    options = {"method": method, "stabilize": top.get("stabilize", "none")}
    if method != "mv":
        options["target"] = top["target"]
    return {"name": top["name"], "auc": top["summary"]["all"]["auc"], "options": options}


def target_wins(methods: list[dict[str, Any]]) -> dict[str, int]:
    """For each target of the model: on how many sequences it has the highest AUC among the targets."""
    mosi = [m for m in methods if m["kind"] == "mosi"]
    wins = {str(m["target"]): 0 for m in mosi}
    sequences = set().union(*(m["per_sequence"] for m in mosi)) if mosi else set()
    for seq in sorted(sequences):
        scored = [m for m in mosi if m["per_sequence"][seq]["frames"]]
        if scored:
            wins[str(max(scored, key=lambda m: m["per_sequence"][seq]["auc"])["target"])] += 1
    return wins


def verdict(mosi: dict[str, float], other: dict[str, float]) -> str:
    """'yes' (MoSI higher on every metric), 'no' (lower or equal on every one) or 'partly (...)'."""
    if not (np.isfinite(mosi["auc"]) and np.isfinite(other["auc"])):
        return "-"
    keys = [k for k in METRICS if k in mosi and k in other]
    better = [k for k in keys if mosi[k] > other[k]]
    if len(better) == len(keys):
        return "yes"
    if not better:
        return "no"
    return "partly (better " + ", ".join(METRIC_NAMES[k] for k in better) + ")"


def comparisons(methods: list[dict[str, Any]], best: str | None, subsets: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The best MoSI target against every other method, on every subset."""
    if best is None:
        return []
    mosi = next(m for m in methods if m["kind"] == "mosi" and m["target"] == best)
    out = []
    for subset in subsets:
        for m in methods:
            if m is mosi:
                continue
            a, b = mosi["summary"][subset], m["summary"][subset]
            out.append({
                "subset": subset, "against": m["name"], "verdict": verdict(a, b),
                **{f"{k}_diff": a[k] - b[k] for k in METRICS},
            })  # fmt: skip
    return out


def render_tables(report: dict[str, Any]) -> str:
    """The human-readable summary: one table per subset, per-sequence AUCs, then plain notes."""
    best = report["best_target"]
    best_name = f"MoSI ({best})"
    methods = report["methods"]
    verdicts = {(c["subset"], c["against"]): c["verdict"] for c in report["comparisons"]}
    parts = []
    for subset, names in report["subsets"].items():
        if not names:
            parts.append(f"{subset}: no sequences")
            continue
        rows = [
            [m["name"], *(m["summary"][subset][k] for k in METRICS),
             fmt(m["ms_per_frame"], 1), m["runtime"], "(this row)" if m["name"] == best_name else verdicts.get((subset, m["name"]), "-")]
            for m in methods
        ]  # fmt: skip
        head = ["method", *(METRIC_NAMES[k] for k in METRICS), "ms/frame", "runs on", f"{best_name} better?"]
        parts.append(format_table(head, rows, f"{subset} ({counted(len(names), 'sequence')}: {', '.join(names)})"))
    short = [m for m in methods if m["kind"] != "random" or m["target"] == best]
    seq_rows = [
        [s["name"], s["scored"], fmt(s["background_motion"], 2), "moving" if s["moving_camera"] else "static",
         *(m["per_sequence"].get(s["name"], {}).get("auc", float("nan")) for m in short)]
        for s in report["sequences"]
    ]  # fmt: skip
    parts.append(format_table(["sequence", "frames", "bg px/f", "camera", *(m["name"] for m in short)], seq_rows, "AUC-Judd per sequence"))
    parts.append("\n".join(notes(report)))
    return "\n\n".join(parts)


def notes(report: dict[str, Any]) -> list[str]:
    """Plain sentences: the best target, the camera-motion split, and every baseline MoSI loses to."""
    best = report["best_target"]
    out = []
    mosi = [m for m in report["methods"] if m["kind"] == "mosi"]
    ranking = sorted(mosi, key=lambda m: -(m["summary"]["all"]["auc"] if np.isfinite(m["summary"]["all"]["auc"]) else -1))
    wins = report["target_wins"]
    out.append("targets by mean AUC-Judd: " + ", ".join(f"{m['target']} {fmt(m['summary']['all']['auc'])} "
               f"(best on {wins[m['target']]} sequences)" for m in ranking) + f"; best: {best}")  # fmt: skip
    top = report.get("best_method")
    if top:
        from ..saliency.defaults import DEFAULT_METHOD, DEFAULT_STABILIZE

        opts = " ".join(f"--{k} {v}" for k, v in top["options"].items())
        method = top["options"]["method"]
        # --stabilize applies to the network's maps only, so it is compared only where a network ran.
        same = method == DEFAULT_METHOD and (method == "mv" or top["options"]["stabilize"] == DEFAULT_STABILIZE)
        out.append(f"best saliency mode by mean AUC-Judd: {top['name']} {fmt(top['auc'])} ({opts}); `mosi-tool saliency` "
                   f"default: --method {DEFAULT_METHOD}, with --stabilize {DEFAULT_STABILIZE} for the MoSI methods"
                   + ("" if same else " (DIFFERS: re-check the default)"))  # fmt: skip
    flow = [s["name"] for s in report.get("sequences", []) if s.get("motion_source", "").startswith("optical flow")]
    if flow:
        out.append(f"the motion-vector rows fall back to optical flow on {len(flow)} of {len(report['sequences'])} sequences "
                   f"({', '.join(flow)}): their frames carry no codec vectors (--source mp4 reads the videos' own)")  # fmt: skip
    moving = report["subsets"]["moving camera"]
    thr = report["config"]["camera_threshold"]
    out.append(f"moving camera (median background flow > {thr:g} px/frame): {', '.join(moving) or 'none'}")
    for subset in report["subsets"]:
        losses = [c["against"] for c in report["comparisons"] if c["subset"] == subset and c["auc_diff"] < 0]
        if report["subsets"][subset]:
            if losses:
                out.append(f"{subset}: MoSI ({best}) LOSES on AUC-Judd to: {', '.join(losses)}")
            else:
                out.append(f"{subset}: MoSI ({best}) beats every other method on AUC-Judd")
    return out


def examples_sheet(examples: dict[str, Any], report: dict[str, Any], path: str | Path) -> None:
    """examples: sequence -> `saliency_eval.Example`. Rows: sequences. Columns: the frame with the mask outlined, then the best MoSI target, its random-init
    control and the baselines, each labelled with the sequence's AUC-Judd."""
    import cv2

    from .. import viz

    best = report["best_target"]
    per_seq = {m["name"]: m["per_sequence"] for m in report["methods"]}
    columns = [n for n in (f"MoSI ({best})", model_row("MoSI", str(best), "mv"), MV_RAW, MV, "compensated flow", "centre prior") if n in per_seq]
    tiles = []
    for seq, ex in examples.items():
        framed = ex.image.copy()
        contours, _ = cv2.findContours(ex.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(framed, contours, -1, (0, 255, 0), 2)
        tiles.append(viz.label(framed, f"{seq} #{ex.index} (mask)", 12))
        for name in columns:
            heat = ex.maps[name] / max(float(ex.maps[name].max()), 1e-12)
            tiles.append(viz.label(viz.overlay(ex.image, heat), f"{name}: AUC {fmt(per_seq[name][seq]['auc'], 2)}", 12))
    if not tiles:
        return
    sheet = viz.grid(tiles, 1 + len(columns))
    if Path(path).suffix.lower() in (".jpg", ".jpeg"):  # photographic content: far smaller than PNG
        from PIL import Image

        from ..atomic import atomic_path

        with atomic_path(path) as tmp:
            Image.fromarray(sheet).save(tmp, format="JPEG", quality=85)
    else:
        viz.save_png(sheet, path)


def saliency_chart(report: dict[str, Any], path: str | Path) -> None:
    """AUC-Judd, NSS and pointing per method, one bar per camera subset."""
    from .charts import grouped_bars

    methods = report["methods"]
    names = [m["name"] for m in methods]
    subsets = [s for s in SUBSETS if report["subsets"][s]]
    panels = {
        METRIC_NAMES[k]: {s: [m["summary"][s][k] for m in methods] for s in subsets}
        for k in METRICS
    }  # fmt: skip
    model = Path(report["model"]["path"]).name
    grouped_bars(names, panels, path, f"DAVIS motion saliency, {model} vs baselines (higher is better)",
                 reference={"AUC-Judd": 0.5, "sAUC": 0.5, "NSS": 0.0})  # fmt: skip
