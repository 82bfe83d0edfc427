"""Motion saliency on real videos with object masks (DAVIS), against baselines in the same run.

For every sequence, every method gives one map per frame; maps are compared with the masks at the frame's
own resolution (frames whose mask is empty or full are skipped). Methods: the model with each `--target`,
the same architecture with random weights (same targets), a centre prior, absolute frame difference,
Farneback flow magnitude and camera-compensated flow, the codec's motion vectors with and without camera
compensation (`--method mv`; frame folders use the optical-flow fallback of `video.motion`), the model
on camera-stabilised clips (`--stabilize`), and the model's map fused with the compensated vectors
(`--method fused`). Besides AUC-Judd, NSS and the pointing game, every method's strongest motion box
(`saliency.regions`) is scored by its IoU with the mask's bounding box and its hit rate (IoU >= 0.5).
Sequences whose background moves (median flow outside the dilated mask above a threshold) are reported
separately as camera-motion sequences.

The model-free methods come from the registry `saliency_methods.MAP_METHODS`; the report's text, notes,
examples picture and chart are in `saliency_report`.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..progress import progress_bar
from ..runtimes.base import Engine
from ..saliency.compute import compute_saliency
from ..saliency.motion import field_geometry, fuse
from ..saliency.render import heat_frames
from ..saliency.targets import TARGETS, parse_target
from ..video.clips import ClipSpec
from ..video.stabilize import MODES as STABILIZE_MODES
from . import baselines as bl
from .davis import Sequence, check_counts, load_masks, object_positions, trimmed_source
from .metrics import POINTING_TOLERANCE, FrameScores, mean_scores, score_frame
from .random_init import RANDOM_SEED, random_init_engine
from .saliency_methods import MAP_METHODS, METRICS, MapInputs, fused_row, model_row
from .saliency_report import best_method, best_target, comparisons, examples_sheet, target_wins
CAMERA_THRESHOLD = 1.0  # px/frame at frame resolution: median background flow above this = moving camera
HEAT_CHUNK = 16


@dataclass
class SaliencyEvalConfig:
    targets: tuple[str, ...] = TARGETS
    max_frames: int | None = None  # per sequence, from the first frame
    step: int | None = None  # frames between clip starts (None: the model's clip length)
    mode: str = "full"
    size: int | None = None  # model input short side (None: the model's clip size)
    batch_size: int = 8
    tolerance: int = POINTING_TOLERANCE
    camera_threshold: float = CAMERA_THRESHOLD
    random_init: bool = True
    random_seed: int = RANDOM_SEED
    work_short_side: int = bl.WORK_SHORT_SIDE
    stabilize: tuple[str, ...] = STABILIZE_MODES  # the model's rows, once per mode (random init: "none" only)
    fusion: bool = True  # also the model's map fused with the compensated vectors (from the unstabilised run)


@dataclass
class MethodResult:
    name: str
    kind: str  # "mosi" (plain), "stabilized", "fused", "mv", "random" or "baseline"
    target: str | None = None
    stabilize: str = "none"
    runtime: str = "numpy/opencv"
    per_sequence: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0  # time spent making maps (decoding included)
    frames: int = 0  # frames those maps cover

    @property
    def ms_per_frame(self) -> float:
        return 1000 * self.seconds / self.frames if self.frames else float("nan")


@dataclass
class SequenceInfo:
    name: str
    source: str
    size: tuple[int, int]
    frames: int  # frames evaluated (after --max-frames)
    scored: int  # frames with a non-trivial mask
    background_motion: float  # px/frame at frame resolution
    moving_camera: bool
    motion_source: str = ""  # where the motion vectors came from (codec or the optical-flow fallback)


def _cv2_resize_all(maps: np.ndarray, size: tuple[int, int]) -> Iterator[np.ndarray]:
    import cv2

    for m in maps:
        yield cv2.resize(np.ascontiguousarray(m, dtype=np.float32), size, interpolation=cv2.INTER_LINEAR)


def _model_heat(result: Any, count: int, size: tuple[int, int]) -> Iterator[np.ndarray]:
    for start in range(0, count, HEAT_CHUNK):
        yield from heat_frames(result, start, min(count, start + HEAT_CHUNK), *size, "frame")


EXAMPLE_WIDTH = 320


def _thumbnail(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)


@dataclass
class Example:
    """One frame of a sequence (the middle scored one), small, with its mask and each method's map."""

    index: int
    size: tuple[int, int]  # (width, height) of the thumbnails
    image: np.ndarray
    mask: np.ndarray
    maps: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def middle_of(cls, source: Path, fps: float | None, masks: np.ndarray, valid: np.ndarray) -> Example:
        scored = np.flatnonzero(valid)
        index = int(scored[len(scored) // 2])
        h, w = masks.shape[1:]
        size = (EXAMPLE_WIDTH, max(1, round(h * EXAMPLE_WIDTH / w)))
        frame = next(f.image for f in ClipSpec(fps=fps).open(source).frames() if f.index == index)
        return cls(index, size, _thumbnail(frame, size), _thumbnail(masks[index].astype(np.uint8), size) > 0)


class _Timer:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds += time.perf_counter() - t0
        return out


class SaliencyEvaluation:
    """Runs every method over every sequence; `run()` returns the report (see `report_dict`)."""

    def __init__(self, engine: Engine, sequences: list[Sequence], cfg: SaliencyEvalConfig, workdir: Path):
        self.engine = engine
        self.sequences = sequences
        self.cfg = cfg
        self.workdir = workdir
        for t in cfg.targets:
            parse_target(t, engine.meta.num_classes)
        for s in cfg.stabilize:
            if s not in STABILIZE_MODES:
                raise ValueError(f"--stabilize must list modes among {', '.join(STABILIZE_MODES)}, got {s!r}")
        if cfg.fusion and cfg.mode != "full":
            raise ValueError("fusion with the motion vectors needs --mode full")
        self.models: list[tuple[str, Engine]] = [("MoSI", engine)]
        if cfg.random_init:
            self.models.append(("random init", random_init_engine(engine.meta, workdir, engine.device, cfg.random_seed)))
        self.methods: dict[str, MethodResult] = {}
        for label, model in self.models:
            for t in cfg.targets:
                for s in cfg.stabilize if label == "MoSI" else ("none",):
                    name = model_row(label, t, s)
                    kind = ("mosi" if s == "none" else "stabilized") if label == "MoSI" else "random"
                    self.methods[name] = MethodResult(name, kind, target=t, stabilize=s, runtime=model.name)
        if cfg.fusion:
            for t in cfg.targets:
                self.methods[fused_row(t)] = MethodResult(fused_row(t), "fused", target=t, runtime=f"{engine.name} + numpy/opencv")
        for m in sorted(MAP_METHODS.values(), key=lambda m: m.kind != "mv"):  # the mv row first, as before
            self.methods[m.name] = MethodResult(m.name, m.kind)
        self.infos: list[SequenceInfo] = []
        self._positions: dict[str, np.ndarray] = {}  # sequence -> object positions (`davis.object_positions`)
        self._elsewhere: np.ndarray | None = None  # the other sequences' positions at this sequence's frame size
        self.examples: dict[str, Example] = {}  # sequence -> one frame with every method's map

    def _score(self, name: str, seq: str, maps: Iterator[np.ndarray], masks: np.ndarray, valid: np.ndarray,
               seconds: float, frames: int) -> None:  # fmt: skip
        """Score `maps` (one per frame, at frame resolution) on the valid frames; keep the example frame's map."""
        example = self.examples.get(seq)
        scores: list[FrameScores] = []
        for i, m in enumerate(maps):
            if valid[i]:
                scores.append(score_frame(m, masks[i], self.cfg.tolerance, self._elsewhere))
            if example is not None and i == example.index:
                example.maps[name] = _thumbnail(m, example.size)
        result = self.methods[name]
        result.per_sequence[seq] = mean_scores(scores)
        result.seconds += seconds
        result.frames += frames

    def run_sequence(self, seq: Sequence, advance: Callable[[], None]) -> None:
        cfg = self.cfg
        check_counts(seq)
        src = trimmed_source(seq, cfg.max_frames, self.workdir / "frames")
        reader = ClipSpec(fps=seq.fps).open(src)
        folder_fps = seq.fps if reader.is_folder else None  # a video file keeps its own rate
        n = min(len(seq.masks), cfg.max_frames or len(seq.masks))
        probe = reader.info
        width, height = size = probe.width, probe.height
        masks = load_masks(seq, n, size)
        others = [p for name, p in self._positions.items() if name != seq.name]
        self._elsewhere = next(_cv2_resize_all(np.mean(others, axis=0)[None], size)) if others else None
        flat = masks.reshape(n, -1)
        valid = np.asarray(flat.any(axis=1) & ~flat.all(axis=1))
        if valid.any():
            self.examples[seq.name] = Example.middle_of(src, folder_fps, masks, valid)

        # The model-free methods (`saliency_methods.MAP_METHODS`), sharing decoded frames, flow and motion.
        work = bl.working_size(width, height, cfg.work_short_side)
        x = MapInputs(src, folder_fps, n, work)
        for method in MAP_METHODS.values():
            before = set(x.spent)
            t0 = time.perf_counter()
            maps = method.maps(x)
            own = time.perf_counter() - t0 - x.seconds(*(set(x.spent) - before))  # shared items are charged below
            frames = len(maps) if method.kind == "mv" else n
            self._score(method.name, seq.name, _cv2_resize_all(maps[:n], size), masks, valid, own + x.seconds(*method.uses), frames)
            advance()
        small = np.stack([_nearest(m, work) for m in masks])
        per_frame = bl.background_motion(x.flow, small)
        camera = float(np.nanmedian(per_frame)) * width / work[0] if np.isfinite(per_frame).any() else float("nan")
        motion, mv_maps, mv_seconds = x.motion, x.mv_maps, x.seconds("motion", "mv_maps")
        stab_motion = x.camera_motion if any(s != "none" for s in cfg.stabilize) and self.models else None
        stab_seconds = x.seconds("camera_motion")
        del x

        # The model and its random-init control, once per target and stabilisation mode; the fusion.
        for label, engine in self.models:
            for target in cfg.targets:
                for stab in cfg.stabilize if label == "MoSI" else ("none",):
                    t0 = time.perf_counter()
                    result = compute_saliency(engine, src, parse_target(target, engine.meta.num_classes), step=cfg.step,
                                              mode=cfg.mode, batch_size=cfg.batch_size, fps=folder_fps, size=cfg.size,
                                              stabilize=stab, motion=stab_motion)  # fmt: skip
                    # the camera model is shared across rows; charge its time to every stabilised row
                    seconds = time.perf_counter() - t0 + (stab_seconds if stab != "none" else 0.0)
                    if len(result.frame_times) < n:
                        raise ValueError(f"{src}: decoded {len(result.frame_times)} frames but {seq.masks[0].parent} has masks for {n}")
                    self._score(model_row(label, target, stab), seq.name, _model_heat(result, n, size), masks, valid, seconds, len(result.frame_times))
                    advance()
                    if label == "MoSI" and stab == "none" and cfg.fusion:
                        f_t = _Timer()
                        fused = dataclasses.replace(result, maps=f_t(fuse, result.maps, mv_maps[: len(result.maps)]), geometry=field_geometry(motion))
                        self._score(fused_row(target), seq.name, _model_heat(fused, n, size), masks, valid,
                                    seconds + mv_seconds + f_t.seconds, len(result.frame_times))  # fmt: skip
                        advance()
        self.infos.append(SequenceInfo(seq.name, str(seq.source), size, n, int(valid.sum()), camera, camera > cfg.camera_threshold, motion.source))

    def run(self) -> dict[str, Any]:
        # where every sequence's object lies: the shuffled AUC's negatives for the others
        self._positions = {seq.name: object_positions(seq, min(len(seq.masks), self.cfg.max_frames or len(seq.masks))) for seq in self.sequences}
        steps = len(self.sequences) * len(self.methods)
        with progress_bar("saliency eval", total=steps, unit="method") as bar:
            for seq in self.sequences:
                self.run_sequence(seq, lambda: bar.advance(1, seq=seq.name))
        return self.report_dict()

    def report_dict(self) -> dict[str, Any]:
        subsets = {
            "all": [s.name for s in self.infos],
            "static camera": [s.name for s in self.infos if not s.moving_camera],
            "moving camera": [s.name for s in self.infos if s.moving_camera],
        }
        methods = []
        for m in self.methods.values():
            summary = {k: _mean_over(m.per_sequence, names) for k, names in subsets.items()}
            methods.append({
                "name": m.name, "kind": m.kind, "target": m.target, "stabilize": m.stabilize, "runtime": m.runtime,
                "ms_per_frame": m.ms_per_frame, "frames_timed": m.frames, "per_sequence": m.per_sequence, "summary": summary,
            })  # fmt: skip
        best = best_target(methods)
        meta = self.engine.meta
        return {
            "evaluation": "saliency",
            "model": {"path": str(self.engine.path), "runtime": self.engine.name, "model_id": meta.model_id, "arch": meta.arch,
                      "width": meta.width, "frames": meta.frames, "crop": meta.crop, "training": meta.training},
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self.cfg).items()},
            "sequences": [vars(s) | {"size": list(s.size)} for s in self.infos],
            "subsets": subsets,
            "methods": methods,
            "best_target": best,
            "best_method": best_method(methods),
            "target_wins": target_wins(methods),
            "comparisons": comparisons(methods, best, subsets),
        }


def _nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)


def _mean_over(per_sequence: dict[str, dict[str, float]], names: list[str]) -> dict[str, float]:
    """Each metric averaged over `names` (every sequence weighs the same), ignoring sequences with no frames."""
    rows = [per_sequence[n] for n in names if n in per_sequence and per_sequence[n]["frames"]]
    out = {k: float(np.mean([r[k] for r in rows])) if rows else float("nan") for k in METRICS}
    out["sequences"] = len(rows)
    return out


def evaluate_saliency(engine: Engine, sequences: list[Sequence], cfg: SaliencyEvalConfig, examples: Path | None = None) -> dict[str, Any]:
    """Run the whole evaluation in a scratch folder (random-init weights, trimmed frame folders).

    examples: also write a PNG with one frame per sequence and the maps of the main methods.
    """
    if not sequences:
        raise ValueError("no sequences to evaluate")
    with tempfile.TemporaryDirectory(prefix="mosi-eval-") as tmp:
        evaluation = SaliencyEvaluation(engine, sequences, cfg, Path(tmp))
        report = evaluation.run()
    if examples is not None:
        examples_sheet(evaluation.examples, report, examples)
    return report


