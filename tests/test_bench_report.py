"""bench/report.py: each run whole in docs/benchmarks/, its newest table in one block per area."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import append_report, parse_run, run_file_name, run_text  # noqa: E402


def _section(when: str, clips: str, script: str = "bench/extract.py") -> str:
    return (f"## Extraction end to end: CPU AMD EPYC (2 cores), {when} UTC\n\nCommand: `python {script} --limit 3`\n\n"
            f"- threads: 2\n\n| run | clips/s | vs baseline |\n|---|---:|---:|\n| ours | {clips} | 1.50x |\n\n"
            "- ours / baseline: 1.50x\n  (same run)\n\nReading by hand.\n\nSpeed:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
            "### Notes\n\n| not | kept |\n|---|---|\n")  # fmt: skip


def test_parse_run_takes_area_command_first_table_and_its_bullets():
    run = parse_run(_section("2026-12-01 10:00", "5.0"))
    assert run.area == "bench/extract.py"
    assert run.command == "Command: `python bench/extract.py --limit 3`"
    assert run.tables == ["| run | clips/s | vs baseline |", "|---|---:|---:|", "| ours | 5.0 | 1.50x |", "",
                          "- ours / baseline: 1.50x", "  (same run)", "", "Speed:", "", "| a | b |", "|---|---|", "| 1 | 2 |"]  # fmt: skip
    assert run_file_name(run) == "2026-12-01-1000-extraction-end-to-end.md"


def test_newest_run_replaces_its_area_block_and_every_run_is_kept(tmp_path):
    summary = tmp_path / "BENCHMARKS.md"
    append_report(summary, _section("2026-12-01 10:00", "5.0"))
    append_report(summary, _section("2026-12-01 11:00", "4.0", "bench/decode.py"))
    last = append_report(summary, _section("2026-12-02 09:30", "7.0"))
    text = summary.read_text()
    assert text.count("<!-- area: bench/extract.py -->") == 1 and text.count("<!-- area: bench/decode.py -->") == 1
    assert "| ours | 7.0 |" in text and "| ours | 5.0 |" not in text and "| ours | 4.0 |" in text
    assert text.index("bench/extract.py -->") < text.index("bench/decode.py -->")  # a block keeps its place
    assert sorted(p.name for p in (tmp_path / "benchmarks").iterdir()) == [
        "2026-12-01-1000-extraction-end-to-end.md", "2026-12-01-1100-extraction-end-to-end.md",
        "2026-12-02-0930-extraction-end-to-end.md"]  # fmt: skip
    assert "### Notes" in last.read_text() and run_text(summary) != text


def test_two_runs_in_one_minute_keep_both_files(tmp_path):
    summary = tmp_path / "BENCHMARKS.md"
    a = append_report(summary, _section("2026-12-01 10:00", "5.0"))
    b = append_report(summary, _section("2026-12-01 10:00", "6.0"))
    assert a != b and b.name.endswith("-2.md") and "| ours | 5.0 |" in a.read_text()
    assert append_report(summary, _section("2026-12-01 10:00", "6.0")) == b  # the same run again: same file


def test_the_repository_summary_links_only_to_runs_that_exist():
    root = Path(__file__).resolve().parents[1] / "docs"
    text = (root / "BENCHMARKS.md").read_text()
    links = [line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("The whole run: [")]
    assert links and all((root / link).is_file() for link in links)
