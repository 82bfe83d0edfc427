"""ClipModel -> ONNX (dynamo exporter): dynamic batch, height and width; fp32, fp16 or bf16 weights."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from mosi_tool.atomic import atomic_path
from mosi_tool.runtimes.base import EngineError

from .graph import export_module, quiet_tracing, trace_input
from .metadata import INPUT_NAME, OUTPUT_NAMES, ExportInfo, embed_onnx
from .options import ExportOptions

# Conv and friends accept bfloat16 only from opset 22.
OPSETS = {"fp32": 18, "fp16": 18, "bf16": 22}


def build(checkpoint: Path, out: Path, options: ExportOptions, log: Callable[[str], None] = lambda _: None) -> ExportInfo:
    """Export, embed the metadata, run onnx.checker, write `out` atomically; return the ExportInfo."""
    import onnx

    module, meta = export_module(checkpoint, options.precision)
    opset = OPSETS[options.precision]
    example, dynamic_shapes = trace_input(meta, options.input_dtype)
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
                optimize=options.precision != "bf16",
                verbose=False,
            )
    except Exception as e:  # noqa: BLE001 - the exporter raises many types; report one line
        raise EngineError(f"{checkpoint}: ONNX export failed ({str(e).strip().splitlines()[0]})") from e
    if program is None:
        raise EngineError(f"{checkpoint}: ONNX export returned no program")
    model = program.model_proto
    info = ExportInfo(
        format="onnx", precision=options.precision, input_dtype=options.input_dtype, opset=opset,
        device="any", torch_version=torch.__version__,
    )  # fmt: skip
    embed_onnx(model, meta, info)
    model.producer_name = "mosi-tool"
    onnx.checker.check_model(model, full_check=True)
    with atomic_path(out) as tmp:
        onnx.save(model, str(tmp))
    log(f"onnx: wrote {out} (opset {opset}, {options.precision}, dynamic batch/height/width)")
    return info
