"""Pass 1 of saliency: run the engine over a video's clips and keep one low-resolution map per frame."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..metadata import ModelMeta, motion_label
from ..runtimes.base import Engine
from ..video.clips import Clip, ClipSpec, geometry, iter_clips
from ..video.decode import Frame, VideoReader
from ..video.motion import MotionField
from ..video.stabilize import AUTO_MIN_SPEED, MODES, camera_speed, input_transforms, stabilize_clip, to_reference, unwarp_maps
from .defaults import METHODS, MODEL_METHODS
from .gradcam import grad_cam
from .maps import frame_maps
from .map_store import MapStore, array_range
from .motion import MEASURE_REFERENCES, compute_motion_saliency, field_geometry, fuse, motion_pass
from .result import SaliencyResult
from .shots import frame_cuts, known_cuts
from .targets import select_maps

__all__ = ["METHODS", "MODEL_METHODS", "SaliencyResult", "compute_motion_saliency", "compute_saliency", "frame_labels"]


def _batches(clips: Iterator[Clip], size: int) -> Iterator[list[Clip]]:
    batch: list[Clip] = []
    for clip in clips:
        batch.append(clip)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _TimedFrames:
    """Wraps a reader so every decoded frame's timestamp is recorded while clips stream past."""

    def __init__(self, reader: VideoReader):
        self.reader = reader
        self.times: list[float] = []
        self.info = reader.info
        self.is_folder = reader.is_folder

    def frames(self, size: tuple[int, int] | None = None):  # noqa: ANN201 - mirrors VideoReader.frames
        for frame in self.reader.frames(size):
            self.times.append(frame.time)
            yield frame


def compute_saliency(
    engine: Engine,
    path: str | Path,
    target: str | int = "motion",
    step: int | None = None,
    mode: str = "full",
    batch_size: int = 8,
    stream: int | None = None,
    fps: float | None = None,
    method: str = "cam",
    layer: str = "conv5",
    size: int | None = None,
    stabilize: str = "none",
    motion: MotionField | None = None,
    norm: str = "frame",
) -> SaliencyResult:
    """Decode `path` once, run every clip, and return per-frame maps (see `SaliencyResult`).

    fps: resample to this rate before cutting clips (frame folders: their frame rate). Maps are still
    produced for every original frame, by time.
    size: the input's short side (default: the model's clip size, the scale it was trained at). The backbone
    is fully convolutional, so a larger input gives finer maps and slower apparent motion.
    stabilize: none, mv (warp every clip to its middle frame with the camera motion, `video.stabilize`) or
    auto (only clips whose camera moves faster than AUTO_MIN_SPEED px/frame).
    method "fused": the CAM fused with the compensated motion-vector map (`saliency.motion.fuse`), each scaled
    per frame (`norm` "frame", as the DAVIS evaluation fuses) or by its video-wide range ("video").
    motion: a precomputed motion field of the same video (else it is read when needed).
    Each scene's shot is clipped on its own (no clip spans a cut: `video.clips.iter_clips`'s `shots`), at the
    motion field's cuts where it has them (`MotionField.cuts`), else at those found in the clips' frames
    (`shots.CutDetector`); `SaliencyResult.cuts` says where.
    """
    if method not in MODEL_METHODS:
        raise ValueError(f"--method must be one of {', '.join(METHODS)}")
    if stabilize not in MODES:
        raise ValueError(f"--stabilize must be one of {', '.join(MODES)}, got {stabilize!r}")
    if norm not in ("video", "frame"):
        raise ValueError(f"norm must be video or frame, got {norm!r}")
    if method == "fused" and mode != "full":
        raise ValueError("--method fused needs --mode full (the motion map covers the whole frame)")
    if method == "gradcam" and engine.module is None:
        raise ValueError(f"--method gradcam needs the PyTorch runtime (a .safetensors checkpoint), not {engine.name}")
    meta = engine.meta
    size = size or meta.crop
    spec = ClipSpec(meta.frames, step, fps, mode, size, cover_tail=True, stream=stream)
    reader = spec.open(path)
    geo = geometry(mode, size, reader.info.width, reader.info.height)
    if not engine.dynamic_width and engine.input_hw and geo.input_hw != engine.input_hw:
        raise ValueError(
            f"{engine.path.name} only takes {engine.input_hw[0]}x{engine.input_hw[1]} clips; this video needs "
            f"{geo.input_hw[0]}x{geo.input_hw[1]} in '{mode}' mode: use --mode center or an engine with dynamic width"
        )
    mv_maps = None
    if stabilize != "none" or method == "fused":
        # the camera that stabilises the clips from the vectors alone (no pictures decoded for it): the MoSI
        # rows scored AUC-Judd 0.827 with it against 0.795 with the distances measured on the pictures
        # (docs/EVALUATION.md, "Reference distances measured"); fused maps measure them, as `--method mv`
        motion, mv_maps, _, _ = motion_pass(path, stream=stream, fps=fps, maps=method == "fused", field=motion,
                                            measure=MEASURE_REFERENCES and method == "fused")  # fmt: skip
    speed = camera_speed(motion.camera, motion.size) if motion is not None else None
    timed = _TimedFrames(reader)
    is_cut = known_cuts(motion.cuts) if motion is not None and motion.cuts is not None else frame_cuts()
    begins: list[int] = []  # the frames found to begin a shot

    def shots(frame: Frame) -> bool:
        if is_cut(frame):
            begins.append(frame.index)
            return True
        return False

    maps: list[np.ndarray] = []
    times: list[np.ndarray] = []
    logits: list[np.ndarray] = []
    ranges: list[tuple[int, int]] = []
    padded = stabilized = 0
    for batch in _batches(iter_clips(timed, spec, shots), batch_size):  # type: ignore[arg-type]
        warps: list[np.ndarray | None] = [None] * len(batch)
        if stabilize != "none" and motion is not None and speed is not None:
            for i, c in enumerate(batch):
                idx = np.minimum(c.indices, len(motion.camera) - 1)
                if stabilize == "auto" and speed[idx].mean() < AUTO_MIN_SPEED:
                    continue
                ref = len(idx) // 2
                warp = input_transforms(to_reference(motion.camera, idx, ref), geo, motion.size)
                c.frames = stabilize_clip(c.frames, warp, ref)
                warps[i] = warp
                stabilized += 1
        x = torch.from_numpy(np.stack([c.frames for c in batch]))
        if method == "gradcam":
            cam, lg = grad_cam(engine.module, x.to(engine.device), target, layer, meta.static_class)  # type: ignore[arg-type]
        else:
            out = engine(x)
            cam, lg = select_maps(out.cam, out.logits, target, meta.static_class), out.logits
        cam_np = cam.float().cpu().numpy()  # (B, t, h, w)
        for i, w in enumerate(warps):
            if w is not None:
                cam_np[i] = unwarp_maps(cam_np[i], w, geo.input_hw)
        maps.append(cam_np)
        logits.append(lg.float().cpu().numpy())
        times.extend(c.times for c in batch)
        ranges.extend((c.start, c.end) for c in batch)
        padded = max(padded, max(c.padded for c in batch))
    frame_times = np.asarray(timed.times, dtype=np.float64)
    cuts = np.zeros(len(frame_times), bool)
    cuts[[i for i in begins if i < len(cuts)]] = True
    if method == "fused" and motion is not None and motion.cuts is not None:
        cuts = motion.cuts  # the scene cuts its motion maps were made by (the same frames began the clips' shots)
    per_frame = frame_maps(np.concatenate(maps), np.stack(times), frame_times, cuts)
    notes = []
    if stabilize != "none" and motion is not None:
        notes.append(f"stabilised {stabilized} of {len(ranges)} clips with the camera motion from {motion.source}")
    result_maps: np.ndarray | MapStore = per_frame
    if method == "fused" and motion is not None and mv_maps is not None:
        result_maps = _fuse_stored(per_frame, mv_maps, norm)
        geo = field_geometry(motion, size)
        notes.append(f"fused with compensated {motion.source}")
    return SaliencyResult(
        reader.info, geo, frame_times, result_maps, np.concatenate(logits), np.asarray(ranges, dtype=np.int64),
        padded, list(reader.warnings), notes, cuts=cuts,
    )  # fmt: skip


def _fuse_stored(mosi: np.ndarray, motion: MapStore, norm: str, chunk: int = 256) -> MapStore:
    """`fuse` of in-memory MoSI maps (F, h, w) with stored motion maps, chunk by chunk, into a new store,
    each map scaled per frame (`norm` "frame") or by its video-wide range ("video"). The motion maps are cut
    or extended (last map repeated) to F frames: two decodes may disagree on a damaged tail."""
    ranges = (array_range(mosi), motion.range()) if norm == "video" else None
    out = MapStore(*motion.shape[1:])
    for a in range(0, len(mosi), chunk):
        m = motion[min(a, len(motion) - 1) : min(a + chunk, len(motion))]
        want = min(chunk, len(mosi) - a)
        if len(m) < want:
            m = np.concatenate([m, np.repeat(m[-1:], want - len(m), axis=0)])
        out.append(fuse(mosi[a : a + want], m, ranges))
    motion.close()
    return out


def frame_labels(result: SaliencyResult, meta: ModelMeta) -> list[str]:
    """Each frame's label: the top class of the first clip covering it (MoSI classes as `motion_label`s)."""
    class_names = [motion_label(x, y) for x, y in meta.speed_table()] or meta.class_names
    labels = [""] * len(result.frame_times)
    top = result.clip_logits.argmax(1)
    for (start, end), k in zip(result.clip_ranges[::-1], top[::-1]):
        name = class_names[k] if k < len(class_names) else str(k)
        for i in range(int(start), min(int(end), len(labels) - 1) + 1):
            labels[i] = name
    return labels
