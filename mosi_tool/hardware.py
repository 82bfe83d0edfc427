"""What this machine can do: its processor's fast paths (the facts that choose precisions and engines), and
the memory a process may still take.

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
def numpy_without_huge_pages() -> Iterator[None]:
    """numpy's large arrays on ordinary 4 KB pages for the block, then as before. numpy asks the kernel for
    transparent huge pages on arrays of 4 MB and more (`madvise`); where the kernel then compacts memory to find
    2 MB pages at the fault (`/sys/kernel/mm/transparent_hugepage/defrag` = madvise, as on the development
    machine), a streaming pass that allocates and frees such arrays chunk after chunk waits on that: `targets`
    on a minute of 854x480 took 6.09 CPU-s with huge pages and 5.73 without, mean of 4 alternated runs, with
    the time of the writes and conversions into new arrays varying 3x from run to run with them (docs/BENCHMARKS.md).
    numpy's own switch (`NUMPY_MADVISE_HUGEPAGE` reads it at import); without it (another numpy), nothing changes."""
    import numpy as np

    switch = getattr(getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage", None)
    if switch is None:
        yield
        return
    before = switch(False)
    try:
        yield
    finally:
        switch(before)


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


CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")  # this process's cgroups: "id:controllers:path" lines
# (limit, usage, the memory.stat line of reclaimable page cache): cgroup v2, then v1's memory controller
CGROUP_FILES = (("", "memory.max", "memory.current", "inactive_file"),
                ("memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"))  # fmt: skip
NO_LIMIT = 1 << 60  # bytes: v1 states "no limit" as a huge number (9223372036854771712)


def available_memory() -> int | None:
    """Bytes of memory available to new allocations without swapping (Linux: /proc/meminfo MemAvailable;
    elsewhere the free pages), or None where neither can be read; at most what this process's memory cgroup
    may still take (`cgroup_room`), since /proc/meminfo shows the whole machine's memory inside a container
    whose limit is far lower, where going past the limit gets the process killed."""
    free: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    room = cgroup_room()
    return free if room is None else min(free, room)


def cgroup_room() -> int | None:
    """Bytes this process's memory cgroup (a container's limit: Docker --memory, a Kubernetes pod's) may
    still take: its limit less its usage, the reclaimable page cache (inactive files) not counted as used,
    as container runtimes count their working set. None where no limit is set or none can be read. The
    cgroup is read at its own path (PROC_CGROUP) under CGROUP_ROOT, else at CGROUP_ROOT itself (a
    container sees its own cgroup there)."""
    own: dict[str, str] = {}
    try:
        for line in PROC_CGROUP.read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                own[name] = path.lstrip("/")
    except (OSError, ValueError):
        pass
    for sub, limit_name, usage_name, cache_name in CGROUP_FILES:
        for folder in dict.fromkeys((CGROUP_ROOT / sub / own.get(sub, ""), CGROUP_ROOT / sub)):
            try:
                limit_text = (folder / limit_name).read_text().strip()
                limit = NO_LIMIT if limit_text == "max" else int(limit_text)
                usage = int((folder / usage_name).read_text())
            except (OSError, ValueError):
                continue
            if limit >= NO_LIMIT:
                return None
            cache = 0
            with contextlib.suppress(OSError, ValueError, IndexError):
                for line in (folder / "memory.stat").read_text().splitlines():
                    if line.startswith(cache_name + " "):
                        cache = int(line.split()[1])
            return max(0, limit - max(0, usage - cache))
    return None
