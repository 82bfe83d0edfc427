"""mosi-tool: MoSI video backbones, trained from static images, compiled for fast feature and saliency extraction."""

from __future__ import annotations

from .version import __version__

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from .runtimes.base import Engine


def load_model(path: str | Path | None = None, device: str = "auto", **kwargs: object) -> Engine:
    """Load a checkpoint or compiled engine; call it with uint8 RGB clips (N, T, H, W, 3), numpy or torch.

    The result returns `logits`, `features` and `cam` (class activation maps, (N, classes, t, h, w)), as numpy
    arrays for a numpy input and torch tensors for a tensor.
    Normalisation happens inside, from the file's own metadata. `path=None` uses the default model.
    """
    from .default_model import default_model_path
    from .loader import load_engine

    return load_engine(path if path is not None else default_model_path(), device=device, **kwargs)  # type: ignore[arg-type]


def default_model_path() -> Path:
    """Path of the default checkpoint used wherever `--model` is omitted."""
    from .default_model import default_model_path as _default

    return _default()


def __getattr__(name: str) -> Any:
    """`mosi_tool.saliency(path, ...)` (the arrays `mosi-tool saliency` writes: `saliency.api.saliency`) is the
    `saliency` package, imported on first use; calling it runs `api.saliency`."""
    if name == "saliency":
        import importlib

        return importlib.import_module(".saliency", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", "load_model", "default_model_path", "saliency"]
