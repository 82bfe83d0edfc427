"""`mosi-tool export`: compile a checkpoint into ONNX, TensorRT and AOTInductor engines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import DeviceOpt, handle_errors


def register(app: typer.Typer) -> None:
    @app.command("export")
    @handle_errors
    def export(
        checkpoint: Annotated[Path, typer.Argument(help="A .safetensors checkpoint.")],
        onnx: Annotated[Optional[Path], typer.Option("--onnx", help="Write an ONNX graph here (.onnx).")] = None,
        trt: Annotated[
            bool,
            typer.Option("--trt", help="Build a TensorRT engine, written beside the checkpoint as NAME[-PRECISION].engine (+ .json sidecar) unless --trt-out gives a path."),
        ] = False,
        trt_out: Annotated[Optional[Path], typer.Option("--trt-out", help="Where to write the TensorRT engine (.engine); implies --trt.")] = None,
        aoti: Annotated[Optional[Path], typer.Option("--aoti", help="Write an AOTInductor package here (.pt2), compiled for --device.")] = None,
        precision: Annotated[str, typer.Option("--precision", help="fp32, fp16 or bf16 weights and arithmetic.")] = "fp32",
        max_batch: Annotated[int, typer.Option("--max-batch", min=1, help="Largest batch (TensorRT profile, AOTInductor).")] = 32,
        opt_batch: Annotated[int, typer.Option("--opt-batch", min=1, help="Batch TensorRT tunes for.")] = 8,
        max_size: Annotated[Optional[int], typer.Option("--max-size", min=17, help="Largest H or W (TensorRT, AOTInductor). Default 2.5 x crop.")] = None,
        device: DeviceOpt = "auto",
        timing_cache: Annotated[Optional[Path], typer.Option("--timing-cache", help="TensorRT timing cache file. Default: one per GPU in the cache folder.")] = None,
        verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Run each artifact and compare it with PyTorch.")] = True,
        int8: Annotated[
            bool,
            typer.Option("--int8", help="ONNX with int8 convolutions for CPUs (ONNX Runtime static quantization, QDQ), written to --onnx or beside the checkpoint as NAME-int8.onnx."),
        ] = False,
        calibration: Annotated[
            Optional[Path], typer.Option("--calibration", help="--int8: a video or folder of videos to calibrate the int8 ranges on. Default: 96 moving textures and 32 noise clips (docs/EXPORT.md).")
        ] = None,
    ) -> None:
        """Export engines that run without the model's code; each embeds the model's metadata.

        Each artifact is built and verified on its own: if one fails (say, TensorRT is not installed), the others are still written and the command exits with code 2.
        """
        from mosi_tool.export.formats import FORMATS, default_output
        from mosi_tool.export.options import ExportOptions
        from mosi_tool.export.pipeline import Target, export_artifacts

        if int8:
            if trt or trt_out is not None or aoti is not None:
                raise ValueError("--int8 applies to the ONNX export only; export TensorRT or AOTInductor in another command")
            if precision != "fp32":
                raise ValueError(f"--int8 and --precision {precision} exclude each other")
            precision = "int8"
            onnx = onnx or default_output(checkpoint, FORMATS["onnx"], precision)
        elif calibration is not None:
            raise ValueError("--calibration is for --int8")
        options = ExportOptions(
            precision=precision, opt_batch=min(opt_batch, max_batch), max_batch=max_batch, max_size=max_size,
            device=device, verify=verify, timing_cache=timing_cache, calibration=calibration,
        )  # fmt: skip
        targets = []
        if onnx is not None:
            targets.append(Target(FORMATS["onnx"], onnx))
        if trt or trt_out is not None:
            fmt = FORMATS["tensorrt"]
            targets.append(Target(fmt, trt_out or default_output(checkpoint, fmt, precision)))
        if aoti is not None:
            targets.append(Target(FORMATS["aoti"], aoti))
        if not targets:
            raise ValueError("nothing to export: give --onnx OUT.onnx, --trt and/or --aoti OUT.pt2")
        outcomes = export_artifacts(checkpoint, targets, options, log=typer.echo)
        failed = [o for o in outcomes if o.error]
        for o in failed:
            typer.echo(f"error: {o.error}", err=True)
        if failed:
            raise typer.Exit(2)
