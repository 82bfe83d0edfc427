"""`mosi-tool saliency`: where does it move? Overlay video, raw maps and a contact sheet.

The default `--target` is `motion`, kept on the evidence of `mosi-tool eval saliency` on DAVIS-2016 val
(10 sequences, first 40 frames; docs/EVALUATION.md). With the CPU-trained tiny model after 2 epochs, `pred`
had a mean AUC-Judd 0.009 higher than `motion` (standard error of the paired difference 0.035) but was better
on only 3 of 10 sequences and lost on the pointing game on all 10; after 1 epoch `motion` was better
(AUC-Judd 0.752 vs 0.715). `static-contrast` was worst in both (often an all-zero map on real video). No
target is clearly better than `motion`, so the default did not change.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import BatchOpt, CompileOpt, DeviceOpt, FpsOpt, ModelOpt, RuntimeOpt, SizeOpt, StepOpt, StreamOpt, handle_errors

DEFAULT_TARGET = "motion"  # measured, not assumed: see the module docstring


def parse_size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--maps-size must look like 224x128, got {text!r}") from None
    if w < 1 or h < 1:
        raise ValueError("--maps-size must be positive")
    return w, h


def frame_labels(result, class_names: list[str]) -> list[str]:  # noqa: ANN001
    """Each frame's label: the top class of the first clip covering it."""
    import numpy as np

    labels = [""] * len(result.frame_times)
    top = result.clip_logits.argmax(1)
    for (start, end), k in zip(result.clip_ranges[::-1], top[::-1]):
        name = class_names[k] if k < len(class_names) else str(k)
        for i in range(int(start), min(int(end), len(labels) - 1) + 1):
            labels[i] = name
    return labels if len(labels) else list(np.array([]))


def register(app: typer.Typer) -> None:
    @app.command("saliency")
    @handle_errors
    def saliency(
        video: Annotated[Path, typer.Argument(help="A video file or a folder of frames.")],
        out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Overlay video (.mp4, .mkv, .mov, .avi, .webm). Default: <name>.saliency.mp4 here.")] = None,
        model: ModelOpt = None,
        maps: Annotated[Optional[Path], typer.Option("--maps", help="Also write the raw maps: float16 (frames, H, W) in [0, 1], .npy, written as they are made; np.load(FILE, mmap_mode='r') opens it.")] = None,
        maps_size: Annotated[Optional[str], typer.Option("--maps-size", help="WxH of --maps (default: the whole frame at the model's input scale, e.g. 192x112 for 640x360).")] = None,
        sheet: Annotated[Optional[Path], typer.Option("--sheet", help="Also write a PNG contact sheet of key frames.")] = None,
        target: Annotated[str, typer.Option("--target", help="motion (moving classes by probability), pred (top class), static-contrast, or a class index.")] = DEFAULT_TARGET,
        step: StepOpt = None,
        mode: Annotated[str, typer.Option("--mode", help="full (whole frame, default) or center (centre crop).")] = "full",
        size: SizeOpt = None,
        method: Annotated[str, typer.Option("--method", help="cam (forward only, any runtime) or gradcam (backward pass, PyTorch only).")] = "cam",
        layer: Annotated[str, typer.Option("--layer", help="Grad-CAM layer: conv5 (default) or conv4 for finer maps.")] = "conv5",
        norm: Annotated[str, typer.Option("--norm", help="video: one scale for the whole video (default); frame: each frame to its own peak.")] = "video",
        batch_size: BatchOpt = 8,
        device: DeviceOpt = "auto",
        runtime: RuntimeOpt = None,
        compile: CompileOpt = False,
        stream: StreamOpt = None,
        fps: FpsOpt = None,
    ) -> None:
        """Motion saliency maps for one video, as an overlay at its original resolution."""
        from .. import load_model
        from ..saliency.compute import compute_saliency
        from ..saliency.render import render
        from ..saliency.targets import parse_target

        if norm not in ("video", "frame"):
            raise ValueError("--norm must be video or frame")
        maps_wh = parse_size(maps_size)
        out = out or Path(f"{video.name if video.is_dir() else video.stem}.saliency.mp4")
        if method == "gradcam":
            runtime = runtime or "torch"
        engine = load_model(model, device=device, runtime=runtime, compile=compile, batch_size=batch_size)
        tgt = parse_target(target, engine.meta.num_classes)
        t0 = time.perf_counter()
        result = compute_saliency(engine, video, tgt, step=step, mode=mode, batch_size=batch_size, stream=stream, fps=fps, method=method, layer=layer, size=size)
        labels = frame_labels(result, engine.meta.class_names)
        made = render(video, result, engine.device, overlay=out, maps=maps, maps_size=maps_wh, sheet=sheet,
                      frame_labels=labels, norm=norm, stream=stream, fps=fps)  # fmt: skip
        elapsed = time.perf_counter() - t0
        n = len(result.frame_times)
        info = result.info
        for note in info.notes + result.warnings + made:
            typer.echo(f"note: {note}", err=True)
        if result.padded:
            typer.echo(f"note: video shorter than one clip: padded with {result.padded} repeats of the last frame", err=True)
        typer.echo(f"{video}: {n} frames, {len(result.clip_logits)} clips, {info.width}x{info.height} @ {info.fps:.2f} fps, "
                   f"{engine.describe()}, {elapsed:.1f} s")  # fmt: skip
        for path in (out, maps, sheet):
            if path:
                typer.echo(f"wrote {path}")
