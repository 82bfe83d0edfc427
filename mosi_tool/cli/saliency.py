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

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..saliency.defaults import DEFAULT_METHOD, DEFAULT_STABILIZE, DEFAULT_TARGET, LAYERS, METHODS, NORMS
from .options import BackendOpt, BatchOpt, CompileOpt, ModelOpt, RuntimeOpt, ShardOpt, SizeOpt, StepOpt, StreamOpt, handle_errors, resumable, say_failure_log


def _choices(name: str, values: tuple[str, ...]) -> type[enum.Enum]:
    """A str Enum of `values`: Typer lists them in --help and refuses anything else before the command runs."""
    return enum.Enum(name, {v: v for v in values}, type=str)  # type: ignore[return-value]


Method = _choices("Method", METHODS)
Mode = _choices("Mode", ("full", "center"))
Stabilize = _choices("Stabilize", ("none", "mv", "auto"))
Layer = _choices("Layer", LAYERS)
Norm = _choices("Norm", NORMS)


def _positive_fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number") from None
    if not value > 0:
        raise typer.BadParameter(f"{text} is not above 0 (frames per second)")
    return value


def _target(text: str) -> str:
    from ..saliency.targets import TARGETS

    if text not in TARGETS and not text.isdigit():
        raise typer.BadParameter(f"{text!r}: choose {', '.join(TARGETS)} or a class index (0, 1, ...)")
    return text


def _device(text: str) -> str:
    if text not in ("auto", "cpu") and not (text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit())):
        raise typer.BadParameter(f"{text!r}: choose auto, cpu, cuda or cuda:N")
    return text


def register(app: typer.Typer) -> None:
    @app.command("saliency")
    @handle_errors
    def saliency(
        inputs: Annotated[Optional[list[Path]], typer.Argument(help="A video file or a folder of frames; or, with --out-dir, videos, frame folders and folders to search recursively.", show_default=False)] = None,
        out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Overlay video (.mp4, .mkv, .mov, .m4v, .avi, .webm). Default: <name>.saliency.mp4 in the current folder, wherever --masks, --boxes or --maps go.")] = None,
        out_dir: Annotated[Optional[Path], typer.Option("--out-dir", help="Many videos: write each one's outputs into DIR, named as `features` names them (DIR/<name>.saliency.mp4, .maps.npy, .masks.npy, .boxes.jsonl, .sheet.png, and .saliency.json: what they were made from), resumable, failures in DIR/failures.jsonl.")] = None,
        list_file: Annotated[Optional[Path], typer.Option("--list", help="With --out-dir: a text file with one video path per line (relative to its folder; a whole-number label after the path, as training lists write it, is left out).")] = None,
        outputs_text: Annotated[str, typer.Option("--outputs", help="With --out-dir: which outputs each video gets, comma-separated: overlay, maps, masks, boxes, sheet.")] = "overlay",
        overwrite: Annotated[bool, typer.Option("--overwrite", help="With --out-dir: make again the outputs that are already there.")] = False,
        workers: Annotated[Optional[int], typer.Option("--workers", "-j", min=0, help="With --out-dir: worker processes (0: this process). Default: --method mv one per CPU, never more than there are videos; network methods this process (one engine).")] = None,
        shard: ShardOpt = None,
        backend: BackendOpt = "local",
        model: ModelOpt = None,
        maps: Annotated[Optional[Path], typer.Option("--maps", help="Also write the raw maps: float16 (frames, H, W) in [0, 1] (one scale for the whole video; per frame with --norm frame), .npy, written as they are made; np.load(FILE, mmap_mode='r') opens it.")] = None,
        maps_size: Annotated[Optional[str], typer.Option("--maps-size", help="WxH of --maps (default: the whole frame at the model's input scale, e.g. 112x64 for 640x360 with the bundled 64-pixel model).")] = None,
        sheet: Annotated[Optional[Path], typer.Option("--sheet", help="Also write a PNG contact sheet of key frames (.png).")] = None,
        target: Annotated[str, typer.Option("--target", parser=_target, help="Network methods: motion (moving classes by probability), pred (top class), static-contrast, or a class index.")] = DEFAULT_TARGET,
        step: StepOpt = None,
        mode: Annotated[Mode, typer.Option("--mode", help="Network methods: full (whole frame, default) or center (centre crop).")] = Mode("full"),  # type: ignore[valid-type]
        size: SizeOpt = None,
        method: Annotated[Method, typer.Option("--method", help="mv (camera-compensated motion vectors, no network), cam (MoSI class activation maps, any runtime), fused (cam x mv) or gradcam (backward pass, PyTorch only).")] = Method(DEFAULT_METHOD),  # type: ignore[valid-type]
        stabilize: Annotated[Stabilize, typer.Option("--stabilize", help="Network methods: none, mv (warp each clip to its middle frame with the camera motion) or auto (only clips whose camera moves).")] = Stabilize(DEFAULT_STABILIZE),  # type: ignore[valid-type]
        boxes: Annotated[Optional[Path], typer.Option("--boxes", help="Also write motion boxes with track ids, one JSON line per frame {frame, time, boxes: [[x0, y0, x1, y1, score, track]]} (and cut: true where a scene cut starts new tracks), then {union: [x0, y0, x1, y1]} (.jsonl).")] = None,
        max_boxes: Annotated[Optional[int], typer.Option("--max-boxes", help="At most this many boxes per frame, strongest first (default: every mover).", min=1)] = None,
        masks: Annotated[Optional[Path], typer.Option("--masks", help="Also write binary motion masks, bool (frames, H, W) at the video's resolution or --masks-size (.npy).")] = None,
        masks_size: Annotated[Optional[str], typer.Option("--masks-size", help="WxH of --masks (default: the video's own size).")] = None,
        small_movers: Annotated[bool, typer.Option("--small-movers", help="--masks and --boxes also keep movers about the edge filter's size or smaller (some 24 px across at 640x360, 48 px at 1280x720), which they drop by default; they then keep small moving regions beside a large mover too.")] = False,
        primary: Annotated[bool, typer.Option("--primary", help="--masks and --boxes follow one object instead of every mover: the mover with the most motion over the last frames, followed as one object when its mask splits (at most one box a frame; another mover takes over when it clearly outweighs it or it has been gone 5 frames).")] = False,
        layer: Annotated[Layer, typer.Option("--layer", help="--method gradcam: conv5 (default) or conv4 for finer maps.")] = Layer("conv5"),  # type: ignore[valid-type]
        norm: Annotated[Norm, typer.Option("--norm", help="Overlay scale: bounded (default: each frame's own top, bounded by the video's and above the frame's noise), video (one scale for the whole video; --method fused also scales its two maps so, as it does with bounded) or frame (each frame to its own min..max).")] = Norm("bounded"),  # type: ignore[valid-type]
        batch_size: BatchOpt = 8,
        device: Annotated[str, typer.Option("--device", parser=_device, help="Network methods: auto, cpu, cuda or cuda:N.")] = "auto",
        runtime: RuntimeOpt = None,
        compile: CompileOpt = False,
        stream: StreamOpt = None,
        fps: Annotated[Optional[float], typer.Option("--fps", parser=_positive_fps, help="Frame folders: their frame rate (> 0; default 25). Network methods cut their clips from a video at this rate; the maps, masks and overlay keep every frame.")] = None,
    ) -> None:
        """Motion saliency maps of a video, as an overlay at its original resolution (or of many, with --out-dir)."""
        from ..atomic import clean_partial
        from ..progress import counted
        from ..saliency.run import Outputs, SaliencyOptions, prepare, run
        from ..video.clips import parse_size
        from ..video.decode import FRAME_SUFFIXES
        from .signals import disk_errors, terminate_as_exit

        options = SaliencyOptions(
            method=method.value, model=model, target=target, step=step, mode=mode.value, size=size, stabilize=stabilize.value,
            layer=layer.value, norm=norm.value, maps_size=parse_size(maps_size, "--maps-size"), masks_size=parse_size(masks_size, "--masks-size"),
            max_boxes=max_boxes, small_movers=small_movers, primary=primary, batch_size=batch_size, device=device,
            runtime=runtime, compile=compile, stream=stream, fps=fps,
        )  # fmt: skip
        inputs = list(inputs or [])
        files = {"--out": out, "--maps": maps, "--masks": masks, "--boxes": boxes, "--sheet": sheet}
        batch_kinds: tuple[str, ...] = ()
        if out_dir is not None:
            from ..saliency.batch import parse_outputs  # the batch machinery: imported for --out-dir only

            batch_kinds = parse_outputs(outputs_text)
        # one video's overlay is always made (--out or the default name)
        asked = {kind for kind, path in (("masks", masks), ("boxes", boxes), ("maps", maps), ("sheet", sheet)) if path is not None}
        asked |= set(batch_kinds) if out_dir is not None else {"overlay"}
        for line in options.ignored_notes(asked):
            typer.echo(f"note: {line}", err=True)
        if out_dir is not None or list_file is not None or len(inputs) > 1:
            given = [name for name, path in files.items() if path is not None]
            if out_dir is None:  # said first: without it, what --out-dir does is no help
                named = f" instead of {', '.join(given)} (one video's files)" if given else ""
                raise ValueError(f"several inputs or --list: give --out-dir DIR for their outputs, and --outputs for which{named}")
            if given:
                raise ValueError(f"{', '.join(given)} {'names' if len(given) == 1 else 'name'} one video's files; with --out-dir each video's files are named "
                                 f"after it: choose them with --outputs (e.g. --outputs overlay,maps)")  # fmt: skip
            _batch(inputs, out_dir, list_file, options, outputs_text, overwrite, workers, shard, backend)
            return
        if workers is not None or shard is not None or backend != "local":
            raise ValueError("--workers, --shard and --backend apply with --out-dir (many videos)")
        if not inputs:
            raise ValueError("give a video (or videos, folders or --list with --out-dir)")
        if outputs_text != "overlay" or overwrite:
            raise ValueError("--outputs and --overwrite apply with --out-dir; for one video name each file (--out, --maps, ...)")
        video = inputs[0]
        if video.is_dir() and not any(p.suffix.lower() in FRAME_SUFFIXES for p in video.iterdir()):
            raise ValueError(f"{video}: a folder without image frames; for the videos in it give --out-dir DIR")
        out = out or Path(f"{video.name if video.is_dir() else video.stem}.saliency.mp4")
        outputs = Outputs(overlay=out, maps=maps, masks=masks, boxes=boxes, sheet=sheet)
        with terminate_as_exit():  # from the outputs' write checks on, whose probe files are temporary files too
            reader = prepare(video, options, outputs)
            clean_partial(*{p.parent for p in outputs.named().values()})  # what a killed run of this tool left there
            _notes(options)
            with disk_errors():
                done = run(video, options, outputs, reader=reader)
        for note in done.notes:
            typer.echo(f"note: {note}", err=True)
        n = done.frames
        clips = "" if done.clips is None else f"{counted(done.clips, 'clip')}, "
        info = done.info
        typer.echo(f"{video}: {counted(n, 'frame')}, {clips}{info.width}x{info.height} @ {info.fps:.2f} fps, "
                   f"{done.describe}, {done.seconds:.1f} s ({n / max(done.seconds, 1e-9):.0f} frames/s)")  # fmt: skip
        for path in done.written:
            typer.echo(f"wrote {path}")
        for path, why in done.failed.items():
            typer.echo(f"error: {path}: {why}", err=True)
        if done.failed:
            raise typer.Exit(1)


def _notes(options) -> None:  # noqa: ANN001 - a SaliencyOptions (imported lazily)
    """One line for the options the method does not use, one for a model with --method mv."""
    unused = options.unused()
    if unused:
        typer.echo(f"note: {', '.join(unused)} {'does' if len(unused) == 1 else 'do'} not apply to --method {options.method} (ignored)", err=True)
    if options.method == "mv" and options.model is not None:
        typer.echo("note: --method mv uses no network; --model only sets the maps' default size", err=True)


def _batch(inputs: list[Path], out_dir: Path, list_file: Path | None, options, outputs_text: str, overwrite: bool,  # noqa: ANN001
           workers: int | None, shard: str | None, backend: str) -> None:  # fmt: skip
    """`saliency --out-dir`: every video's outputs into out_dir (`saliency.batch`)."""
    from ..batch.jobs import parse_shard
    from ..progress import counted
    from ..saliency.batch import parse_outputs, run_batch
    from .signals import disk_errors, terminate_as_exit

    kinds = parse_outputs(outputs_text)
    _notes(options)
    with resumable(out_dir), terminate_as_exit(), disk_errors():
        report = run_batch(inputs, out_dir, options, kinds, list_file, overwrite, progress=lambda line: typer.echo(line, err=True),
                           workers=workers, shard=parse_shard(shard), backend=backend)  # fmt: skip
    hidden = f" ({counted(report.hidden, 'hidden or AppleDouble file')} skipped)" if report.hidden else ""
    typer.echo(f"{report.ok} written, {report.skipped} already done, {report.failed} failed of {counted(report.total, 'video')}{hidden}; "
               f"{counted(report.frames, 'frame')} in {report.seconds:.1f} s -> {out_dir}")  # fmt: skip
    say_failure_log(report.failed, out_dir)
    raise typer.Exit(report.exit_code)
