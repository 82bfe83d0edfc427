"""The model used wherever `--model` is omitted.

The bundled checkpoint (`assets/default_model.safetensors`) comes from GPU pre-training. Until one is
bundled, `mosi-tool demo` trains a small model on CPU into the cache, and that model serves as the default,
with a warning that says so.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .cache import cache_root

BUNDLED = Path(__file__).parent / "assets" / "default_model.safetensors"
log = logging.getLogger(__name__)
_warned = False


def demo_model_dir() -> Path:
    return cache_root() / "demo-model"


def default_model_path() -> Path:
    global _warned
    if BUNDLED.exists():
        return BUNDLED
    demo = demo_model_dir() / "best.safetensors"
    if demo.exists():
        if not _warned:
            log.warning("no bundled default model yet; using the small CPU-trained demo model %s", demo)
            _warned = True
        return demo
    raise FileNotFoundError(
        "no default model: none is bundled yet (GPU pre-training pending) and no demo model was trained; "
        "pass --model CHECKPOINT, or run `mosi-tool demo` once to train a small CPU model that becomes the default"
    )
