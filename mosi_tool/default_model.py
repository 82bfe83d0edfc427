"""The model used wherever `--model` is omitted: the checkpoint bundled in the package.

`assets/default_model.safetensors` is a MoSI R(2+1)D-10 trained on CPU (docs/MODEL_CARD.md; its metadata
holds the model card's fields, `mosi-tool info` shows them). It is written by tools/bundle_default.py.
"""

from __future__ import annotations

from pathlib import Path

BUNDLED = Path(__file__).parent / "assets" / "default_model.safetensors"


def default_model_path() -> Path:
    """The bundled default checkpoint. Raises FileNotFoundError when this installation lacks it."""
    if BUNDLED.exists():
        return BUNDLED
    raise FileNotFoundError(
        f"{BUNDLED}: no default model in this installation (the package data is missing); "
        "reinstall mosi-tool or pass --model CHECKPOINT"
    )
