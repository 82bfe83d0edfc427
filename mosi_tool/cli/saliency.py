"""`mosi-tool saliency`: where does it move? Overlay video, raw maps and a contact sheet.

The default `--target` is `motion`, kept on the evidence of `mosi-tool eval saliency` on DAVIS-2016 val
(10 sequences, first 40 frames; docs/EVALUATION.md). With the CPU-trained tiny model after 2 epochs, `pred`
had a mean AUC-Judd 0.009 higher than `motion` (standard error of the paired difference 0.035) but was better
on only 3 of 10 sequences and lost on the pointing game on all 10; after 1 epoch `motion` was better
(AUC-Judd 0.752 vs 0.715). `static-contrast` was worst in both (often an all-zero map on real video). No
target is clearly better than `motion`, so the default did not change.

The default `--method` is `mv` (camera-compensated motion vectors), also measured: on the shared DAVIS (10
sequences x 40 frames, H.264) it scored AUC-Judd 0.901 (moving camera 0.883) against 0.849 (0.818) for
compensated optical flow, 0.893 for the centre prior and 0.707 for the MoSI CAM of the model measured; fusing
a MoSI map with it moved the mean by less than its standard error, at twice the cost (docs/EVALUATION.md 2b).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..saliency.defaults import DEFAULT_METHOD, DEFAULT_STABILIZE
from .options import BatchOpt, CompileOpt, DeviceOpt, FpsOpt, ModelOpt, RuntimeOpt, SizeOpt, StepOpt, StreamOpt, handle_errors

DEFAULT_TARGET = "motion"  # measured, not assumed: see the module docstring


def parse_size(text: str | None, option: str = "--maps-size") -> tuple[int, int] | None:
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"{option} must look like 224x128, got {text!r}") from None
    if w < 1 or h < 1:
        raise ValueError(f"{option} must be positive")
    return w, h


def _model_input_size(model: Path | None) -> int | None:
    """The clip size of `model` (default: the bundled model): the scale --method mv's maps are written at by
    default, like the other methods'. None when there is no model to read."""
    from ..default_model import default_model_path
    from ..loader import read_model_meta

    try:
        return read_model_meta(model or default_model_path()).crop
    except (FileNotFoundError, ValueError):
        return None


def register(app: typer.Typer) -> None:
    @app.command("saliency")
    @handle_errors
    def saliency(
        video: Annotated[Path, typer.Argument(help="A video file or a folder of frames.")],
        out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Overlay video (.mp4, .mkv, .mov, .avi, .webm). Default: <name>.saliency.mp4 here.")] = None,
        model: ModelOpt = None,
        maps: Annotated[Optional[Path], typer.Option("--maps", help="Also write the raw maps: float16 (frames, H, W) in [0, 1] (one scale for the whole video; per frame with --norm frame), .npy, written as they are made; np.load(FILE, mmap_mode='r') opens it.")] = None,
        maps_size: Annotated[Optional[str], typer.Option("--maps-size", help="WxH of --maps (default: the whole frame at the model's input scale, e.g. 112x64 for 640x360 with the bundled 64-pixel model).")] = None,
        sheet: Annotated[Optional[Path], typer.Option("--sheet", help="Also write a PNG contact sheet of key frames.")] = None,
        target: Annotated[str, typer.Option("--target", help="motion (moving classes by probability), pred (top class), static-contrast, or a class index.")] = DEFAULT_TARGET,
        step: StepOpt = None,
        mode: Annotated[str, typer.Option("--mode", help="full (whole frame, default) or center (centre crop).")] = "full",
        size: SizeOpt = None,
        method: Annotated[str, typer.Option("--method", help="mv (camera-compensated motion vectors, no network), cam (MoSI class activation maps, any runtime), fused (cam x mv) or gradcam (backward pass, PyTorch only).")] = DEFAULT_METHOD,
        stabilize: Annotated[str, typer.Option("--stabilize", help="MoSI methods: none, mv (warp each clip to its middle frame with the camera motion) or auto (only clips whose camera moves).")] = DEFAULT_STABILIZE,
        boxes: Annotated[Optional[Path], typer.Option("--boxes", help="Also write motion boxes with track ids, one JSON line per frame {frame, time, boxes: [[x0, y0, x1, y1, score, track]]}, then {union: [x0, y0, x1, y1]} (.jsonl).")] = None,
        max_boxes: Annotated[Optional[int], typer.Option("--max-boxes", help="At most this many boxes per frame, strongest first (default: every mover).", min=1)] = None,
        masks: Annotated[Optional[Path], typer.Option("--masks", help="Also write binary motion masks, bool (frames, H, W) at the video's resolution or --masks-size (.npy).")] = None,
        masks_size: Annotated[Optional[str], typer.Option("--masks-size", help="WxH of --masks (default: the video's own size).")] = None,
        layer: Annotated[str, typer.Option("--layer", help="Grad-CAM layer: conv5 (default) or conv4 for finer maps.")] = "conv5",
        norm: Annotated[str, typer.Option("--norm", help="Overlay scale: bounded (default: each frame's own top, bounded by the video's and above the frame's noise), video (one scale for the whole video; --method fused also scales its two maps so, as it does with bounded) or frame (each frame to its own min..max).")] = "bounded",
        batch_size: BatchOpt = 8,
        device: DeviceOpt = "auto",
        runtime: RuntimeOpt = None,
        compile: CompileOpt = False,
        stream: StreamOpt = None,
        fps: FpsOpt = None,
    ) -> None:
        """Motion saliency maps for one video, as an overlay at its original resolution."""
        import torch

        from ..loader import load_engine
        from ..progress import counted
        from ..saliency.compute import METHODS, compute_motion_saliency, compute_saliency, frame_labels
        from ..saliency.display import NORMS
        from ..saliency.masks import MaskConfig
        from ..saliency.regions import BoxesFile, MasksFile, Regions
        from ..saliency.render import Sink, render
        from ..saliency.targets import parse_target
        from ..video.stabilize import MODES as STABILIZE_MODES

        if norm not in NORMS:
            raise ValueError(f"--norm must be one of {', '.join(NORMS)}, got {norm!r}")
        if method not in METHODS:
            raise ValueError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
        if stabilize not in STABILIZE_MODES:
            raise ValueError(f"--stabilize must be one of {', '.join(STABILIZE_MODES)}, got {stabilize!r}")
        if layer != "conv5" and method != "gradcam":
            raise ValueError(f"--layer {layer} applies to --method gradcam only (this is --method {method})")
        if method == "gradcam" and model is not None and model.suffix.lower() != ".safetensors":
            raise ValueError(f"{model}: --method gradcam runs a backward pass, so it needs a PyTorch checkpoint "
                             "(.safetensors), not an engine; use --method cam with an engine")  # fmt: skip
        maps_wh = parse_size(maps_size)
        masks_wh = parse_size(masks_size, "--masks-size")
        out = out or Path(f"{video.name if video.is_dir() else video.stem}.saliency.mp4")
        t0 = time.perf_counter()
        if method == "mv":
            if model is not None:
                typer.echo("note: --method mv uses no network; --model only sets the maps' default size", err=True)
            result = compute_motion_saliency(video, stream=stream, fps=fps, size=size or _model_input_size(model))
            labels, device_used, describe = [""] * len(result.frame_times), torch.device("cpu"), result.motion_source
        else:
            if method == "gradcam":
                runtime = runtime or "torch"
            engine = load_engine(model, device=device, runtime=runtime, compile=compile, batch_size=batch_size)
            tgt = parse_target(target, engine.meta.num_classes)
            result = compute_saliency(engine, video, tgt, step=step, mode=mode, batch_size=batch_size, stream=stream, fps=fps,
                                      method=method, layer=layer, size=size, stabilize=stabilize, norm="frame" if norm == "frame" else "video")  # fmt: skip
            labels, device_used, describe = frame_labels(result, engine.meta), engine.device, engine.describe()
        n = len(result.frame_times)
        extra: list[Sink] = []
        # the floor is in px/frame: the network's maps (cam, fused) have no such unit
        mask_cfg = MaskConfig() if method == "mv" else MaskConfig(floor=0.0)
        regions = Regions(result.info.width, result.info.height, mask_cfg) if boxes or masks else None
        if boxes and regions:
            extra.append(BoxesFile(boxes, regions, max_boxes))
        if masks and regions:
            extra.append(MasksFile(masks, n, *(masks_wh or (result.info.width, result.info.height)), regions))
        made = render(video, result, device_used, overlay=out, maps=maps, maps_size=maps_wh, sheet=sheet,
                      frame_labels=labels, norm=norm, stream=stream, fps=fps, extra_sinks=extra)  # fmt: skip
        elapsed = time.perf_counter() - t0
        info = result.info
        for note in dict.fromkeys(info.notes + result.notes + result.warnings + made):  # once each, in order
            typer.echo(f"note: {note}", err=True)
        if result.padded:
            typer.echo(f"note: video shorter than one clip: padded with {result.padded} repeats of the last frame", err=True)
        clips = "" if method == "mv" else f"{counted(len(result.clip_logits), 'clip')}, "  # mv runs no clips through a network
        typer.echo(f"{video}: {counted(n, 'frame')}, {clips}{info.width}x{info.height} @ {info.fps:.2f} fps, "
                   f"{describe}, {elapsed:.1f} s ({n / max(elapsed, 1e-9):.0f} frames/s)")  # fmt: skip
        for path in (out, maps, sheet, boxes, masks):
            if path:
                typer.echo(f"wrote {path}")
