"""`features` speed of this checkout against another one (an earlier commit), run in turns in one session.

    git worktree add /tmp/old-pipeline 7b1bf20
    python bench/extract_ab.py /tmp/old-pipeline --rounds 3 -- --preset tiny --runtime torch

Each round runs `bench/extract.py --skip baseline,engine,decode --report -` (its "ours" run: `extract()` with
default settings on the shared videos) in the other checkout, then in this one, then the other again in
the next round (ABBA...), so that load from other processes weighs on both alike. Arguments after `--` go
to both. Prints every round's clips/s and the median ratio this / other; appends a section to
docs/BENCHMARKS.md (`--report -`: do not). Absolute rates on a shared machine drift; the ratio is the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.extract import SHARED  # noqa: E402
from bench.report import append_report, cpu_section  # noqa: E402


def clips_per_s(checkout: Path, extra: list[str]) -> float:
    """`ours` clips/s of `checkout`'s bench/extract.py (its last line is a JSON of clips/s per run)."""
    cmd = [sys.executable, str(checkout / "bench" / "extract.py"), "--skip", "baseline,engine,decode", "--report", "-", *extra]
    out = subprocess.run(cmd, cwd=checkout, env=dict(os.environ, PYTHONPATH=str(checkout), MOSI_SHARED_DATA=str(SHARED)), capture_output=True, text=True, check=True).stdout
    return float(json.loads(out.strip().splitlines()[-1])["ours"])


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("other", type=Path, help="the checkout to compare with")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    args = p.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    rows, ratios = [], []
    for r in range(args.rounds):
        order = [("other", args.other), ("this", ROOT)][:: 1 if r % 2 == 0 else -1]
        got = {name: clips_per_s(path, extra) for name, path in order}
        ratios.append(got["this"] / got["other"])
        rows.append(f"| {r + 1} | {' then '.join(n for n, _ in order)} | {got['other']:.2f} | {got['this']:.2f} | {ratios[-1]:.2f} |")
        print(rows[-1], flush=True)
    table = ["| round | order | other clips/s | this clips/s | this / other |", "|---:|---|---:|---:|---:|", *rows]
    head = subprocess.run(["git", "-C", str(args.other), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    median = statistics.median(ratios)
    print(f"median this / other: {median:.2f}")
    if str(args.report) != "-":
        facts = [f"other: {args.other} at {head or '?'}; bench/extract.py arguments: {' '.join(extra) or '(none)'}"]
        append_report(args.report, cpu_section("Extraction, this checkout against another", "bench/extract_ab.py", argv, facts, table,
                                               [f"median this / other: {median:.2f}x clips/s over {args.rounds} rounds"]))  # fmt: skip


if __name__ == "__main__":
    main()
