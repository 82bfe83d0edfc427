"""What starting one decode process costs: with the parent's main module run again in the child
(multiprocessing's spawn default) and without it (ours, `pipeline.children.main_hidden`), in the same run.

    python bench/spawn.py                 # 5 alternating starts of each

Two parents' main modules: the `mosi-tool` entry script (a `mosi-tool features` run) and a user's script
that imports torch before calling the Python API (as the bench scripts do). The child runs a no-op target
from the standard library and exits, so the figures are the start cost alone. Per case: median wall seconds
from `start()` to the child's exit, and median CPU seconds of the child. Records the run with bench/report.py (docs/benchmarks/, docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
import types
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import cpu_section, publish  # noqa: E402
from mosi_tool.pipeline.children import main_hidden  # noqa: E402


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def start_once(ctx: Any, hide: Callable[[], Any]) -> tuple[float, float]:
    """(wall s, child CPU s) of one child that does nothing."""
    c0, t0 = children_cpu(), time.perf_counter()
    proc = ctx.Process(target=os.getpid, daemon=True)
    with hide():
        proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"the child failed (exit code {proc.exitcode})")
    return time.perf_counter() - t0, children_cpu() - c0


def entry_script() -> Path:
    found = shutil.which("mosi-tool", path=str(Path(sys.executable).parent)) or shutil.which("mosi-tool")
    if not found:
        raise SystemExit("the mosi-tool entry script was not found: install the package (pip install -e .)")
    return Path(found)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md", help="summary to record the run in ('-': print only)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        user = Path(tmp) / "user_script.py"
        user.write_text("import torch\n")
        mains = {"`mosi-tool` entry script": entry_script(), "a script that imports torch": user}
        cases: dict[str, Callable[[], Any]] = {"run again (spawn default)": nullcontext, "hidden (ours)": main_hidden}
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {(m, c): [] for m in mains for c in cases}
        ctx = mp.get_context("spawn")
        real_main = sys.modules["__main__"]
        try:
            for _ in range(args.repeats):  # alternating, so a change in load weighs on every case alike
                for m, script in mains.items():
                    entry = types.ModuleType("__main__")
                    entry.__file__, entry.__spec__ = str(script), None
                    sys.modules["__main__"] = entry
                    for c, hide in cases.items():
                        runs[m, c].append(start_once(ctx, hide))
        finally:
            sys.modules["__main__"] = real_main
    rows, lines = [], []
    cpu = {k: statistics.median(x[1] for x in r) for k, r in runs.items()}
    for (m, c), r in runs.items():
        rows.append(f"| {m} | {c} | {statistics.median(x[0] for x in r):.2f} | {cpu[m, c]:.2f} |")
    for m in mains:
        base, ours = cpu[m, "run again (spawn default)"], cpu[m, "hidden (ours)"]
        lines.append(f"{m}: {base - ours:.2f} CPU-s saved per decode process ({base / max(ours, 1e-9):.1f}x less)")
    table = ["| parent's main module | in the child | wall s | child CPU s |", "|---|---|---:|---:|", *rows]
    facts = [f"the child runs a no-op and exits; medians of {args.repeats} alternating starts", f"python {platform.python_version()}"]
    publish(cpu_section("Starting a decode process", "bench/spawn.py", argv, facts, table, lines), args.report)


if __name__ == "__main__":
    main()
