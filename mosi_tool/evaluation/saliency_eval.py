"""Motion saliency on real videos with object masks (DAVIS), against baselines in the same run.

For every sequence, every method gives one map per frame; maps are compared with the masks at the frame's
own resolution (frames whose mask is empty or full are skipped). Methods: the model with each `--target`,
the same architecture with random weights (same targets), a centre prior, absolute frame difference,
Farneback flow magnitude and camera-compensated flow, the codec's motion vectors with and without camera
compensation (`--method mv`; frame folders use the optical-flow fallback of `video.motion_vectors`), the model
on camera-stabilised clips (`--stabilize`), and the model's map fused with the compensated vectors
(`--method fused`). Besides AUC-Judd, NSS and the pointing game, every method's strongest motion box
(`saliency.regions`) is scored by its IoU with the mask's bounding box and its hit rate (IoU >= 0.5).
Sequences whose background moves (median flow outside the dilated mask above a threshold) are reported
separately as camera-motion sequences.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..progress import counted, progress_bar
from ..runtimes.base import Engine
from ..saliency.compute import compute_saliency
from ..saliency.motion import field_geometry, fuse, motion_field, object_motion_maps
from ..saliency.render import heat_frames
from ..saliency.targets import TARGETS, parse_target
from ..video.spec import DecodeSpec
from ..video.stabilize import MODES as STABILIZE_MODES
from . import baselines as bl
from .davis import Sequence, check_counts, load_masks, object_positions, trimmed_source
from .metrics import POINTING_TOLERANCE, FrameScores, mean_scores, score_frame
from .random_init import RANDOM_SEED, random_init_engine
from .report import fmt, format_table

METRICS = ("auc", "sauc", "nss", "hit", "box_iou", "box_hit")
METRIC_NAMES = {"auc": "AUC-Judd", "sauc": "sAUC", "nss": "NSS", "hit": "pointing", "box_iou": "box IoU", "box_hit": "box hit"}
MV = "motion vectors"
MV_RAW = "motion vectors (uncompensated)"
SUBSETS = ("all", "static camera", "moving camera")
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
        frame = next(f.image for f in DecodeSpec(source, fps=fps).open().frames() if f.index == index)
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
        self.methods[MV] = MethodResult(MV, "mv")
        for name in ("centre prior", "frame difference", "flow magnitude", "compensated flow", MV_RAW):
            self.methods[name] = MethodResult(name, "baseline")
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
        spec = DecodeSpec(src, fps=seq.fps)
        folder_fps = spec.folder_fps
        n = min(len(seq.masks), cfg.max_frames or len(seq.masks))
        decode = _Timer()
        probe = spec.open().info
        width, height = size = probe.width, probe.height
        masks = load_masks(seq, n, size)
        others = [p for name, p in self._positions.items() if name != seq.name]
        self._elsewhere = next(_cv2_resize_all(np.mean(others, axis=0)[None], size)) if others else None
        flat = masks.reshape(n, -1)
        valid = np.asarray(flat.any(axis=1) & ~flat.all(axis=1))
        if valid.any():
            self.examples[seq.name] = Example.middle_of(src, folder_fps, masks, valid)

        # Baselines on grayscale frames at the working resolution.
        work = bl.working_size(width, height, cfg.work_short_side)
        gray = decode(bl.read_gray, src, work, n, folder_fps)
        if len(gray) != n:
            raise ValueError(f"{src}: decoded {len(gray)} frames but {seq.masks[0].parent} has masks for {n}")
        centre = _Timer()
        prior = centre(bl.centre_prior, n, work[1], work[0])
        self._score("centre prior", seq.name, _cv2_resize_all(prior, size), masks, valid, centre.seconds, n)
        advance()
        diff_t = _Timer()
        diff = diff_t(bl.frame_difference, gray)
        self._score("frame difference", seq.name, _cv2_resize_all(diff, size), masks, valid, decode.seconds + diff_t.seconds, n)
        advance()
        flow_t = _Timer()
        flow = flow_t(bl.farneback_flow, gray)
        mag = flow_t(bl.flow_magnitude, flow)
        self._score("flow magnitude", seq.name, _cv2_resize_all(mag, size), masks, valid, decode.seconds + flow_t.seconds, n)
        advance()
        comp_t = _Timer()
        comp = comp_t(bl.compensated_flow, flow)
        self._score("compensated flow", seq.name, _cv2_resize_all(comp, size), masks, valid,
                    decode.seconds + flow_t.seconds + comp_t.seconds, n)  # fmt: skip
        advance()
        small = np.stack([_nearest(m, work) for m in masks])
        per_frame = bl.background_motion(flow, small)
        camera = float(np.nanmedian(per_frame)) * width / work[0] if np.isfinite(per_frame).any() else float("nan")
        del gray, flow, mag, comp, diff

        # Motion vectors (or their fallback), with and without the camera model.
        mv_t = _Timer()
        motion = mv_t(motion_field, src, fps=folder_fps)
        mv_maps = mv_t(object_motion_maps, motion)
        if len(mv_maps) < n:
            raise ValueError(f"{src}: decoded {len(mv_maps)} frames but {seq.masks[0].parent} has masks for {n}")
        self._score(MV, seq.name, _cv2_resize_all(mv_maps[:n], size), masks, valid, mv_t.seconds, len(mv_maps))
        advance()
        raw_t = _Timer()
        raw = raw_t(object_motion_maps, motion, compensate=False)
        self._score(MV_RAW, seq.name, _cv2_resize_all(raw[:n], size), masks, valid, mv_t.seconds + raw_t.seconds, len(raw))
        advance()
        del raw

        # The model and its random-init control, once per target and stabilisation mode; the fusion.
        for label, engine in self.models:
            for target in cfg.targets:
                for stab in cfg.stabilize if label == "MoSI" else ("none",):
                    t0 = time.perf_counter()
                    result = compute_saliency(engine, src, parse_target(target, engine.meta.num_classes), step=cfg.step,
                                              mode=cfg.mode, batch_size=cfg.batch_size, fps=folder_fps, size=cfg.size,
                                              stabilize=stab, motion=motion)  # fmt: skip
                    # the camera model is shared across rows; charge its time to every stabilised row
                    seconds = time.perf_counter() - t0 + (mv_t.seconds if stab != "none" else 0.0)
                    if len(result.frame_times) < n:
                        raise ValueError(f"{src}: decoded {len(result.frame_times)} frames but {seq.masks[0].parent} has masks for {n}")
                    self._score(model_row(label, target, stab), seq.name, _model_heat(result, n, size), masks, valid, seconds, len(result.frame_times))
                    advance()
                    if label == "MoSI" and stab == "none" and cfg.fusion:
                        f_t = _Timer()
                        fused = dataclasses.replace(result, maps=f_t(fuse, result.maps, mv_maps[: len(result.maps)]), geometry=field_geometry(motion))
                        self._score(fused_row(target), seq.name, _model_heat(fused, n, size), masks, valid,
                                    seconds + mv_t.seconds + f_t.seconds, len(result.frame_times))  # fmt: skip
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


def summary_auc(report: dict[str, Any], target: str, subset: str = "all", metric: str = "auc") -> float:
    """Mean AUC-Judd (metric "sauc": shuffled AUC) of the plain MoSI row for `target` in an
    `evaluate_saliency` report (or its --json), overall or for the "moving" / "static" camera subset.
    StopIteration if the report has no such row."""
    key = {"all": "all", "moving": "moving camera", "static": "static camera"}[subset]
    method = next(m for m in report["methods"] if m["kind"] == "mosi" and m["target"] == target)
    return float(method["summary"][key][metric])


def best_target(methods: list[dict[str, Any]]) -> str | None:
    """The model's target with the highest mean AUC over all sequences (NSS breaks ties)."""
    mosi = [m for m in methods if m["kind"] == "mosi" and np.isfinite(m["summary"]["all"]["auc"])]
    if not mosi:
        return None
    top = max(mosi, key=lambda m: (m["summary"]["all"]["auc"], m["summary"]["all"]["nss"]))
    return str(top["target"])


def model_row(label: str, target: str, stabilize: str) -> str:
    return f"{label} ({target})" if stabilize == "none" else f"{label} ({target}, stabilize {stabilize})"


def fused_row(target: str) -> str:
    return f"MoSI ({target}) x {MV}"


SALIENCY_KINDS = ("mosi", "stabilized", "fused", "mv")  # rows `mosi-tool saliency` can produce


def best_method(methods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Among the rows `mosi-tool saliency` can produce, the one with the highest mean AUC-Judd over all sequences
    (NSS breaks ties), as the saliency options that give it."""
    rows = [m for m in methods if m["kind"] in SALIENCY_KINDS and np.isfinite(m["summary"]["all"]["auc"])]
    if not rows:
        return None
    top = max(rows, key=lambda m: (m["summary"]["all"]["auc"], m["summary"]["all"]["nss"]))
    method = {"mv": "mv", "fused": "fused"}.get(top["kind"], "cam")
    options = {"method": method, "stabilize": top.get("stabilize", "none")}
    if method != "mv":
        options["target"] = top["target"]
    return {"name": top["name"], "auc": top["summary"]["all"]["auc"], "options": options}


def target_wins(methods: list[dict[str, Any]]) -> dict[str, int]:
    """For each target of the model: on how many sequences it has the highest AUC among the targets."""
    mosi = [m for m in methods if m["kind"] == "mosi"]
    wins = {str(m["target"]): 0 for m in mosi}
    sequences = set().union(*(m["per_sequence"] for m in mosi)) if mosi else set()
    for seq in sorted(sequences):
        scored = [m for m in mosi if m["per_sequence"][seq]["frames"]]
        if scored:
            wins[str(max(scored, key=lambda m: m["per_sequence"][seq]["auc"])["target"])] += 1
    return wins


def verdict(mosi: dict[str, float], other: dict[str, float]) -> str:
    """'yes' (MoSI higher on every metric), 'no' (lower or equal on every one) or 'partly (...)'."""
    if not (np.isfinite(mosi["auc"]) and np.isfinite(other["auc"])):
        return "-"
    keys = [k for k in METRICS if k in mosi and k in other]
    better = [k for k in keys if mosi[k] > other[k]]
    if len(better) == len(keys):
        return "yes"
    if not better:
        return "no"
    return "partly (better " + ", ".join(METRIC_NAMES[k] for k in better) + ")"


def comparisons(methods: list[dict[str, Any]], best: str | None, subsets: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The best MoSI target against every other method, on every subset."""
    if best is None:
        return []
    mosi = next(m for m in methods if m["kind"] == "mosi" and m["target"] == best)
    out = []
    for subset in subsets:
        for m in methods:
            if m is mosi:
                continue
            a, b = mosi["summary"][subset], m["summary"][subset]
            out.append({
                "subset": subset, "against": m["name"], "verdict": verdict(a, b),
                **{f"{k}_diff": a[k] - b[k] for k in METRICS},
            })  # fmt: skip
    return out


def render_tables(report: dict[str, Any]) -> str:
    """The human-readable summary: one table per subset, per-sequence AUCs, then plain notes."""
    best = report["best_target"]
    best_name = f"MoSI ({best})"
    methods = report["methods"]
    verdicts = {(c["subset"], c["against"]): c["verdict"] for c in report["comparisons"]}
    parts = []
    for subset, names in report["subsets"].items():
        if not names:
            parts.append(f"{subset}: no sequences")
            continue
        rows = [
            [m["name"], *(m["summary"][subset][k] for k in METRICS),
             fmt(m["ms_per_frame"], 1), m["runtime"], "(this row)" if m["name"] == best_name else verdicts.get((subset, m["name"]), "-")]
            for m in methods
        ]  # fmt: skip
        head = ["method", *(METRIC_NAMES[k] for k in METRICS), "ms/frame", "runs on", f"{best_name} better?"]
        parts.append(format_table(head, rows, f"{subset} ({counted(len(names), 'sequence')}: {', '.join(names)})"))
    short = [m for m in methods if m["kind"] != "random" or m["target"] == best]
    seq_rows = [
        [s["name"], s["scored"], fmt(s["background_motion"], 2), "moving" if s["moving_camera"] else "static",
         *(m["per_sequence"].get(s["name"], {}).get("auc", float("nan")) for m in short)]
        for s in report["sequences"]
    ]  # fmt: skip
    parts.append(format_table(["sequence", "frames", "bg px/f", "camera", *(m["name"] for m in short)], seq_rows, "AUC-Judd per sequence"))
    parts.append("\n".join(notes(report)))
    return "\n\n".join(parts)


def notes(report: dict[str, Any]) -> list[str]:
    """Plain sentences: the best target, the camera-motion split, and every baseline MoSI loses to."""
    best = report["best_target"]
    out = []
    mosi = [m for m in report["methods"] if m["kind"] == "mosi"]
    ranking = sorted(mosi, key=lambda m: -(m["summary"]["all"]["auc"] if np.isfinite(m["summary"]["all"]["auc"]) else -1))
    wins = report["target_wins"]
    out.append("targets by mean AUC-Judd: " + ", ".join(f"{m['target']} {fmt(m['summary']['all']['auc'])} "
               f"(best on {wins[m['target']]} sequences)" for m in ranking) + f"; best: {best}")  # fmt: skip
    top = report.get("best_method")
    if top:
        from ..saliency.defaults import DEFAULT_METHOD, DEFAULT_STABILIZE

        opts = " ".join(f"--{k} {v}" for k, v in top["options"].items())
        method = top["options"]["method"]
        # --stabilize applies to the network's maps only, so it is compared only where a network ran.
        same = method == DEFAULT_METHOD and (method == "mv" or top["options"]["stabilize"] == DEFAULT_STABILIZE)
        out.append(f"best saliency mode by mean AUC-Judd: {top['name']} {fmt(top['auc'])} ({opts}); `mosi-tool saliency` "
                   f"default: --method {DEFAULT_METHOD}, with --stabilize {DEFAULT_STABILIZE} for the MoSI methods"
                   + ("" if same else " (DIFFERS: re-check the default)"))  # fmt: skip
    flow = [s["name"] for s in report.get("sequences", []) if s.get("motion_source", "").startswith("optical flow")]
    if flow:
        out.append(f"the motion-vector rows fall back to optical flow on {len(flow)} of {len(report['sequences'])} sequences "
                   f"({', '.join(flow)}): their frames carry no codec vectors (--source mp4 reads the videos' own)")  # fmt: skip
    moving = report["subsets"]["moving camera"]
    thr = report["config"]["camera_threshold"]
    out.append(f"moving camera (median background flow > {thr:g} px/frame): {', '.join(moving) or 'none'}")
    for subset in report["subsets"]:
        losses = [c["against"] for c in report["comparisons"] if c["subset"] == subset and c["auc_diff"] < 0]
        if report["subsets"][subset]:
            if losses:
                out.append(f"{subset}: MoSI ({best}) LOSES on AUC-Judd to: {', '.join(losses)}")
            else:
                out.append(f"{subset}: MoSI ({best}) beats every other method on AUC-Judd")
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


def examples_sheet(examples: dict[str, Example], report: dict[str, Any], path: str | Path) -> None:
    """Rows: sequences. Columns: the frame with the mask outlined, then the best MoSI target, its random-init
    control and the baselines, each labelled with the sequence's AUC-Judd."""
    import cv2

    from .. import viz

    best = report["best_target"]
    per_seq = {m["name"]: m["per_sequence"] for m in report["methods"]}
    columns = [n for n in (f"MoSI ({best})", model_row("MoSI", str(best), "mv"), MV_RAW, MV, "compensated flow", "centre prior") if n in per_seq]
    tiles = []
    for seq, ex in examples.items():
        framed = ex.image.copy()
        contours, _ = cv2.findContours(ex.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(framed, contours, -1, (0, 255, 0), 2)
        tiles.append(viz.label(framed, f"{seq} #{ex.index} (mask)", 12))
        for name in columns:
            heat = ex.maps[name] / max(float(ex.maps[name].max()), 1e-12)
            tiles.append(viz.label(viz.overlay(ex.image, heat), f"{name}: AUC {fmt(per_seq[name][seq]['auc'], 2)}", 12))
    if not tiles:
        return
    sheet = viz.grid(tiles, 1 + len(columns))
    if Path(path).suffix.lower() in (".jpg", ".jpeg"):  # photographic content: far smaller than PNG
        from PIL import Image

        from ..atomic import atomic_path

        with atomic_path(path) as tmp:
            Image.fromarray(sheet).save(tmp, format="JPEG", quality=85)
    else:
        viz.save_png(sheet, path)


def saliency_chart(report: dict[str, Any], path: str | Path) -> None:
    """AUC-Judd, NSS and pointing per method, one bar per camera subset."""
    from .charts import grouped_bars

    methods = report["methods"]
    names = [m["name"] for m in methods]
    subsets = [s for s in SUBSETS if report["subsets"][s]]
    panels = {
        METRIC_NAMES[k]: {s: [m["summary"][s][k] for m in methods] for s in subsets}
        for k in METRICS
    }  # fmt: skip
    model = Path(report["model"]["path"]).name
    grouped_bars(names, panels, path, f"DAVIS motion saliency, {model} vs baselines (higher is better)",
                 reference={"AUC-Judd": 0.5, "sAUC": 0.5, "NSS": 0.0})  # fmt: skip
