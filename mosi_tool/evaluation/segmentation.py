"""Motion masks and boxes as segmentations: the DAVIS-2016 measures, per method, against the object masks.

Measures (Perazzi et al., "A Benchmark Dataset and Evaluation Methodology for Video Object Segmentation",
CVPR 2016), per sequence over every frame but the first and the last (as the DAVIS-2016 code does), then
averaged over sequences:
- **J** (region similarity): the IoU of the mask with the object's (1 when both are empty);
- **J recall**: the fraction of frames with J > 0.5;
- **F** (boundary F-measure): precision and recall of the mask's boundary pixels against the object's,
  a boundary pixel matching when one of the other lies within a disk of radius `BOUND_TH` x the image
  diagonal (DAVIS's 0.008: 8 px at 854x480); boundaries as the DAVIS toolkit draws them (`boundary`);
- the **strongest box** (the first of the method's boxes) against the object's bounding box: its IoU, its hit
  rate (IoU >= 0.5, the CorLoc criterion) and how often its centre lies on the object, over the frames that
  show the object (as `eval saliency` and bench/targets_box.py score boxes; NaN for a sequence without one);
- **frames/s**: frames over the seconds the method spent (decoding and motion included; read it as a
  ranking on a loaded machine).

Methods live in a registry (`METHODS`, like `models.backbones.ARCHS`): each takes a sequence's `Inputs`
and returns its masks and strongest boxes. The report (`report_dict`) and its text (`render`) are apart from
the scoring. No mask of the data set is used by any method.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..hardware import opencv_without_ipp
from ..saliency.boxes import box_iou, component_boxes, mask_box
from ..saliency.defaults import BLUR_CELLS, MASK_BLUR_CELLS
from ..saliency.geodesic import Enclosure
from ..saliency.appearance import AppearanceConfig
from ..saliency.masks import NETWORK_NOISE_FACTOR, VALLEY_SHARE, MaskConfig, MaskTracker, colour_short, map_size, work_size
from ..saliency.motion_edges import RAISE_GAIN
from ..saliency.pictures import Picture, picture
from ..saliency.regions import Regions
from .davis import Sequence, check_counts, load_masks
from .report import fmt, format_table
from .timed import TimedItems

BOUND_TH = 0.008  # of the image diagonal (DAVIS)
J_RECALL = 0.5
BOX_HIT = 0.5
DEV_SEQUENCES = ("breakdance", "camel", "car-shadow", "dog")  # the variants were chosen on these only


def jaccard(mask: np.ndarray, truth: np.ndarray) -> float:
    """J of two (H, W) bool masks: |A & B| / |A | B|, 1 when both are empty."""
    union = np.count_nonzero(mask | truth)
    return 1.0 if union == 0 else np.count_nonzero(mask & truth) / union


def boundary(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: the boundary map of the DAVIS toolkit (its `seg2bmap`; Perazzi et al. 2016): the pixels
    whose value differs from their east, south or south-east neighbour, on either side of the edge. Along the
    last row only the east neighbour counts, along the last column only the south one, so the image's own
    border is no boundary (a mask touching it has none there)."""
    m = mask.astype(bool)
    east, south, south_east = np.zeros_like(m), np.zeros_like(m), np.zeros_like(m)
    east[:, :-1], south[:-1, :], south_east[:-1, :-1] = m[:, 1:], m[1:, :], m[1:, 1:]
    b = (m ^ east) | (m ^ south) | (m ^ south_east)
    b[-1, :] = m[-1, :] ^ east[-1, :]
    b[:, -1] = m[:, -1] ^ south[:, -1]
    b[-1, -1] = False
    return b


def boundary_f(mask: np.ndarray, truth: np.ndarray, bound_th: float = BOUND_TH) -> float:
    """DAVIS F of two (H, W) bool masks (see the module docstring): boundary pixels (`boundary`) match within a
    disk of radius ceil(bound_th x the diagonal) pixels (x^2 + y^2 <= r^2); 1 when neither has a boundary, 0
    when one has none."""
    import cv2

    h, w = truth.shape
    r = max(1, int(np.ceil(bound_th * np.hypot(h, w))))
    ys, xs = np.mgrid[-r : r + 1, -r : r + 1]
    disk = (xs * xs + ys * ys <= r * r).astype(np.uint8)
    bm, bt = boundary(mask), boundary(truth)
    nm, nt = np.count_nonzero(bm), np.count_nonzero(bt)
    if nm == 0 and nt == 0:
        return 1.0
    if nm == 0 or nt == 0:
        return 0.0
    precision = np.count_nonzero(bm & cv2.dilate(bt.astype(np.uint8), disk).astype(bool)) / nm
    recall = np.count_nonzero(bt & cv2.dilate(bm.astype(np.uint8), disk).astype(bool)) / nt
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def box_scores(box: list[float] | None, truth: np.ndarray) -> tuple[float, float, float]:
    """(IoU, hit, centre on the object) of one box [x0, y0, x1, y1, ...] against an object mask; no box or no
    object: zeros."""
    tb = mask_box(truth)
    if box is None or tb is None:
        return 0.0, 0.0, 0.0
    iou = box_iou(box, tb)
    cx, cy = int((box[0] + box[2]) / 2), int((box[1] + box[3]) / 2)
    inside = 0 <= cy < truth.shape[0] and 0 <= cx < truth.shape[1] and bool(truth[cy, cx])
    return iou, float(iou >= BOX_HIT), float(inside)


@dataclass
class Inputs(TimedItems):
    """One sequence's material, made once when a method first asks and shared by the others; each method is
    charged the time of every item it uses (`Method.uses`)."""

    source: Path
    fps: float | None
    count: int  # frames scored (the masks')
    _pictures: dict[tuple[int, int | None], list[Picture]] = field(default_factory=dict)

    @cached_property
    def frames(self) -> list[np.ndarray]:
        """RGB frames (H, W, 3) uint8, the first `count`."""
        from ..video.clips import ClipSpec

        def read() -> list[np.ndarray]:
            return [f.image for f, _ in zip(ClipSpec(fps=self.fps).open(self.source).frames(), range(self.count))]

        return self._timed("frames", read)

    @cached_property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames, from the video's header."""
        from ..video.clips import ClipSpec

        info = ClipSpec(fps=self.fps).open(self.source).info
        return info.width, info.height

    def pictures(self, cfg: MaskConfig) -> list[Picture]:
        """The first `count` frames' pixels as `saliency --masks` hands them to its mask step with `cfg`
        (`saliency.pictures.picture` of frames that keep their planes), made once per working and colour size."""
        from ..video.clips import ClipSpec

        key = (cfg.work_short_side, colour_short(cfg))
        if key not in self._pictures:

            def read() -> list[Picture]:
                frames = ClipSpec(fps=self.fps).open(self.source).frames(planes=True)
                return [picture(f, self.size, *key) for f, _ in zip(frames, range(self.count))]

            self._pictures[key] = self._timed("pictures", read)
        return self._pictures[key]

    @cached_property
    def saliency(self) -> Any:
        """`compute_motion_saliency` of the source (`--method mv`), full-frame maps, with the masks' own maps
        (`mask_maps`, as `saliency --masks` makes them)."""
        from ..saliency.compute import compute_motion_saliency

        return self._timed("saliency", lambda: compute_motion_saliency(self.source, fps=self.fps, mask_maps=True))

    @cached_property
    def saliency_estimated(self) -> Any:
        """`saliency` with the reference distances estimated from the vectors alone (`measure` False: the rule
        before `motion.MEASURE_REFERENCES`)."""
        from ..saliency.compute import compute_motion_saliency

        return self._timed("saliency_estimated", lambda: compute_motion_saliency(self.source, fps=self.fps, mask_maps=True, measure=False))

    @cached_property
    def saliency_similarity(self) -> Any:
        """`saliency` with the camera model before `motion.CAMERA_MODEL` ("auto"): a similarity on every frame."""
        from ..saliency.motion import MEASURE_REFERENCES, compute_motion_saliency
        from ..video.motion import read_motion

        def run() -> Any:
            field = read_motion(self.source, fps=self.fps, model="similarity", measure=MEASURE_REFERENCES)
            return compute_motion_saliency(self.source, fps=self.fps, motion=field, mask_maps=True)

        return self._timed("saliency_similarity", run)

    @cached_property
    def field(self) -> Any:
        """The motion field (`saliency.motion.motion_field`), for the methods that carry masks along it."""
        from ..saliency.motion import motion_field

        return self._timed("field", lambda: motion_field(self.source, fps=self.fps))

    @cached_property
    def flow(self) -> np.ndarray:
        """Farneback flow of grey frames at the baselines' working size (`evaluation.baselines`)."""
        from . import baselines as bl

        h, w = self.frames[0].shape[:2]
        return self._timed("flow", lambda: bl.farneback_flow(bl.read_gray(self.source, bl.working_size(w, h), self.count, self.fps)))

    @cached_property
    def fused(self) -> Any:
        """`--method fused` of the source with the default model (`--target motion`, maps scaled per frame)."""
        from .. import load_model
        from ..saliency.compute import compute_saliency

        def run() -> Any:
            engine = load_model(None, device="cpu")
            return compute_saliency(engine, self.source, "motion", fps=self.fps, method="fused", motion=self.field, norm="frame")

        return self._timed("fused", run)

    def raw_maps(self, size: tuple[int, int], fused: bool = False, sharp: bool = False, item: str = "saliency") -> np.ndarray:
        """The `mv` maps (fused: the `--method fused` maps; sharp: the masks' own `mv` maps, `mask_maps`;
        item: the saliency result they come from, `saliency` or a variant of it: `saliency_similarity`,
        `saliency_estimated`) of the first `count` frames, un-normalised, at `size` (what `saliency --masks` reads)."""
        import dataclasses

        from ..saliency.render import heat_frames

        result = self.fused if fused else getattr(self, item)
        if sharp:
            result = dataclasses.replace(result, maps=result.mask_maps)
        n = min(self.count, len(result.frame_times))
        return heat_frames(result, 0, n, *size, "raw")

    def maps_at_blur(self, size: tuple[int, int], blur: float, enclosure: Enclosure | None = Enclosure()) -> np.ndarray:
        """The `mv` maps at a blur (Gaussian sigma in cells), of `field`, un-normalised, of the first `count`
        frames at `size`, with these enclosure settings (`saliency.motion.mv_maps`), or (enclosure None) the
        plain motion maps before the enclosed speed (`object_motion_maps`)."""
        import dataclasses

        from ..saliency.motion import mv_maps, object_motion_maps
        from ..saliency.render import heat_frames

        maps = object_motion_maps(self.field, blur) if enclosure is None else mv_maps(self.field, blur, enclosure)
        result = dataclasses.replace(self.saliency, maps=maps)
        return heat_frames(result, 0, min(self.count, len(result.frame_times)), *size, "raw")


Output = tuple[list[np.ndarray], list[list[float] | None]]  # masks (H, W) bool per frame, strongest box per frame


def _mv_masks(cfg: MaskConfig, carry_field: bool = False, fused: bool = False, own_blur: float | None = None,
              item: str = "saliency", enclosure: Enclosure | None = Enclosure(), wide_enclosed: bool = True,
              primary: bool = False) -> Callable[[Inputs], Output]:  # fmt: skip
    """The `saliency --masks/--boxes` pipeline (`saliency.regions`) with `cfg`, on the `mv` maps and the masks'
    own (`SaliencyResult.mask_maps`; fused: on the `--method fused` maps of the default model; own_blur: the
    narrower one at this blur, cells, instead of `motion.MASK_BLUR_CELLS`; item: the `Inputs` saliency result
    the maps come from, `Inputs.raw_maps`; enclosure: the enclosed speed's settings, `saliency.geodesic`,
    None: the plain motion maps; wide_enclosed False: the wider map plain, the narrower one alone enclosed;
    primary: the primary mover's masks and box, `saliency --primary`)."""

    def run(x: Inputs) -> Output:
        w, h = x.size
        size, maps = work_size(w, h, cfg.work_short_side), map_size(w, h, cfg)  # the evidence's and the maps' (`Regions`)
        pictures = x.pictures(cfg)
        default = enclosure == Enclosure()  # the maps `saliency` made
        if fused or (default and wide_enclosed):
            raw = x.raw_maps(maps, fused, item=item)
        else:
            raw = x.maps_at_blur(maps, BLUR_CELLS, enclosure if wide_enclosed else None)
        sharp = None
        if cfg.sharp and not fused:
            blur = MASK_BLUR_CELLS if own_blur is None else own_blur
            sharp = x.raw_maps(maps, sharp=True, item=item) if default and own_blur is None else x.maps_at_blur(maps, blur, enclosure)
        vectors = x.field.vectors if carry_field else None
        motion = getattr(x, item).movers if cfg.assign_band != 0 and not fused else None  # as `saliency` hands them
        regions = Regions(w, h, cfg, primary=primary, cuts=x.saliency.cuts)  # as `saliency` runs it, from these pictures and maps
        masks, boxes = [], []
        with opencv_without_ipp():  # as `saliency` makes them: the same bytes on every run
            for i, pic in enumerate(pictures):
                r = raw[min(i, len(raw) - 1)]
                e = regions.evidence_of(i, pic, r, sharp[min(i, len(sharp) - 1)] if sharp is not None else None,
                                        vectors[min(i, len(vectors) - 1)] if vectors is not None else None,
                                        motion.nearest(i) if motion is not None else None)  # fmt: skip
                found = regions.primary_boxes(i)
                if found is None:
                    found = component_boxes(e > 0.5, e, regions.scale(e), limit=1)
                boxes.append(found[0][:5] if found else None)
                masks.append(MaskTracker.mask(e, (w, h)))
        return masks, boxes

    return run


def _half_peak(x: Inputs) -> Output:
    """The rule `--masks`/`--boxes` used before: the map scaled by the video's display range, no area on a
    frame whose peak is under 0.2, else half of the frame's peak; at the maps' default size, resized."""
    import cv2

    from ..saliency.regions import motion_boxes, motion_mask
    from ..saliency.render import heat_frames

    h, w = x.frames[0].shape[:2]
    sw, sh = x.saliency.geometry.resize
    n = min(x.count, len(x.saliency.frame_times))
    heat = heat_frames(x.saliency, 0, n, sw, sh, "video")
    masks = [cv2.resize(motion_mask(m).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0 for m in heat]
    boxes = [next(iter(motion_boxes(m, (w / sw, h / sh))), None) for m in heat]
    return masks, boxes


def _flow_threshold(x: Inputs) -> Output:
    """Baseline: Farneback flow minus its median (`baselines.compensated_flow`), half of each frame's peak."""
    import cv2

    from . import baselines as bl

    h, w = x.frames[0].shape[:2]
    comp = bl.compensated_flow(x.flow)
    masks, boxes = [], []
    for m in comp:
        k = m >= 0.5 * float(m.max()) if m.max() > 0 else np.zeros(m.shape, bool)
        masks.append(cv2.resize(k.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0)
        b = component_boxes(k, m, (w / m.shape[1], h / m.shape[0]), limit=1)
        boxes.append(b[0] if b else None)
    return masks, boxes


def _centre_box(x: Inputs) -> Output:
    """Baseline: the centred box of half the frame's width and height, as mask and box, on every frame."""
    h, w = x.frames[0].shape[:2]
    m = np.zeros((h, w), bool)
    m[h // 4 : h - h // 4, w // 4 : w - w // 4] = True
    box = [w / 4, h / 4, w - w / 4, h - h / 4, 1.0]
    return [m] * len(x.frames), [box] * len(x.frames)


@dataclass(frozen=True)
class Method:
    key: str  # what --methods names
    name: str  # the report's row
    run: Callable[[Inputs], Output]
    uses: tuple[str, ...]  # shared `Inputs` items whose time is charged to it
    kind: str = "mask"  # "mask" (saliency --masks and its variants) or "baseline"


METHODS: dict[str, Method] = {m.key: m for m in (
    Method("masks", "motion masks (saliency --masks)", _mv_masks(MaskConfig()), ("pictures", "saliency")),
    Method("masks-not-enclosed", "  the motion maps alone (not with the enclosed speed's: the rule before)", _mv_masks(MaskConfig(), enclosure=None), ("pictures", "saliency", "field")),
    Method("masks-primary", "  saliency --primary: the primary mover only", _mv_masks(MaskConfig(), primary=True), ("pictures", "saliency")),
    Method("masks-unfiltered-confidence", "  saliency --small-movers: small confident motion kept before the edge filter", _mv_masks(MaskConfig(confident_unfiltered=True)), ("pictures", "saliency")),
    Method("masks-enclosed-own", "  the enclosed speed in the narrower map alone (the wide map plain)", _mv_masks(MaskConfig(), wide_enclosed=False), ("pictures", "saliency", "field")),
    Method("masks-border-background", "  every border cell background (border level infinite, not 3 x its median)", _mv_masks(MaskConfig(), enclosure=Enclosure(border_factor=float("inf"))), ("pictures", "saliency", "field")),
    Method("masks-allow0.15", "  free change between neighbours 0.15 px/frame instead of 0.25", _mv_masks(MaskConfig(), enclosure=Enclosure(allow=0.15)), ("pictures", "saliency", "field")),
    Method("masks-allow0.35", "  free change between neighbours 0.35 px/frame instead of 0.25", _mv_masks(MaskConfig(), enclosure=Enclosure(allow=0.35)), ("pictures", "saliency", "field")),
    Method("masks-passes3", "  3 forward and backward scans instead of 2", _mv_masks(MaskConfig(), enclosure=Enclosure(passes=3)), ("pictures", "saliency", "field")),
    Method("masks-no-parallax", "  the camera's parallax not taken as background (the rule before)", _mv_masks(MaskConfig(), enclosure=Enclosure(parallax_share=0, parallax_spanning=False)), ("pictures", "saliency", "field")),
    Method("masks-parallax-stretches", "  parallax stretches of the border only, no regions spanning the frame", _mv_masks(MaskConfig(), enclosure=Enclosure(parallax_spanning=False)), ("pictures", "saliency", "field")),
    Method("masks-parallax-quarter", "  parallax stretches from a quarter of their side instead of half", _mv_masks(MaskConfig(), enclosure=Enclosure(parallax_share=0.25)), ("pictures", "saliency", "field")),
    Method("masks-flow", "  on the codec's maps and optical-flow maps together (MaskConfig.optical_flow)", _mv_masks(MaskConfig(optical_flow=True)), ("pictures", "saliency")),
    Method("masks-unexplained", "  with rule 3c: evidence added where the camera's motion explains a pixel badly (tried)", _mv_masks(MaskConfig(unexplained_gain=RAISE_GAIN)), ("pictures", "saliency")),
    Method("masks-no-camera-edges", "  without rule 3b (edges the camera's motion explains kept, the rule before)", _mv_masks(MaskConfig(assign_band=0)), ("pictures", "saliency")),
    Method("masks-camera-band6", "  rule 3b one way within 6 working pixels of the mask's edge (its first version)", _mv_masks(MaskConfig(assign_band=6)), ("pictures", "saliency")),
    Method("masks-camera-band24", "  rule 3b one way within 24 working pixels of the mask's edge", _mv_masks(MaskConfig(assign_band=24)), ("pictures", "saliency")),
    *(Method(f"masks-camera-band6-fit{f}", f"  rule 3b one way within 6 pixels, in full where the camera's residual is at most {f} (not 0.02)", _mv_masks(MaskConfig(assign_band=6, assign_fit=f)), ("pictures", "saliency")) for f in (0.01, 0.04)),
    Method("masks-assign", "  rule 3b both ways within 6 pixels: edges to the motion that explains them better (tried before)", _mv_masks(MaskConfig(assign_band=6, assign_side="both", assign_fit=0.0)), ("pictures", "saliency")),
    Method("masks-similarity", "  the camera model before: a similarity on every frame", _mv_masks(MaskConfig(), item="saliency_similarity"), ("pictures", "saliency_similarity")),
    Method("masks-estimated-refs", "  reference distances estimated from the vectors alone (not measured on the pictures)",
           _mv_masks(MaskConfig(), item="saliency_estimated"), ("pictures", "saliency_estimated")),  # fmt: skip
    Method("masks-one-map", "  on the display map alone (no masks' own map; noise factor 3)", _mv_masks(MaskConfig(sharp=False)), ("pictures", "saliency")),
    Method("masks-before-own-map", "  the rule before the masks' own map (display map alone, noise factor 6)", _mv_masks(MaskConfig(sharp=False, noise_factor=6.0), enclosure=None), ("pictures", "saliency")),
    Method("masks-own-blur0.7", "  the masks' own map blurred by 0.7 cells instead of 1", _mv_masks(MaskConfig(), own_blur=0.7), ("pictures", "saliency", "field")),
    Method("masks-own-blur1.5", "  the masks' own map blurred by 1.5 cells instead of 1", _mv_masks(MaskConfig(), own_blur=1.5), ("pictures", "saliency", "field")),
    Method("masks-noise4", "  noise factor 4 instead of 3", _mv_masks(MaskConfig(noise_factor=4.0)), ("pictures", "saliency")),
    Method("masks-noise6", "  noise factor 6 instead of 3", _mv_masks(MaskConfig(noise_factor=6.0)), ("pictures", "saliency")),
    Method("masks-sharp-window64", "  local window 64 px on the masks' own map instead of 32", _mv_masks(MaskConfig(sharp_window=64)), ("pictures", "saliency")),
    Method("masks-window48", "  local window 48 px on the display map instead of 64", _mv_masks(MaskConfig(local_window=48)), ("pictures", "saliency")),
    Method("masks-valleys", "  cut along motion valleys (share 0.7)", _mv_masks(MaskConfig(valley=VALLEY_SHARE)), ("pictures", "saliency")),
    Method("masks-valleys50", "  cut along motion valleys (share 0.5)", _mv_masks(MaskConfig(valley=0.5)), ("pictures", "saliency")),
    Method("masks-no-appearance", "  without the appearance step (refine none)", _mv_masks(MaskConfig(refine="none")), ("pictures", "saliency")),
    Method("masks-grabcut", "  GrabCut instead of the colour model", _mv_masks(MaskConfig(refine="grabcut")), ("pictures", "saliency")),
    Method("masks-colour240", "  colour model at short side 240 instead of 120", _mv_masks(MaskConfig(appearance=AppearanceConfig(short_side=240))), ("pictures", "saliency")),
    Method("masks-not-solid", "  colour model without the solid-object rule", _mv_masks(MaskConfig(appearance=AppearanceConfig(solid=False))), ("pictures", "saliency")),
    Method("masks-fixed-floor", "  floor 0.5 px/frame at every size (not scaled below 480 px)", _mv_masks(MaskConfig(floor_short_side=0)), ("pictures", "saliency")),
    Method("masks-no-texture", "  without the texture confidence", _mv_masks(MaskConfig(texture_scale=0.0)), ("pictures", "saliency")),
    Method("masks-no-guide", "  without edge refinement", _mv_masks(MaskConfig(guide_radius=0)), ("pictures", "saliency")),
    Method("masks-guide16", "  guided filter radius 16", _mv_masks(MaskConfig(guide_radius=16)), ("pictures", "saliency")),
    Method("masks-no-local", "  without the local-peak rule", _mv_masks(MaskConfig(local_share=0.0)), ("pictures", "saliency")),
    Method("masks-floor2", "  floor 2 px/frame", _mv_masks(MaskConfig(floor=2.0)), ("pictures", "saliency")),
    Method("masks-carry", "  carried along the motion (0.5)", _mv_masks(MaskConfig(carry=0.5), carry_field=True), ("pictures", "saliency", "field")),
    Method("masks-fused", "  on --method fused maps (default model)", _mv_masks(MaskConfig(floor=0.0, noise_factor=NETWORK_NOISE_FACTOR), fused=True), ("pictures", "field", "fused")),
    Method("masks-fused-noise3", "  on --method fused maps, noise factor 3 (the mv maps')", _mv_masks(MaskConfig(floor=0.0), fused=True), ("pictures", "field", "fused")),
    Method("half-peak", "half of the frame's peak (before)", _half_peak, ("frames", "saliency"), "baseline"),
    Method("flow-threshold", "thresholded compensated flow", _flow_threshold, ("frames", "flow"), "baseline"),
    Method("centre-box", "centre-prior box", _centre_box, ("frames",), "baseline"),
)}  # fmt: skip

MEASURES = ("j", "j_recall", "f", "box_iou", "box_hit", "centre_hit")
MEASURE_NAMES = {"j": "J mean", "j_recall": "J recall", "f": "F mean", "box_iou": "box IoU", "box_hit": "box hit",
                 "centre_hit": "centre on object"}  # fmt: skip


def score_sequence(masks: list[np.ndarray], boxes: list[list[float] | None], truth: np.ndarray, cut: bool = False) -> dict[str, float]:
    """Every measure of one method on one sequence (frames 1 .. n-2 of `truth`, (n, H, W) bool; 1 .. n-1 when
    `cut`: the sequence goes on after them (`--max-frames`), and DAVIS leaves out only its true last): J, J recall and
    F over all of them (an empty mask on a frame without the object scores 1), the box measures over those that
    show the object (NaN when none does: a box has nothing to find on the others); "frames" and "box_frames"
    count them."""
    n = len(truth)
    frames = range(1, n - (0 if cut else 1)) if n > 2 else range(n)
    regions, located = [], []
    for i in frames:
        m = masks[min(i, len(masks) - 1)]
        j = jaccard(m, truth[i])
        regions.append((j, float(j > J_RECALL), boundary_f(m, truth[i])))
        if truth[i].any():
            located.append(box_scores(boxes[min(i, len(boxes) - 1)], truth[i]))
    r, b = np.asarray(regions, np.float64).reshape(-1, 3), np.asarray(located, np.float64).reshape(-1, 3)
    out = {k: float(r[:, c].mean()) for c, k in enumerate(MEASURES[:3])}
    out |= {k: float(b[:, c].mean()) if len(b) else float("nan") for c, k in enumerate(MEASURES[3:])}
    return out | {"frames": len(regions), "box_frames": len(located)}


def evaluate_segmentation(sequences: list[Sequence], methods: list[str] | None = None, max_frames: int | None = None,
                          dev: tuple[str, ...] = DEV_SEQUENCES) -> dict[str, Any]:  # fmt: skip
    """Run `methods` (keys of `METHODS`; default all) on every sequence; the report (`report_dict`)."""
    chosen = [METHODS[m] for m in (methods or list(METHODS))]
    per: dict[str, dict[str, dict[str, float]]] = {m.name: {} for m in chosen}
    seconds = {m.name: 0.0 for m in chosen}
    frames = {m.name: 0 for m in chosen}
    kinds: dict[str, str] = {}
    for seq in sequences:
        check_counts(seq)
        n = min(len(seq.masks), max_frames or len(seq.masks))
        x = Inputs(seq.source, seq.fps if seq.is_folder else None, n)
        truth = None
        for m in chosen:
            earlier = [u for u in m.uses if u in x.spent]  # made by an earlier method: charge their time too
            t0 = time.perf_counter()
            masks, boxes = m.run(x)
            own = time.perf_counter() - t0
            if truth is None:
                h, w = masks[0].shape
                truth = load_masks(seq, n, (w, h))
            per[m.name][seq.name] = score_sequence(masks, boxes, truth, cut=n < len(seq.masks))
            kinds[m.name] = m.kind
            seconds[m.name] += own + x.seconds(*earlier)
            frames[m.name] += n
    return report_dict(per, seconds, frames, kinds, [s.name for s in sequences], dev)


def report_dict(per: dict[str, dict[str, dict[str, float]]], seconds: dict[str, float], frames: dict[str, int],
                kinds: dict[str, str], names: list[str], dev: tuple[str, ...]) -> dict[str, Any]:  # fmt: skip
    """{"subsets": {name: [sequences]}, "methods": [{"name", "per_sequence", "summary": {subset: {measure}},
    "fps"}]}: development sequences, unseen ones (never used to choose a variant), all."""
    subsets = {"unseen": [s for s in names if s not in dev], "development": [s for s in names if s in dev], "all": names}
    out = []
    for name, seqs in per.items():
        summary = {}
        for sub, members in subsets.items():
            rows = [seqs[s] for s in members if s in seqs]
            summary[sub] = {k: _mean([r[k] for r in rows]) for k in MEASURES} | {"sequences": len(rows)}
        out.append({"name": name, "kind": kinds.get(name, "mask"), "per_sequence": seqs,
                    "summary": summary, "fps": frames[name] / seconds[name] if seconds[name] > 0 else float("nan")})  # fmt: skip
    return {"evaluation": "segmentation", "dev_sequences": list(dev), "subsets": subsets, "methods": out}


def _mean(values: list[float]) -> float:
    """The mean of the finite values (a sequence without the object has no box measures), NaN if none."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def render(report: dict[str, Any]) -> str:
    """The report as text: one table per subset, then J per sequence."""
    parts = []
    for sub, names in report["subsets"].items():
        if not names:
            continue
        rows = [[m["name"], *(m["summary"][sub][k] for k in MEASURES), fmt(m["fps"], 1)] for m in report["methods"]]
        parts.append(format_table(["method", *(MEASURE_NAMES[k] for k in MEASURES), "frames/s"], rows,
                                  f"segmentation, {sub} ({len(names)} sequences: {', '.join(names)})"))  # fmt: skip
    names = report["subsets"]["all"]
    rows = [[m["name"], *(m["per_sequence"].get(s, {}).get("j", float("nan")) for s in names)] for m in report["methods"]]
    parts.append(format_table(["method", *names], rows, "J per sequence"))
    return "\n\n".join(parts)
