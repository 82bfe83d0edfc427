"""Per-sequence material made once and shared by several evaluated methods, each item timed, so every method
is charged the seconds of what it used (frames/s in the evaluation tables)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class TimedItems:
    """Base of a sequence's shared inputs: `_timed(name, make)` makes an item and records its seconds in
    `spent`; `seconds(*names)` is what the items `names` cost."""

    spent: dict[str, float] = field(default_factory=dict, kw_only=True)  # seconds of each item, by name

    def _timed(self, name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        out = fn()
        self.spent[name] = time.perf_counter() - t0
        return out

    def seconds(self, *names: str) -> float:
        """Seconds spent making the items `names` (read them first)."""
        return sum(self.spent.get(n, 0.0) for n in names)
