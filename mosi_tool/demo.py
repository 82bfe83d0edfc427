"""`mosi-tool demo`: what `mosi-tool saliency` and `mosi-tool features` make of the bundled sample video by
default: the saliency overlay, contact sheet and maps (camera-compensated motion vectors, the default method,
at the model's input scale) and the features of the bundled default model (or `--model`)."""

from __future__ import annotations

from pathlib import Path

from .default_model import SAMPLE_IMAGE, SAMPLE_VIDEO, default_model_path
from .progress import info

__all__ = ["SAMPLE_IMAGE", "SAMPLE_VIDEO", "run_demo"]


def run_demo(out_dir: Path, model: Path | None = None, device: str = "auto") -> list[Path]:
    """Write the overlay video, contact sheet, maps and features of the sample into `out_dir`."""
    from . import load_model
    from .pipeline.extract import ExtractOptions, extract
    from .saliency.compute import compute_motion_saliency
    from .saliency.render import render

    if model is None:
        model = default_model_path()
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = load_model(model, device=device)
    info(f"model: {engine.describe()}")
    overlay, sheet, maps = out_dir / "sample.saliency.mp4", out_dir / "sample.sheet.png", out_dir / "sample.maps.npy"
    result = compute_motion_saliency(SAMPLE_VIDEO, size=engine.meta.crop)  # the saliency command's default method
    render(SAMPLE_VIDEO, result, engine.device, overlay=overlay, sheet=sheet, maps=maps, maps_size=(96, 72))
    opts = ExtractOptions(model=str(model), out_dir=out_dir / "features", devices=[str(engine.device)], workers=1, progress=False)
    extract([SAMPLE_VIDEO], opts)
    return [overlay, sheet, maps, out_dir / "features" / "sample.mp4.npz"]
