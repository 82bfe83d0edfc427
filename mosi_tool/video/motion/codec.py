"""Motion from the codec's own vectors: FFmpeg's exported block vectors, rasterised into cells, with the
distance to each vector's reference frame estimated per frame, and turned upright with the displayed frame."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path
from typing import Generator, Iterator, NamedTuple

import av
import numpy as np

from ..decode import VideoError, ffmpeg_reason
from ..orientation import Orientation
from ..timeline import Clock
from .field import CELL

MAX_REFERENCE_DISTANCE = 8  # frames: the farthest reference a vector is assumed to point to
MIN_SHIFT = 0.5  # px/frame: below this camera speed the reference distance is not estimated from the data
PICT_I, PICT_P, PICT_B = 1, 2, 3  # av.video.frame.PictureType values
TAU = 0.5  # px/frame: velocities closer than this agree (per-cell reference distances)
NEIGHBOURS = 2  # frames either side whose median a cell's velocity is checked against (per-cell distances)
PER_CELL_PASSES = 2


class RawFrame(NamedTuple):
    """One decoded frame of the vector pass: past/future displacement fields (gh, gw, 2) on the stored
    frame's grid (None without vectors), picture type and time (s)."""

    past: np.ndarray | None
    future: np.ndarray | None
    type: int
    time: float


def rasterize(mv: np.ndarray, gh: int, gw: int, cell: int = CELL) -> tuple[np.ndarray, np.ndarray]:
    """Average block motion into cells, separately for past (source < 0) and future (source > 0) references.

    mv: FFmpeg's AVMotionVector records (fields w, h, dst_x, dst_y (block centre), motion_x, motion_y,
    motion_scale, source). Returns (past, future), each (gh, gw, 2) float32 displacement in pixels from the
    reference frame to this frame (not yet divided by the reference distance), NaN where no block lies.
    """
    # The block at dst in this frame comes from src = dst + motion / scale in the reference.
    motion = np.stack([mv["motion_x"], mv["motion_y"]], axis=1).astype(np.float32) / mv["motion_scale"][:, None]
    pick = mv["source"] != 0
    future = (mv["source"][pick] > 0).astype(np.int64)  # 0: past, 1: future
    # past reference: ref -> this frame = dst - src = -motion; future: this frame -> ref = +motion
    disp = motion[pick] * np.where(future > 0, 1, -1).astype(np.float32)[:, None]
    w, h = mv["w"][pick].astype(np.int64), mv["h"][pick].astype(np.int64)
    nx, ny = np.maximum(1, w // cell), np.maximum(1, h // cell)
    cx0 = (mv["dst_x"][pick] - w // 2) // cell
    cy0 = (mv["dst_y"][pick] - h // 2) // cell
    counts = nx * ny
    block = np.repeat(np.arange(len(counts)), counts)
    local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    cx = cx0[block] + local % nx[block]
    cy = cy0[block] + local // nx[block]
    keep = (cx >= 0) & (cx < gw) & (cy >= 0) & (cy < gh)
    block = block[keep]
    # both directions in one set of bins (past first): within a bin the blocks keep their order, so the sums
    # are those of one direction at a time
    n = gh * gw
    flat = future[block] * n + (cy * gw + cx)[keep]
    weight = (np.minimum(w, cell) * np.minimum(h, cell))[block].astype(np.float64)
    total = np.bincount(flat, weight, 2 * n)
    field = np.full((2 * n, 2), np.nan, np.float32)
    hit = total > 0
    for k in range(2):
        field[hit, k] = np.bincount(flat, weight * disp[block, k], 2 * n)[hit] / total[hit]
    return field[:n].reshape(gh, gw, 2), field[n:].reshape(gh, gw, 2)


def reference_distances(types: np.ndarray, past_shift: np.ndarray, future_shift: np.ndarray,
                        window: int = 3) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Frames between each frame and its past and future reference, in display order.

    FFmpeg only says a vector points to the past or the future, and encoders pick among several references
    (B-pyramids, multiple reference frames). So: start from the nearest I/P frames around each frame, giving
    each frame and direction a velocity (its median displacement / distance); take the median of those over
    `window` frames either side as the local camera velocity; then give each frame and direction the distance
    in 1..MAX_REFERENCE_DISTANCE whose velocity is closest to it. Where the camera moves less than
    MIN_SHIFT px/frame the distance cannot be told from the data and stays the nearest I/P frame's (it then
    matters little: nothing moves much).

    types: (F,) picture types (1 I, 2 P, 3 B); past_shift, future_shift: (F, 2) median displacement (px,
    reference -> frame for the past, frame -> reference for the future; NaN if none). Returns (past, future)
    distances (F,) int64, 0 where a frame has no vectors in that direction.
    """
    n = len(types)
    anchors = np.flatnonzero(types != PICT_B)
    idx = np.arange(n)
    pos = np.searchsorted(anchors, idx)  # first anchor >= i
    prev_anchor = np.where(pos > 0, anchors[np.maximum(pos - 1, 0)] if len(anchors) else -1, -1)
    after = np.searchsorted(anchors, idx, side="right")
    next_anchor = np.where(after < len(anchors), anchors[np.minimum(after, len(anchors) - 1)] if len(anchors) else -1, -1)
    shifts = np.stack([past_shift, future_shift]).astype(np.float64)  # (2, F, 2)
    has = np.isfinite(shifts[..., 0])
    k0 = np.stack([np.where(prev_anchor >= 0, idx - prev_anchor, 1), np.where(next_anchor >= 0, next_anchor - idx, 1)])
    k0 = np.where(has, k0, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        v0 = shifts / np.maximum(k0, 1)[..., None]
    k = k0.copy()
    cands = np.arange(1, MAX_REFERENCE_DISTANCE + 1)
    for t in range(n):
        near = v0[:, max(0, t - window) : t + window + 1].reshape(-1, 2)
        near = near[np.isfinite(near[:, 0])]
        if not len(near):
            continue
        local = np.median(near, axis=0)
        if np.linalg.norm(local) < MIN_SHIFT:
            continue
        for d in range(2):
            if has[d, t] and np.linalg.norm(shifts[d, t]) >= MIN_SHIFT:
                err = np.linalg.norm(shifts[d, t][None] / cands[:, None] - local[None], axis=1)
                k[d, t] = int(cands[np.argmin(err)])
    return k[0].astype(np.int64), k[1].astype(np.int64)


def _median_shift(field: np.ndarray) -> np.ndarray:
    """(2,) median displacement of a (gh, gw, 2) field's vectors (NaN if it has none), over every other cell
    in each direction (a quarter of the cells: the median of thousands of vectors barely moves, at a quarter
    of the cost)."""
    v = field[::2, ::2].reshape(-1, 2)
    v = v[np.isfinite(v[:, 0])]
    return np.median(v, axis=0) if len(v) else np.full(2, np.nan)


def codec_frames(path: Path, stream: int, size: tuple[int, int], cell: int, max_frames: int | None, probe: int = 12,
                 offset: tuple[int, int] = (0, 0), clock: Clock | None = None) -> tuple[str, Iterator[RawFrame]] | None:  # fmt: skip
    """(codec name, frames): each decoded frame's past/future displacement fields (gh, gw, 2), picture type
    and time (s since the first frame, `timeline.Clock`: the times `VideoReader` gives), one at a time; or None
    if the stream exports no vectors within its first `probe` frames (those are decoded ahead to find out).
    offset: (left, top) of the decoded frame in the coded picture (`PixelShape.offset`, an H.264 crop): FFmpeg
    places the vectors in the coded picture. clock: `VideoReader.clock()`, so the times are the reader's."""
    gh, gw = -(-size[1] // cell), -(-size[0] // cell)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as e:
        raise VideoError(path, f"not a video FFmpeg can read ({ffmpeg_reason(e)})") from None
    vs = container.streams.video[stream]
    codec = vs.codec_context.name
    # Vectors are parsed from the bitstream whatever happens to the pixels, which nobody looks at here: skip
    # the deblocking filter and the inverse transform, and allow non-spec-compliant speedups.
    vs.codec_context.options = {"flags2": "+export_mvs+fast", "skip_loop_filter": "all", "skip_idct": "all"}
    vs.thread_type = "SLICE"  # frame threads export racy vectors
    clock = clock or Clock.at_rate(vs.time_base or Fraction(1), float(vs.average_rate or vs.guessed_rate or 25))

    def frames() -> Generator[RawFrame, None, None]:
        with container:
            try:
                for frame in itertools.islice(container.decode(vs), max_frames):
                    sd = frame.side_data.get("MOTION_VECTORS")
                    mv = sd.to_ndarray() if sd is not None else None
                    if mv is not None and offset != (0, 0):
                        mv = mv.copy()  # a read-only view of the side data
                        mv["dst_x"] -= offset[0]
                        mv["dst_y"] -= offset[1]
                    p, f = rasterize(mv, gh, gw, cell) if mv is not None else (None, None)
                    yield RawFrame(p, f, int(frame.pict_type), clock.seconds(frame.pts, frame.dts))
            except av.FFmpegError:
                pass  # a truncated stream: keep what decoded (VideoReader reports it)

    it = frames()
    head = list(itertools.islice(it, probe))
    if not any(r.past is not None for r in head):
        it.close()
        return None
    return codec, itertools.chain(head, it)


def upright_field(field: np.ndarray, orient: Orientation) -> np.ndarray:
    """(F, gh, gw, 2) displacements on the stored frames' grid -> the same on the displayed (upright) grid.

    The cells move as the pixels do (`Orientation.apply`), and each vector turns with them: swapped axes swap
    (dx, dy), flipped rows negate dy, flipped columns negate dx.
    """
    if orient.identity:
        return field
    out = field.swapaxes(1, 2)[..., ::-1] if orient.transpose else field
    if orient.flip_rows:
        out = out[:, ::-1] * np.array([1, -1], np.float32)
    if orient.flip_cols:
        out = out[:, :, ::-1] * np.array([-1, 1], np.float32)
    return np.ascontiguousarray(out, dtype=np.float32)


def _average(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise mean of two (F, gh, gw, 2) fields where both are finite, else the finite one (NaN where
    neither is)."""
    out = a + b
    out *= np.float32(0.5)
    np.copyto(out, a, where=np.isnan(b))
    np.copyto(out, b, where=np.isnan(a))
    return out


def _sq(a: np.ndarray) -> np.ndarray:
    """Squared length of (..., 2) vectors, without square roots."""
    return a[..., 0] * a[..., 0] + a[..., 1] * a[..., 1]


def _median4(vals: list[np.ndarray]) -> np.ndarray:
    """Up to 4 (N, 2) arrays with NaN -> (N, 2) their median, per element, of the finite ones (NaN if none):
    the sum less the largest and the smallest, over what is left, which needs no sort."""
    total = np.zeros_like(vals[0])
    n = np.zeros(vals[0].shape, np.int8)
    hi, lo = vals[0], vals[0]
    for x in vals:
        ok = np.isfinite(x)
        total += np.where(ok, x, 0)
        n += ok
        hi, lo = np.fmax(hi, x), np.fmin(lo, x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 2, (total - hi - lo) / (n - 2), total / n).astype(np.float32)


def _per_cell_distances(disps: list[np.ndarray], vs: list[np.ndarray], first: np.ndarray, moved: list[np.ndarray]) -> list[np.ndarray]:
    """The velocities `vs` (F, gh, gw, 2) of each direction (past, future), with the reference distance chosen
    again per cell where the frame's distance does not fit the cell.

    Encoders choose a reference per block (several reference frames, B-pyramids), so one frame's blocks may
    point 1, 2, 4 or 8 frames away while FFmpeg says only "past" or "future": a frame-wide distance is wrong
    for some blocks, by a whole factor (2x, 1/2x, 5x, ...). The signature is a cell whose speed differs from
    the mean of the same cell's velocities `first` in the frames just before and after by such a factor (over
    1.5x or under 1/1.5x; noise changes the direction more than the speed) and whose velocity is far from it
    (over TAU px/frame and a quarter of the speed). Such a cell is compared with the median of its `first`
    over the NEIGHBOURS frames either side (robust to one of them being wrong too) and takes the distance in
    1..MAX_REFERENCE_DISTANCE nearest |displacement| / |median| if that fits the median (within TAU and a
    quarter of the speed) and is at least twice as near as its own velocity. `disps`: the raw displacements;
    `moved`: per direction, (F, gh, gw) where the displacement is over TAU (only those can be told apart).
    """
    f = len(first)
    if f < 3:
        return vs
    r = NEIGHBOURS
    pad = np.full((r, *first.shape[1:]), np.nan, np.float32)
    near = np.concatenate([pad, first, pad])  # near[t + r] = first[t]
    cells = first[0, ..., 0].size
    flat = near.reshape(-1, 2)  # row (t + r) * cells + cell
    with np.errstate(invalid="ignore"):
        ref = _average(near[r - 1 : r - 1 + f], near[r + 1 : r + 1 + f])
        other = _sq(ref)
        far = np.maximum(TAU * TAU, 0.0625 * other)
    out = []
    for disp, v, m in zip(disps, vs, moved):
        with np.errstate(invalid="ignore"):
            own = _sq(v)
            factor = (own > 2.25 * other) | (other > 2.25 * own) | np.isnan(other)
            factor &= m
            suspect = np.flatnonzero(factor)
            suspect = suspect[_sq(v.reshape(-1, 2)[suspect] - ref.reshape(-1, 2)[suspect]) > far.reshape(-1)[suspect]]
        if not len(suspect):
            out.append(v)
            continue
        at = suspect + r * cells  # the suspect's row in `flat`
        med = _median4([np.take(flat, at + o * cells, axis=0) for o in range(-r, r + 1) if o])
        d = disp.reshape(-1, 2)[suspect]
        cur = v.reshape(-1, 2)[suspect]
        with np.errstate(invalid="ignore", divide="ignore"):
            guess = np.sqrt(_sq(d) / _sq(med))
            best, best_gap = cur, _sq(cur - med)
            bound = np.maximum(TAU * TAU, 0.0625 * _sq(med))
            for k in (np.floor(guess), np.ceil(guess)):
                k = np.clip(np.nan_to_num(k, nan=1.0), 1, MAX_REFERENCE_DISTANCE).astype(np.float32)
                c = d / k[:, None]
                gap = _sq(c - med)
                better = (gap < 0.25 * best_gap) & (gap <= bound)  # squared: twice as near
                best = np.where(better[:, None], c, best)
                best_gap = np.where(better, gap, best_gap)
        v = v.copy()
        v.reshape(-1, 2)[suspect] = best
        out.append(v)
    return out


def velocities(past: np.ndarray, future: np.ndarray, types: np.ndarray) -> np.ndarray:
    """(F, gh, gw, 2) px/frame from raw displacement fields and picture types (NaN where unknown): each
    direction's displacement over its reference distance (the frame's, `reference_distances`, then per cell
    where it does not fit, `_per_cell_distances`, twice: the second pass compares with neighbours the first
    corrected), averaged where a frame has both (float32 throughout)."""
    dp, df = reference_distances(types, np.array([_median_shift(p) for p in past]), np.array([_median_shift(f) for f in future]))
    per_dir = []
    for disp, dist in ((past, dp), (future, df)):
        with np.errstate(invalid="ignore", divide="ignore"):
            per_dir.append(disp / np.where(dist > 0, dist, np.nan).astype(np.float32)[:, None, None, None])
    first = _average(*per_dir)
    with np.errstate(invalid="ignore"):
        moved = [_sq(past) > TAU * TAU, _sq(future) > TAU * TAU]
    for _ in range(PER_CELL_PASSES):
        per_dir = _per_cell_distances([past, future], per_dir, first, moved)
        first = _average(*per_dir)
    return first
