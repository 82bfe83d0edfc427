"""One child process, measured: what the bench scripts that time whole commands share."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Usage:
    """A finished child's cost: CPU seconds (user + system, its threads included), wall seconds, peak RSS MB."""

    cpu_s: float
    wall_s: float
    peak_mb: float


def run_child(cmd: list[str], code: Path) -> Usage:
    """Run `cmd` in `code` with mosi_tool imported from there (PYTHONPATH), wait for it with wait4() and
    return its `Usage`. Raises RuntimeError with the end of its output if it fails."""
    env = dict(os.environ, PYTHONPATH=str(code))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=code, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed:\n{out.decode(errors='replace')[-2000:]}")
    return Usage(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024)  # Linux: ru_maxrss in kilobytes
