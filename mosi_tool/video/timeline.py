"""What the decoded timestamps say about a stream: where it starts, how long it plays, and frames lost.

A `Clock` first turns each frame's timestamps into a presentation time that only goes forward: FFmpeg's
best-effort timestamp (the PTS, or the DTS where the PTS runs out of order: B-frames muxed with decode-order
timestamps), and where that still goes back (files joined with `cat`, whose second part starts its clock
again), the later frames continue from the frame before.

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

JUMP_PERIODS = 8  # a step back longer than this many frame periods starts a new part (joined files), not a reordering
REGULAR_SHARE = 0.9  # steps equal to the usual one (within 1%) that make a stream constant-rate
GAP_FACTOR = 1.5  # a step this many periods long or more is a gap


@dataclass
class Timeline:
    """Feed every decoded frame's time (in `time_base` ticks: `Clock.ticks`, or the PTS) in presentation order."""

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

    def lost_warning(self) -> str | None:
        """The warning for frames lost in damaged parts (None when no gap): how many, and the widest gap."""
        gap = self.largest_gap()
        if gap is None:
            return None
        return (f"{self.lost_frames()} frames lost in damaged parts (gaps in the timestamps; the widest, {gap[1]:.2f} s, "
                f"ends at {gap[0]:.2f} s); decoding went on past them")  # fmt: skip

    def largest_gap(self) -> tuple[float, float] | None:
        """(seconds since the start where the widest gap ends, its length in seconds), if any gap."""
        if self.largest_gap_at is None or self.first is None or not self.lost_frames():
            return None
        return float((self.largest_gap_at - self.first) * self.time_base), float(max(self.steps) * self.time_base)


@dataclass
class Clock:
    """Presentation times that only go forward, from each decoded frame's (pts, dts) in `time_base` ticks.

    1. FFmpeg's best-effort timestamp (`guess_correct_pts` in libavcodec/decode.c, which PyAV does not expose):
       the PTS unless it has run out of order more often than the DTS, then the DTS, here shifted onto the PTS
       clock by the first frame's PTS - DTS (a decoder delay of a frame or two, which FFmpeg leaves in). FFmpeg
       decides frame by frame, so with decode-order or guessed PTS (B-frames in AVI, which stores no PTS, or a
       muxer that wrote decode timestamps) it takes the first frames from their wrong PTS; with `decode_order`
       (known beforehand from the container and the packets: `decode_order_pts`) every frame takes its shifted
       DTS, and one without (flushed out at the end) its PTS, or one period after the frame before where that
       PTS is not later.
    2. A step back of more than JUMP_PERIODS frame periods starts a new part (files joined with `cat`): that
       frame and the ones after it are shifted to follow the frame before by one period.
    3. A shorter step back or a repeated time (a reordering the first rule missed, a damaged part) is placed
       half a period after the frame before, and later frames keep their own times.
    4. A frame without timestamps follows the frame before by one period.
    `period` is the stream's nominal frame duration in ticks (from its average rate). Times are exact fractions
    of ticks (half a period of a 1/25 time base is not a whole tick); `joined` is the last frame's time before rules 3
    and 4, in whole ticks, for `Timeline`, which counts lost frames from the gaps between them.
    """

    time_base: Fraction
    period: int
    decode_order: bool = False  # the stream's PTS are in decode order: use the DTS throughout
    shift: int | None = None  # the first frame's PTS - DTS, added to every DTS used
    first: Fraction | None = None  # the first time given, in ticks
    last: Fraction | None = None  # the last time given, in ticks
    joined: int | None = None  # the last frame's best-effort time plus `offset`, in ticks
    offset: int = 0  # ticks added since the last new part
    faulty_pts: int = 0
    faulty_dts: int = 0
    last_pts: int | None = None
    last_dts: int | None = None
    frames: int = 0
    used_dts: int = 0  # frames whose time came from the DTS although they had another PTS
    jumps: list[tuple[int, float, float]] = field(default_factory=list)  # (frame, from s, to s) of each new part
    reordered: int = 0  # frames placed half a period after the frame before

    @classmethod
    def at_rate(cls, time_base: Fraction, fps: float, decode_order: bool = False) -> Clock:
        """A clock for a stream of nominal rate `fps` (frames/s) with timestamps in `time_base` seconds."""
        return cls(time_base, max(1, round(1 / (fps * time_base))), decode_order)

    def seconds(self, pts: int | None, dts: int | None) -> float:
        """`ticks` as seconds since the first frame's time."""
        t = self.ticks(pts, dts)
        return float((t - (self.first or 0)) * self.time_base)

    def best_effort(self, pts: int | None, dts: int | None) -> int | None:
        """FFmpeg's best-effort timestamp of a frame (ticks, its DTS unshifted), updating the fault counts."""
        if dts is not None:
            self.faulty_dts += self.last_dts is not None and dts <= self.last_dts
            self.last_dts = dts
        elif pts is not None:
            self.last_dts = pts
        if pts is not None:
            self.faulty_pts += self.last_pts is not None and pts <= self.last_pts
            self.last_pts = pts
        elif dts is not None:
            self.last_pts = dts
        if pts is not None and (dts is None or self.faulty_pts <= self.faulty_dts):
            return pts
        return dts

    def ticks(self, pts: int | None, dts: int | None) -> Fraction:
        """The next frame's presentation time in ticks, later than every time given before."""
        if self.shift is None and pts is not None and dts is not None:
            self.shift = pts - dts
        best = self.best_effort(pts, dts)
        if dts is not None and (self.decode_order or pts is None or self.faulty_pts > self.faulty_dts):  # the DTS, shifted
            best = dts + (self.shift or 0)
            self.used_dts += pts is not None and pts != best
        elif self.decode_order and best is not None and self.joined is not None and best + self.offset <= self.joined:
            best = self.joined - self.offset + self.period  # flushed out at the end, its PTS a guess behind the DTS before
        self.frames += 1
        if best is None:
            t = Fraction(0) if self.last is None else self.last + self.period
            self.joined = round(t) if self.joined is None else self.joined
        else:
            joined = best + self.offset
            if self.last is not None and joined <= self.last and self.last - joined > JUMP_PERIODS * self.period:
                self.jumps.append((self.frames - 1, float(self.last * self.time_base), float(joined * self.time_base)))
                self.offset += round(self.last + self.period - joined)
                joined = best + self.offset
            if self.last is not None and joined <= self.last:
                self.reordered += 1
                t = self.last + Fraction(self.period, 2)
            else:
                t = Fraction(joined)
            self.joined = joined
        self.last = t
        self.first = t if self.first is None else self.first
        return t

    def warning(self) -> str | None:
        """One line on what was mended, or None when every timestamp was used as stored."""
        said = []
        if self.used_dts:
            how = ("presentation timestamps are in decode order (B-frames in AVI, or a muxer that wrote decode timestamps)"
                   if self.decode_order else "presentation timestamps run out of order")
            took = "took its decode timestamp" if self.used_dts == 1 else "took their decode timestamps"
            said.append(f"{how}: {_frames(self.used_dts)} {took} instead (FFmpeg's best effort)")
        if self.jumps:
            frame, a, b = self.jumps[0]
            times = "once" if len(self.jumps) == 1 else f"{len(self.jumps)} times"
            said.append(f"timestamps jump back {times} (first at frame {frame}, from {a:.2f} s to {b:.2f} s on the stream's "
                        "clock; files joined end to end?): each part continues one frame after the one before")
        if self.reordered:
            verb = "repeats or goes" if self.reordered == 1 else "repeat or go"
            said.append(f"{_frames(self.reordered)} {verb} back in time: each was placed half a frame after the one before")
        return "; ".join(said) if said else None


def _frames(n: int) -> str:
    return f"{n} frame" if n == 1 else f"{n} frames"


def decode_order_pts(pts: list[int], reorders: bool, stored: bool = True) -> bool:
    """Whether a stream's PTS are in decode order: its codec reorders frames (B-frames) but the PTS of its first
    packets, in the order they are stored, only ever increase (at least 4 of them), as where a muxer wrote the
    decode timestamps as presentation ones (some MKV and MPEG-TS writers); or its container stores no PTS
    (`stored` False: AVI, whose PTS FFmpeg guesses from each packet's picture type, out of order in pairs for
    packed B-frames, where one packet holds a P and a B-frame), so only its decode timestamps are its own."""
    return reorders and (not stored or len(pts) >= 4 and all(b > a for a, b in zip(pts, pts[1:])))
