"""What the package bundles: the model used wherever `--model` is omitted, and the sample video and image.

`assets/default_model.safetensors` is a MoSI R(2+1)D-10 trained on CPU (docs/MODEL_CARD.md; its metadata
holds the model card's fields, `mosi-tool info` shows them). It is written by tools/bundle_default.py.
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).parent / "assets"
BUNDLED = ASSETS / "default_model.safetensors"
SAMPLE_VIDEO = ASSETS / "sample.mp4"  # 854x480 street scene (tools/make_assets.py): demo, int8 calibration, runtime auto
SAMPLE_IMAGE = ASSETS / "sample.jpg"


def default_model_path() -> Path:
    """The bundled default checkpoint. Raises FileNotFoundError when this installation lacks it."""
    if BUNDLED.exists():
        return BUNDLED
    raise FileNotFoundError(
        f"{BUNDLED}: no default model in this installation (the package data is missing); "
        "reinstall mosi-tool or pass --model CHECKPOINT"
    )
