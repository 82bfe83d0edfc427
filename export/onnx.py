"""ClipModel -> ONNX (dynamo exporter): dynamic batch, height and width; fp32, fp16 or bf16 weights, or int8
(the fp32 graph statically quantized on calibration clips, `export.int8`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from mosi_tool.artifact import INPUT_NAME, OUTPUT_NAMES, ExportInfo
from mosi_tool.atomic import atomic_path
from mosi_tool.checkpoint import read_meta
from mosi_tool.runtimes.base import EngineError

from .graph import export_module, quiet_tracing, trace_input
from .metadata import embed_onnx
from .options import ExportOptions

# Conv and friends accept bfloat16 only from opset 22.
OPSETS = {"fp32": 18, "fp16": 18, "bf16": 22, "int8": 18}


def build(checkpoint: Path, out: Path, options: ExportOptions, log: Callable[[str], None] = lambda _: None) -> ExportInfo:
    """Export, embed the metadata, run onnx.checker, write `out` atomically; return the ExportInfo."""
    import onnx

    model = _export_proto(checkpoint, "fp32" if options.precision == "int8" else options.precision, options.input_dtype)
    if options.precision == "int8":
        model, source = _quantized(checkpoint, model, options, log)
    opset = OPSETS[options.precision]
    info = ExportInfo(
        format="onnx", precision=options.precision, input_dtype=options.input_dtype, opset=opset,
        device="cuda" if options.precision == "bf16" else "any", torch_version=torch.__version__,  # ORT-CPU has no bf16 kernels
    )  # fmt: skip
    if options.precision == "int8":
        info.target = {"calibration": source}
    embed_onnx(model, read_meta(checkpoint), info)
    model.producer_name = "mosi-tool"
    onnx.checker.check_model(model, full_check=True)
    with atomic_path(out) as tmp:
        onnx.save(model, str(tmp))
    log(f"onnx: built opset {opset}, {options.precision}, dynamic batch/height/width")
    return info


def _quantized(checkpoint: Path, fp32: Any, options: ExportOptions, log: Callable[[str], None]) -> tuple[Any, str]:
    """The int8 (QDQ) version of an fp32 ModelProto, and a description of its calibration clips."""
    import onnx

    from . import int8

    meta = read_meta(checkpoint)
    if options.calibration is None:
        clips, source = int8.default_calibration_clips(meta), int8.DEFAULT_SOURCE
    else:
        clips = int8.calibration_clips(options.calibration, meta)
        source = f"{len(clips)} clips from {options.calibration}"
    with tempfile.TemporaryDirectory(prefix="mosi-int8-") as tmp:
        plain, quant = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(fp32, str(plain))
        int8.quantize(plain, quant, clips, log)
        return onnx.load(str(quant)), source


def _export_proto(checkpoint: Path, precision: str, input_dtype: str) -> Any:
    """The traced ModelProto (no metadata yet)."""
    module, meta = export_module(checkpoint, precision)
    opset = OPSETS[precision]
    example, dynamic_shapes = trace_input(meta, input_dtype)
    try:
        with quiet_tracing(), torch.no_grad():
            program = torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=list(OUTPUT_NAMES),
                dynamic_shapes=dynamic_shapes,
                opset_version=opset,
                # onnxscript's BatchNorm->Conv fusion stores fused bf16 weights as float32, which breaks the
                # graph's types; TensorRT fuses BatchNorm itself.
                optimize=precision != "bf16",
                verbose=False,
            )
    except Exception as e:  # noqa: BLE001 - the exporter raises many types; report one line
        raise EngineError(f"{checkpoint}: ONNX export failed ({str(e).strip().splitlines()[0]})") from e
    if program is None:
        raise EngineError(f"{checkpoint}: ONNX export returned no program")
    return program.model_proto
