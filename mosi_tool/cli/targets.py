"""`mosi-tool targets`: motion targets for motion-focused pre-training, one file per video, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import BackendOpt, InputsArg, ListOpt, OverwriteOpt, ShardOpt, StreamOpt, handle_errors, resumable, say_failure_log

MAX_ERROR_LINES = 20


def register(app: typer.Typer) -> None:
    @app.command("targets")
    @handle_errors
    def targets(
        inputs: InputsArg = None,
        out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="Output folder: DIR/<name>.npz per video, named as `features` names its files (docs/TARGETS.md).")] = Path("targets"),
        list_file: ListOpt = None,
        fmt: Annotated[str, typer.Option("--format", help="npz (every array; default), mme (MME's <name>_<L>.gz trajectories) or mofo (MOFO's box JSON).")] = "npz",
        length: Annotated[int, typer.Option("--length", min=1, help="Steps per trajectory (L).")] = 4,
        starts: Annotated[int, typer.Option("--starts", min=1, help="Keep every Nth start frame of the trajectories.")] = 1,
        compensate: Annotated[bool, typer.Option("--compensate/--no-compensate", help="Trajectories relative to the fitted camera motion (default), or raw.")] = True,
        size: Annotated[Optional[str], typer.Option("--size", help="WxH: targets for the video resized to this size (default: as a player shows it).")] = None,
        camera_model: Annotated[str, typer.Option("--camera-model", help="similarity (pan, zoom, rotation; default), affine, or auto (the affine model on frames where it fits clearly more: saliency's choice).")] = "similarity",
        cuts: Annotated[bool, typer.Option("--cuts/--no-cuts", help="Find scene cuts on the decoded pictures and make each shot's motion on its own (default; about 0.5 CPU ms a frame more at 854x480), or take the video as one shot.")] = True,
        measure_references: Annotated[bool, typer.Option("--measure-references/--estimate-references", help="Measure each codec block's reference frame on the decoded pictures (default; about 1 CPU ms a frame more at 854x480), or estimate it from the vectors alone: faster, but blocks that point 2 or more frames back can read 2x too fast (docs/TARGETS.md).")] = True,
        workers: Annotated[Optional[int], typer.Option("--workers", "-j", min=0, help="Worker processes (0: this process). Default: one per CPU, never more than there are videos.")] = None,
        stream: StreamOpt = None,
        fps: Annotated[Optional[float], typer.Option("--fps", help="Frame folders only: their frame rate (> 0; default 25). A video file keeps its own frames.")] = None,
        overwrite: OverwriteOpt = False,
        shard: ShardOpt = None,
        backend: BackendOpt = "local",
    ) -> None:
        """Motion targets per video: MME trajectories, MOFO boxes, masking densities and MCD vector fields."""
        from ..motion_targets.compute import TargetOptions
        from ..video.clips import parse_size
        from ..motion_targets.run import make_targets
        from ..batch.jobs import parse_shard
        from ..progress import counted
        from ..video.motion import MODELS
        from .signals import terminate_as_exit

        if not inputs and list_file is None:
            raise ValueError("give videos, folders or --list FILE")
        if camera_model not in MODELS:
            raise ValueError(f"--camera-model must be one of {', '.join(MODELS)}, got {camera_model!r}")
        if fmt == "mofo":
            default = TargetOptions()
            unused = [name for name, changed in (("--length", length != default.length), ("--starts", starts != default.starts),
                                                 ("--no-compensate", compensate != default.compensate)) if changed]  # fmt: skip
            if unused:
                typer.echo(f"note: --format mofo holds boxes only: {', '.join(unused)} {'does' if len(unused) == 1 else 'do'} not apply (ignored)", err=True)
        opts = TargetOptions(length=length, starts=starts, compensate=compensate, size=parse_size(size), camera_model=camera_model,
                             stream=stream, fps=fps, cuts=cuts, measure_references=measure_references)  # fmt: skip
        with resumable(out_dir), terminate_as_exit():  # a stopped run removes the video's temporary rows, as Ctrl-C does
            report = make_targets(list(inputs or []), out_dir, opts, fmt, list_file, workers, parse_shard(shard), backend, overwrite)
        for w in report.warnings:
            typer.echo(f"warning: {w}", err=True)
        for e in report.errors[:MAX_ERROR_LINES]:
            typer.echo(f"error: {e}", err=True)
        if len(report.errors) > MAX_ERROR_LINES:
            typer.echo(f"error: ... and {len(report.errors) - MAX_ERROR_LINES} more (all in failures.jsonl)", err=True)
        hidden = f" ({counted(report.hidden, 'hidden or AppleDouble file')} skipped)" if report.hidden else ""
        typer.echo(
            f"{report.ok} written, {report.skipped} already done, {report.failed} failed of {counted(report.total, 'video')}{hidden} "
            f"in {report.seconds:.1f} s -> {out_dir}"
        )
        say_failure_log(report.failed, out_dir)
        raise typer.Exit(report.exit_code)
