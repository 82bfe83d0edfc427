"""ClipModel -> AOTInductor package (.pt2): torch.export with dynamic batch, H and W, compiled ahead of time.

The package holds compiled kernels and weights; `torch._inductor.aoti_load_package` runs it without the
model's Python code. It is compiled for one device type (CPU with this CPU's vector ISA, or one CUDA
compute capability) and records that in its metadata.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable

import torch

from mosi_tool.artifact import ExportInfo, to_props
from mosi_tool.atomic import atomic_path
from mosi_tool.hardware import current_cpu_isa
from mosi_tool.runtimes.base import EngineError, resolve_device

from .graph import export_module, quiet_tracing, trace_input
from .options import ExportOptions


def build(checkpoint: Path, out: Path, options: ExportOptions, log: Callable[[str], None] = lambda _: None) -> ExportInfo:
    device = resolve_device(options.device)
    module, meta = export_module(checkpoint, options.precision, device)
    batch = [options.min_batch, options.opt_batch, options.max_batch]
    hw = list(options.hw_range(meta.crop))
    example, dynamic_shapes = trace_input(meta, options.input_dtype, device, (batch[0], batch[2]), (hw[0], hw[2]))
    if hw[0] <= 16:
        raise ValueError(f"{checkpoint}: AOTInductor needs clips larger than 16 pixels (crop {meta.crop})")
    info = ExportInfo(
        format="aoti", precision=options.precision, input_dtype=options.input_dtype, batch=batch, hw=hw,
        device=device.type, target=_target(device), torch_version=torch.__version__,
    )  # fmt: skip
    try:
        with quiet_tracing(), torch.no_grad():
            program = torch.export.export(module, (example,), dynamic_shapes=dynamic_shapes)
    except Exception as e:  # noqa: BLE001
        raise EngineError(f"{checkpoint}: torch.export failed ({str(e).strip().splitlines()[0]})") from e
    # aoti_compile_and_package wants a path ending in .pt2: compile into a scratch folder beside `out`,
    # then move the package into atomic_path's temporary file.
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, tempfile.TemporaryDirectory(dir=out.parent, prefix=".aoti-") as scratch:
        staged = Path(scratch) / "model.pt2"
        with quiet_tracing():
            torch._inductor.aoti_compile_and_package(
                program, package_path=str(staged), inductor_configs={"aot_inductor.metadata": to_props(meta, info)}
            )
        shutil.move(staged, tmp)
    log(f"aoti: built for {device.type}, {options.precision}, batch {batch[0]}..{batch[2]}, H/W {hw[0]}..{hw[2]}")
    return info


def _target(device: torch.device) -> dict[str, str]:
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return {"gpu": torch.cuda.get_device_name(device), "compute_capability": f"{major}.{minor}"}
    return {"cpu_isa": current_cpu_isa()}
