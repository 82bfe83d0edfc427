"""`StreamDecode`: one stream's frames, decoded packet by packet as FFmpeg's command line decodes them.

PyAV's `container.decode(stream)` raises at the first packet the decoder refuses (coded data overwritten inside
an MP4: `av.InvalidDataError`), which ended the whole decode there. Here such a packet is skipped, as `ffmpeg`
skips it: the decoder goes on with the next packets, and the frames it gives are used. What was refused (how
many packets, where, how many frames were lost) is recorded for a warning (`StreamDecode.refusal_warning`).
What the demuxer raises (a file cut short, a container it gives up on) still ends the decode, with the
frames the decoder holds flushed out, and is kept as `StreamDecode.error` for the caller's "truncated" checks;
so is the decoder's refusal of the last packet (a file cut short within a packet: nothing follows to decode).

Healthy streams cost what `container.decode` costs: it runs the same loop (demux, then decode each packet) in
Cython, and the Python loop here adds about a microsecond a packet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

import av

# packets refused one after another, with no frame decoded yet, after which the stream is taken as one the
# decoder cannot read at all (a file of garbage whose index the demuxer reads): the decode ends there
REFUSED_BEFORE_ANY_FRAME = 250
SHOWN_PLACES = 3  # refused packets whose place the warning names


def ffmpeg_reason(e: Exception) -> str:
    """FFmpeg's reason for an error (PyAV's message without the file name it appends)."""
    msg = getattr(e, "strerror", None) or str(e)
    msg = re.sub(r"\s*:\s*'[^']*'$", "", msg)  # PyAV appends the file name; we already lead with it
    return msg.strip() or type(e).__name__


@dataclass(frozen=True)
class Refusal:
    """A packet the decoder refused: the frames given before it, the last one's timestamp (ticks of the
    stream's time base: its PTS, else its DTS; None without either or before the first frame), and FFmpeg's
    reason. Where the decoder runs frame threads it says so a few packets late, so its place is told by the
    frames decoded around it, not by its own timestamp."""

    after: int
    ticks: int | None
    reason: str


class StreamDecode:
    """Iterate to get the frames of `stream` (of the open `container`) in the decoder's output order, from its
    packets decoded one by one; a packet the decoder refuses is skipped (`refused`).

    After the iteration: `frames` given, `packets` sent (with data, not hidden by an edit list), `refused`,
    `error` (what ended the decode early: the demuxer's error; the decoder's on the last packet, which is then
    not in `refused`; or its last refusal where it refused REFUSED_BEFORE_ANY_FRAME packets and gave no frame;
    None: the stream was read to its end and decoded)."""

    def __init__(self, container: av.container.InputContainer, stream: av.video.stream.VideoStream):
        self.container, self.stream = container, stream
        self.frames = 0
        self.packets = 0
        self.refused: list[Refusal] = []
        self.error: av.FFmpegError | None = None

    def __iter__(self) -> Iterator[av.VideoFrame]:
        decode = self.stream.decode
        demuxed = self.container.demux(self.stream)
        last: int | None = None  # the last frame's timestamp
        tail: av.FFmpegError | None = None  # the decoder's error on the last packet with data, if it refused it, or on the flush
        tail_refused = False  # the error was a packet's with data (its refusal is in `refused`), not the flush's
        while True:
            packet: av.Packet | None
            try:
                packet = next(demuxed)
            except StopIteration:
                break  # the demuxer's last packet was an empty one, which flushed the decoder
            except av.FFmpegError as e:  # the demuxer gives up (a file cut short): what the decoder holds comes out
                self.error, packet = e, None
            else:
                self.packets += bool(packet.size) and not packet.is_discard
            try:
                frames = decode(packet)
            except av.FFmpegError as e:
                tail, tail_refused = e, packet is not None and bool(packet.size)
                if tail_refused:
                    self.refused.append(Refusal(self.frames, last, ffmpeg_reason(e)))
                    if self.frames == 0 and len(self.refused) >= REFUSED_BEFORE_ANY_FRAME:
                        self.error = e
                        return
                if packet is None:
                    break
                continue
            if packet is not None and packet.size:
                tail = None
            if frames:
                self.frames += len(frames)
                end = frames[-1]
                last = end.pts if end.pts is not None else end.dts
                yield from frames
            if packet is None:
                break
        if tail is not None and self.frames:
            # the last packet cannot be decoded: a file cut short within a packet, where the decode ends (as it did
            # before a refused packet was skipped: the error it stopped on), not a packet refused with frames after it
            if tail_refused:
                self.refused.pop()
            self.error = self.error or tail

    @property
    def lost(self) -> int:
        """Frames lost: the packets sent less the frames given (a refused packet takes its frame with it)."""
        return max(0, self.packets - self.frames)

    def refusal_warning(self, time_base: Fraction, first: Fraction | int | None) -> str | None:
        """One line on the refused packets (None if none): how many, where (after which frame, at how many
        seconds since `first`, the first frame's time in ticks of `time_base`), why, and the frames lost."""
        if not self.refused:
            return None
        places: dict[tuple[int, int | None], int] = {}  # refusals at each place (the frames given before them)
        for r in self.refused:
            places[(r.after, r.ticks)] = places.get((r.after, r.ticks), 0) + 1
        said = []
        for (after, ticks), k in list(places.items())[:SHOWN_PLACES]:
            at = f" at {float((ticks - first) * time_base):.2f} s" if ticks is not None and first is not None else ""
            where = f"after frame {after - 1}{at}" if after else "before the first frame"
            said.append(f"{k} {where}" if len(places) > 1 and k > 1 else where)
        more = f" and {len(places) - SHOWN_PLACES} more places" if len(places) > SHOWN_PLACES else ""
        n = len(self.refused)
        reasons = sorted({r.reason for r in self.refused})
        lost = self.lost
        return (f"the decoder refused {n} packet{'s' if n != 1 else ''} ({'; '.join(said)}{more}: {', '.join(reasons)}); "
                f"decoding went on past {'them' if n != 1 else 'it'}, {lost} frame{'s' if lost != 1 else ''} lost; "
                "the file is damaged")  # fmt: skip

    def nothing_decoded(self) -> str | None:
        """Why no frame came out, where the decoder refused packets and gave none (None otherwise): for the
        error that says so."""
        if self.frames or not self.refused:
            return None
        n = len(self.refused)
        if n >= REFUSED_BEFORE_ANY_FRAME:  # the guard: not every packet was read
            return f"the decoder refused the first {n} packets ({self.refused[-1].reason}), and decoding stopped there"
        return f"the decoder refused {'all' if n >= self.packets else n} of its {self.packets} packets ({self.refused[-1].reason})"
