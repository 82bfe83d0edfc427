"""Writing a large output file: through the page cache (a plain buffered write) against `mosi_tool.direct_io`'s
DirectWriter (O_DIRECT from an aligned buffer), the CPU time of the write alone, in a fresh child process each.

    python bench/direct_write.py                        # appends a section to docs/BENCHMARKS.md
    python bench/direct_write.py --mb 196 --report -    # print only

Two cases, alternated over `--repeats` rounds: "outputs kept" writes a new file each time and keeps the
earlier ones until the end (a dataset's outputs pile up: the page cache takes new pages), "file replaced"
deletes the previous file first (its pages are free to reuse). Each child writes `--mb` MB from an array it
has already touched, then fsyncs (as `atomic_path` does); CPU time is user + system of the write and fsync.
The files are written in `--dir` (default: a folder beside this checkout; the file system matters: tmpfs
refuses O_DIRECT on older kernels, and then both routes write through the cache).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = """
import os, resource, sys, time
import numpy as np
from mosi_tool.direct_io import DirectWriter
path, mb, how = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = np.random.default_rng(0).integers(0, 255, mb * 1_000_000, np.uint8)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
open(path, "wb").close()
c, w = cpu(), time.perf_counter()
if how == "buffered":
    with open(path, "r+b") as f:
        f.write(memoryview(data))
        f.flush()
        os.fsync(f.fileno())
    direct = False
else:
    with DirectWriter(path) as f:
        f.write(memoryview(data))
        direct = f.direct
    with open(path, "rb+") as f:
        os.fsync(f.fileno())
print(cpu() - c, time.perf_counter() - w, int(direct))
"""


def write_once(path: Path, mb: int, how: str) -> tuple[float, float, bool]:
    """(CPU s, wall s, whether O_DIRECT was used) of one child writing `mb` MB to `path` with `how`."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(mb), how], check=True, capture_output=True, text=True, cwd=ROOT)
    cpu, wall, direct = out.stdout.split()
    return float(cpu), float(wall), bool(int(direct))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mb", type=int, default=196, help="file size in MB (196: a minute of 854x480 motion targets)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--dir", type=Path, default=ROOT.parent / "direct-write-bench")
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md", help="'-': print only")
    args = p.parse_args(argv)
    from bench.report import cpu_section, publish

    args.dir.mkdir(parents=True, exist_ok=True)
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    direct_used = False
    try:
        for r in range(args.repeats):
            for case in ("outputs kept", "file replaced"):
                for how in ("buffered", "direct"):
                    path = args.dir / (f"{how}-{r}.bin" if case == "outputs kept" else f"{how}-replaced.bin")
                    if case == "file replaced" and path.exists():
                        path.unlink()
                    cpu, wall, direct = write_once(path, args.mb, how)
                    direct_used |= direct
                    times.setdefault((case, how), []).append((cpu, wall))
    finally:
        shutil.rmtree(args.dir, ignore_errors=True)
    table = ["| case | route | CPU s (median) | CPU s (best) | wall s (median) | CPU ratio to buffered |", "|---|---|---:|---:|---:|---:|"]
    for case in ("outputs kept", "file replaced"):
        base = statistics.median(c for c, _ in times[case, "buffered"])
        for how, name in (("buffered", "buffered write"), ("direct", "DirectWriter")):
            cpus, walls = [c for c, _ in times[case, how]], [w for _, w in times[case, how]]
            table.append(f"| {case} | {name} | {statistics.median(cpus):.3f} | {min(cpus):.3f} | {statistics.median(walls):.3f} | "
                         f"{statistics.median(cpus) / base:.2f}x |")  # fmt: skip
    import numpy as np

    facts = [f"{args.mb} MB a file, {args.repeats} rounds, each write in a fresh process, fsync included",
             f"folder: {args.dir} (O_DIRECT {'used' if direct_used else 'refused by its file system: both routes buffered'})",
             f"Python {sys.version.split()[0]}, numpy {np.__version__}, kernel {os.uname().release}"]  # fmt: skip
    publish(cpu_section("Writing a large output file", "bench/direct_write.py", argv, facts, table, []), args.report)


if __name__ == "__main__":
    main()
