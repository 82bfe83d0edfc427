"""`mosi-tool eval`: evidence that a model learned motion (pretext accuracy, DAVIS saliency, a linear probe).

Every command prints a table, writes a PNG chart and, with --json, every figure as JSON.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from .options import BatchOpt, DeviceOpt, JsonOpt, ModelOpt, RuntimeOpt, SizeOpt, handle_errors

app = typer.Typer(no_args_is_help=True, help="Evaluate a model: pretext accuracy, DAVIS motion saliency, a linear motion probe.")

ChartOpt = Annotated[Optional[Path], typer.Option("--chart", help="PNG chart. Default: the --json path with .png, else eval-<command>.png here.")]
RandomOpt = Annotated[bool, typer.Option("--random-init/--no-random-init", help="Also evaluate the same architecture with random weights (the control).")]


def _outputs(name: str, json_path: Path | None, chart: Path | None, *more: Path | None) -> Path:
    """Check, before any work, that every output can be written (OutputError naming it if not); returns the
    chart's path (default: the --json path with .png, else eval-<name>.png here)."""
    from ..atomic import check_writable

    chart = chart or (json_path.with_suffix(".png") if json_path else Path(f"eval-{name}.png"))
    for path in (chart, json_path, *more):
        if path is not None:
            check_writable(path)
    return chart


def _check_inputs(*paths: Path) -> None:
    from ..batch.jobs import check_inputs

    check_inputs(list(paths))


def _finish(report: dict[str, Any], text: str, json_path: Path | None, chart: Path,
            draw: Callable[[dict[str, Any], Path], None], started: float, model: Path | None) -> None:  # fmt: skip
    """Print the tables, then write the chart and the JSON (which names the `--model` given, beside the
    engine file that ran it)."""
    from ..default_model import default_model_path
    from ..evaluation.report import write_json

    report["model"]["given"] = str(model or default_model_path())
    report["seconds"] = round(time.perf_counter() - started, 1)
    typer.echo(text)
    draw(report, chart)
    typer.echo(f"wrote {chart}")
    if json_path:
        write_json(json_path, report)
        typer.echo(f"wrote {json_path}")


def _split_list(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


DevOpt = Annotated[Optional[str], typer.Option("--dev-sequences", help="Comma-separated sequences the mask settings were chosen on (reported apart from the unseen ones; default: the project's development split).")]


def _dev(text: str | None, davis: Path) -> tuple[str, ...]:
    """--dev-sequences (default: the project's split); ValueError for a name `davis` has no annotations of
    (a typo silently moved every sequence into the unseen rows)."""
    from ..evaluation.davis import _resolution_dir
    from ..evaluation.segmentation import DEV_SEQUENCES

    names = _split_list(text)
    if not names:
        return DEV_SEQUENCES
    annotations = _resolution_dir(davis / "Annotations")
    if not annotations.is_dir():
        return tuple(names)  # `find_sequences` names what the layout lacks
    available = sorted(p.name for p in annotations.iterdir() if p.is_dir())
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"--dev-sequences: no sequence {', '.join(map(repr, unknown))} in {annotations} (have: {', '.join(available)})")
    return tuple(names)


@app.command("pretext")
@handle_errors
def pretext(
    root: Annotated[list[Path], typer.Option("--root", help="Source images: folders the model never saw (every image is scored), or the training `--root` folders, all of them, in the same order (their held-out split).")],
    model: ModelOpt = None,
    data: Annotated[Optional[str], typer.Option("--data", help="imagenet or images (default: what the model was trained on).")] = None,
    val_fraction: Annotated[Optional[float], typer.Option("--val-fraction", help="Score this held-out fraction of --root (default: the training run's split for the training root, all images for another folder).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Split seed (default: the training run's).")] = None,
    per_class: Annotated[Optional[int], typer.Option("--per-class", help="ImageNet-S<N> subsampling (default: the training run's).")] = None,
    max_sources: Annotated[Optional[int], typer.Option("--max-sources", min=1, help="Evaluate at most N held-out sources.")] = None,
    batch_size: BatchOpt = 8,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Image loading processes.")] = 0,
    random_init: RandomOpt = True,
    camera: Annotated[Optional[int], typer.Option("--camera", min=0, help="Camera pan of the masked clips in source pixels (default: the model's training pan; 0: the paper's still camera).")] = None,
    device: DeviceOpt = "auto",
    runtime: RuntimeOpt = None,
    json: JsonOpt = None,
    chart: ChartOpt = None,
) -> None:
    """Pretext accuracy on held-out source images (validation clips, masked and unmasked), with a confusion matrix."""
    from ..loader import load_engine
    from ..evaluation.pretext import SplitConfig, evaluate_pretext, pretext_chart, render_tables

    _check_inputs(*root)
    chart = _outputs("pretext", json, chart)
    t0 = time.perf_counter()
    engine = load_engine(model, device=device, runtime=runtime, batch_size=batch_size)  # auto times the batch it will run
    split = SplitConfig(str(root[0]) if len(root) == 1 else [str(r) for r in root], data, val_fraction, seed, per_class, max_sources)
    report = evaluate_pretext(engine, split, batch_size=batch_size, workers=workers, random_init=random_init, camera=camera)
    _finish(report, f"{engine.describe()}\n{render_tables(report)}", json, chart, pretext_chart, t0, model)


@app.command("saliency")
@handle_errors
def saliency(
    davis: Annotated[Path, typer.Option("--davis", help="DAVIS-layout folder: JPEGImages/480p/<seq>/ or mp4/<seq>.mp4, and Annotations/480p/<seq>/.")],
    model: ModelOpt = None,
    max_frames: Annotated[Optional[int], typer.Option("--max-frames", min=1, help="Evaluate the first N frames of each sequence.")] = None,
    sequences: Annotated[Optional[str], typer.Option("--sequences", help="Comma-separated sequence names (default: all).")] = None,
    targets: Annotated[str, typer.Option("--targets", help="Comma-separated saliency targets to compare.")] = "pred,motion,static-contrast",
    source: Annotated[str, typer.Option("--source", help="auto (JPEG frames if present), jpeg or mp4.")] = "auto",
    step: Annotated[Optional[int], typer.Option("--step", min=1, help="Frames between clip starts (default: the clip length).")] = None,
    mode: Annotated[str, typer.Option("--mode", help="full (whole frame, default) or center.")] = "full",
    size: SizeOpt = None,
    examples: Annotated[Optional[Path], typer.Option("--examples", help="Also write a picture (.png or .jpg): one frame per sequence with each main method's map.")] = None,
    stabilize: Annotated[str, typer.Option("--stabilize", help="Comma-separated camera stabilisation modes for the model's rows: none, mv, auto.")] = "none,mv,auto",
    fusion: Annotated[bool, typer.Option("--fusion/--no-fusion", help="Also the model's map fused with the compensated motion vectors (--method fused).")] = True,
    camera_threshold: Annotated[float, typer.Option("--camera-threshold", help="Median background flow (px/frame) above which a sequence counts as moving-camera.")] = 1.0,
    segmentation: Annotated[bool, typer.Option("--segmentation/--no-segmentation", help="Also score the motion masks and boxes as segmentations (DAVIS-2016 J, J recall, F, box IoU and hits), with baselines.")] = True,
    dev_sequences: DevOpt = None,
    batch_size: BatchOpt = 8,
    random_init: RandomOpt = True,
    device: DeviceOpt = "auto",
    runtime: RuntimeOpt = None,
    json: JsonOpt = None,
    chart: ChartOpt = None,
) -> None:
    """Motion saliency against object masks (AUC-Judd, shuffled AUC, NSS, pointing game, box hits) with baselines in the same table."""
    from ..loader import load_engine
    from ..evaluation.davis import find_sequences
    from ..evaluation.saliency_eval import SaliencyEvalConfig, evaluate_saliency
    from ..evaluation.saliency_report import render_tables, saliency_chart

    _check_inputs(davis)
    dev = _dev(dev_sequences, davis)  # before any work: a typo there is known now
    chart = _outputs("saliency", json, chart, examples)
    t0 = time.perf_counter()
    engine = load_engine(model, device=device, runtime=runtime, batch_size=batch_size)  # auto times the batch it will run
    seqs = find_sequences(davis, _split_list(sequences), source)
    cfg = SaliencyEvalConfig(targets=tuple(_split_list(targets) or ()), max_frames=max_frames, step=step, mode=mode,
                             size=size, batch_size=batch_size, camera_threshold=camera_threshold, random_init=random_init,
                             stabilize=tuple(_split_list(stabilize) or ()), fusion=fusion and mode == "full")  # fmt: skip
    if not cfg.targets:
        raise ValueError("--targets is empty")
    if not cfg.stabilize:
        raise ValueError("--stabilize is empty")
    report = evaluate_saliency(engine, seqs, cfg, examples)
    text = f"{engine.describe()}\n{render_tables(report)}"
    if segmentation:
        from ..evaluation.segmentation import evaluate_segmentation, render

        report["segmentation"] = evaluate_segmentation(seqs, max_frames=max_frames, dev=dev)
        text += "\n\n" + render(report["segmentation"])
    _finish(report, text, json, chart, saliency_chart, t0, model)
    if examples:
        typer.echo(f"wrote {examples}")


@app.command("segmentation")
@handle_errors
def segmentation_command(
    davis: Annotated[Path, typer.Option("--davis", help="DAVIS-layout folder: JPEGImages/480p/<seq>/ or mp4/<seq>.mp4, and Annotations/480p/<seq>/.")],
    max_frames: Annotated[Optional[int], typer.Option("--max-frames", min=1, help="Evaluate the first N frames of each sequence.")] = None,
    sequences: Annotated[Optional[str], typer.Option("--sequences", help="Comma-separated sequence names (default: all).")] = None,
    source: Annotated[str, typer.Option("--source", help="auto (JPEG frames if present), jpeg or mp4.")] = "auto",
    methods: Annotated[Optional[str], typer.Option("--methods", help="Comma-separated methods of the registry (evaluation/segmentation.py METHODS: masks, its ablations, baselines; masks-fused runs the default model). Default: all; an unknown name lists them.")] = None,
    dev_sequences: DevOpt = None,
    json: JsonOpt = None,
) -> None:
    """Motion masks and boxes (no network) against object masks: DAVIS-2016 J, J recall, F, box IoU and hits, frames/s,
    with baselines; the same table `eval saliency` ends with."""
    from ..evaluation.davis import find_sequences
    from ..evaluation.report import write_json
    from ..evaluation.segmentation import METHODS, evaluate_segmentation, render

    chosen = _split_list(methods)
    for m in chosen or []:
        if m not in METHODS:
            raise ValueError(f"--methods: unknown method {m!r} (have: {', '.join(METHODS)})")
    _check_inputs(davis)
    if json:
        from ..atomic import check_writable

        check_writable(json)
    t0 = time.perf_counter()
    dev = _dev(dev_sequences, davis)
    report = evaluate_segmentation(find_sequences(davis, _split_list(sequences), source), chosen, max_frames, dev)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    typer.echo(render(report))
    if json:
        write_json(json, report)
        typer.echo(f"wrote {json}")


@app.command("probe")
@handle_errors
def probe(
    videos: Annotated[list[Path], typer.Option("--videos", help="Video folders or files (several may follow --videos).")],
    more: Annotated[Optional[list[Path]], typer.Argument(help="More video folders or files.", show_default=False)] = None,
    model: ModelOpt = None,
    windows: Annotated[int, typer.Option("--windows", min=1, help="Clip positions per video (each gives 9 clips).")] = 6,
    max_frames: Annotated[int, typer.Option("--max-frames", min=1, help="Frames decoded per video, from the start.")] = 300,
    test_fraction: Annotated[float, typer.Option("--test-fraction", help="Fraction of the videos held out for testing.")] = 0.3,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    batch_size: BatchOpt = 16,
    random_init: RandomOpt = True,
    device: DeviceOpt = "auto",
    runtime: RuntimeOpt = None,
    json: JsonOpt = None,
    chart: ChartOpt = None,
) -> None:
    """Sanity probe: a linear classifier of synthetic global translations of real videos on frozen features."""
    from ..loader import load_engine
    from ..evaluation.probe import ProbeConfig, evaluate_probe, probe_chart, render_tables

    _check_inputs(*videos, *(more or []))
    chart = _outputs("probe", json, chart)
    t0 = time.perf_counter()
    engine = load_engine(model, device=device, runtime=runtime, batch_size=batch_size)  # auto times the batch it will run
    cfg = ProbeConfig(windows=windows, max_frames=max_frames, test_fraction=test_fraction, seed=seed,
                      batch_size=batch_size, random_init=random_init)  # fmt: skip
    report = evaluate_probe(engine, [*videos, *(more or [])], cfg)
    _finish(report, f"{engine.describe()}\n{render_tables(report)}", json, chart, probe_chart, t0, model)
