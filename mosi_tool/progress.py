"""Progress bars (rich) with free-form fields, shared by training, extraction and evaluation."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

_console = Console(stderr=True)


class ProgressBar:
    """A single rich bar; `advance(n, **fields)` updates the count and the text fields shown after it."""

    def __init__(self, description: str, total: int | None, enabled: bool = True, unit: str = ""):
        self.enabled = enabled and _console.is_terminal
        self.total = total
        self.done = 0
        self.fields: dict[str, str] = {}
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self.description = description
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                console=_console,
                transient=False,
            )

    def __enter__(self) -> ProgressBar:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total, info="")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def set_total(self, total: int) -> None:
        self.total = total
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total)

    def advance(self, n: int = 1, **fields: str) -> None:
        self.done += n
        self.fields.update(fields)
        if self._progress is not None and self._task is not None:
            info = "  ".join(f"{k} {v}" if not v.endswith("/s") else v for k, v in self.fields.items())
            self._progress.update(self._task, advance=n, info=info)


def progress_bar(description: str, total: int | None, enabled: bool = True, unit: str = "") -> ProgressBar:
    return ProgressBar(description, total, enabled, unit)


def info(message: str) -> None:
    """A status line on stderr (keeps stdout clean for machine-readable output)."""
    print(message, file=sys.stderr, flush=True)
