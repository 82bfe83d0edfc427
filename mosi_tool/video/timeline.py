"""What the decoded timestamps say about a stream: where it starts, how long it plays, and frames lost.

Frames lost to damage leave gaps in a constant-rate stream's timestamps: the span from the first to the
last timestamp holds span / period + 1 frames, and those not decoded are lost (this also holds when the
decoder, recovering from damage, puts a frame out of order). A variable-frame-rate stream has irregular gaps
by design, so nothing is counted unless at least `REGULAR_SHARE` of the steps between frames equal the most
common one (a constant rate). Memory is one counter entry per distinct step: flat however long the video is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

REGULAR_SHARE = 0.9  # steps equal to the usual one (within 1%) that make a stream constant-rate
GAP_FACTOR = 1.5  # a step this many periods long or more is a gap


@dataclass
class Timeline:
    """Feed every decoded frame's PTS (in `time_base` ticks) in presentation order."""

    time_base: Fraction
    first: int | None = None  # the first frame's PTS (the smallest, in a sane stream)
    last: int | None = None  # the largest PTS so far
    count: int = 0  # frames with a PTS
    steps: Counter[int] = field(default_factory=Counter)
    largest_gap_at: int | None = None  # PTS of the frame after the widest gap

    def add(self, pts: int | None) -> None:
        if pts is None:
            return
        self.count += 1
        if self.first is None:
            self.first = pts
        elif self.last is not None and pts > self.last:
            step = pts - self.last
            widest = max(self.steps) if self.steps else 0
            if step > widest:
                self.largest_gap_at = pts
            self.steps[step] += 1
        self.last = pts if self.last is None else max(self.last, pts)

    @property
    def start_time(self) -> float | None:
        """Seconds: the first frame's PTS, the stream's own clock (not zero for many MPEG-TS and MKV files)."""
        return None if self.first is None else float(self.first * self.time_base)

    def period(self) -> int | None:
        """The usual step between frames in ticks, if the stream runs at a constant rate; else None."""
        total = sum(self.steps.values())
        if total == 0:
            return None
        usual = self.steps.most_common(1)[0][0]
        regular = sum(n for s, n in self.steps.items() if abs(s - usual) <= 0.01 * usual)
        return usual if regular >= REGULAR_SHARE * total else None

    def span(self, fallback_period: float) -> float:
        """Seconds from the first frame's start to the last frame's end (the last lasting one period)."""
        if self.first is None or self.last is None:
            return 0.0
        period = self.period()
        last = float(period * self.time_base) if period else fallback_period
        return float((self.last - self.first) * self.time_base) + last

    def lost_frames(self) -> int:
        """Frames missing from gaps in a constant-rate stream (0 when the rate is variable)."""
        period = self.period()
        if not period or self.first is None or self.last is None:
            return 0
        if not any(s >= GAP_FACTOR * period for s in self.steps):
            return 0
        return max(0, round((self.last - self.first) / period) + 1 - self.count)

    def largest_gap(self) -> tuple[float, float] | None:
        """(seconds since the start where the widest gap ends, its length in seconds), if any gap."""
        if self.largest_gap_at is None or self.first is None or not self.lost_frames():
            return None
        return float((self.largest_gap_at - self.first) * self.time_base), float(max(self.steps) * self.time_base)
