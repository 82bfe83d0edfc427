"""The motion field of a whole video in chunks of frames, each computed with enough context on either side to
join into the same field whatever the chunk size."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, cast

import numpy as np

from ..clips import ClipSpec, shot_spans
from ..decode import Frame, VideoError, VideoReader
from ..kept_frames import KeptFrames
from ..letterbox import Bars, video_bars
from ..timeline import Timeline
from .camera import fit_cameras
from .codec import NEIGHBOURS, PER_CELL_PASSES, PICT_B, Cuts, RawFrame, codec_frames, upright_field
from .codec import velocities as codec_velocities
from .field import CELL, MAX_GAP, MotionField, entering_cells, fill_by_camera, fill_from_inside, fill_in_time
from .flow import FALLBACK_SHORT_SIDE, flow_frames

# frames of context either side of a chunk: the gap bound plus what one frame's velocities depend on (the
# reference-distance window, its neighbours for per-cell distances in each of the passes, and the nearest
# anchors around a run of up to 16 B-frames)
MARGIN = MAX_GAP + 3 + NEIGHBOURS * PER_CELL_PASSES + 17
SHORT_GAP = 5  # frames: a run of frames without vectors this short still counts as known (`bridge_short_gaps`)
CHUNK = 512  # frames per chunk of the motion field: MARGIN frames either side are computed again, 1.16x the work (1.6x at 128)


def bridge_short_gaps(known: np.ndarray, coded: np.ndarray, longest: int = SHORT_GAP) -> np.ndarray:
    """(F, gh, gw) bool: `known`, and also the cells of runs of at most `longest` frames without any vector
    (`coded` (F,) False: an I-frame among P-frames, or the B-frames of MPEG-4 Part 2, Xvid and DivX, whose vectors
    FFmpeg does not export: `codec.ZERO_B_VECTORS`; around an I-frame of Xvid with two B-frames, B B I B B, five
    frames) where the frames either side of the run have a vector at that cell: interpolated in time over so few
    frames, about as close to the H.264 targets of the same DAVIS video as the coded frames' (docs/TARGETS.md). A
    cell without a vector in a coded frame (an intra block: often where something appears or moves fast) stays
    unknown."""
    out = known.copy()
    n = len(coded)
    start = 0
    while start < n:
        if coded[start]:
            start += 1
            continue
        end = start  # the run without vectors is [start, end)
        while end < n and not coded[end]:
            end += 1
        if start > 0 and end < n and end - start <= longest:  # between coded frames start - 1 and end
            out[start:end] |= known[start - 1] & known[end]
        start = end
    return out


ShotTest = Callable[[], Callable[[Frame], bool]]  # -> a fresh test of a pass's frames, in order: does it begin a shot


def _frame_test(reader: VideoReader, shots: ShotTest | None) -> Cuts | None:
    """`codec_frames`' `cuts` from a fresh test of `Frame`s (`iter_motion`'s `shots`): each decoded frame made as
    the reader makes it (upright, square pixels, its planes where it keeps them)."""
    if shots is None:
        return None
    make, test = reader.frame_maker(planes=True), shots()
    return lambda frame, index, t: test(make(frame, index, t))


def within_shots(window: list[RawFrame]) -> list[RawFrame]:
    """The window's frames without the vectors whose reference lies in another shot (`RawFrame.cut`): a frame's
    past vectors where no I/P frame of its own shot comes before it (the B-frames after a cut, and the first P-frame
    of a shot, refer to the shot before), its future vectors where none comes after it in its shot (the B-frames
    before a cut refer to the next shot). Their velocities would be the match of one scene's block in another's
    picture. A frame's shot reaching past the window counts as having such frames (`MARGIN` is longer than a
    group of B-frames). Without a cut: the window itself."""
    cuts = [bool(r.cut) for r in window]
    if not any(cuts):
        return window
    anchor = [r.type != PICT_B for r in window]
    n = len(window)
    past, future = [True] * n, [True] * n  # an I/P frame of its shot before it, after it
    seen = True
    for t in range(n):
        seen = seen and not cuts[t]
        past[t], seen = seen, seen or anchor[t]
    seen = True
    for t in range(n - 1, -1, -1):
        future[t] = seen
        seen = not cuts[t] and (seen or anchor[t])
    out = []
    for r, p, f in zip(window, past, future):
        if not p:
            r = r._replace(past=None, past_measured=None)
        if not f:
            r = r._replace(future=None, future_measured=None)
        out.append(r)
    return out


def _finish_shots(field: np.ndarray, cuts: np.ndarray, first: bool, cell: int, model: str, size: tuple[int, int],
                  bars: Bars = Bars()) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """`_finish` of each shot of the window on its own (cuts (F,) bool: the frame begins a shot), so no vector
    is carried, no camera interpolated and no gap bridged across a cut; a shot's first frame copies its second,
    as the video's first does (its vectors point into the shot before). Without a cut: `_finish` itself."""
    if not cuts.any():
        return _finish(field, first, cell, model, size, bars)
    spans = shot_spans(cuts)
    for a, _ in spans:
        if cuts[a]:
            field[a] = np.nan  # its vectors point into the shot before: it takes its next frame's (`_finish`'s first)
    parts = [_finish(field[a:b], first if a == 0 and not cuts[0] else True, cell, model, size, bars) for a, b in spans]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(4))  # type: ignore[return-value]


def _finish(field: np.ndarray, first: bool, cell: int, model: str, size: tuple[int, int],
            bars: Bars = Bars()) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(vectors, camera, coded, known) of a window of velocities (F, gh, gw, 2) with NaN where unknown, of frames
    of `size` = (W, H): the cells in the video's black bars (`letterbox`) without a vector of their own; the
    camera fitted per frame; the gaps filled in time; the cells showing content the previous frame did not
    (`field.entering_cells`: the edge a pan brings in, at the frame's edge or the bars'), whose vectors match
    nothing, unknown and given the motion beside them (`field.fill_from_inside`); what is left (the bars too)
    filled by the camera. first: the window starts at frame 0, which copies frame 1."""
    if first and len(field) > 1:
        field[0] = np.where(np.isfinite(field[1]), field[1], field[0])
    barred = bars.cells(field.shape[1:3], cell, size)  # (gh, gw)
    field[:, barred] = np.nan
    own = np.isfinite(field[..., 0])  # (F, gh, gw): the cells with a vector of their own
    coded = own.any(axis=(1, 2))
    cams = fit_cameras(field, cell, model, coded)
    entering = entering_cells(cams, field.shape[1:3], cell, size, area=bars.content(size)) & ~barred
    known = bridge_short_gaps(own & ~entering, coded, SHORT_GAP)
    filled = fill_in_time(np.ascontiguousarray(field, np.float32), in_place=True)
    fill_from_inside(filled, entering)  # the motion beside them, not the neighbouring frames' (the camera changes)
    fill_by_camera(filled, cams, cell)
    return filled, cams, coded, known


def iter_motion(path: str | Path, stream: int | None = None, fps: float | None = None, cell: int = CELL,
                model: str = "similarity", max_frames: int | None = None, vectors: bool = True,
                chunk: int | None = None, reader: VideoReader | None = None,
                keep: KeptFrames | None = None, measure: bool = False, letterbox: bool = False,
                shots: ShotTest | None = None) -> Iterator[MotionField]:  # fmt: skip
    """The motion field and camera motion of a video file or frame folder, `chunk` frames at a time (see the
    module docstring): consecutive `MotionField`s whose `start` is their first frame's index.

    Memory is bounded by the chunk, not the video: each chunk is computed from its frames plus MARGIN frames
    of context on either side, enough for every step (reference distances, gap filling in time, camera
    interpolation) to see what it would see in the whole video; so the chunks join into the same field
    whatever `chunk` is (default CHUNK). fps: frame folders only, their frame rate (times). vectors=False forces the
    optical-flow fallback. reader: the video already opened (its header read) by the caller, who keeps it
    for the video's info; else it is opened here. keep: where the decoded pictures go for a later pass
    (`KeptFrames`, whether the codec's vectors or the optical-flow fallback read the video). measure: the codec
    vectors take the reference distances measured on the decoded pictures where measured (`codec.block_references`;
    the pictures are then decoded in full), else those estimated from the vectors alone (`codec.velocities`).
    letterbox: the cells in the video's black bars (`video.letterbox`, found from its first frames by a short
    decode of their own) have no vector of their own and take the camera's motion. shots: makes a test (a fresh
    one for each pass: the fallback decodes the video again) asked of each decoded frame in order whether it
    begins a new shot (`VideoReader.frame_maker`'s `Frame`, with its planes where it has them; the optical-flow
    fallback's frames at its own size): the field's `cuts`, and each shot's field made on its own
    (`within_shots`, `_finish_shots`); the codec's pass then decodes the pictures in full. Errors are
    `VideoError`s naming the file.
    """
    chunk = CHUNK if chunk is None else chunk
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1 frame, got {chunk}")
    reader = reader or ClipSpec(fps=fps, stream=stream).open(path)
    if keep is None and not reader.is_folder:  # the frames' times alone, for the reader's end-of-decode checks (a file cut short)
        keep = KeptFrames(reader, pixels=False)
    info = reader.info
    size = (info.width, info.height)
    bars = video_bars(reader) if letterbox else Bars()
    orient, pixels = reader.orientation, reader.pixels
    clock = reader.clock()  # the reader's timestamp rules; what it mends is reported with the reader's warnings
    timeline = Timeline(clock.time_base)  # the frames lost in damaged parts, found as the reader finds them
    got = None if (reader.is_folder or not vectors) else codec_frames(reader.path, info.stream, pixels.stored, cell, max_frames,
                                                                       offset=pixels.offset, clock=clock, timeline=timeline, keep=keep,
                                                                       measure=measure, cuts=_frame_test(reader, shots))
    if got is not None:
        codec, raw = got
        source = f"{codec} motion vectors"
        sw, sh = pixels.stored
        empty = np.full((-(-sh // cell), -(-sw // cell), 2), np.nan, np.float32)  # a frame without vectors
        # each role's window of fields is stacked into the same buffer chunk after chunk: a fresh 30 MB array per
        # chunk and role (854x480, 512 frames) cost more in page faults than the copy itself
        buffers: dict[str, np.ndarray] = {}

        def displayed(fields: list[np.ndarray | None], role: str) -> np.ndarray:
            """Fields on the stored grid -> square pixels (SAR) -> upright (display matrix)."""
            buffer = buffers.get(role)
            if buffer is None or len(buffer) < len(fields):  # sized at once for the longest window, chunk + 2 MARGIN
                buffer = buffers[role] = np.empty((max(len(fields), chunk + 2 * MARGIN), *empty.shape), np.float32)
            stored = np.stack([f if f is not None else empty for f in fields], out=buffer[: len(fields)])
            return upright_field(pixels.square_field(stored, cell), orient)

        def velocities(window: list[RawFrame], cuts: np.ndarray) -> np.ndarray:
            window = within_shots(window)
            past, future = displayed([r.past for r in window], "past"), displayed([r.future for r in window], "future")
            types = np.array([r.type for r in window])
            measured = None
            if any(r.past_measured is not None for r in window):
                measured = (displayed([r.past_measured for r in window], "past measured"),
                            displayed([r.future_measured for r in window], "future measured"))  # fmt: skip
            # each shot's own: the reference distances and the per-cell checks read the frames around (`codec`)
            parts = [codec_velocities(past[a:b], future[a:b], types[a:b], *(m[a:b] for m in measured or ())) for a, b in shot_spans(cuts)]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

        frames: Iterator = raw
    else:
        source = "optical flow (DIS, short side %d)" % min(FALLBACK_SHORT_SIDE, min(size))
        frames = (RawFrame(v, None, 0, t, cut=c) for v, t, c in flow_frames(reader, size, cell, max_frames, keep, bars,
                                                                                   shots() if shots is not None else None))  # fmt: skip

        def velocities(window: list[RawFrame], cuts: np.ndarray) -> np.ndarray:
            return np.stack([cast(np.ndarray, r.past) for r in window])  # flow frames carry their velocities as `past`

    # window: frames [base, base + len(window)); emit [start, start + chunk) once MARGIN frames follow it
    window: list[RawFrame] = []
    base = start = 0
    while True:
        window.extend(itertools.islice(frames, max(0, start + chunk + MARGIN - base - len(window))))
        stop = min(start + chunk, base + len(window))
        if stop <= start:
            break
        cuts = np.array([bool(r.cut) for r in window])
        vel, cams, coded, known = _finish_shots(velocities(window, cuts), cuts, base == 0, cell, model, size, bars)
        lo, hi = start - base, stop - base
        times = np.array([r.time for r in window[lo:hi]], np.float64)
        looked = all(r.cut is not None for r in window[lo:hi])  # asked of every frame
        yield MotionField(vel[lo:hi], cams[lo:hi], times, coded[lo:hi], size, cell, source, start, known[lo:hi], bars,
                          cuts[lo:hi] if looked else None)  # fmt: skip
        start = stop
        drop = max(0, start - MARGIN - base)
        del window[:drop]
        base += drop
    if got is not None:
        reader.note_times(clock, timeline)
    if start == 0:
        raise VideoError(reader.path, "no frames could be decoded")


def join(chunks: Iterable[MotionField]) -> MotionField:
    """One field from consecutive chunks (`iter_motion`)."""
    parts = list(chunks)
    first = parts[0]
    cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
    known = cat("known") if all(p.known is not None for p in parts) else None
    cuts = cat("cuts") if all(p.cuts is not None for p in parts) else None
    return MotionField(cat("vectors"), cat("camera"), cat("times"), cat("coded"), first.size, first.cell, first.source, first.start, known,
                       first.bars, cuts)  # fmt: skip


def read_motion(path: str | Path, stream: int | None = None, fps: float | None = None, cell: int = CELL,
                model: str = "similarity", max_frames: int | None = None, vectors: bool = True,
                measure: bool = False, letterbox: bool = False, shots: ShotTest | None = None) -> MotionField:  # fmt: skip
    """The whole video's motion field (`iter_motion`, joined)."""
    return join(iter_motion(path, stream, fps, cell, model, max_frames, vectors, measure=measure, letterbox=letterbox, shots=shots))
