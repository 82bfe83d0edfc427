"""`features` speed of this checkout against another one (an earlier commit), run in turns in one session.

    git worktree add /tmp/old-pipeline 7b1bf20
    python bench/extract_ab.py /tmp/old-pipeline --rounds 3 -- --preset tiny --runtime torch

Each round runs `bench/extract.py --skip baseline,engine --report -` (its "ours" run: `extract()` with default
settings on the shared videos, and its "decode ceiling": the same decode workers and loop with an engine
that returns at once) in the other checkout, then in this one, then the other again in the next round
(ABBA...), so that load from other processes weighs on both alike. Arguments after `--` go to both. Prints
every round's clips/s and the median ratios this / other; appends a section to docs/BENCHMARKS.md
(`--report -`: do not). Absolute rates on a shared machine drift; the ratios are the figures.
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


RUNS = ("ours", "decode ceiling", "ours CPU ms/clip")  # clips/s, clips/s, CPU milliseconds of the run per clip


def clips_per_s(checkout: Path, extra: list[str]) -> dict[str, float]:
    """Clips/s of `RUNS` by `checkout`'s bench/extract.py (its last line is a JSON of clips/s per run)."""
    cmd = [sys.executable, str(checkout / "bench" / "extract.py"), "--skip", "baseline,engine", "--report", "-", *extra]
    out = subprocess.run(cmd, cwd=checkout, env=dict(os.environ, PYTHONPATH=str(checkout), MOSI_SHARED_DATA=str(SHARED)), capture_output=True, text=True, check=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    rates = {name: float(got[name]) for name in RUNS if name in got}
    for line in out.splitlines():  # the table's row of "ours": | run | videos | clips | wall s | videos/s | clips/s | cores busy | ...
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == "ours" and len(cells) > 6:
            rates["ours CPU ms/clip"] = 1000 * float(cells[6]) * float(cells[3]) / float(cells[2])
    return rates


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("other", type=Path, help="the checkout to compare with")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    args = p.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    rows: list[str] = []
    ratios: dict[str, list[float]] = {name: [] for name in RUNS}
    for r in range(args.rounds):
        order = [("other", args.other), ("this", ROOT)][:: 1 if r % 2 == 0 else -1]
        got = {who: clips_per_s(path, extra) for who, path in order}
        cells = []
        for name in RUNS:
            ratios[name].append(got["this"][name] / got["other"][name])
            cells.append(f"{got['other'][name]:.2f} | {got['this'][name]:.2f} | {ratios[name][-1]:.2f}")
        rows.append(f"| {r + 1} | {' then '.join(n for n, _ in order)} | {' | '.join(cells)} |")
        print(rows[-1], flush=True)
    head = " | ".join(f"{n}: other | this | this / other" for n in RUNS)
    table = [f"| round | order | {head} |", "|---:|---|" + "---:|" * 3 * len(RUNS), *rows]
    commit, this = (subprocess.run(["git", "-C", str(c), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() for c in (args.other, ROOT))
    lines = [f"{n}: median this / other {statistics.median(ratios[n]):.2f}x over {args.rounds} rounds" for n in RUNS]
    print("\n".join(lines))
    if str(args.report) != "-":
        facts = [f"this: {this or '?'}; other: {args.other} at {commit or '?'}; bench/extract.py arguments: {' '.join(extra) or '(none)'}"]
        append_report(args.report, cpu_section("Extraction, this checkout against another", "bench/extract_ab.py", argv, facts, table, lines))


if __name__ == "__main__":
    main()
