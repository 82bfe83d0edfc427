"""The one way every benchmark records a run: the whole run as a dated file in docs/benchmarks/, and its newest
table in its area's block of docs/BENCHMARKS.md (one block per bench script), both written atomically."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HEADER = """# Benchmarks

Today's figure for each area: the newest run of each script in `bench/`, with its table (ratios to the
baseline measured in the same run), the machine and the command. Each block is rewritten by its script
(`bench/report.py`); every run is kept whole, with its notes, in [docs/benchmarks/](benchmarks/), one file per
run, named by date and title. Absolute times on the 2-core development machines vary with their load: read the
ratios, which are measured within one run.
"""

_BLOCK = re.compile(r"<!-- area: (?P<area>\S+) -->\n.*?<!-- /area -->\n", re.S)


@dataclass(frozen=True)
class Run:
    """One bench run's markdown section, split into what the summary shows."""

    title: str  # "Extraction end to end: CPU AMD EPYC (2 cores), 2026-11-29 21:31 UTC"
    area: str  # the script that made it: "bench/extract.py"
    command: str  # "Command: `python bench/extract.py ...`" ('' when the section has none)
    tables: list[str]  # every markdown table before the first sub-heading, each with its caption line and the
    # bullets that follow it (the run's ratios and reading), blank lines between


def parse_run(section: str) -> Run:
    """Split a section made by `cpu_section` (or written in its shape: `## title`, a `Command:` line, tables)
    into a `Run`. Raises ValueError when the section has no `## ` title."""
    lines = section.strip("\n").splitlines()
    if not lines or not lines[0].startswith("## "):
        raise ValueError("a benchmark section starts with '## title'")
    at = next((i for i, x in enumerate(lines) if x.startswith("Command:")), None)
    command = "" if at is None else "\n".join(lines[at: next((j for j in range(at, len(lines)) if not lines[j].strip()), len(lines))])
    script = re.search(r"bench/[\w.]+\.py", command)
    area = script.group(0) if script else re.sub(r"[:,].*", "", lines[0][3:]).strip()
    body = lines[1: next((i for i, x in enumerate(lines) if i and x.startswith("#")), len(lines))]
    kept: list[str] = []
    i = 0
    while i < len(body):
        if not body[i].startswith("|"):
            i += 1
            continue
        caption = next((body[j] for j in range(i - 1, -1, -1) if body[j].strip()), "")
        block = [caption, ""] if caption.rstrip().endswith(":") and not caption.startswith(("- ", "Command:")) else []
        while i < len(body) and body[i].startswith("|"):
            block.append(body[i])
            i += 1
        j = i
        while j < len(body) and not body[j].strip():
            j += 1
        after: list[str] = []
        while j < len(body) and (body[j].startswith("- ") or (after and body[j].startswith("  "))):
            after.append(body[j])
            j += 1
        kept += ([""] if kept else []) + block + ([""] + after if after else [])
        i = j
    return Run(lines[0][3:].strip(), area, command, kept)


def run_file_name(run: Run) -> str:
    """`2026-11-29-2131-extraction-end-to-end.md`: the run's date and time, then its title's words."""
    when = re.search(r"(\d{4}-\d{2}-\d{2}) (\d{2}):(\d{2})", run.title)
    stamp = f"{when.group(1)}-{when.group(2)}{when.group(3)}" if when else "undated"
    name = Path(run.area).stem if run.title.startswith("CPU") else run.title.split(":")[0]
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]
    return f"{stamp}-{slug}.md"


def summary_block(run: Run, link: str) -> str:
    """The area's block in docs/BENCHMARKS.md: title, link to the whole run, command, table, reading."""
    body = [f"<!-- area: {run.area} -->", f"## {run.title}", "", f"The whole run: [{link}]({link})", ""]
    if run.command:
        body += [run.command, ""]
    if run.tables:
        body += [*run.tables, ""]
    return "\n".join(body) + "<!-- /area -->\n"


def update_summary(text: str, run: Run, link: str) -> str:
    """`text` (docs/BENCHMARKS.md) with the block of `run.area` replaced, or appended when the area is new."""
    block = summary_block(run, link)
    for m in _BLOCK.finditer(text):
        if m.group("area") == run.area:
            return text[: m.start()] + block + text[m.end():]
    return text.rstrip("\n") + "\n\n" + block


def append_report(path: Path, section: str) -> Path:
    """Record one run: `section` whole as `path.parent/benchmarks/<date>-<title>.md`, and its summary in
    `path` (docs/BENCHMARKS.md), created with a header. Both files are replaced atomically, so an interrupted
    run leaves the old ones whole. Returns the run file's path."""
    from mosi_tool.atomic import atomic_write_text

    run = parse_run(section)
    runs = path.parent / "benchmarks"
    runs.mkdir(parents=True, exist_ok=True)
    run_path = runs / run_file_name(run)
    for n in range(2, 100):  # two runs with one title in one minute keep both files
        if not run_path.exists() or run_path.read_text() == section.rstrip("\n") + "\n":
            break
        run_path = runs / run_file_name(run).replace(".md", f"-{n}.md")
    atomic_write_text(run_path, section.rstrip("\n") + "\n")
    text = path.read_text() if path.exists() else HEADER
    atomic_write_text(path, update_summary(text, run, f"benchmarks/{run_path.name}"))
    return run_path


def cpu_section(title: str, script: str, argv: list[str] | None, facts: list[str], table: list[str], lines: list[str]) -> str:
    """A markdown section: `## title: CPU name (N cores), date`, the command line, `facts` as bullets, the
    `table` lines (header, alignment, rows) and the reading `lines` as bullets."""
    import os
    import shlex
    import sys
    from datetime import datetime, timezone

    from mosi_tool.hardware import available_cpus, cpu_name

    args = shlex.join(argv if argv is not None else sys.argv[1:])
    return "\n".join([
        f"## {title}: CPU {cpu_name()} ({available_cpus()} cores), {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}", "",
        f"Command: `{f'python {script} {args}'.strip()}`", "",
        *[f"- {x}" for x in facts], f"- load average (1 min) at the end: {os.getloadavg()[0]:.1f} (other processes share this machine)", "",
        *table, "", *[f"- {x}" for x in lines],
    ])  # fmt: skip


def run_text(summary: Path) -> str:
    """The whole run that `summary` (a file `append_report` wrote) links to, or `summary`'s own text when it
    links to none; '' when neither exists."""
    if not summary.is_file():
        return ""
    text = summary.read_text()
    link = re.search(r"The whole run: \[[^\]]*\]\(([^)]+)\)", text)
    run = summary.parent / link.group(1) if link else None
    return run.read_text() if run is not None and run.is_file() else text


def publish(section: str, path: Path) -> None:
    """Print `section` and record it with `append_report` (`path` '-': print only)."""
    print(section)
    if str(path) != "-":
        run_path = append_report(path, section)
        print(f"recorded in {run_path} and {path}")


def main(argv: list[str] | None = None) -> None:
    """`python bench/report.py RUN.md [--to docs/BENCHMARKS.md]`: record a section made elsewhere (a GPU run)."""
    import argparse

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("section", type=Path, help="a markdown file holding one run's section")
    p.add_argument("--to", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md")
    args = p.parse_args(argv)
    print(f"recorded in {append_report(args.to, args.section.read_text())}")


if __name__ == "__main__":
    main()
