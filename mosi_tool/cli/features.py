"""`mosi-tool features`: clip features for many videos, resumable, one file per video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import BatchOpt, FpsOpt, InputsArg, ListOpt, ModelOpt, OverwriteOpt, RuntimeOpt, StackOpt, StepOpt, StreamOpt, handle_errors, resumable, say_failure_log


def register(app: typer.Typer) -> None:
    @app.command("features")
    @handle_errors
    def features(
        inputs: InputsArg = None,
        out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="Output folder: DIR/<name>.npz per video, the name being its path relative to the folder given (or the file's own name; README, Features).")] = Path("features"),
        list_file: ListOpt = None,
        model: ModelOpt = None,
        batch_size: BatchOpt = 16,
        workers: Annotated[Optional[int], typer.Option("--workers", "-j", min=0, help="Decode workers (DataLoader worker processes; 0: decode in this process). Default: one per CPU but one (2 on 2 CPUs), up to 8. Never more than there are videos.")] = None,
        devices: Annotated[Optional[str], typer.Option("--devices", "--device", help="auto (default), cpu, cuda:0, '0,1' (one process per GPU, each with its share of the videos), 'all', or 'cpu,cpu'. Or --shard / torchrun, one process per device.")] = None,
        runtime: RuntimeOpt = None,
        stack: StackOpt = None,
        step: StepOpt = None,
        fps: FpsOpt = None,
        mode: Annotated[str, typer.Option("--mode", help="center (short side 8/7 of the model's crop, then the centre crop; default) or full (whole frame).")] = "center",
        dtype: Annotated[str, typer.Option("--dtype", help="Stored features: float32 (default) or float16.")] = "float32",
        precision: Annotated[str, typer.Option("--precision", help="Arithmetic of a .safetensors checkpoint: fp32 (default), bf16 (about 2x faster end to end on CPUs with AMX; with the bundled model, clip features within cosine 0.9994 of fp32, median relative error 0.5%: bench/precision.py) or fp16 (GPU).")] = "fp32",
        pool: Annotated[str, typer.Option("--pool", help="clip (default) or video (also store the mean over clips).")] = "clip",
        stream: StreamOpt = None,
        overwrite: OverwriteOpt = False,
        shard: Annotated[Optional[str], typer.Option("--shard", help="i/n: process only part i of n deterministic parts, counted from 0 (0/4 .. 3/4; e.g. an array job's task index).")] = None,
        backend: Annotated[str, typer.Option("--backend", help="local (default) or ray (Ray Data cluster; pip install 'mosi-tool\\[ray]').")] = "local",
        threads: Annotated[Optional[int], typer.Option("--threads", min=1, help="Intra-op threads of a CPU engine, PyTorch or ONNX Runtime (default: torch's). On CPU the count can change the last bits of the features.")] = None,
        ray_actors: Annotated[Optional[int], typer.Option("--ray-actors", min=1, help="--backend ray: engine actors (default: one per GPU, else 1); --workers sets decode tasks.")] = None,
        decode: Annotated[str, typer.Option("--decode", help="cpu (FFmpeg; default) or nvdec (experimental: GPU decoding via torchcodec, local backend).")] = "cpu",
    ) -> None:
        """Extract clip features for many videos into one .npz per video (resumable; failures logged)."""
        from ..pipeline.extract import MAX_ERROR_LINES, ExtractOptions, extract, parse_devices
        from ..batch.jobs import parse_shard
        from ..progress import counted

        if not inputs and list_file is None:
            raise ValueError("give videos, folders or --list FILE")
        opts = ExtractOptions(
            model=str(model or ""), out_dir=out_dir, devices=parse_devices(devices), runtime=runtime,
            batch_size=batch_size, workers=workers, stack=stack, step=step, fps=fps, mode=mode, dtype=dtype, precision=precision,
            pool=pool, stream=stream, overwrite=overwrite, shard=parse_shard(shard), backend=backend,
            threads=threads, ray_actors=ray_actors, decode=decode,
        )  # fmt: skip
        with resumable(out_dir):
            report = extract(list(inputs or []), opts, list_file)
        for w in report.warnings:
            typer.echo(f"warning: {w}", err=True)
        shown = report.errors_shown or min(len(report.errors), MAX_ERROR_LINES)  # printed live on a terminal, else here
        for e in report.errors[report.errors_shown : shown]:
            typer.echo(f"error: {e}", err=True)
        if len(report.errors) > shown:
            typer.echo(f"error: ... and {len(report.errors) - shown} more (all in failures.jsonl)", err=True)
        work_s = report.seconds - report.setup_s  # the clip rate leaves out auto's one-off timing
        rate = report.clips / work_s if work_s > 0 else 0.0
        hidden = f" ({counted(report.hidden, 'hidden or AppleDouble file')} skipped)" if report.hidden else ""
        setup = f", {report.setup_s:.1f} s of it timing the runtimes once" if report.setup_s >= 0.5 else ""
        typer.echo(
            f"{report.ok} written, {report.skipped} already done, {report.failed} failed of {counted(report.total, 'video')}{hidden}; "
            f"{counted(report.clips, 'clip')} in {report.seconds:.1f} s{setup} ({rate:.1f} clips/s) -> {out_dir}"
        )
        say_failure_log(report.failed, out_dir)
        raise typer.Exit(report.exit_code)
