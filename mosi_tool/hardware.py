"""What this machine's processor can do fast: the facts that choose precisions and engines.

A leaf module (no project imports), so training, runtimes and benchmarks can all ask it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from collections.abc import Iterator
from pathlib import Path

FAST_BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # Intel AMX tiles, or AVX-512 BF16 dot products (Zen 4, Cooper Lake)


@functools.cache
def cpuinfo() -> dict[str, str]:
    """The first processor's entries of /proc/cpuinfo ("flags", "model name", "vendor_id", "cpu family",
    "cpu MHz", ...), read once per process; empty where the file is absent (not Linux)."""
    try:
        return parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    except OSError:
        return {}


def parse_cpuinfo(text: str) -> dict[str, str]:
    """The `key : value` entries of the first processor's block of a /proc/cpuinfo text."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # the end of the first processor's block
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags (Linux); empty elsewhere."""
    return frozenset(cpuinfo().get("flags", "").split())


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, else the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@contextlib.contextmanager
def opencv_threads(n: int) -> Iterator[None]:
    """OpenCV's thread pool at `n` threads for the block, then as it was. Work that runs one video per core
    uses 1: on small arrays the pool's threads cost more CPU time than they save."""
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


@contextlib.contextmanager
def opencv_without_ipp() -> Iterator[None]:
    """OpenCV's Intel IPP code paths off for the block (a per-thread setting), then as they were. With them,
    identical runs of `saliency --masks` differed now and then by a pixel (cup.mp4: frame 47, in about one run
    of three in one process; never in 8 runs without IPP), as float results some IPP functions give vary
    between calls on the same values; OpenCV's own code gives the same bytes every time, and the masks cost
    the same CPU time without IPP (1.2 s for that video's 217 frames)."""
    import cv2

    before = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)
    try:
        yield
    finally:
        cv2.ipp.setUseIPP(before)


def cpu_name() -> str:
    """The processor's model name, e.g. 'AMD EPYC' (platform.processor() where /proc/cpuinfo is absent)."""
    return cpuinfo().get("model name") or platform.processor() or "unknown CPU"


def cpu_has_fast_bf16() -> bool:
    """True when the CPU computes bf16 matrix products in hardware (AMX-BF16 or AVX512-BF16).

    There, PyTorch's oneDNN kernels run bf16 autocast 2-3x faster than fp32; elsewhere bf16 is emulated
    and slower than fp32.
    """
    return any(flag in cpu_flags() for flag in FAST_BF16_FLAGS)


def current_cpu_isa() -> str:
    """The vector ISA Inductor generates CPU code for here (the string AOTInductor records as AOTI_CPU_ISA)."""
    from torch._inductor import cpu_vec_isa

    return str(cpu_vec_isa.pick_vec_isa()).upper()
