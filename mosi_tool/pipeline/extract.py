"""Batch feature extraction: plan the jobs, skip finished ones, run a backend, report.

Backends (`--backend`): `local` (DataLoader workers on this machine, one engine per device) and `ray`
(Ray Data on a cluster). Both write the same files through the same writer.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from ..atomic import check_folder_writable
from ..batch.jobs import VideoJob
from ..batch.per_video import check_backend, plan_jobs, resume
from ..progress import progress_bar
from ..loader import read_model_meta, resolve_runtime
from ..tune import measuring_seconds
from ..runtimes import open_model, resolve_device
from ..video.clips import ClipSpec
from .dataset import decode_plan
from .local import run_local
from .messages import DecodePlan, ErrorMessage, ExtractOptions
from .output import ExtractReport, FeatureSettings, FeatureWriter, is_complete

MAX_ERROR_LINES = 20  # failures printed one per line (all of them are in failures.jsonl)


def parse_devices(text: str | None) -> list[str]:
    """'all' -> every CUDA device; '0,1' -> cuda:0, cuda:1; 'cpu,cpu' -> two CPU engines; None -> auto."""
    if not text:
        return ["auto"]
    if text == "all":
        n = torch.cuda.device_count()
        if n == 0:
            raise ValueError("--devices all: no CUDA device on this machine")
        return [f"cuda:{i}" for i in range(n)]
    parts = [part.strip() for part in text.split(",")]
    return [f"cuda:{part}" if part.isdigit() else part for part in parts]


def engine_precision(model: str | Path, precision: str) -> tuple[str, str | None]:
    """(precision, calibration) of the engine that will run `model`: an exported engine's own precision (from
    its export metadata; `precision` applies to checkpoints only), else `precision` as resolved. An int8
    calibration is named by the quantized graph's weight digest (its scales and zero points are weights), or
    by its description where no digest was kept. A checkpoint run as int8 uses its cached int8 export (made
    here if missing, as the engines would)."""
    handle = open_model(model)
    export_info = handle.export
    if handle.kind.name == "checkpoint" and precision == "int8":
        from ..tune.exported import cached_onnx

        export_info = open_model(cached_onnx(handle.path, "int8")).export
    if export_info is None:
        return precision, None
    if export_info.precision != "int8":
        return export_info.precision, None
    digest = export_info.weights_sha256
    return "int8", f"weights sha256 {digest[:16]}" if digest else export_info.target.get("calibration", "unknown")


def torchrun_part(opts: ExtractOptions) -> ExtractOptions:
    """Started by torchrun (WORLD_SIZE > 1 in the environment) without --shard: this process's part,
    RANK of WORLD_SIZE, on GPU LOCAL_RANK when the devices are `auto` and there is a GPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or opts.shard is not None:
        return opts
    gpu = opts.devices == ["auto"] and torch.cuda.is_available()
    devices = [f"cuda:{os.environ.get('LOCAL_RANK', '0')}"] if gpu else opts.devices
    return dataclasses.replace(opts, shard=(int(os.environ.get("RANK", "0")), world), devices=devices)


def extract(inputs: Sequence[str | Path], opts: ExtractOptions, list_file: str | Path | None = None) -> ExtractReport:
    """Extract features for every input (video files, folders searched recursively, frame folders) into
    `opts.out_dir`, one .npz per video (format: `mosi_tool.pipeline.output`); `list_file` adds the paths it
    lists, one per line. Returns counts and timings; a video that fails is recorded and the others go on.
    FileNotFoundError, before the model is read, for a missing input, or inputs without a video."""
    t0 = time.perf_counter()
    opts = torchrun_part(opts)
    planned = plan_jobs(inputs, list_file, opts.out_dir, opts.shard, caller="extract")
    check_backend(opts.backend)
    if opts.decode == "nvdec":
        if opts.backend != "local":
            raise ValueError("--decode nvdec works with the local backend only")
        from ..video.nvdec import check_nvdec

        check_nvdec()
    # The model's metadata fixes the clip geometry. The engines load later, while the decoders start up.
    meta = read_model_meta(opts.model)
    stack = opts.stack or meta.frames
    if stack != meta.frames:
        raise ValueError(f"--stack {stack}: this model takes clips of {meta.frames} frames")
    check_folder_writable(opts.out_dir)  # a read-only or full out-dir fails here, in one line, before any measuring
    # The one `ClipSpec` of the run: every decoder cuts clips by it, and every output stores it.
    spec = ClipSpec(stack, opts.step, opts.fps, opts.mode, meta.crop, stream=opts.stream, decoder=opts.decode)
    # `--runtime auto` is measured (or read from the cache) once here, so every engine runs the same path and
    # the settings record the arithmetic that actually ran.
    timed = measuring_seconds()
    runtime, precision = resolve_runtime(opts.model, opts.devices[0], opts.runtime, opts.precision, opts.batch_size, opts.threads)
    setup_s = measuring_seconds() - timed  # `--runtime auto` timing the paths now (0 when its choice was cached)
    arithmetic, calibration = engine_precision(opts.model, precision)
    settings = FeatureSettings(meta.model_id, spec, opts.dtype, opts.pool, arithmetic, calibration)

    failures = resume(planned, lambda job: is_complete(job.out, settings, job.stamp), opts.overwrite)
    todo = planned.todo
    report = ExtractReport(total=planned.total, hidden=planned.hidden, skipped=planned.skipped, setup_s=setup_s)
    if not todo:
        report.seconds = time.perf_counter() - t0
        return report

    workers, threads = decode_plan(opts.workers, len(todo))
    if opts.backend == "ray":
        threads = 1  # each Ray decode task holds one CPU
    if opts.decode_threads is not None:
        threads = opts.decode_threads
    # The local engines run on this machine's devices; Ray's workers resolve "auto" themselves.
    devices = [str(resolve_device(d)) for d in opts.devices] if opts.backend == "local" else opts.devices
    opts = dataclasses.replace(opts, runtime=runtime, precision=precision, devices=devices)
    plan = DecodePlan(spec, workers, threads)
    bar = progress_bar("videos", total=len(todo), enabled=opts.progress)
    started = time.perf_counter()

    def on_video(job: VideoJob, ok: bool) -> None:
        rate = report.clips / max(time.perf_counter() - started, 1e-9)
        if not ok and report.errors_shown < MAX_ERROR_LINES and bar.note(f"error: {report.errors[-1]}"):  # on a terminal, at once
            report.errors_shown += 1
        bar.advance(1, failed=str(report.failed), speed=f"{rate:.1f} clips/s")

    writer = FeatureWriter({j.index: j for j in todo}, settings, failures, on_video, stats=report)
    with bar:
        if opts.backend == "local":
            report.times = run_local(todo, writer, opts, plan)
        else:  # ray
            from .ray_backend import run_ray

            report.times = run_ray(todo, writer, opts, plan)
    for job in todo:  # a backend that ended without an answer for some video: record it, never drop it
        if job.index not in writer.finished:
            writer.handle(ErrorMessage(job.index, f"{job.path}: no result (worker stopped)"))
    report.seconds = time.perf_counter() - t0
    return report
