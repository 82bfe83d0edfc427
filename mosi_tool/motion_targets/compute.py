"""Motion targets of one video, from one pass over its motion field (`video.motion.iter_motion`).

Arrays (docs/TARGETS.md; F frames, H x W the frame size as a player shows it, or `--size`):
    trajectories  (S, H // 8, W // 8, L, 2) float16 px   per-step displacement of points on the 8-px grid
    valid         (S, H // 8, W // 8) bool               the point stayed in the frame, on known motion (`MotionField.known`)
    start_frames  (S,) int64                             the start frame of each row of `trajectories`
    vectors       (F, H // 8, W // 8, 2) float16 px/frame the raw motion field (frame t-1 -> t)
    camera        (F, 2, 3) float32                      camera model: frame t's pixels -> frame t-1's
    patch_motion  (F, H // 16, W // 16) float16 [0, 1]   compensated motion per 16x16 patch, over the video's scale
    frame_boxes   (F, 4) float32 px                      motion area per frame (x0, y0, x1, y1), NaN: none
    video_box     (4,) float32 px                        robust union of the frame boxes (`union_box`), NaN: none
    times         (F,) float64 s                         from the first frame's timestamp
    cuts          (F,) bool                              the frame begins a new shot (a scene cut, `saliency.shots`)
With `TargetOptions.cuts` (the default) the motion pass decodes the pictures to find the scene cuts: each shot's
field is made on its own (`video.motion.iter_motion`'s `shots`), a trajectory that would cross a cut is not
`valid`, and the frame boxes' time average stops at cuts. A cut frame's `vectors` (from the shot before) are its
next frame's, as the first frame's are.
The video's motion is read chunk by chunk. The outputs (about 137 KB a frame at 854x480) are held in memory,
or with `spill` (the `targets` command), once they pass SPILL_AFTER bytes, made in temporary files beside the
output (`_Spill`, `_Rows`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import numpy as np

from ..atomic import as_output_error, create_temp, remove_quietly
from ..hardware import numpy_without_huge_pages, opencv_threads
from ..progress import counted
from ..saliency.masks import MaskConfig
from ..version import __version__
from ..video.clips import ClipSpec, check_clip_values, parse_size, plain_numbers
from ..video.letterbox import Bars
from ..video.motion import REVISION as MOTION_REVISION
from ..video.motion import MotionField, iter_motion
from ..video.motion.streaming import SHORT_GAP
from .trajectories import CELL, track

# Raised whenever the same options give other arrays from the same motion field (`video.motion.REVISION` counts
# the field's own changes; both are in `settings`), so a rerun remakes the files made before; 2: the motion boxes
# by the masks' rule, short gaps known; 3: the cells in a video's black bars take the camera's motion (`letterbox`);
# 4: the bars are found after a slow fade in from black too (`letterbox.SHOWN`), and info says them (`bars`); 5: the
# frame boxes read the enclosed speed as `saliency --masks` does (`saliency.geodesic`); 6: a long stretch of the
# border moving as the camera's parallax starts the enclosed speed at 0 (`geodesic.PARALLAX_SHARE`); 7: so does a
# region of parallax spanning the frame, and parallax must be faster than the camera's motion by the floor; 8: the
# field made shot by shot at scene cuts (`TargetOptions.cuts`), no trajectory or frame box's average across a cut;
# 9: the cut test leaves black bars out and finds fades through black or white into another scene (`saliency.shots`);
# 10: subtitles in a bar stay within the bar (`saliency.shots.bars`)
REVISION = 10
PATCH = 16  # pixels: VideoMAE's patch
MIN_SCALE = 1.0  # px/frame: patch_motion is divided by at least this (a still video stays near 0)
SCALE_PERCENTILE = 99.0  # patch_motion's scale: this percentile of the video's patch motion
ROWS_BYTES = 1 << 30  # a `_Rows` array starts at most this large, however many frames a header claims
SPILL_AFTER = 256 << 20  # bytes: with `spill`, a video's rows past this in all go to temporary files (`_Spill`)
ASPECT_TOLERANCE = 0.02  # --size may round a picture's aspect this much without a warning
TRACK_GROUP = 32  # starts tracked at a time: their float32 steps (6.5 MB at 854x480) stay in memory already mapped
BOX_MASKS = MaskConfig(refine="none", texture_scale=0.0, guide_radius=0, stats_samples=8_000)  # the rules that need no pixels
BOX_SHARE = 0.5  # a frame box holds every component at least this share of the strongest one (every mover, not one)
BOX_BLURS = (1.0, 0.5)  # patches: the frame boxes' display and own maps (`saliency`'s 2 and 1 cells of 8 px)
UNION_SHARE = 10.0  # percent: video_box's edges leave out this share of the frame boxes' edges on each side
UNCODED_SHARE = 0.25  # a video more of whose frames than this have no vectors of their own gets a warning


@dataclass(frozen=True)
class TargetOptions:
    """What `targets` computes (stored whole in every file's `settings`)."""

    length: int = 4  # L: steps per trajectory
    starts: int = 1  # keep every n-th start frame
    compensate: bool = True  # trajectories relative to the fitted camera
    size: tuple[int, int] | None = None  # (W, H) to resize to; None: the displayed size
    camera_model: str = "similarity"
    stream: int | None = None
    fps: float | None = None  # frame folders: their frame rate (a video file keeps its own frames)
    cuts: bool = True  # scene cuts found on the decoded pictures (`saliency.shots`): each shot's field on its own
    measure_references: bool = True  # each block's reference frame measured on the decoded pictures, else estimated

    def __post_init__(self) -> None:
        """Raises ValueError naming the option for a value that cannot be honoured. size: (W, H) or 'WxH'."""
        object.__setattr__(self, "size", parse_size(self.size))
        plain_numbers(self, ("length", "starts", "stream"))
        object.__setattr__(self, "compensate", bool(self.compensate))
        object.__setattr__(self, "cuts", bool(self.cuts))
        object.__setattr__(self, "measure_references", bool(self.measure_references))
        if self.length < 1:
            raise ValueError(f"--length must be at least 1, got {self.length}")
        if self.starts < 1:
            raise ValueError(f"--starts must be at least 1, got {self.starts}")
        check_clip_values(fps=self.fps)  # above 0 and finite, as every command's --fps
        if self.size is not None and (self.size[0] < CELL or self.size[1] < CELL):
            raise ValueError(f"--size must be at least {CELL}x{CELL}, got {self.size[0]}x{self.size[1]}")

    def to_json(self) -> str:
        fields = asdict(self)
        fields["size"] = list(self.size) if self.size else None
        return json.dumps(dict(fields, version=__version__, revision=REVISION, motion_revision=MOTION_REVISION), sort_keys=True)


@dataclass
class Targets:
    """The arrays of the module docstring, plus the video's info (JSON-able)."""

    trajectories: np.ndarray
    valid: np.ndarray
    start_frames: np.ndarray
    vectors: np.ndarray
    camera: np.ndarray
    patch_motion: np.ndarray
    frame_boxes: np.ndarray
    video_box: np.ndarray
    times: np.ndarray
    cuts: np.ndarray
    info: dict[str, Any]

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays by name, in file order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "info"}


def resize_field(field: MotionField, size: tuple[int, int]) -> MotionField:
    """The field of the video resized to `size` = (W, H): cells resampled (bilinear; `known` nearest),
    velocities and camera models scaled with the pixels (A' = S A S^-1, S = diag(W'/W, H'/H))."""
    import cv2

    w, h = field.size
    if (w, h) == tuple(size):
        return field
    sx, sy = size[0] / w, size[1] / h
    gh, gw = -(-size[1] // field.cell), -(-size[0] // field.cell)
    vec = np.stack([cv2.resize(v, (gw, gh), interpolation=cv2.INTER_LINEAR) for v in field.vectors]) * np.array([sx, sy], np.float32)
    known = None
    if field.known is not None:
        known = np.stack([cv2.resize(k.astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST) for k in field.known]) > 0
    s = np.diag([sx, sy])
    cam = field.camera.copy()
    cam[:, :, :2] = s @ field.camera[:, :, :2] @ np.linalg.inv(s)
    cam[:, :, 2] = field.camera[:, :, 2] * np.array([sx, sy])
    return dataclasses.replace(field, vectors=vec.astype(np.float32), camera=cam, known=known, size=(int(size[0]), int(size[1])))


def frame_motion_boxes(speed: np.ndarray, size: tuple[int, int], chunk: int = 512, enclosed: np.ndarray | None = None,
                       cuts: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """(F, 4) float32 px: each frame's motion area (x0, y0, x1, y1, exclusive ends; NaN rows: none) from the
    compensated speed of its 16-px patches, (F, h, w) px/frame, for a frame of `size` = (W, H).

    The rule of `saliency --masks` without the pixels, which `targets` does not decode: its maps (here the
    patch speed blurred by 1 patch for the display map and 0.5 for the masks' own map, each averaged over
    `saliency.motion.WINDOW` frames either side; with `enclosed`, the same frames' enclosed speed (F, h, w),
    `saliency.geodesic`, made into maps alike, each map the geometric mean with its enclosed one, as
    `saliency.motion.motion_pass` makes the masks' maps) and its rule 1 (`BOX_MASKS`: a level relative to the
    frame's residual noise and half the local peak, `saliency.masks`), then the box around the mask's
    components (`saliency.boxes.component_boxes`: at least 0.2% of the frame) whose evidence summed over their
    area is at least BOX_SHARE of the strongest's; none where less than 0.2% of the frame moves. cuts: (F,) bool,
    the frames that begin a shot: no average reaches across one (None: no cut). Scores on
    DAVIS: docs/TARGETS.md "Motion boxes" (`bench/targets_box.py`). Worked `chunk` frames at a time (the same
    boxes: each chunk is averaged with its neighbours' frames)."""
    from ..saliency.boxes import MIN_AREA, component_boxes
    from ..saliency.masks import MaskTracker
    from ..saliency.motion import enclosed_map

    out = np.full((len(speed), 4), np.nan, np.float32)
    if not speed.size:  # a frame under 16 px on a side holds no whole patch: no motion area
        return out
    tracker = MaskTracker(BOX_MASKS)
    limit = np.array([size[0], size[1], size[0], size[1]], np.float32)
    cuts = np.zeros(len(speed), bool) if cuts is None else cuts
    for a in range(0, len(speed), chunk):
        stop = min(a + chunk, len(speed))
        display, own = _box_maps(speed, a, stop, cuts)
        if enclosed is not None:
            d, o = _box_maps(enclosed, a, stop, cuts)
            display, own = enclosed_map(display, d), enclosed_map(own, o)
        evidence = tracker.update_stack(display, size, own)  # (K, h, w): each frame's `update`, at once
        moving = evidence > 0.5
        for k in np.flatnonzero(moving.sum(axis=(1, 2)) >= MIN_AREA * moving[0].size):  # else a few noisy patches: none
            e = evidence[k]
            boxes = np.array(component_boxes(moving[k], e, (float(PATCH), float(PATCH)), fallback=1), np.float32).reshape(-1, 5)  # a patch is 16 px
            boxes = boxes[boxes[:, 4] >= BOX_SHARE * boxes[:1, 4].max(initial=0)]  # strongest first
            if len(boxes):
                out[a + k] = np.minimum([boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()], limit)
    # the last partial patch column and row (a size not a multiple of 16) hold no patch: a box that reaches the
    # last whole patch reaches the frame's edge
    h, w = speed.shape[1:]
    for axis in (0, 1):  # x, y
        out[:, 2 + axis] = np.where(out[:, 2 + axis] >= (w, h)[axis] * PATCH, limit[2 + axis], out[:, 2 + axis])
    return out


def _box_maps(speed: np.ndarray, start: int, stop: int, cuts: np.ndarray) -> list[np.ndarray]:
    """[display, own]: the maps of frames [start, stop) of a speed (F, h, w) px/frame, each (stop - start, h, w)
    float32: every frame blurred by each of BOX_BLURS (patches), then averaged over `saliency.motion.WINDOW`
    frames either side (read from `speed` beyond the range, as far as it goes, never across a cut: cuts (F,)
    bool, the frames that begin a shot)."""
    import cv2

    from ..saliency.motion import WINDOW, moving_average

    lo, hi = max(0, start - WINDOW), min(len(speed), stop + WINDOW)
    return [moving_average(np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in speed[lo:hi]]), start - lo, stop - lo, WINDOW, cuts[lo:hi])
            for sigma in BOX_BLURS]  # fmt: skip


def union_box(boxes: np.ndarray, share: float = UNION_SHARE) -> np.ndarray:
    """(4,) the video's motion area from (F, 4) frame boxes with NaN rows (all NaN when none): a robust union,
    each edge at the `share` percentile of the frame boxes' edges (x0, y0 at `share`, x1, y1 at 100 - `share`).

    A plain union is one flickering box from the whole frame: on the DAVIS development sequences (breakdance,
    camel, car-shadow, dog) its IoU with the union of the object's masks was 0.51 on average, this one's 0.61
    (camel 0.53 to 0.98; breakdance 0.69 to 0.63), with the frame boxes of the half-of-peak rule before
    `frame_motion_boxes`; 0.62 with those (`bench/targets_box.py`)."""
    ok = np.isfinite(boxes[:, 0])
    if not ok.any():
        return np.full(4, np.nan, np.float32)
    b = boxes[ok]
    lo, hi = np.percentile(b[:, :2], share, axis=0), np.percentile(b[:, 2:], 100 - share, axis=0)
    return np.concatenate([lo, hi]).astype(np.float32)


def to_float16(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """`a.astype(np.float16)` (the same bits: round to nearest even), by OpenCV's vectorised conversion: three
    times faster than numpy's on the trajectories, the largest array. out: a C-contiguous float16 array of
    a's shape to write into."""
    import cv2

    out = np.empty(a.shape, np.float16) if out is None else out
    if a.size < 256:  # OpenCV reads an array of up to 4 values as a scalar: numpy's cast, the same bits
        out[...] = a
    elif a.size:
        src = _rows(a) if a.dtype == np.float32 else None  # no copy of a slice such as a field's first ow cells
        if src is None:
            src = np.ascontiguousarray(a, np.float32).reshape(len(a) if a.ndim > 1 else 1, -1)
        view = out.reshape(src.shape)  # written in place: no float16 temporary of the whole array
        written = cv2.multiply(src, 1.0, dst=view, dtype=cv2.CV_16F)
        if not np.shares_memory(written, out):  # OpenCV made its own array after all
            view[:] = written
    return out


def _rows(a: np.ndarray) -> np.ndarray | None:
    """a as a 2-D view whose rows are contiguous (the last two axes merged, the others merged into rows; an
    OpenCV matrix with a row step), or None where its strides allow none."""
    if a.ndim < 2:
        return None
    shape = (-1, a.shape[-2] * a.shape[-1])
    try:
        rows = np.reshape(a, shape, copy=False)
    except (ValueError, TypeError):  # a copy would be needed (TypeError: numpy before 2.1, no `copy`)
        return None
    return rows if rows.strides[1] == a.itemsize else None


@dataclass
class _Spill:
    """Where and when the `_Rows` of one video move to temporary files: beside `path` (the output file), once
    together they would hold more than `limit` bytes in memory (all of them then, so the rows in memory never
    pass `limit`)."""

    path: Path
    limit: int
    held: int = 0
    rows: list[_Rows] = dataclasses.field(default_factory=list)
    spilling: bool = False

    def admit(self, nbytes: int) -> None:
        """Count `nbytes` more bytes of rows in memory; past `limit`, every member's rows go to its file from now
        on (`_Rows._start_spill`)."""
        if self.spilling:
            return
        if self.held + nbytes <= self.limit:
            self.held += nbytes
            return
        self.spilling = True
        for r in self.rows:
            r._start_spill()


class _Rows:
    """An output array made chunk by chunk: `take(k)` gives the next k rows to write, `result()` the whole array.

    The rows of all chunks go into one allocation sized from the container's frame count (grown when that was
    short), so the result needs no concatenation: at 854x480 the trajectories are 150 MB a minute, and copying
    them costs more in page faults than tracking them. With `spill`, once the video's rows would pass its limit
    (SPILL_AFTER) they are moved to a temporary file beside the output, each later chunk's rows are appended to
    it, and the result is a read-only memory map of that file, already unlinked: the OS page cache holds a long
    video's rows, not this process, while a short video's never cost a write and a read (0.4 CPU-s a minute of
    854x480). Disk errors are OutputErrors naming the output."""

    def __init__(self, expected: int, row: tuple[int, ...], dtype: type, spill: _Spill | None = None) -> None:
        self.row, self.dtype, self.n = row, np.dtype(dtype), 0
        self._spill, self._staged, self._last = spill, 0, 0
        self._tmp: Path | None = None
        self._file: BinaryIO | None = None
        self._row_bytes = max(1, int(np.prod(row)) * self.dtype.itemsize)
        limit = ROWS_BYTES if spill is None else min(ROWS_BYTES, spill.limit)
        self.array: np.ndarray = np.empty((min(max(expected, 1), max(1, limit // self._row_bytes)), *row), dtype)  # pages never written are never mapped
        if spill is not None:
            spill.rows.append(self)

    def take(self, k: int) -> np.ndarray:
        """A view of the next k rows, to be written (before the next `take` of any `_Rows` of the video)."""
        if self._file is None and self._spill is not None:
            self._spill.admit(k * self._row_bytes)  # may start the spill of every member, this one too
        if self._file is not None:
            self._write_staged()
            if len(self.array) < k or self.array.base is not None:  # not a view into the rows held before the spill
                self.array = np.empty((k, *self.row), self.dtype)
            self._staged = k
            self.n += k
            return self.array[:k]
        if self.n + k > len(self.array):
            grown = np.empty((max(self.n + k, len(self.array) * 3 // 2), *self.array.shape[1:]), self.array.dtype)
            grown[: self.n] = self.array[: self.n]
            self.array = grown
        self.n += k
        self._last = k
        return self.array[self.n - k : self.n]

    def _start_spill(self) -> None:
        """Move the rows held so far to a new temporary file beside the output; later rows are appended to it.
        The rows of the latest `take`, which the caller may not have written yet, are written at the next."""
        assert self._spill is not None
        self._tmp = create_temp(self._spill.path)
        self._file = open(self._tmp, "wb")  # noqa: SIM115 - closed in result or discard
        self._staged = self.n - self._last
        self._write_staged()
        self.array = self.array[self.n - self._last : self.n]  # the big array is freed once these are written
        self._staged = self._last

    def _write_staged(self) -> None:
        if self._file is not None and self._staged:
            with self._disk():
                self._file.write(self.array[: self._staged].data)
            self._staged = 0

    @contextlib.contextmanager
    def _disk(self) -> Iterator[None]:
        try:
            yield
        except OSError as e:
            raise as_output_error(e, self._spill.path if self._spill else Path(), *([self._tmp] if self._tmp else [])) from e

    def result(self) -> np.ndarray:
        """The rows taken, (n, *row)."""
        if self._file is None or self._tmp is None:
            return self.array[: self.n]
        self._write_staged()
        with self._disk():
            self._file.close()  # flushes: a full disk shows here
        shape = (self.n, *self.row)
        out = np.memmap(self._tmp, self.dtype, "r", shape=shape) if self.n and int(np.prod(self.row)) else np.zeros(shape, self.dtype)
        self.discard()  # the map keeps the data until it is dropped
        return out

    def discard(self) -> None:
        """Close and remove the temporary file, if any (after `result`, or when the video failed)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self._tmp is not None:
            remove_quietly(self._tmp)
            self._tmp = None


def _expected_frames(info: Any) -> int:
    """The frames the container claims (or its duration times the frame rate), with a margin; 0: unknown."""
    frames = info.frames or (round(info.duration * info.fps) if info.duration and info.fps else 0)
    return int(frames * 1.02) + 16 if frames else 0


def _patch_speed(field: MotionField, oh: int, ow: int) -> tuple[np.ndarray, np.ndarray]:
    """((F, oh // 2, ow // 2), the same) float32 px/frame: the mean compensated speed of each 16x16 patch (2x2
    cells), and the mean enclosed speed (`saliency.geodesic.enclosed_speed`) of each."""
    from ..saliency.geodesic import speed_and_enclosed

    plain, enclosed = speed_and_enclosed(field)
    return _patch_mean(plain, oh, ow), _patch_mean(enclosed, oh, ow)


def _patch_mean(cells: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """(F, oh // 2, ow // 2) float32: the mean of each 2x2 cells of (F, gh, gw) per-cell values."""
    ph, pw = oh // 2, ow // 2
    total = cells[:, 0 : 2 * ph : 2, 0 : 2 * pw : 2] + cells[:, 0 : 2 * ph : 2, 1 : 2 * pw : 2]
    total += cells[:, 1 : 2 * ph : 2, 0 : 2 * pw : 2]
    total += cells[:, 1 : 2 * ph : 2, 1 : 2 * pw : 2]
    return total * np.float32(0.25)


def _track_rows(window: tuple[np.ndarray, ...], starts: np.ndarray, out: np.ndarray, ok: np.ndarray, opts: TargetOptions,
                size: tuple[int, int]) -> None:  # fmt: skip
    """Track `starts` (indices into window = (vectors, camera, known)) into out (float16 steps) and ok (valid),
    TRACK_GROUP starts at a time: a small float32 buffer, converted at once."""
    for g in range(0, len(starts), TRACK_GROUP):
        steps, ok[g : g + TRACK_GROUP] = track(*window, starts[g : g + TRACK_GROUP], opts.length, size, opts.compensate, CELL)
        to_float16(steps, out=out[g : g + TRACK_GROUP])


def iter_fields(path: str | Path, opts: TargetOptions, reader: Any = None) -> Iterator[MotionField]:
    """The video's motion field chunks at the targets' size, made shot by shot with `opts.cuts`."""
    from ..saliency.shots import frame_cuts

    shots = frame_cuts if opts.cuts else None
    for field in iter_motion(path, opts.stream, opts.fps, CELL, opts.camera_model, reader=reader, letterbox=True, shots=shots,
                             measure=opts.measure_references):  # fmt: skip
        yield resize_field(field, opts.size) if opts.size else field


def compute_targets(path: str | Path, opts: TargetOptions | None = None, trajectories: bool = True,
                    spill: str | Path | None = None) -> Targets:  # fmt: skip
    """All targets of one video (module docstring). trajectories=False: no `trajectories`, `valid` or
    `start_frames` (empty; the rest as always), for a caller that needs only the boxes (MOFO): the
    trajectories are most of the time and memory. spill: the path the targets will be written to; the
    per-frame arrays (`trajectories`, `valid`, `vectors`: 137 KB a frame at 854x480), once together they pass
    SPILL_AFTER bytes (about 65 s of 854x480 at 30 fps), are then made in temporary files beside it and returned
    as read-only memory maps of them (`_Spill`, `_Rows`), held by the OS page cache rather than this process
    however long the video; without it they are held in memory. Errors are `VideoError`s naming the file, and `OutputError`s
    naming `spill` for a disk that refuses the temporary files; none is left behind.

    Runs on one core (OpenCV's thread pool is held at 1 thread meanwhile): a batch runs one video per core."""
    rows: list[_Rows] = []
    try:
        with opencv_threads(1), numpy_without_huge_pages():
            return _compute(path, opts or TargetOptions(), trajectories, Path(spill) if spill is not None else None, rows)
    finally:
        for r in rows:  # after a failure; done already after success
            r.discard()


def _compute(path: str | Path, opts: TargetOptions, trajectories: bool, spill: Path | None, rows: list[_Rows]) -> Targets:
    reader = ClipSpec(fps=opts.fps, stream=opts.stream).open(path)
    L = opts.length
    expected = _expected_frames(reader.info)
    traj: _Rows | None = None
    valid: _Rows | None = None
    vectors: _Rows | None = None
    starts_done: list[np.ndarray] = []
    cameras: list[np.ndarray] = []
    speeds: list[np.ndarray] = []
    enclosed: list[np.ndarray] = []  # the enclosed speed of the same patches, for the frame boxes
    times: list[np.ndarray] = []
    cuts: list[np.ndarray] = []
    # frames [base, base + len(tail[0])) of the field (vectors, camera, known), left from the chunks before for
    # the starts not yet tracked (fewer than L + opts.starts frames: the chunk itself is never copied)
    tail: tuple[np.ndarray, ...] = ()
    base = 0
    next_start = 0
    source = ""
    size = (0, 0)
    bars = Bars()
    uncoded = 0  # frames without vectors of their own (I-frames; MPEG-4 Part 2 B-frames)
    for field in iter_fields(path, opts, reader):
        w, h = size = field.size
        oh, ow = h // CELL, w // CELL
        source, bars = field.source, field.bars
        uncoded += int(np.count_nonzero(~field.coded))
        known = field.known if field.known is not None else np.ones(field.vectors.shape[:3], bool)
        cut = field.cuts if field.cuts is not None else np.zeros(len(field.vectors), bool)
        if cut.any():  # a step into a cut frame follows no point: the trajectories across it are not valid
            known = known.copy()
            known[cut] = False
        cuts.append(cut)
        if vectors is None:
            n_starts = -(-max(0, expected - L) // opts.starts) if trajectories else 0
            budget = _Spill(spill, SPILL_AFTER) if spill is not None else None
            vectors = _Rows(expected, (oh, ow, 2), np.float16, budget)
            rows.append(vectors)
            traj = _Rows(n_starts, (oh, ow, L, 2), np.float16, budget if trajectories else None)
            rows.append(traj)
            valid = _Rows(n_starts, (oh, ow), bool, budget if trajectories else None)
            rows.append(valid)
        to_float16(field.vectors[:, :oh, :ow], out=vectors.take(len(field.vectors)))
        cameras.append(field.camera.astype(np.float32))
        plain, inside = _patch_speed(field, oh, ow)
        speeds.append(plain)
        enclosed.append(inside)
        times.append(field.times)
        if not trajectories:
            continue
        chunk = (field.vectors, field.camera, known)
        first = base + (len(tail[0]) if tail else 0)  # the chunk's first frame
        end = first + len(field.vectors)
        starts = np.arange(next_start, end - L, opts.starts)
        if len(starts) and traj is not None and valid is not None:
            st, ok = traj.take(len(starts)), valid.take(len(starts))
            early = int(np.searchsorted(starts, first))  # starts in the tail: read with the chunk's first frames
            if early:
                window = tuple(np.concatenate([t, c[: int(starts[early - 1]) + L + 1 - first]]) for t, c in zip(tail, chunk))
                _track_rows(window, starts[:early] - base, st[:early], ok[:early], opts, size)
            _track_rows(chunk, starts[early:] - first, st[early:], ok[early:], opts, size)
            starts_done.append(starts)
            next_start = int(starts[-1]) + opts.starts
        keep = min(next_start, end)  # frames before the next start are never read again
        if keep >= first:
            tail = tuple(c[keep - first :].copy() for c in chunk)  # a copy: the chunk's arrays are let go
        else:  # a chunk shorter than the tail's needs (a chunk of a few frames)
            tail = tuple(np.concatenate([t[keep - base :], c]) for t, c in zip(tail, chunk))
        base = keep
    w, h = size
    oh, ow = h // CELL, w // CELL
    speed = np.concatenate(speeds)
    speeds.clear()
    inside = np.concatenate(enclosed)
    enclosed.clear()
    scale = max(MIN_SCALE, float(np.percentile(speed, SCALE_PERCENTILE))) if speed.size else MIN_SCALE
    cut = np.concatenate(cuts) if cuts else np.zeros(0, bool)
    frame_boxes = frame_motion_boxes(speed, size, enclosed=inside, cuts=cut)  # in px/frame, before the normalisation below
    del inside
    patch = np.clip(np.divide(speed, scale, out=speed), 0, 1, out=speed)  # in place: 4 bytes a patch a frame, not 12
    info = asdict(reader.info)
    warnings = list(reader.warnings)
    frames = int(sum(len(t) for t in times))
    if source.endswith("motion vectors") and frames and uncoded > UNCODED_SHARE * frames:
        warnings.append(f"{uncoded} of {counted(frames, 'frame')} carry no motion vectors of their own (FFmpeg exports none for "
                        "I-frames, nor for the B-frames of MPEG-4 Part 2: Xvid, DivX): their motion is interpolated in time "
                        f"from the frames around them, and a trajectory through more than {SHORT_GAP} of them in a row is not `valid`")
    if trajectories and frames <= L:
        warnings.append(f"{counted(frames, 'frame')}: too few for trajectories of --length {L} (at least {L + 1} frames): `trajectories` is empty")
    if opts.size is not None:
        (sw, sh), (vw, vh) = opts.size, (reader.info.width, reader.info.height)
        if abs((sw / sh) / (vw / vh) - 1) > ASPECT_TOLERANCE:
            warnings.append(f"--size {sw}x{sh} stretches the {vw}x{vh} picture (aspect {vw / vh:.2f} to {sw / sh:.2f})")
    if opts.fps is not None and not reader.is_folder:
        warnings.append(f"--fps {opts.fps:g} is a frame folder's rate: a video file keeps its own frames")
    info.update(decoded_frames=frames, lost_frames=reader.lost_frames, start_time=reader.start_time, motion_source=source, bars=[bars.top, bars.bottom, bars.left, bars.right], width=w, height=h,
                displayed_size=[reader.info.width, reader.info.height], stored_size=list(reader.pixels.stored), patch_motion_scale=scale,
                times_as_stored=reader.times_as_stored, warnings=warnings)  # fmt: skip
    return Targets(
        trajectories=traj.result() if traj else np.zeros((0, oh, ow, L, 2), np.float16),
        valid=valid.result() if valid else np.zeros((0, oh, ow), bool),
        start_frames=np.concatenate(starts_done).astype(np.int64) if starts_done else np.zeros(0, np.int64),
        vectors=vectors.result() if vectors else np.zeros((0, oh, ow, 2), np.float16),
        camera=np.concatenate(cameras),
        patch_motion=patch.astype(np.float16),
        frame_boxes=frame_boxes,
        video_box=union_box(frame_boxes),
        times=np.concatenate(times).astype(np.float64),
        cuts=cut,
        info=info,
    )

