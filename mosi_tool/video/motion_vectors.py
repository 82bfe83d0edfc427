"""Dense motion fields from the codec's own motion vectors, and the camera motion of every frame.

H.264 and MPEG-4 streams carry one motion vector per block (16x16 down to 4x4). FFmpeg exports them while
decoding (`flags2=+export_mvs`, frame side data `MOTION_VECTORS`), so a motion field costs little more than
decoding, with no pixel conversion at all. Each frame's vectors become a dense field of velocities:

- **Cells.** `cell` x `cell` pixel cells (default 8); a block larger than a cell fills every cell it covers,
  smaller blocks are averaged by area. A cell no vector covers (intra blocks) takes the same cell's value in
  the nearest frames that have one (linear in time), else the frame's camera motion.
- **Velocity.** Every field is (dx, dy) in pixels per frame at the frame's resolution, the motion from frame
  t-1 to frame t at frame t's cell centres. A vector only says whether its reference is in the past or the
  future, not how far: the distance is estimated per frame from the frame types and the camera's speed in
  the neighbouring frames (`reference_distances`). Past and future vectors of a B-frame are both turned
  into velocities and averaged.
- **Frames without vectors** (I-frames) are interpolated linearly in time from their neighbours.
- **Camera motion.** Per frame, a similarity (pan, zoom, rotation; or a full affine) fitted by RANSAC with a
  least-squares refinement on the inliers (OpenCV `estimateAffinePartial2D` / `estimateAffine2D`), as the
  2x3 matrix taking frame t's pixel coordinates to frame t-1's.

Streams without vectors (MJPEG, VP9, HEVC in most FFmpeg builds, frame folders) fall back to DIS optical
flow (OpenCV, ultrafast preset) on frames downscaled to a short side of `FALLBACK_SHORT_SIDE` pixels,
averaged into the same cells; `MotionField.source` says which one was used.

Frame threading is off while vectors are exported: with it FFmpeg exports different vectors from run to run
(some frames lose most of their vectors). The vector pass skips deblocking and the inverse transform
(the vectors do not depend on them; the tests check them against a plain decode).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Generator, Iterable, Iterator, NamedTuple, cast

import av
import numpy as np

from .decode import VideoError, VideoReader, _ffmpeg_reason
from .orientation import Orientation
from .spec import DecodeSpec
from .timeline import Clock

CELL = 8  # pixels
FALLBACK_SHORT_SIDE = 160  # pixels: working size of the optical-flow fallback
RANSAC_THRESHOLD = 1.0  # px/frame: a cell farther than this from the camera model is an outlier
IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
MODELS = ("similarity", "affine")
MAX_REFERENCE_DISTANCE = 8  # frames: the farthest reference a vector is assumed to point to
MIN_SHIFT = 0.5  # px/frame: below this camera speed the reference distance is not estimated from the data
PICT_I, PICT_P, PICT_B = 1, 2, 3  # av.video.frame.PictureType values
MAX_GAP = 16  # frames: the farthest a cell's or camera's value is carried in time to fill a gap
# frames of context either side of a chunk: the gap bound plus what one frame's velocities depend on (the
# reference-distance window, and the nearest anchors around a run of up to 16 B-frames)
MARGIN = MAX_GAP + 3 + 17
CHUNK = 128  # frames per chunk of the motion field (with MARGIN: ~190 MB peak at 640x360)
FILL_BLOCK = 512  # cells filled in time at once


@dataclass
class MotionField:
    """Motion of every frame of a video on a grid of cells.

    vectors[t, i, j] is the velocity (dx, dy) in px/frame at frame resolution, from frame t-1 to t, of the
    cell whose centre is ((j + 0.5) * cell, (i + 0.5) * cell); frame 0 copies frame 1.
    camera[t] (2x3) maps frame t's pixel coordinates to frame t-1's (frame 0: frame 1's model).
    """

    vectors: np.ndarray  # (F, gh, gw, 2) float32 px/frame
    camera: np.ndarray  # (F, 2, 3) float64
    times: np.ndarray  # (F,) seconds, from PTS
    coded: np.ndarray  # (F,) bool: the frame had its own vectors (not interpolated)
    size: tuple[int, int]  # (width, height) of the frames
    cell: int
    source: str  # "h264 motion vectors", "optical flow (DIS)", ...
    start: int = 0  # index of the first frame (a chunk of `iter_motion`)

    @property
    def grid(self) -> tuple[int, int]:
        """(gh, gw) cells."""
        return self.vectors.shape[1], self.vectors.shape[2]

    def centres(self) -> np.ndarray:
        """(gh, gw, 2) pixel coordinates (x, y) of the cell centres."""
        return cell_centres(*self.grid, self.cell)

    def camera_flow(self) -> np.ndarray:
        """(F, gh, gw, 2) px/frame: the velocity the camera model alone predicts at every cell."""
        return camera_velocity(self.camera, self.centres())

    def camera_only(self) -> MotionField:
        """This field without its cell vectors (an empty (F, 0, 0, 2) array), holding no reference to them:
        what clip stabilisation needs, ~60 bytes per frame."""
        empty = np.zeros((len(self.vectors), 0, 0, 2), np.float32)
        return dataclasses.replace(self, vectors=empty, camera=self.camera.copy(), times=self.times.copy(), coded=self.coded.copy())

    def residual(self) -> np.ndarray:
        """(F, gh, gw, 2) px/frame: the vectors minus the camera's motion (object motion)."""
        return self.vectors - self.camera_flow()


class _RawFrame(NamedTuple):
    """One decoded frame of the vector pass: past/future displacement fields (gh, gw, 2) on the stored
    frame's grid (None without vectors), picture type and time (s)."""

    past: np.ndarray | None
    future: np.ndarray | None
    type: int
    time: float


def cell_centres(gh: int, gw: int, cell: int) -> np.ndarray:
    """(gh, gw, 2) float32 (x, y) pixel centres of a gh x gw grid of cell x cell cells."""
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float32)
    return np.stack([(xs + 0.5) * cell, (ys + 0.5) * cell], axis=-1)


def camera_velocity(camera: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Velocity p - A p (px/frame) that transforms A (F, 2, 3) give points (..., 2): shape (F, ..., 2)."""
    p = points.reshape(-1, 2).astype(np.float64)
    prev = np.einsum("fij,nj->fni", camera[:, :, :2], p) + camera[:, None, :, 2]  # (F, N, 2)
    return (p[None] - prev).reshape(len(camera), *points.shape).astype(np.float32)


# --- codec vectors ------------------------------------------------------------------------------------


def rasterize(mv: np.ndarray, gh: int, gw: int, cell: int = CELL) -> tuple[np.ndarray, np.ndarray]:
    """Average block motion into cells, separately for past (source < 0) and future (source > 0) references.

    mv: FFmpeg's AVMotionVector records (fields w, h, dst_x, dst_y (block centre), motion_x, motion_y,
    motion_scale, source). Returns (past, future), each (gh, gw, 2) float32 displacement in pixels from the
    reference frame to this frame (not yet divided by the reference distance), NaN where no block lies.
    """
    out = []
    # The block at dst in this frame comes from src = dst + motion / scale in the reference.
    motion = np.stack([mv["motion_x"], mv["motion_y"]], axis=1).astype(np.float32) / mv["motion_scale"][:, None]
    for direction in (-1, 1):
        pick = mv["source"] < 0 if direction < 0 else mv["source"] > 0
        # past reference: ref -> this frame = dst - src = -motion; future: this frame -> ref = +motion
        disp = motion[pick] * direction
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
        flat = (cy * gw + cx)[keep]
        weight = (np.minimum(w, cell) * np.minimum(h, cell))[block][keep].astype(np.float64)
        total = np.bincount(flat, weight, gh * gw)
        field = np.full((gh * gw, 2), np.nan, np.float32)
        hit = total > 0
        for k in range(2):
            field[hit, k] = np.bincount(flat, weight * disp[block, k][keep], gh * gw)[hit] / total[hit]
        out.append(field.reshape(gh, gw, 2))
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


def _median_shift(field: np.ndarray) -> np.ndarray:
    """(2,) median displacement of a (gh, gw, 2) field's vectors (NaN if it has none)."""
    v = field.reshape(-1, 2)
    v = v[np.isfinite(v[:, 0])]
    return np.median(v, axis=0) if len(v) else np.full(2, np.nan)


def _codec_frames(path: Path, stream: int, size: tuple[int, int], cell: int, max_frames: int | None, probe: int = 12,
                  offset: tuple[int, int] = (0, 0), clock: Clock | None = None) -> tuple[str, Iterator[_RawFrame]] | None:  # fmt: skip
    """(codec name, frames): each decoded frame's past/future displacement fields (gh, gw, 2), picture type
    and time (s since the first frame, `timeline.Clock`: the times `VideoReader` gives), one at a time; or None
    if the stream exports no vectors within its first `probe` frames (those are decoded ahead to find out).
    offset: (left, top) of the decoded frame in the coded picture (`PixelShape.offset`, an H.264 crop): FFmpeg
    places the vectors in the coded picture. clock: `VideoReader.clock()`, so the times are the reader's."""
    gh, gw = -(-size[1] // cell), -(-size[0] // cell)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as e:
        raise VideoError(path, f"not a video FFmpeg can read ({_ffmpeg_reason(e)})") from None
    vs = container.streams.video[stream]
    codec = vs.codec_context.name
    # Vectors are parsed from the bitstream whatever happens to the pixels, which nobody looks at here: skip
    # the deblocking filter and the inverse transform, and allow non-spec-compliant speedups.
    vs.codec_context.options = {"flags2": "+export_mvs+fast", "skip_loop_filter": "all", "skip_idct": "all"}
    vs.thread_type = "SLICE"  # frame threads export racy vectors
    clock = clock or Clock.at_rate(vs.time_base or Fraction(1), float(vs.average_rate or vs.guessed_rate or 25))

    def frames() -> Generator[_RawFrame, None, None]:
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
                    yield _RawFrame(p, f, int(frame.pict_type), clock.seconds(frame.pts, frame.dts))
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


def _velocities(past: np.ndarray, future: np.ndarray, types: np.ndarray) -> np.ndarray:
    """(F, gh, gw, 2) px/frame from raw displacement fields and picture types (NaN where unknown): each
    direction's displacement over its reference distance, averaged where a frame has both (float32 throughout,
    in place: this runs on every chunk)."""
    dp, df = reference_distances(types, np.array([_median_shift(p) for p in past]), np.array([_median_shift(f) for f in future]))
    out = np.zeros(past.shape, np.float32)
    count = np.zeros(past.shape, np.float32)
    for disp, dist in ((past, dp), (future, df)):
        with np.errstate(invalid="ignore", divide="ignore"):
            v = disp / np.where(dist > 0, dist, np.nan).astype(np.float32)[:, None, None, None]
        ok = np.isfinite(v)
        np.add(out, v, out=out, where=ok)
        count += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        out /= count  # 0 / 0: NaN where neither direction has a vector
    return out


# --- fallback: optical flow on small frames ------------------------------------------------------------


def _flow_frames(reader: VideoReader, size: tuple[int, int], cell: int, max_frames: int | None) -> Iterator[tuple[np.ndarray, float]]:
    """(velocities (gh, gw, 2), time) per frame from DIS optical flow on frames with a short side of
    FALLBACK_SHORT_SIDE, averaged into cells and scaled to frame pixels; frame 0 is all NaN."""
    import cv2

    w, h = size
    scale = min(1.0, FALLBACK_SHORT_SIDE / min(w, h))
    small = (max(8, round(w * scale)), max(8, round(h * scale)))
    gh, gw = -(-h // cell), -(-w // cell)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)  # type: ignore[attr-defined]
    prev = None
    for frame in itertools.islice(reader.frames(small), max_frames):
        gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)
        if prev is None:
            yield np.full((gh, gw, 2), np.nan, np.float32), frame.time
        else:
            back = dis.calc(gray, prev, None)  # (h', w', 2): gray(x) ~ prev(x + back)
            vel = -back * np.array([w / small[0], h / small[1]], np.float32)
            yield cv2.resize(vel, (gw, gh), interpolation=cv2.INTER_AREA), frame.time
        prev = gray


# --- filling gaps and fitting the camera ----------------------------------------------------------------


def fill_in_time(vectors: np.ndarray, max_gap: int | None = MAX_GAP) -> np.ndarray:
    """Replace NaN cells by linear interpolation along time from the same cell's nearest valid frames no more
    than `max_gap` frames away (None: any distance); with a valid frame on one side only, its value. Cells with
    none stay NaN. (F, gh, gw, k) -> same. The bound keeps every frame's result a function of its
    neighbourhood, so a video can be processed in chunks (`iter_motion`)."""
    f = len(vectors)
    flat = vectors.reshape(f, -1)
    valid = np.isfinite(flat)
    if valid.all() or not valid.any():
        return vectors
    out = flat.copy()
    cols = np.flatnonzero(~valid.all(axis=0))
    for a in range(0, len(cols), FILL_BLOCK):  # columns in blocks: the index arrays stay small
        block = cols[a : a + FILL_BLOCK]
        out[:, block] = _fill_columns(flat[:, block], valid[:, block], max_gap)
    return out.reshape(vectors.shape)


def _fill_columns(flat: np.ndarray, valid: np.ndarray, max_gap: int | None) -> np.ndarray:
    """`fill_in_time` on (F, C) values with their validity."""
    f = len(flat)
    idx = np.arange(f)[:, None].repeat(flat.shape[1], 1)
    before = np.maximum.accumulate(np.where(valid, idx, -1), axis=0)
    after = np.flip(np.minimum.accumulate(np.flip(np.where(valid, idx, f), 0), axis=0), 0)
    has_b, has_a = before >= 0, after < f
    if max_gap is not None:
        has_b &= idx - before <= max_gap
        has_a &= after - idx <= max_gap
    col = np.arange(flat.shape[1])[None].repeat(f, 0)
    vb = flat[np.clip(before, 0, f - 1), col]
    va = flat[np.clip(after, 0, f - 1), col]
    frac = (idx - before) / np.maximum(after - before, 1)
    interp = np.where(has_b & has_a, vb + (va - vb) * frac, np.where(has_b, vb, np.where(has_a, va, np.nan)))
    return np.where(valid, flat, interp)


def fit_camera(velocity: np.ndarray, centres: np.ndarray, model: str = "similarity", threshold: float | None = None,
               stride: int = 2) -> np.ndarray | None:  # fmt: skip
    """Robust camera model of one frame: the 2x3 matrix A with A p ~ p - v for cell centres p and velocities v.

    velocity, centres: (gh, gw, 2); NaN velocities are ignored; every `stride`-th cell in each direction is
    used (speed). RANSAC with a `threshold` px/frame inlier band, then Levenberg-Marquardt on the inliers
    (OpenCV). None when fewer than 3 cells have a vector or the fit fails.
    """
    import cv2

    velocity, centres = velocity[::stride, ::stride], centres[::stride, ::stride]
    ok = np.isfinite(velocity[..., 0])
    if ok.sum() < 3:
        return None
    p = centres[ok].astype(np.float32)  # (N, 2)
    q = p - velocity[ok].astype(np.float32)
    fit = cv2.estimateAffinePartial2D if model == "similarity" else cv2.estimateAffine2D
    a, _ = fit(p, q, method=cv2.RANSAC, ransacReprojThreshold=threshold or RANSAC_THRESHOLD, maxIters=500,
               confidence=0.99, refineIters=10)  # fmt: skip
    return None if a is None else a.astype(np.float64)


def fit_cameras(vectors: np.ndarray, cell: int, model: str = "similarity", coded: np.ndarray | None = None) -> np.ndarray:
    """Per frame camera models (F, 2, 3) for velocity fields (F, gh, gw, 2); frames whose fit fails or that
    had no vectors of their own (`coded` False) take the element-wise linear interpolation of their neighbours
    within MAX_GAP frames, else the identity (no camera motion)."""
    if model not in MODELS:
        raise ValueError(f"camera model must be one of {', '.join(MODELS)}, got {model!r}")
    centres = cell_centres(vectors.shape[1], vectors.shape[2], cell)
    cams = np.full((len(vectors), 2, 3), np.nan)
    for t in range(len(vectors)):
        if coded is not None and not coded[t]:
            continue
        a = fit_camera(vectors[t], centres, model)
        if a is not None:
            cams[t] = a
    flat = fill_in_time(cams.reshape(len(cams), 1, 6, 1)).reshape(len(cams), 2, 3)
    return np.where(np.isfinite(flat), flat, IDENTITY)


def _finish(field: np.ndarray, first: bool, cell: int, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, camera, coded) of a window of velocities (F, gh, gw, 2) with NaN where unknown: the camera
    fitted per frame, the gaps filled in time and then by the camera. first: the window starts at frame 0,
    which copies frame 1."""
    if first and len(field) > 1:
        field[0] = np.where(np.isfinite(field[1]), field[1], field[0])
    coded = np.isfinite(field[..., 0]).any(axis=(1, 2))
    cams = fit_cameras(field, cell, model, coded)
    filled = fill_in_time(field)
    gaps = ~np.isfinite(filled)
    if gaps.any():
        gh, gw = field.shape[1:3]
        filled = np.where(gaps, camera_velocity(cams, cell_centres(gh, gw, cell)), filled)
    return filled.astype(np.float32), cams, coded


def iter_motion(path: str | Path, stream: int | None = None, fps: float | None = None, cell: int = CELL,
                model: str = "similarity", max_frames: int | None = None, vectors: bool = True,
                chunk: int | None = None) -> Iterator[MotionField]:  # fmt: skip
    """The motion field and camera motion of a video file or frame folder, `chunk` frames at a time (see the
    module docstring): consecutive `MotionField`s whose `start` is their first frame's index.

    Memory is bounded by the chunk, not the video: each chunk is computed from its frames plus MARGIN frames
    of context on either side, enough for every step (reference distances, gap filling in time, camera
    interpolation) to see what it would see in the whole video; so the chunks join into the same field
    whatever `chunk` is (default CHUNK). fps: frame folders only, their frame rate (times). vectors=False forces the
    optical-flow fallback. Errors are `VideoError`s naming the file.
    """
    chunk = chunk or CHUNK
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1 frame, got {chunk}")
    reader = DecodeSpec(path, stream, fps).open()
    info = reader.info
    size = (info.width, info.height)
    orient, pixels = reader.orientation, reader.pixels
    got = None if (reader._files or not vectors) else _codec_frames(reader.path, info.stream, pixels.stored, cell, max_frames,
                                                                               offset=pixels.offset, clock=reader.clock())
    if got is not None:
        codec, raw = got
        source = f"{codec} motion vectors"
        sw, sh = pixels.stored
        empty = np.full((-(-sh // cell), -(-sw // cell), 2), np.nan, np.float32)  # a frame without vectors

        def displayed(fields: list[np.ndarray | None]) -> np.ndarray:
            """Fields on the stored grid -> square pixels (SAR) -> upright (display matrix)."""
            stored = np.stack([f if f is not None else empty for f in fields])
            return upright_field(pixels.square_field(stored, cell), orient)

        def velocities(window: list[_RawFrame]) -> np.ndarray:
            past, future = displayed([r.past for r in window]), displayed([r.future for r in window])
            return _velocities(past, future, np.array([r.type for r in window]))

        frames: Iterator = raw
    else:
        source = "optical flow (DIS, short side %d)" % min(FALLBACK_SHORT_SIDE, min(size))
        frames = (_RawFrame(v, None, 0, t) for v, t in _flow_frames(reader, size, cell, max_frames))

        def velocities(window: list[_RawFrame]) -> np.ndarray:
            return np.stack([cast(np.ndarray, r.past) for r in window])  # flow frames carry their velocities as `past`

    # window: frames [base, base + len(window)); emit [start, start + chunk) once MARGIN frames follow it
    window: list[_RawFrame] = []
    base = start = 0
    while True:
        window.extend(itertools.islice(frames, max(0, start + chunk + MARGIN - base - len(window))))
        stop = min(start + chunk, base + len(window))
        if stop <= start:
            break
        vel, cams, coded = _finish(velocities(window), base == 0, cell, model)
        lo, hi = start - base, stop - base
        times = np.array([r.time for r in window[lo:hi]], np.float64)
        yield MotionField(vel[lo:hi], cams[lo:hi], times, coded[lo:hi], size, cell, source, start)
        start = stop
        drop = max(0, start - MARGIN - base)
        del window[:drop]
        base += drop
    if start == 0:
        raise VideoError(reader.path, "no frames could be decoded")


def join(chunks: Iterable[MotionField]) -> MotionField:
    """One field from consecutive chunks (`iter_motion`)."""
    parts = list(chunks)
    first = parts[0]
    cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
    return MotionField(cat("vectors"), cat("camera"), cat("times"), cat("coded"), first.size, first.cell, first.source, first.start)


def read_motion(path: str | Path, stream: int | None = None, fps: float | None = None, cell: int = CELL,
                model: str = "similarity", max_frames: int | None = None, vectors: bool = True) -> MotionField:  # fmt: skip
    """The whole video's motion field (`iter_motion`, joined)."""
    return join(iter_motion(path, stream, fps, cell, model, max_frames, vectors))
