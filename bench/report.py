"""The one way every benchmark appends its section to docs/BENCHMARKS.md: atomically, newest last."""

from __future__ import annotations

from pathlib import Path

HEADER = "# Benchmarks\n\nAppended by the scripts in `bench/`; newest last.\n"


def append_report(path: Path, section: str) -> None:
    """Append `section` (markdown) to `path`, creating it with a header; the file is replaced atomically,
    so an interrupted run leaves the old file whole."""
    from mosi_tool.atomic import atomic_write_text

    text = path.read_text() if path.exists() else HEADER
    atomic_write_text(path, text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n")


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


def publish(section: str, path: Path) -> None:
    """Print `section` and append it to `path` ('-': print only)."""
    print(section)
    if str(path) != "-":
        append_report(path, section)
        print(f"appended to {path}")
