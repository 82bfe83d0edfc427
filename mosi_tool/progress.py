"""Progress bars (rich) with free-form fields, shared by training, extraction and evaluation."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

_console = Console(stderr=True)


class ProgressBar:
    """A single rich bar; `advance(n, **fields)` updates the count and the text fields shown after it."""

    LOG_EVERY = 30.0  # seconds between plain-text progress lines when stderr is not a terminal

    def __init__(self, description: str, total: int | None, enabled: bool = True, unit: str = ""):
        self.log_lines = enabled and not _console.is_terminal
        self.enabled = enabled and _console.is_terminal
        self._start = self._last_log = time.monotonic()
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
        info = "  ".join(f"{k} {v}" if not v.endswith("/s") else v for k, v in self.fields.items())
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=n, info=info)
        elif self.log_lines and time.monotonic() - self._last_log >= self.LOG_EVERY:
            self._last_log = time.monotonic()
            total = f"/{self.total}" if self.total else ""
            elapsed = self._last_log - self._start
            print(f"{self.description}: {self.done}{total}  {elapsed:.0f}s  {info}", file=sys.stderr, flush=True)

    def note(self, message: str) -> bool:
        """Print `message` above a live bar at once; False (nothing printed) when no bar is shown."""
        if self._progress is None:
            return False
        self._progress.console.print(message, markup=False, highlight=False, soft_wrap=True)
        return True


def progress_bar(description: str, total: int | None, enabled: bool = True, unit: str = "") -> ProgressBar:
    return ProgressBar(description, total, enabled, unit)


def info(message: str) -> None:
    """A status line on stderr (keeps stdout clean for machine-readable output)."""
    print(message, file=sys.stderr, flush=True)


def counted(n: int, noun: str) -> str:
    """'1 frame', '2 frames': a count and its noun for a message (regular plurals only)."""
    return f"{n} {noun}{'s' * (n != 1)}"
