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
    from .atomic import check_folder_writable
    from .loader import read_model_meta
    from .pipeline.extract import ExtractOptions, extract
    from .runtimes.base import resolve_device
    from .saliency.run import Outputs, SaliencyOptions, run

    if model is None:
        model = default_model_path()
    meta = read_model_meta(model)  # the engine itself runs in the feature pipeline only
    dev = resolve_device(device)
    check_folder_writable(out_dir)  # made only once the model and device are known good
    info(f"model: {model.name} ({meta.model_id}) on {dev}")
    overlay, sheet, maps = out_dir / "sample.saliency.mp4", out_dir / "sample.sheet.png", out_dir / "sample.maps.npy"
    # the saliency command's default method, maps at the model's scale
    run(SAMPLE_VIDEO, SaliencyOptions(model=model, size=meta.crop, maps_size=(96, 72)), Outputs(overlay=overlay, sheet=sheet, maps=maps))
    opts = ExtractOptions(model=str(model), out_dir=out_dir / "features", devices=[str(dev)], workers=1, progress=False)
    extract([SAMPLE_VIDEO], opts)
    return [overlay, sheet, maps, out_dir / "features" / "sample.mp4.npz"]
