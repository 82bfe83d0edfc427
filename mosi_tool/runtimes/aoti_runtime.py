"""AOTInductor for `.pt2` packages: compiled kernels and weights, no model code.

A package is compiled for one device type and, on CPU, one vector ISA (on CUDA, one compute capability);
those are checked from the package's JSON metadata before its shared library is loaded, since running
kernels for a missing ISA would crash the process instead of raising.
"""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path
from typing import Mapping

import torch

from ..artifact import ModelFile, from_props
from ..hardware import current_cpu_isa
from ..models.clip_model import ClipOutput
from .base import Engine, EngineError, read_contract


class AOTIEngine(Engine):
    name = "aoti"

    def __init__(self, model: ModelFile, device: torch.device):
        path, props = model.path, model.props  # read and CRC-checked once (`artifact.open_model_file`)
        check_pt2_target(path, props, device)
        index = device.index or 0 if device.type == "cuda" else -1
        try:
            self.runner = torch._inductor.aoti_load_package(str(path), device_index=index)
        except Exception as e:  # noqa: BLE001
            raise EngineError(f"{path}: AOTInductor cannot load it ({' '.join(str(e).split())[:300]})") from None
        # The loader's own copy of the metadata is the one this engine uses.
        meta, export_info = read_contract(from_props, self.runner.get_metadata(), str(path))
        super().__init__(dataclasses.replace(model, meta=meta, export=export_info), device)

    def run(self, clips: torch.Tensor) -> ClipOutput:
        with torch.inference_mode():
            logits, features, cam = self.runner(clips)
        return ClipOutput(logits, features, cam)


def check_pt2_target(path: Path, props: Mapping[str, str], device: torch.device) -> None:
    """Refuse a package compiled for another device type, machine, CPU ISA or compute capability."""
    built_for = props.get("AOTI_DEVICE_KEY", "")
    if built_for != device.type:
        raise EngineError(f"{path}: compiled for {built_for or 'an unknown device'}, not {device.type}; re-export with --aoti and --device {device.type}")
    machine = props.get("AOTI_MACHINE")
    if machine and machine != platform.machine():
        raise EngineError(f"{path}: compiled for {machine}, this machine is {platform.machine()}; re-export it here")
    if device.type == "cpu":
        isa, here = props.get("AOTI_CPU_ISA", ""), current_cpu_isa()
        if isa != here:
            raise EngineError(f"{path}: compiled for CPU vector ISA {isa!r}, this CPU has {here!r}; re-export it here")
    else:
        cc, here = props.get("AOTI_COMPUTE_CAPABILITY", ""), "".join(map(str, torch.cuda.get_device_capability(device)))
        if cc and cc != here:
            raise EngineError(f"{path}: compiled for compute capability {cc}, this GPU has {here}; re-export it here")
