"""Motion from the codec's own vectors: FFmpeg's exported block vectors, rasterised into cells, with the
distance to each vector's reference frame measured per block on the decoded pictures where asked
(`codec_frames(measure=True)`, `block_references`: `saliency` asks), else estimated per frame and per cell, and
turned upright with the displayed frame."""

from __future__ import annotations

import collections
import functools
import itertools
from fractions import Fraction
from pathlib import Path
from typing import Callable, Generator, Iterator, NamedTuple, no_type_check

import av
import numba
import numpy as np

from ..decode import VideoError, exact_crop, ffmpeg_reason
from ..kept_frames import KeptFrames
from ..orientation import Orientation
from ..packets import StreamDecode
from ..timeline import Clock, Timeline
from .field import CELL

MAX_REFERENCE_DISTANCE = 8  # frames: the farthest reference a vector is assumed to point to
MIN_SHIFT = 0.5  # px/frame: below this camera speed the reference distance is not estimated from the data
PICT_I, PICT_P, PICT_B = 1, 2, 3  # av.video.frame.PictureType values
# Decoders that export every B-frame vector as (0, 0): FFmpeg's MPEG-4 Part 2 decoder (Xvid, DivX: UCF-101 among
# them; seen with Xvid, FFmpeg's own encoder and videos/eye_makeup.avi, while MPEG-1/2 B-frames export theirs).
# Such frames are taken as frames without vectors, as I-frames are.
ZERO_B_VECTORS = frozenset({"mpeg4"})
TAU = 0.5  # px/frame: velocities closer than this agree (per-cell reference distances)
NEIGHBOURS = 2  # frames either side whose median a cell's velocity is checked against (per-cell distances)
PER_CELL_PASSES = 2
REFERENCE_FRAMES = MAX_REFERENCE_DISTANCE  # frames either side a block's reference is looked for (`block_references`)
MEASURE_SHIFT = 0.5  # px: blocks displaced less than this are not measured (their reference barely matters)
REFERENCE_MARGIN = 0.8  # a measured reference's SAD is below this share of every other candidate's, else unknown
SAMPLES = 3  # points per side of a block compared with the candidate references (`block_references`)
Cuts = Callable[[av.VideoFrame, int, float], bool]  # (decoded frame, its index, time) -> it begins a new shot
LUMA_FORMATS = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"})  # 8-bit luma first


class RawFrame(NamedTuple):
    """One decoded frame of the vector pass: past/future displacement fields (gh, gw, 2) on the stored
    frame's grid (None without vectors), picture type and time (s); where measured (`codec_frames(measure=True)`),
    the past/future velocities (gh, gw, 2) px/frame over each block's measured reference distance
    (`block_references`; NaN where a cell's blocks were not all measured; None: not measured); cut: the frame
    begins a new shot (`codec_frames`' `cuts`; None where not asked)."""

    past: np.ndarray | None
    future: np.ndarray | None
    type: int
    time: float
    past_measured: np.ndarray | None = None
    future_measured: np.ndarray | None = None
    cut: bool | None = None


def rasterize(mv: np.ndarray, gh: int, gw: int, cell: int = CELL) -> tuple[np.ndarray, np.ndarray]:
    """Average block motion into cells, separately for past (source < 0) and future (source > 0) references.

    mv: FFmpeg's AVMotionVector records (fields w, h, dst_x, dst_y (block centre), motion_x, motion_y,
    motion_scale, source). Returns (past, future), each (gh, gw, 2) float32 displacement in pixels from the
    reference frame to this frame (not yet divided by the reference distance), NaN where no block lies; a
    cell's value is the mean of the blocks over it, weighted by the area each covers (at most cell x cell).
    """
    out = _rasterize(mv["source"], mv["w"], mv["h"], mv["dst_x"], mv["dst_y"], mv["motion_x"], mv["motion_y"],
                     mv["motion_scale"], np.ones(len(mv), np.float32), gh, gw, cell)  # fmt: skip
    return out[0], out[1]


def resample(field: np.ndarray, gh: int, gw: int, sx: float, sy: float, cell: int = CELL) -> np.ndarray:
    """(h, w, 2) displacements on the cell grid of a frame of another size (a resolution change mid-stream)
    -> (gh, gw, 2) on the stream's grid: each cell takes the cell under its centre, and the displacements are
    scaled by (sx, sy), that frame's pixels to the stream's (NaN stays NaN)."""
    rows = np.minimum(field.shape[0] - 1, ((np.arange(gh) + 0.5) * cell / sy // cell).astype(np.int64))
    cols = np.minimum(field.shape[1] - 1, ((np.arange(gw) + 0.5) * cell / sx // cell).astype(np.int64))
    return (field[rows][:, cols] * np.array([sx, sy], np.float32)).astype(np.float32)


@numba.njit(cache=True, nogil=True, error_model="numpy")
@no_type_check  # numba code: numpy scalars throughout
def _rasterize(source: np.ndarray, w: np.ndarray, h: np.ndarray, dst_x: np.ndarray, dst_y: np.ndarray, motion_x: np.ndarray,
               motion_y: np.ndarray, motion_scale: np.ndarray, divisor: np.ndarray, gh: int, gw: int, cell: int) -> np.ndarray:  # fmt: skip
    """`rasterize` on the records' columns, each block's displacement divided by its `divisor` (n,) float32 (NaN:
    unknown, and so is every cell it covers): (2, gh, gw, 2) float32, past then future."""
    acc = np.zeros((2, gh, gw, 3), np.float64)  # per direction and cell: weight, weighted dx, weighted dy
    for i in range(len(source)):
        if source[i] == 0:
            continue
        # The block at dst in this frame comes from src = dst + motion / scale in the reference. Past
        # reference: ref -> this frame = dst - src = -motion; future: this frame -> ref = +motion.
        d = 1 if source[i] > 0 else 0
        sign = np.float32(1.0) if d else np.float32(-1.0)
        scale = np.float32(motion_scale[i])
        dx = np.float64(np.float32(motion_x[i]) / scale * sign / divisor[i])
        dy = np.float64(np.float32(motion_y[i]) / scale * sign / divisor[i])
        bw, bh = np.int64(w[i]), np.int64(h[i])
        x0 = (np.int64(dst_x[i]) - bw // 2) // cell
        y0 = (np.int64(dst_y[i]) - bh // 2) // cell
        weight = np.float64(min(bw, cell) * min(bh, cell))
        for y in range(max(0, y0), min(gh, y0 + max(1, bh // cell))):
            for x in range(max(0, x0), min(gw, x0 + max(1, bw // cell))):
                acc[d, y, x, 0] += weight
                acc[d, y, x, 1] += weight * dx
                acc[d, y, x, 2] += weight * dy
    out = np.full((2, gh, gw, 2), np.nan, np.float32)
    for d in range(2):
        for y in range(gh):
            for x in range(gw):
                if acc[d, y, x, 0] > 0:
                    out[d, y, x, 0] = acc[d, y, x, 1] / acc[d, y, x, 0]
                    out[d, y, x, 1] = acc[d, y, x, 2] / acc[d, y, x, 0]
    return out


def block_references(mv: np.ndarray, planes: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """(n,) int64: for each of a frame's n block vectors, the distance in frames (display order) to the picture
    it was predicted from, measured on the decoded pictures; 0 where not measured.

    FFmpeg says only whether a vector points to the past or the future, and encoders choose among several
    reference frames per block. The pictures tell which: a block of frame t displaced by its vector matches
    its reference picture (up to the coded residual) far better than the pictures around it. So each block
    moved by at least MEASURE_SHIFT px is compared with frames t -/+ k, k = 1..K, in its direction: the sum of
    absolute differences of 8-bit luma over SAMPLES x SAMPLES points spread over the block, displaced by the
    vector rounded to whole pixels, positions clamped to the picture (4 x 4 points at bilinear sub-pixel
    positions gave the same answer on 98.6% of a DAVIS video's blocks, at about twice the time). The block takes
    the k of the smallest sum if that is below REFERENCE_MARGIN times every other candidate's (a flat block
    matches them all alike: unknown) and nearer than K (a reference farther than K frames matches the farthest
    candidate best, as the sums fall towards it: unknown too). Frames that cannot be references are left out
    by the caller (`_LumaRing.slots`: B-frames decoded after the block's frame).

    mv: FFmpeg's AVMotionVector records of frame t (positions on the pictures: the crop offset already
    subtracted); planes: (n, H, W) uint8 luma planes; slots: (2 K + 1,) int64, the plane of frame t + k at
    index k + K (-1: none, or not comparable), frame t's at K.
    """
    kmax = (len(slots) - 1) // 2
    if slots[kmax] < 0 or (slots >= 0).sum() < 2:
        return np.zeros(len(mv), np.int64)
    return _block_references(mv["source"], mv["w"], mv["h"], mv["dst_x"], mv["dst_y"], mv["motion_x"], mv["motion_y"],
                             mv["motion_scale"], planes, slots, kmax)  # fmt: skip


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _block_references(source: np.ndarray, w: np.ndarray, h: np.ndarray, dst_x: np.ndarray, dst_y: np.ndarray, motion_x: np.ndarray,
                      motion_y: np.ndarray, motion_scale: np.ndarray, planes: np.ndarray, slots: np.ndarray, kmax: int) -> np.ndarray:  # fmt: skip
    """`block_references` on the records' columns. The sample points and their displaced positions are the
    same for every candidate (only the picture changes), so they are found once per block; candidates are
    tried the last measured block's first (neighbouring blocks mostly share their reference), and one is left
    as soon as its sum passes the best's / margin (it can then neither win nor make the best unclear)."""
    out = np.zeros(len(source), np.int64)
    cur = planes[slots[kmax]]
    height, width = cur.shape
    min2 = np.float32(MEASURE_SHIFT * MEASURE_SHIFT)
    margin = np.int64(REFERENCE_MARGIN * 1024)
    rows, cols = np.empty(SAMPLES, np.int64), np.empty(SAMPLES, np.int64)  # displaced sample positions
    here = np.empty((SAMPLES, SAMPLES), np.int64)  # the block's own samples
    last = 1
    for i in range(len(source)):
        if source[i] == 0:
            continue
        scale = np.float32(motion_scale[i])
        mx, my = np.float32(motion_x[i]) / scale, np.float32(motion_y[i]) / scale  # the block's source: dst + (mx, my)
        if mx * mx + my * my < min2:
            continue
        bw, bh = np.int64(w[i]), np.int64(h[i])
        x0, y0 = np.int64(dst_x[i]) - bw // 2, np.int64(dst_y[i]) - bh // 2
        ix, iy = np.int64(np.floor(mx + np.float32(0.5))), np.int64(np.floor(my + np.float32(0.5)))
        for a in range(SAMPLES):
            y = min(max(y0 + (2 * a + 1) * bh // (2 * SAMPLES), 0), height - 1)
            x = min(max(x0 + (2 * a + 1) * bw // (2 * SAMPLES), 0), width - 1)
            rows[a], cols[a] = min(max(y + iy, 0), height - 1), min(max(x + ix, 0), width - 1)
            for b in range(SAMPLES):
                here[a, b] = cur[y, min(max(x0 + (2 * b + 1) * bw // (2 * SAMPLES), 0), width - 1)]
        sign = 1 if source[i] > 0 else -1
        best, second, pick = np.int64(1) << 40, np.int64(1) << 40, 0
        for j in range(kmax):
            k = last if j == 0 else j if j < last else j + 1  # the last block's answer first: neighbours mostly agree
            slot = slots[kmax + sign * k]
            if slot < 0:
                continue
            ref = planes[slot]
            limit = best * 1024 // margin
            total = np.int64(0)
            for a in range(SAMPLES):
                for b in range(SAMPLES):
                    total += abs(here[a, b] - np.int64(ref[rows[a], cols[b]]))
                if total >= limit:
                    break
            if total >= limit:
                continue
            if total < best:
                best, second, pick = total, best, k
            elif total < second:
                second = total
        if pick and pick < kmax and best * 1024 < margin * second:
            out[i] = last = pick
    return out


class _LumaRing:
    """The luma planes and picture types of the last 2 REFERENCE_FRAMES + 1 frames of a pass, the planes copied
    into one array (a plane that cannot be compared, `_luma` None or of another size than the first, is marked
    missing)."""

    def __init__(self) -> None:
        self.size = 2 * REFERENCE_FRAMES + 1
        self.planes: np.ndarray | None = None  # (size, H, W) uint8: frame n in row n % size
        self.valid = np.zeros(self.size, bool)
        self.types = np.zeros(self.size, np.int64)
        self.count = 0  # frames added

    def add(self, frame: av.VideoFrame) -> None:
        """The pass's next frame (display order)."""
        luma, row = _luma(frame), self.count % self.size
        if luma is not None and self.planes is None:
            self.planes = np.empty((self.size, *luma.shape), np.uint8)
        self.valid[row] = luma is not None and self.planes is not None and luma.shape == self.planes.shape[1:]
        if self.valid[row]:
            self.planes[row] = luma  # type: ignore[index]
        self.types[row] = int(frame.pict_type)
        self.count += 1

    def slots(self, t: int, reordered: bool) -> np.ndarray:
        """(2 K + 1,) int64: the rows of frames t - K .. t + K that frame t's blocks may have been predicted from
        (`block_references`), -1 where missing; t must be among the last K + 1 frames added.

        reordered: the stream decodes B-frames after the next I/P frame in display order (FFmpeg's
        `has_b_frames`), which then rules candidates out: a B-frame's future references lie no farther than that
        next I/P frame (those after it are decoded after it), and an I/P frame cannot refer to the B-frames just
        before it (decoded after it)."""
        out = np.full(self.size, -1, np.int64)
        for k in range(-REFERENCE_FRAMES, REFERENCE_FRAMES + 1):
            n = t + k
            if 0 <= n < self.count and self.count - n <= self.size and self.valid[n % self.size]:
                out[k + REFERENCE_FRAMES] = n % self.size
        if reordered:
            for k in range(1, REFERENCE_FRAMES + 1):  # future: up to the next I/P frame
                n = t + k
                if n >= self.count or self.types[n % self.size] != PICT_B:
                    out[REFERENCE_FRAMES + k + 1 :] = -1
                    break
            if self.types[t % self.size] != PICT_B:  # past of an I/P frame: not the B-frames just before it
                for k in range(1, REFERENCE_FRAMES + 1):
                    n = t - k
                    if n < 0 or self.types[n % self.size] != PICT_B:
                        break
                    out[REFERENCE_FRAMES - k] = -1
        return out


def measured_velocities(mv: np.ndarray, distances: np.ndarray, gh: int, gw: int, cell: int = CELL) -> tuple[np.ndarray, np.ndarray]:
    """(past, future) velocities (gh, gw, 2) float32 px/frame: `rasterize`'s displacements with each block's
    divided by its measured reference distance (`block_references`, (n,) int64), NaN in the cells where a
    block was not measured (0: too little motion, or no clear match), so that those keep the estimated
    distances (`velocities`)."""
    divisor = np.where(distances > 0, distances, np.nan).astype(np.float32)
    out = _rasterize(mv["source"], mv["w"], mv["h"], mv["dst_x"], mv["dst_y"], mv["motion_x"], mv["motion_y"], mv["motion_scale"],
                     divisor, gh, gw, cell)  # fmt: skip
    return out[0], out[1]


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


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _median_shifts(field: np.ndarray) -> np.ndarray:
    """(F, 2) float64: per frame, the median displacement of a (F, gh, gw, 2) field's vectors (NaN if it has
    none), over every other cell in each direction (a quarter of the cells: the median of thousands of
    vectors barely moves, at a quarter of the cost)."""
    f, gh, gw, _ = field.shape
    out = np.full((f, 2), np.nan)
    xs = np.empty(((gh + 1) // 2) * ((gw + 1) // 2), np.float32)
    ys = np.empty_like(xs)
    for t in range(f):
        n = 0
        for i in range(0, gh, 2):
            for j in range(0, gw, 2):
                if not np.isnan(field[t, i, j, 0]):
                    xs[n], ys[n] = field[t, i, j, 0], field[t, i, j, 1]
                    n += 1
        if n:
            out[t, 0], out[t, 1] = np.median(xs[:n]), np.median(ys[:n])
    return out


@functools.cache
def luma_shift(pix_fmt: str) -> int | None:
    """The right shift that makes a pixel format's luma samples 8-bit: 0 for `LUMA_FORMATS`, 2 for 10-bit planar
    little-endian formats (yuv420p10le, ...), 4 for 12-bit, 8 for the MSB-aligned ones (p010le, p016le, ...);
    None where the first plane is not luma in 9 to 16-bit little-endian samples (RGB, big-endian, paletted)."""
    if pix_fmt in LUMA_FORMATS:
        return 0
    try:
        fmt = av.VideoFormat(pix_fmt)
    except (ValueError, av.FFmpegError):
        return None
    luma = fmt.components[0] if fmt.components else None
    if luma is None or not luma.is_luma or luma.plane != 0 or not 8 < luma.bits <= 16 or not pix_fmt.endswith("le"):
        return None
    if pix_fmt.startswith(("p0", "p2", "p4")):  # P010 and kin: samples in the high bits of 16
        return 8
    return luma.bits - 8 if pix_fmt.startswith(("yuv", "gray")) else None


def _luma(frame: av.VideoFrame) -> np.ndarray | None:
    """A read-only (H, W) uint8 view of a decoded frame's 8-bit luma plane (it keeps the frame alive: `_LumaRing`
    copies it); a deeper luma plane's samples shifted down to 8 bits (`luma_shift`, a new array); None where the
    pixel format has no luma plane first."""
    shift = luma_shift(frame.format.name)
    if shift is None:
        return None
    plane = frame.planes[0]
    if shift == 0:
        view = np.frombuffer(memoryview(plane), np.uint8, count=plane.line_size * frame.height)
        out = view.reshape(frame.height, plane.line_size)[:, : frame.width]
    else:
        wide = np.frombuffer(memoryview(plane), "<u2", count=plane.line_size // 2 * frame.height)
        out = (wide.reshape(frame.height, plane.line_size // 2)[:, : frame.width] >> shift).astype(np.uint8)
    out.flags.writeable = False
    return out


def codec_frames(path: Path, stream: int, size: tuple[int, int], cell: int, max_frames: int | None, probe: int = 12,
                 offset: tuple[int, int] = (0, 0), clock: Clock | None = None,
                 timeline: Timeline | None = None, keep: KeptFrames | None = None,
                 measure: bool = False, cuts: Cuts | None = None) -> tuple[str, Iterator[RawFrame]] | None:  # fmt: skip
    """(codec name, frames): each decoded frame's past/future displacement fields (gh, gw, 2), picture type
    and time (s since the first frame, `timeline.Clock`: the times `VideoReader` gives), one at a time; or None
    if the stream exports no vectors within its first `probe` frames (those are decoded ahead to find out).
    offset: (left, top) of the decoded frame in the coded picture (`PixelShape.offset`, an H.264 crop): FFmpeg
    places the vectors in the coded picture. clock: `VideoReader.clock()`, so the times are the reader's;
    timeline: fed each frame's time, to find frames lost in damaged parts as the reader does.
    keep: told every frame's time and the end of the pass, and given the decoded pictures if it wants them
    (`KeptFrames.wanted`: they are then decoded in full, as `VideoReader.frames` decodes them; else only the
    vectors are parsed). measure: each block's reference distance measured on the decoded pictures
    (`block_references`; `RawFrame.past_measured`, `future_measured`; the pictures are then decoded in full,
    kept or not; 10 and 12-bit luma shifted to 8 bits, `luma_shift`; a stream without a luma plane keeps the
    estimate and parses the vectors alone). Measuring holds the last 2 REFERENCE_FRAMES + 1 luma planes and gives each frame
    once the REFERENCE_FRAMES after it are decoded. cuts: (decoded frame, index, time) -> whether it begins a
    new shot, asked of every frame in order (`RawFrame.cut`; the pictures are then decoded in full)."""
    gh, gw = -(-size[1] // cell), -(-size[0] // cell)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as e:
        raise VideoError(path, f"not a video FFmpeg can read ({ffmpeg_reason(e)})") from None
    vs = container.streams.video[stream]
    codec = vs.codec_context.name
    keep = keep if max_frames is None else None  # a pass cut short keeps nothing, and reports no end
    pictures = keep is not None and keep.wanted
    fmt = vs.codec_context.pix_fmt
    measure = measure and (fmt is None or luma_shift(fmt) is not None)  # no luma plane (RGB): nothing to measure on
    if pictures or measure or cuts is not None:
        exact_crop(vs)  # the reader's pictures
        vs.codec_context.options = {"flags2": "+export_mvs"}
        vs.thread_count = 1  # the slice threads' wall-clock gain costs more CPU time than it saves (bench/saliency_vs_ffmpeg.py)
    else:
        # Vectors are parsed from the bitstream whatever happens to the pixels, which nobody looks at here:
        # skip the deblocking filter and the inverse transform, and allow non-spec-compliant speedups.
        vs.codec_context.options = {"flags2": "+export_mvs+fast", "skip_loop_filter": "all", "skip_idct": "all"}
    vs.thread_type = "SLICE"  # frame threads export racy vectors
    blind_b = codec in ZERO_B_VECTORS
    clock = clock or Clock.at_rate(vs.time_base or Fraction(1), float(vs.average_rate or vs.guessed_rate or 25))

    def frames() -> Generator[RawFrame, None, None]:
        decoded = StreamDecode(container, vs)  # past packets the decoder refuses, as the reader decodes them
        own = Timeline(clock.time_base) if keep is not None and timeline is None else timeline
        first: tuple[int, int] | None = None  # the first frame's size: the grid's
        # measuring: the frames decoded but not given yet (RawFrame, its vectors or None), the one of pending[0]
        # being frame lumas.count - len(pending)
        pending: collections.deque[tuple[RawFrame, np.ndarray | None]] = collections.deque()
        lumas = _LumaRing()
        reordered = False  # the decoder's `has_b_frames`, read while the container is open
        index = 0  # of the next decoded frame
        shots: list[int] = []  # the last frames found to begin a shot (`cuts`)

        def measured() -> RawFrame:
            t = lumas.count - len(pending)
            raw, mv = pending.popleft()
            if mv is None or raw.past is None or raw.future is None or lumas.planes is None:
                return raw
            slots = lumas.slots(t, reordered)
            if shots:  # no reference is looked for in another shot
                start, end = max((c for c in shots if c <= t), default=0), min((c for c in shots if c > t), default=t + REFERENCE_FRAMES + 1)
                k = np.arange(-REFERENCE_FRAMES, REFERENCE_FRAMES + 1) + t
                slots[(k < start) | (k >= end)] = -1
            p, f = measured_velocities(mv, block_references(mv, lumas.planes, slots), gh, gw, cell)
            return raw._replace(past_measured=p, future_measured=f)

        with container:
            for frame in itertools.islice(decoded, max_frames):
                sd = frame.side_data.get("MOTION_VECTORS")
                mv = sd.to_ndarray() if sd is not None else None
                if mv is not None and offset != (0, 0):
                    mv = mv.copy()  # a read-only view of the side data
                    mv["dst_x"] -= offset[0]
                    mv["dst_y"] -= offset[1]
                shape = (frame.width, frame.height)
                first = first or shape
                if mv is None or (blind_b and int(frame.pict_type) == PICT_B):
                    mv, p, f = None, None, None
                elif shape == first:
                    p, f = rasterize(mv, gh, gw, cell)
                else:  # a resolution change mid-stream: the vectors on this frame's grid, resampled to the stream's
                    on_own = rasterize(mv, -(-shape[1] // cell), -(-shape[0] // cell), cell)
                    p, f = (resample(x, gh, gw, first[0] / shape[0], first[1] / shape[1], cell) for x in on_own)
                    mv = None  # not measured: the grid is another
                t = clock.seconds(frame.pts, frame.dts)
                cut = cuts(frame, index, t) if cuts is not None else None
                if cut:
                    shots[:] = [c for c in shots if c > index - 4 * REFERENCE_FRAMES] + [index]
                index += 1
                if own is not None:
                    own.add(clock.joined)
                if keep is not None:
                    keep.add(frame if pictures else None, t, sd.buffer_size if sd is not None else 0)
                raw = RawFrame(p, f, int(frame.pict_type), t, cut=cut)
                if not measure:
                    yield raw
                    continue
                lumas.add(frame)
                reordered = bool(vs.codec_context.has_b_frames)
                # a copy: the side data's view would hold the decoded frame, and the decoder then allocates new ones
                pending.append((raw, mv.copy() if mv is not None and offset == (0, 0) else mv))
                if len(pending) > REFERENCE_FRAMES:
                    yield measured()
        while pending:
            yield measured()
        if keep is not None and own is not None:
            keep.end(clock, own, decoded)

    it = frames()
    head = list(itertools.islice(it, probe))
    if not any(r.past is not None for r in head):
        it.close()
        if keep is not None:
            keep.restart()  # the fallback's decode offers the frames again
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


@numba.njit(inline="always")
@no_type_check  # numba code: numpy scalars throughout
def _mean2(a: float, b: float) -> float:
    """The mean of two values where both are finite, else the finite one (NaN if neither is)."""
    if np.isnan(a):
        return b
    if np.isnan(b):
        return a
    return (a + b) * np.float32(0.5)


@numba.njit(inline="always")
@no_type_check  # numba code: numpy scalars throughout
def _median4(a: float, b: float, c: float, d: float) -> float:
    """The median of the finite ones of four values (NaN if none): the sum less the largest and the smallest,
    over what is left."""
    total, n, hi, lo = 0.0, 0, -np.inf, np.inf
    for x in (a, b, c, d):
        if not np.isnan(x):
            total += x
            n += 1
            hi, lo = max(hi, x), min(lo, x)
    if n == 0:
        return np.float32(np.nan)
    return np.float32((total - hi - lo) / (n - 2) if n > 2 else total / n)


def velocities(past: np.ndarray, future: np.ndarray, types: np.ndarray, past_measured: np.ndarray | None = None,
               future_measured: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """(F, gh, gw, 2) px/frame from raw displacement fields (F, gh, gw, 2) float32 and picture types (NaN where
    unknown): each direction's displacement over its reference distance (the frame's, `reference_distances`,
    then per cell where it does not fit, `_per_cell_distance`, PER_CELL_PASSES times: a later pass compares
    with neighbours the one before corrected), averaged where a frame has both (float32 throughout).
    past_measured, future_measured: (F, gh, gw, 2) velocities over the blocks' measured reference distances
    (`measured_velocities`), taken as they are where finite (neither estimated nor checked); None: none."""
    dp, df = reference_distances(types, _median_shifts(past), _median_shifts(future))
    if past_measured is None or future_measured is None:
        past_measured = future_measured = np.full((1, 1, 1, 2), np.nan, np.float32)  # read as "none" below
    return _velocities(past, future, dp, df, PER_CELL_PASSES, past_measured, future_measured)


@numba.njit(cache=True, nogil=True, error_model="numpy")
@no_type_check  # numba code: numpy scalars throughout
def _velocities(past: np.ndarray, future: np.ndarray, dp: np.ndarray, df: np.ndarray, passes: int, mp: np.ndarray,
                mf: np.ndarray) -> np.ndarray:  # fmt: skip
    """`velocities` from the frames' reference distances dp, df (F,) int (0: none in that direction) and the
    measured velocities mp, mf (like `past`; (1, 1, 1, 2) NaN: none).

    Level 0 of `first` is the mean of both directions' velocities over the frames' distances; level k the
    same after round k of per-cell checks, which reads level k - 1 two frames either side. So the rounds run
    as a wavefront, round k two frames behind round k - 1, and each level and each direction's velocities
    live in a ring of a few frames: besides the result, memory stays in the CPU's cache (large arrays cost
    more in page faults than in arithmetic).
    """
    f, gh, gw, _ = past.shape
    ring = 2 * passes + 5  # a frame's velocities are read until its last round, 2 * passes frames later
    vp, vf = np.empty((ring, gh, gw, 2), np.float32), np.empty((ring, gh, gw, 2), np.float32)
    first = np.empty((passes + 1, ring, gh, gw, 2), np.float32)
    out = np.empty_like(past)
    nan = np.float32(np.nan)
    none = np.full((gh, gw, 2), nan, np.float32)  # the neighbour of a frame at the window's edge
    flags = np.empty(gw, np.int64)  # per cell of a row: 1 past, 2 future direction suspect
    measured = mp.shape == past.shape
    for step in range(f + 2 * passes):
        t = step
        if t < f:
            kp = np.float32(dp[t]) if dp[t] > 0 else nan
            kf = np.float32(df[t]) if df[t] > 0 else nan
            r = t % ring
            for i in range(gh):
                for j in range(gw):
                    for c in range(2):
                        vp[r, i, j, c], vf[r, i, j, c] = past[t, i, j, c] / kp, future[t, i, j, c] / kf
                    if measured:
                        if not np.isnan(mp[t, i, j, 0]):
                            vp[r, i, j, 0], vp[r, i, j, 1] = mp[t, i, j, 0], mp[t, i, j, 1]
                        if not np.isnan(mf[t, i, j, 0]):
                            vf[r, i, j, 0], vf[r, i, j, 1] = mf[t, i, j, 0], mf[t, i, j, 1]
                    for c in range(2):
                        first[0, r, i, j, c] = _mean2(vp[r, i, j, c], vf[r, i, j, c])
                        if passes == 0:
                            out[t, i, j, c] = first[0, r, i, j, c]
        for k in range(1, passes + 1):
            t = step - 2 * k
            if t < 0 or t >= f:
                continue
            r = t % ring
            prev = first[k - 1]
            # ring slots of the frames around t (-1: outside the window)
            m2, m1 = (t - 2) % ring if t >= 2 else -1, (t - 1) % ring if t >= 1 else -1
            p1, p2 = (t + 1) % ring if t + 1 < f else -1, (t + 2) % ring if t + 2 < f else -1
            before, after = prev[m1] if m1 >= 0 else none, prev[p1] if p1 >= 0 else none
            for i in range(gh):
                for j in range(gw):  # no branch: which cells need a closer look (few)
                    rx, ry = _mean2(before[i, j, 0], after[i, j, 0]), _mean2(before[i, j, 1], after[i, j, 1])
                    flags[j] = _suspect(past[t, i, j, 0], past[t, i, j, 1], vp[r, i, j, 0], vp[r, i, j, 1], rx, ry) | (
                        _suspect(future[t, i, j, 0], future[t, i, j, 1], vf[r, i, j, 0], vf[r, i, j, 1], rx, ry) << 1)
                    if measured:  # a measured velocity is not checked
                        flags[j] &= ~(np.int64(not np.isnan(mp[t, i, j, 0])) | (np.int64(not np.isnan(mf[t, i, j, 0])) << 1))
                for j in range(gw):
                    if flags[j]:
                        if flags[j] & 1:
                            vp[r, i, j, 0], vp[r, i, j, 1] = _per_cell_distance(past[t, i, j, 0], past[t, i, j, 1], vp[r, i, j, 0],
                                                                                vp[r, i, j, 1], prev, i, j, m2, m1, p1, p2)  # fmt: skip
                        if flags[j] & 2:
                            vf[r, i, j, 0], vf[r, i, j, 1] = _per_cell_distance(future[t, i, j, 0], future[t, i, j, 1], vf[r, i, j, 0],
                                                                                vf[r, i, j, 1], prev, i, j, m2, m1, p1, p2)  # fmt: skip
                for j in range(gw):
                    for c in range(2):
                        first[k, r, i, j, c] = _mean2(vp[r, i, j, c], vf[r, i, j, c])
                        if k == passes:
                            out[t, i, j, c] = first[k, r, i, j, c]
    return out


@numba.njit(inline="always")
@no_type_check  # numba code: numpy scalars throughout
def _suspect(dx: float, dy: float, vx: float, vy: float, rx: float, ry: float) -> int:
    """1 if the velocity (vx, vy) of a cell in one direction, raw displacement (dx, dy), may have the wrong
    reference distance (`_per_cell_distance`): it moved over TAU px, its speed differs from (rx, ry)'s, the
    mean of its frame's neighbours, by a factor over 1.5 either way, and it lies farther from it than TAU and a
    quarter of its speed. Else 0 (NaN compares false). No branch: it runs on every cell."""
    tau2 = np.float32(TAU * TAU)
    other, own = rx * rx + ry * ry, vx * vx + vy * vy
    moved = dx * dx + dy * dy > tau2
    factor = (own > np.float32(2.25) * other) | (other > np.float32(2.25) * own)
    far = (vx - rx) * (vx - rx) + (vy - ry) * (vy - ry) > max(tau2, np.float32(0.0625) * other)
    return np.int64(moved & factor & far)


@numba.njit(inline="always")
@no_type_check  # numba code: numpy scalars throughout
def _per_cell_distance(dx: float, dy: float, vx: float, vy: float, first: np.ndarray, i: int, j: int, m2: int, m1: int,
                       p1: int, p2: int) -> tuple[float, float]:  # fmt: skip
    """The velocity (vx, vy) of a `_suspect` cell (i, j) in one direction (past or future) of a frame, with the
    reference distance chosen again if the frame's does not fit the cell; (dx, dy): its raw displacement;
    first: the velocities of both directions averaged, in a ring whose slots m2, m1, p1, p2 hold the frames 2
    and 1 before and 1 and 2 after (-1: none).

    Encoders choose a reference per block (several reference frames, B-pyramids), so one frame's blocks may
    point 1, 2, 4 or 8 frames away while FFmpeg says only "past" or "future": a frame-wide distance is wrong
    for some blocks, by a whole factor (2x, 1/2x, 5x, ...): the signature `_suspect` tests. Such a cell is
    compared with the median of its `first` over the NEIGHBOURS frames either side (robust to one of them
    being wrong too, per component) and takes the distance in 1..MAX_REFERENCE_DISTANCE nearest
    |displacement| / |median| if that fits the median (within TAU and a quarter of the speed) and is at
    least twice as near as its own velocity.
    """
    tau2 = np.float32(TAU * TAU)
    nan = np.float32(np.nan)
    mx = _median4(first[m2, i, j, 0] if m2 >= 0 else nan, first[m1, i, j, 0] if m1 >= 0 else nan,
                  first[p1, i, j, 0] if p1 >= 0 else nan, first[p2, i, j, 0] if p2 >= 0 else nan)  # fmt: skip
    my = _median4(first[m2, i, j, 1] if m2 >= 0 else nan, first[m1, i, j, 1] if m1 >= 0 else nan,
                  first[p1, i, j, 1] if p1 >= 0 else nan, first[p2, i, j, 1] if p2 >= 0 else nan)  # fmt: skip
    med = mx * mx + my * my
    guess = np.sqrt((dx * dx + dy * dy) / med)
    bx, by, best = vx, vy, (vx - mx) * (vx - mx) + (vy - my) * (vy - my)
    bound = max(tau2, np.float32(0.0625) * med)
    for k in (np.floor(guess), np.ceil(guess)):
        k = np.float32(min(max(1.0 if np.isnan(k) else k, 1.0), MAX_REFERENCE_DISTANCE))
        cx, cy = dx / k, dy / k
        gap = (cx - mx) * (cx - mx) + (cy - my) * (cy - my)
        if gap < np.float32(0.25) * best and gap <= bound:  # squared: twice as near
            bx, by, best = cx, cy, gap
    return bx, by
