"""Bundle a trained checkpoint as the package's default model, with its model-card fields in the metadata.

    python tools/bundle_default.py training/state/camera/last.safetensors \
        --pretext docs/evaluation/default/pretext.json --saliency docs/evaluation/default/saliency.json

Writes mosi_tool/assets/default_model.safetensors (fp32 weights; at most 15 MB). The fields under
`training["model_card"]` (data and licenses, epochs, CPU-hours, precision, pretext accuracy, DAVIS AUC-Judd)
come from the checkpoint's own training record and from the evaluation reports named on the command line,
so `mosi-tool info` shows where every number comes from.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from mosi_tool.default_model import BUNDLED  # noqa: E402

DATA = [
    {"folder": "images/imagenet-sample", "what": "one ImageNet image per class, 900 classes", "license": "ImageNet terms (research use)"},
    {"folder": "images/imagenette-val", "what": "Imagenette2 validation split, 10 ImageNet classes", "license": "ImageNet terms (research use)"},
]  # fmt: skip
MAX_BYTES = 15 * 1024 * 1024


def card(training: dict[str, Any], pretext: Path | None, saliency: Path | None) -> dict[str, Any]:
    """The model-card fields: the training record, plus the evaluation reports' headline figures."""
    out: dict[str, Any] = {
        "data": DATA, "epochs": training.get("epochs"), "epochs_planned": training.get("epochs_planned"),
        "cpu_hours": training.get("cpu_hours"), "precision": training.get("precision"),
        "val_acc_masked": training.get("val_acc"), "val_acc_unmasked": training.get("val_acc_unmasked"),
        "command": training.get("command"),
    }  # fmt: skip
    if training.get("init"):  # trained on from another checkpoint: its own card says what came before
        out["init"] = training["init"]
    if pretext:
        r = json.loads(pretext.read_text())
        mosi = r["results"]["MoSI"]
        out["pretext"] = {"sources": r["split"]["sources"], "masked": mosi["masked"]["accuracy"], "unmasked": mosi["unmasked"]["accuracy"]}
    if saliency:
        r = json.loads(saliency.read_text())
        out["davis_auc_judd"] = {
            m["name"]: {k: round(v["auc"], 4) for k, v in m["summary"].items()} for m in r["methods"] if m["kind"] == "mosi"
        }
        out["davis_sauc"] = {m["name"]: round(m["summary"]["all"]["sauc"], 4) for m in r["methods"] if m["kind"] == "mosi"}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--pretext", type=Path, help="`mosi-tool eval pretext --json` report of this checkpoint")
    p.add_argument("--saliency", type=Path, help="`mosi-tool eval saliency --json` report of this checkpoint")
    p.add_argument("--out", type=Path, default=BUNDLED)
    a = p.parse_args()
    model, meta = load_checkpoint(a.checkpoint)
    meta.training = dict(meta.training, model_card=card(meta.training, a.pretext, a.saliency))
    meta = save_checkpoint(a.out, model, meta)
    size = a.out.stat().st_size
    if size > MAX_BYTES:
        a.out.unlink()
        sys.exit(f"{a.out}: {size / 2**20:.1f} MiB is over the 15 MiB limit for a bundled model")
    print(f"{a.out}: {meta.model_id}, {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
