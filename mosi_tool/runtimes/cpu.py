"""What this CPU is and what it can compute at most: its identity (for cached choices) and its physical peaks.

Peaks are cores x clock x operations per cycle per core, per precision (2 operations per multiply-add):
- fp32: FMA units x fp32 lanes x 2. AMD Zen 2-4 have two 256-bit FMA pipes (Zen 4 runs AVX-512 on them in
  two halves), Zen 5 two 512-bit ones; Intel cores with AVX-512 are taken to have two 512-bit FMA units.
- bf16: AMX-BF16 tiles 1024 per cycle (16x32 bf16 x 16 per TDPBF16PS, one per 16 cycles); AVX512-BF16
  VDPBF16PS: 2 multiply-adds per fp32 lane, so twice the fp32 FMA rate on the same pipes.
- int8: AMX-INT8 2048 per cycle; AVX512-VNNI VPDPBUSD: 4 multiply-adds per int32 lane, 4x the fp32 rate.
The clock is /proc/cpuinfo's "cpu MHz" (under a hypervisor usually the nominal clock; boost can exceed it).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import torch

import mosi_tool.hardware as hardware  # the module, so its one reader (`cpuinfo`) is looked up at call time


@dataclass(frozen=True)
class CpuInfo:
    name: str
    vendor: str  # GenuineIntel, AuthenticAMD, ...
    family: int
    mhz: float
    cores: int  # CPUs this process may run on
    flags: frozenset[str]

    @property
    def has_amx(self) -> bool:
        return "amx_bf16" in self.flags

    @property
    def has_bf16(self) -> bool:
        """bf16 dot-product hardware (AMX or AVX512-BF16): where bf16 autocast can beat fp32."""
        return self.has_amx or "avx512_bf16" in self.flags

    def key(self) -> str:
        """A short stable id of this CPU model, feature set and core count (for cached timings)."""
        text = f"{self.name}|{self.vendor}|{self.family}|{self.cores}|{' '.join(sorted(self.flags))}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@lru_cache(maxsize=1)
def cpu_info() -> CpuInfo:
    """This machine's CPU from /proc/cpuinfo (`hardware.cpuinfo`, Linux); elsewhere a name and core count only."""
    fields = hardware.cpuinfo()

    def number(key: str, kind: type[int] | type[float]) -> int | float:
        try:
            return kind(fields.get(key, 0))
        except ValueError:
            return 0

    return CpuInfo(hardware.cpu_name(), fields.get("vendor_id", ""), int(number("cpu family", int)), float(number("cpu MHz", float)),
                   hardware.available_cpus(), hardware.cpu_flags())  # fmt: skip


@dataclass(frozen=True)
class Peak:
    ops_per_s: float  # FLOP/s (fp32, bf16) or OP/s (int8); 2 per multiply-add
    formula: str


def fp32_per_cycle(cpu: CpuInfo) -> tuple[int, str]:
    """fp32 FLOPs per cycle per core and why."""
    if "avx512f" in cpu.flags and not (cpu.vendor == "AuthenticAMD" and cpu.family < 26):
        return 64, "2 FMA x 16 fp32 lanes x 2"
    if "avx512f" in cpu.flags or ("avx2" in cpu.flags and "fma" in cpu.flags):
        return 32, "2 FMA pipes x 8 fp32 lanes (256-bit) x 2"
    return 8, "1 x 4 fp32 lanes x 2 (no FMA/AVX2 found)"


def peaks(cpu: CpuInfo | None = None) -> dict[str, Peak]:
    """Physical peak per precision ('fp32', 'bf16', 'int8') for all of this process's cores."""
    cpu = cpu or cpu_info()
    hz = cpu.mhz * 1e6
    base = f"{cpu.cores} cores x {cpu.mhz / 1000:.2f} GHz"
    fp32, why = fp32_per_cycle(cpu)
    out = {"fp32": Peak(cpu.cores * hz * fp32, f"{base} x {fp32} FLOPs/cycle ({why})")}
    if cpu.has_amx:
        bf16, bwhy = 1024, "AMX-BF16 tiles"
    elif "avx512_bf16" in cpu.flags:
        bf16, bwhy = 2 * fp32, "AVX512-BF16 dot products: 2x the fp32 FMA rate"
    else:
        bf16, bwhy = fp32, "no bf16 hardware: fp32 rate"
    out["bf16"] = Peak(cpu.cores * hz * bf16, f"{base} x {bf16} FLOPs/cycle ({bwhy})")
    if "amx_int8" in cpu.flags:
        int8, iwhy = 2048, "AMX-INT8 tiles"
    elif "avx512_vnni" in cpu.flags or "avx_vnni" in cpu.flags:
        int8, iwhy = 4 * fp32, "VNNI dot products: 4x the fp32 FMA rate"
    else:
        int8, iwhy = 2 * fp32, "no VNNI: int16 multiply-adds, 2x the fp32 rate"
    out["int8"] = Peak(cpu.cores * hz * int8, f"{base} x {int8} OPs/cycle ({iwhy})")
    return {k: Peak(v.ops_per_s, f"{v.formula} = {v.ops_per_s / 1e9:.0f} G{'OP' if k == 'int8' else 'FLOP'}/s") for k, v in out.items()}


@contextlib.contextmanager
def intra_op_threads(n: int | None) -> Iterator[None]:
    """Run a CPU engine with `n` intra-op threads (None: leave torch's setting), restored afterwards."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
