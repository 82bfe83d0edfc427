"""Saliency from the motion field alone (`--method mv`), and its fusion with a MoSI map (`--method fused`).

The map of frame t is the geometric mean of two speeds per cell, each blurred by a Gaussian of `BLUR_CELLS`
cells and averaged over the `2 * WINDOW + 1` frames around t (codec vectors are noisy from frame to frame;
object motion is not): the length of the camera-compensated motion (the field minus the fitted camera motion,
`MotionField.residual`; the camera is `CAMERA_MODEL`), in px/frame, and the enclosed speed (`geodesic`: how far
that motion is from the frame's border across changes of motion, so that a background whose motion the camera
model misses, a parallax or a followed subject's surroundings, stays low). The settings were chosen on DAVIS
(docs/EVALUATION.md; `object_motion_maps` makes the plain maps before the enclosed speed). The motion masks
(`saliency.masks`) also read the same maps blurred by `MASK_BLUR_CELLS` only (`SaliencyResult.mask_maps`): the
display blur joins movers two cells apart. Nothing reaches across a scene cut (`shots`): the motion pass finds
the cuts on the pictures it decodes, the field is made shot by shot and the time average stays within a shot.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple, no_type_check

import numba
import numpy as np

from ..progress import counted
from ..video.clips import ClipSpec, Geometry, geometry
from ..video.decode import VideoInfo
from ..video.kept_frames import KeptFrames
from ..video.motion import MotionField, iter_motion, join, read_motion
from .defaults import BLUR_CELLS, CAMERA_MODEL, MASK_BLUR_CELLS, scaled_floor  # defined there: the masks' optical-flow maps read them too
from .geodesic import Enclosure, enclosed_speed, speed_and_enclosed
from .map_store import MapStore
from .motion_edges import MotionTrack, mover_motion
from .result import SaliencyResult
from .shots import frame_cuts

WINDOW = 2  # frames either side averaged in time
# The codec vectors' reference distances measured on the decoded pictures (`video.motion.codec.block_references`),
# whatever the outputs, so the maps are the same with or without the outputs drawn on the pictures (docs/EVALUATION.md 2c)
MEASURE_REFERENCES = True
SPLIT = 64  # frames per piece when an in-memory field is turned into maps


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def moving_average(speed: np.ndarray, first: int, last: int, window: int, cuts: np.ndarray) -> np.ndarray:
    """Centred mean over `window` frames either side (shrinking at the array's ends, and at a scene cut: cuts (n,)
    bool, the frame begins a new shot) of frames [first, last) of (n, gh, gw) float32 maps: each frame's sum in
    frame order, so a frame's mean is the same in any buffer."""
    n, gh, gw = speed.shape
    out = np.zeros((last - first, gh, gw), np.float32)
    for t in range(first, last):
        lo, hi = max(t - window, 0), min(t + window + 1, n)
        for u in range(t, lo, -1):  # not before the shot's first frame
            if cuts[u]:
                lo = u
                break
        for u in range(t + 1, hi):  # nor past its last
            if cuts[u]:
                hi = u
                break
        for u in range(lo, hi):
            out[t - first] += speed[u]
        out[t - first] /= np.float32(hi - lo)
    return out


def iter_object_motion_maps(fields: Iterable[MotionField], blur: float = BLUR_CELLS, window: int = WINDOW,
                            compensate: bool = True) -> Iterator[np.ndarray]:  # fmt: skip
    """Maps (n, gh, gw) float32 in px/frame, in frame order, from consecutive chunks of a field
    (`iter_motion`): the blurred, time-averaged length of the compensated motion (compensate=False: of the raw
    vectors, the control that shows what the camera model buys). A chunk's last `window` frames wait for the
    next chunk, so the maps are the same however the field is cut."""
    for maps in iter_map_sets(fields, (blur,), window, compensate):
        yield maps[:, 0]


def iter_map_sets(fields: Iterable[MotionField], blurs: tuple[float, ...], window: int = WINDOW,
                  compensate: bool = True, enclosed: Enclosure | None = None) -> Iterator[np.ndarray]:  # fmt: skip
    """`iter_object_motion_maps` at several blurs at once (Gaussian sigmas in cells): (n, len(blurs), gh, gw)
    float32 per chunk, the speed read once (blur and time average are both linear and per pixel, so each set
    is exactly the maps `iter_object_motion_maps` makes at its blur). enclosed: then the same sets of the
    enclosed speed with these settings (`geodesic.enclosed_speed`), (n, 2 x len(blurs), gh, gw)."""
    import cv2

    window = max(window, 0)
    pending: np.ndarray | None = None  # speed frames: `history` already emitted, then frames still waiting
    pending_cuts = np.zeros(0, bool)  # theirs: the frame begins a shot (`MotionField.cuts`)
    history = 0
    shape: tuple[int, int] | None = None
    k = len(blurs) * (1 if enclosed is None else 2)  # sets
    # in pieces of SPLIT frames: a chunk of the field may hold hundreds, and its sets would leave the CPU's caches
    for field in (piece for chunk in fields for piece in split(chunk)):
        if enclosed is not None and compensate:  # (n, gh, gw) each
            speeds: tuple[np.ndarray, ...] = speed_and_enclosed(field, enclosed)
        else:
            mag = field.residual_speed() if compensate else np.linalg.norm(field.vectors, axis=-1)
            speeds = (mag,) if enclosed is None else (mag, enclosed_speed(field, enclosed))
        mag = speeds[0]
        shape = mag.shape[1:]
        # (n, k * gh, gw): the moving average runs on 3-d arrays, and is per pixel
        speed = np.empty((len(mag), k * shape[0], shape[1]), np.float32)
        for t in range(len(mag)):
            for s, (m, b) in enumerate((m, b) for m in speeds for b in blurs):
                cv2.GaussianBlur(m[t], (0, 0), b, dst=speed[t, s * shape[0] : (s + 1) * shape[0]])
        buf = speed if pending is None else np.concatenate([pending, speed])
        cuts = np.concatenate([pending_cuts, field.cuts if field.cuts is not None else np.zeros(len(mag), bool)])
        ready = len(buf) - window  # frames whose neighbourhood is complete
        if ready > history:
            yield moving_average(buf, history, ready, window, cuts).reshape(-1, k, *shape)
            keep = max(ready - window, 0)
            buf, cuts, history = buf[keep:], cuts[keep:], ready - keep
        pending, pending_cuts = buf, cuts
    if pending is not None and len(pending) > history and shape is not None:
        yield moving_average(pending, history, len(pending), window, pending_cuts).reshape(-1, k, *shape)


def split(field: MotionField, size: int = SPLIT) -> Iterator[MotionField]:
    """An in-memory field in consecutive pieces of `size` frames (what `iter_motion` would have yielded; a field of
    `size` frames or fewer: itself)."""
    if len(field.vectors) <= size:
        yield field
        return
    for a in range(0, len(field.vectors), size):
        sl = slice(a, a + size)
        yield dataclasses.replace(field, vectors=field.vectors[sl], camera=field.camera[sl], times=field.times[sl],
                                  coded=field.coded[sl], start=field.start + a,
                                  known=field.known[sl] if field.known is not None else None,
                                  cuts=field.cuts[sl] if field.cuts is not None else None)  # fmt: skip


def object_motion_maps(field: MotionField, blur: float = BLUR_CELLS, window: int = WINDOW, compensate: bool = True) -> np.ndarray:
    """(F, gh, gw) float32 maps of a whole in-memory field (`iter_object_motion_maps`)."""
    gh, gw = field.grid
    maps = list(iter_object_motion_maps([field], blur, window, compensate))  # `iter_map_sets` cuts it into pieces
    return np.concatenate(maps) if maps else np.zeros((0, gh, gw), np.float32)


def mv_maps(field: MotionField, blur: float = BLUR_CELLS, enclosure: Enclosure = Enclosure()) -> np.ndarray:
    """(F, gh, gw) float32 px/frame: the `--method mv` maps of a whole in-memory field at `blur` (cells; the masks'
    own at `MASK_BLUR_CELLS`): the geometric mean of the motion map (`object_motion_maps`) and the enclosed
    speed's (`geodesic`, with `enclosure`), both blurred and averaged in time (`motion_pass` streams the same)."""
    gh, gw = field.grid
    sets = list(iter_map_sets([field], (blur,), enclosed=enclosure))  # which cuts it into pieces
    return enclosed_map(*np.concatenate(sets).transpose(1, 0, 2, 3)) if sets else np.zeros((0, gh, gw), np.float32)


def enclosed_map(plain: np.ndarray, enclosed: np.ndarray) -> np.ndarray:
    """The `mv` map from the motion map and the enclosed speed's (same shape, px/frame): their geometric mean
    (a region must move and be enclosed by motion boundaries, `geodesic`)."""
    return np.sqrt(plain * enclosed)


def field_geometry(field: MotionField, short: int | None = None) -> Geometry:
    """The maps' footprint, the cell grid laid over the whole frame (the last cells may overhang by < 1 cell),
    at the scale of a model input with short side `short` (`video.clips.geometry`, mode full): what
    `--maps` defaults to. None: the frame's own size."""
    w, h = field.size
    return geometry("full", short, w, h) if short else Geometry((w, h), (0, 0, w, h))


def motion_field(path: str | Path, stream: int | None = None, fps: float | None = None,
                 measure: bool = MEASURE_REFERENCES) -> MotionField:  # fmt: skip
    """The video's motion field with the default cells, camera model (`CAMERA_MODEL`) and reference distances
    (`MEASURE_REFERENCES`; here and in `motion_pass`); measure: False, estimated from the vectors alone."""
    return read_motion(path, stream=stream, fps=fps, model=CAMERA_MODEL, measure=measure, shots=frame_cuts)


class MotionPass(NamedTuple):
    """What `motion_pass` made."""

    camera: MotionField  # the camera track (`MotionField.camera_only`)
    maps: MapStore | None  # the `mv` maps, if asked
    mask_maps: MapStore | None  # the same at the masks' blur, if asked
    movers: MotionTrack | None  # with mask_maps: each frame's movers' motion for the masks' rule 3b (`motion_edges`)


def motion_pass(path: str | Path, stream: int | None = None, fps: float | None = None, maps: bool = True,
                field: MotionField | None = None, keep: KeptFrames | None = None, mask_maps: bool = False,
                measure: bool = MEASURE_REFERENCES) -> MotionPass:  # fmt: skip
    """One streamed pass over a video's motion field (or over `field`, if already read): its camera track (a
    `MotionField.camera_only`), if `maps`, its `mv` maps (the module docstring; `mv_maps` of a whole field) in a
    `MapStore`, and if also `mask_maps`, the same maps at the masks' blur (`MASK_BLUR_CELLS`) in another and
    the movers' motion of every frame (`motion_edges.MotionTrack`, for the masks' rule 3b; else None).
    Memory stays flat in the video's length, unless `keep` (`video.kept_frames`) takes the decoded pictures
    for the pass after this one. measure: the vectors' reference distances measured on the decoded pictures
    (`video.motion.iter_motion`; they are then decoded in full, kept or not), else estimated from the vectors."""
    reader = keep.reader if keep is not None else None
    chunks = [field] if field is not None else iter_motion(path, stream=stream, fps=fps, model=CAMERA_MODEL, reader=reader, keep=keep,
                                                           measure=measure, shots=frame_cuts)  # fmt: skip
    kept: list[MotionField] = []
    movers: list[MapStore] = []

    def follow() -> Iterator[MotionField]:
        for c in chunks:
            kept.append(c.camera_only())
            if maps and mask_maps:
                packed = MotionTrack.pack(mover_motion(c))  # (n, gh, 2 gw)
                movers[:] = movers or [MapStore(*packed.shape[1:])]
                movers[0].append(packed)
            yield c

    stores: list[MapStore] = []
    if maps:
        blurs = (BLUR_CELLS, MASK_BLUR_CELLS) if mask_maps else (BLUR_CELLS,)
        for m in iter_map_sets(follow(), blurs, enclosed=Enclosure()):  # (n, 2 x len(blurs), gh, gw): plain, then enclosed
            stores = stores or [MapStore(*m.shape[2:]) for _ in blurs]
            for k, store in enumerate(stores):
                store.append(enclosed_map(m[:, k], m[:, len(blurs) + k]))
    else:
        for _ in follow():
            pass
    camera = join(kept)
    track = MotionTrack(movers[0], camera.camera, camera.size) if movers else None
    return MotionPass(camera, stores[0] if stores else None, stores[1] if len(stores) > 1 else None, track)


def normalise_frames(maps: np.ndarray) -> np.ndarray:
    """Each frame scaled to [0, 1] by its own min and max (constant frames become 0). (F, h, w) -> same."""
    flat = maps.reshape(len(maps), -1)
    lo, hi = flat.min(1)[:, None, None], flat.max(1)[:, None, None]
    return ((maps - lo) / np.maximum(hi - lo, 1e-12)).astype(np.float32)


Range = tuple[float, float]


def scale_to(maps: np.ndarray, span: Range) -> np.ndarray:
    """(maps - low) / (high - low), clipped to [0, 1]: a video-wide range (`map_store.display_range`)."""
    low, high = span
    return np.clip((maps - low) / max(high - low, 1e-12), 0, 1).astype(np.float32)


def fuse(mosi: np.ndarray, motion: np.ndarray, ranges: tuple[Range, Range] | None = None) -> np.ndarray:
    """Fusion rule: the geometric mean of the two maps, each first scaled to [0, 1].

    mosi (F, h, w) at conv5 resolution, motion (F, gh, gw) at cell resolution; the result is at the motion
    maps' (finer) resolution, so `mosi` must cover the whole frame (`--mode full`). A region must be salient in
    both to stay salient: compensated vectors remove the camera, MoSI removes codec noise.
    ranges: None scales each frame of each map to its own min..max (`--norm frame`, and the DAVIS evaluation);
    (mosi range, motion range) scales each map by one range for the whole video (`--norm video`), so a frame
    where both are weak stays weak.
    """
    import cv2

    gh, gw = motion.shape[1:]
    a, b = (normalise_frames(mosi), normalise_frames(motion)) if ranges is None else (scale_to(mosi, ranges[0]), scale_to(motion, ranges[1]))
    up = np.stack([cv2.resize(m, (gw, gh), interpolation=cv2.INTER_LINEAR) for m in a])
    return np.sqrt(np.clip(up, 0, None) * b).astype(np.float32)


def compute_motion_saliency(path: str | Path, stream: int | None = None, fps: float | None = None,
                            motion: MotionField | None = None, size: int | None = None,
                            info: VideoInfo | None = None, keep: KeptFrames | None = None,
                            mask_maps: bool = False, measure: bool = MEASURE_REFERENCES) -> SaliencyResult:  # fmt: skip
    """`--method mv`: camera-compensated motion-vector maps (`saliency.motion`), no network.

    Returns a `SaliencyResult` with maps (F, gh, gw) at the motion field's cell resolution, streamed to a
    `MapStore` (memory flat in the video's length), and no clips. size: the short side of the scale the maps
    are written at by default (`field_geometry`; the CLI passes the default model's input size); None: the
    frame's own size. info: the video's header, when the caller has opened it already (saves an open).
    keep: decoded pictures kept for the overlay (`video.kept_frames`), on `keep.reader`'s video.
    mask_maps: also the maps at the masks' blur (`SaliencyResult.mask_maps`, for `--masks` and `--boxes`).
    measure: the codec vectors' reference distances measured on the decoded pictures (`motion_pass`), else
    estimated from the vectors alone.
    """
    info = info or (keep.reader.info if keep is not None else ClipSpec(fps=fps, stream=stream).open(path).info)
    camera, maps, sharp, movers = motion_pass(path, stream=stream, fps=fps, field=motion, keep=keep, mask_maps=mask_maps, measure=measure)
    assert maps is not None
    uncoded = int((~camera.coded).sum())  # frames without vectors (the optical-flow fallback has none)
    note = f"motion from {camera.source}" + (f"; {counted(uncoded, 'frame')} without vectors interpolated" if uncoded else "")
    return SaliencyResult(
        info, field_geometry(camera, size), camera.times, maps, np.zeros((0, 0), np.float32),
        np.zeros((0, 2), np.int64), 0, [], [note], camera.source, sharp, scaled_floor(min(info.width, info.height)), camera.cuts,
        movers,
    )  # fmt: skip
