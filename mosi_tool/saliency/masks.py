"""Motion masks at the video's resolution from a frame's un-normalised motion map (`--masks`).

The rule, per frame, on the raw map m (px/frame for `--method mv`: the blurred, time-averaged length of the
camera-compensated motion, `saliency.motion`), chosen on the DAVIS development sequences (docs/EVALUATION.md 2c):

0. **Trust where the frame has texture**: a codec vector (or any motion estimate) is only as good as the
   texture it matched, and flat road, sky or wall carry the vectors that are noise. The map is multiplied by
   c = min(1, g / TEXTURE_SCALE), g the frame's grey-level gradient length (Sobel) blurred by TEXTURE_BLUR
   pixels at the working size.
1. **Threshold relative to the background's residual noise**, not to the frame's peak: the background is
   most of the frame, so its noise level is the frame's median of m; a pixel is moving when
   m > T = max(min(NOISE_FACTOR x median, PEAK_SHARE x peak), FLOOR) (peak: the 99.5th percentile).
   A slow mover next to a fast one stays above T as long as it clearly exceeds the noise (the old rule,
   half of the frame's peak, dropped it); the PEAK_SHARE cap keeps a strong mover whole when the camera's
   residual noise is high. FLOOR (px/frame) is the least speed called motion on a still, clean background,
   at a short side of FLOOR_SHORT_SIDE pixels or more; a smaller picture scales it down with its short side
   (the same motion is fewer pixels a frame there).
   Each pixel must also reach LOCAL_SHARE of the local peak (the maximum over a square of LOCAL_WINDOW frame
   pixels): every mover is cut at half its own height, so the blur of a fast one does not spill over
   its neighbours, and a slow one keeps its own extent.
   The `mv` maps carry the **enclosed speed** (`saliency.motion`, `saliency.geodesic`: each the geometric mean
   with the geodesic distance of the motion from the frame's border; the background reaches the border without
   crossing a change of motion, whatever parallax or followed subject makes its own motion large).
   **The masks' own map** (`update(sharp=...)`, `SaliencyResult.mask_maps`): the same map blurred by 8 px
   instead of 16 (`motion.MASK_BLUR_CELLS`), which spills less around and between movers. It gets its own
   evidence e1 against the same T, its local peak over a square of SHARP_WINDOW frame pixels (a narrower map
   has narrower peaks), and the frame's evidence is the geometric mean sqrt(e x e1): the wide map decides what
   moves, the narrow one where each mover ends. Without it (`MaskConfig.sharp` False, or no such map: `--method cam` or
   `fused`) e is the display map's alone.
2. **Evidence** e = clip(m / T, 0, 2) / 2 (0.5 at the threshold), optionally blended with the previous
   frame's evidence carried along the motion field (`propagate`: the mask follows the object instead of
   being re-thresholded from scratch; `MaskConfig.carry`, off by default: it did not raise J on DAVIS).
3. **Edges from the frame's pixels**: a guided filter (He et al., "Guided Image Filtering", ECCV 2010 / TPAMI
   2013) of e, guided by the frame's grey levels at a working short side of WORK_SHORT_SIDE pixels, its
   linear coefficients computed at half that size (the fast guided filter, He & Sun, arXiv:1505.00996); the
   mask is the filtered evidence above 0.5, resized to the output size. Rules 0 to 2 run at that half size
   (`map_size`: the maps are cells of 8 frame pixels upsampled, the texture confidence is blurred by 4 working
   pixels, so nothing finer is there to lose), and the filter takes their evidence as it is. OpenCV's contrib build (ximgproc)
   is not a dependency, so the filter is the paper's box-filter formulation with `cv2.boxFilter`.
   **3b. Pixels the camera's motion explains** (`saliency.motion_edges`, `update(motion=...)`, where the frame's
   motion is given: `--method mv`, `SaliencyResult.movers`; `MaskConfig.assign_band`, `assign_side`,
   `assign_fit`): where the camera's motion predicts the pixel from the previous frame better than the mover's,
   and well, the evidence falls: it takes back the spill of the codec's blocks past a mover's edge and between
   movers (synthetic movers' union J 0.696 -> 0.795, unseen DAVIS 0.498 -> 0.507). On every pixel (the colour
   step reads the evidence outside the mask too), at the size the colour step reads. Moving the evidence both
   ways within the mask's edge (`assign_side` "both", `assign_band` 6) lowered J on the unseen DAVIS sequences
   (docs/EVALUATION.md 2c). **3c** (`MaskConfig.unexplained_gain`, off): evidence added where the camera's
   motion explains a pixel badly; it raised development J and lowered unseen J (under a fast camera the
   background's residual is large too).
4. **Appearance** (`saliency.appearance`, `MaskConfig.refine`): the refined evidence is blended with a
   video-level colour model of the moving object against its background (default "colour"; "grabcut":
   OpenCV's GrabCut seeded from it; "none": rule 3 is the mask), filtered again with a guided filter of
   radius APPEARANCE_RADIUS, and only the components that hold confident motion are kept, holes filled
   (confident: above `AppearanceConfig.fg_share` in the evidence after rule 3; with `MaskConfig.confident_unfiltered`,
   off by default, `saliency --small-movers`, also in rule 2's before it, where a mover about the edge filter's size
   keeps its peak, and those of rule 2's confident components no larger than SMALL_SIDE x GUIDE_RADIUS working pixels
   square stay in the mask whatever rules 3 and 4 made of them: `_keep_small_cores`).
5. **Valleys** (`MaskConfig.valley`, off by default: it separates the synthetic movers but splits DAVIS
   objects into parts, docs/EVALUATION.md 2c): the mask cut where two basins of the masks' own map (else the
   display map) meet below VALLEY_SHARE of the lower peak (`saliency.valleys`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, no_type_check

import numba
import numpy as np

from .appearance import GRABCUT_SHORT_SIDE, AppearanceConfig, ColourModel, combine, grabcut, solid
from .defaults import FLOOR, FLOOR_SHORT_SIDE, scaled_floor  # defined there: the maps' enclosed speed and the overlay's scale read them too
from .motion_edges import BAND as ASSIGN_BAND, BOX as ASSIGN_BOX, FIT as ASSIGN_FIT, GAIN as ASSIGN_GAIN, FrameMotion, assign_edges
from .pictures import WORK_SHORT_SIDE, Picture, picture, shrink, work_size
from .valleys import valley_cuts

if TYPE_CHECKING:
    from .flow_maps import FlowMaps


NOISE_FACTOR = 3.0  # x the frame's median motion (6 before the masks' own map; docs/EVALUATION.md 2c)
NETWORK_NOISE_FACTOR = 6.0  # the same for the network's maps (--method cam, fused), which have no own map:
# on the fused maps 6 scores 0.651 J on the DAVIS development sequences, 3 scores 0.636
PEAK_SHARE = 0.5  # of the frame's 99.5th percentile
PEAK_PERCENTILE = 99.5
STATS_SAMPLES = 4_000  # at least about this many pixels of a frame's map give its median and peak (every 2nd of
# the masks' maps, `map_size`, at 480p and above; the motion targets' frame boxes keep 8000, their rule before)
LOCAL_SHARE = 0.5  # of the local peak
LOCAL_WINDOW = 64  # frame pixels: the side of the local peak's square window (4 x the maps' blur)
SHARP_WINDOW = 32  # frame pixels: the same on the masks' own map (4 x its blur)
VALLEY_SHARE = 0.7  # rule 5 when asked (`MaskConfig.valley`, `saliency.valleys`): off by default
GUIDE_RADIUS = 8  # pixels at the working size (16 scored 0.009 more J on the DAVIS development sequences but
# dropped the synthetic test's 40-pixel squares from 88% to 65% of frames all half covered)
TEXTURE_SCALE = 0.1  # grey-level gradient (Sobel, grey in [0, 1]) at which the map is fully trusted
TEXTURE_BLUR = 4.0  # Gaussian sigma of the gradient, pixels at the working size
GUIDE_EPS = 1e-3  # on grey levels in [0, 1]
GUIDE_SUBSAMPLE = 2  # the fast guided filter's factor (rule 3)
APPEARANCE_RADIUS = 4  # pixels at the working size: the guided filter after the appearance step
SMALL_SIDE = 3  # x GUIDE_RADIUS: with `MaskConfig.confident_unfiltered`, confident motion of at most this side squared
# (24 x 24 working pixels) is kept whatever the edge filter does to it
REFINES = ("colour", "grabcut", "none")


@dataclass(frozen=True)
class MaskConfig:
    """Settings of `MaskTracker` (defaults: the module constants)."""

    noise_factor: float = NOISE_FACTOR
    floor: float = FLOOR
    floor_short_side: int = FLOOR_SHORT_SIDE  # the floor shrinks below this short side (0: never)
    peak_share: float = PEAK_SHARE
    guide_radius: int = GUIDE_RADIUS  # 0: no edge refinement (the mask is the upsampled evidence above 0.5)
    guide_eps: float = GUIDE_EPS
    guide_subsample: int = GUIDE_SUBSAMPLE  # 1: the exact filter
    texture_scale: float = TEXTURE_SCALE  # 0: the map is trusted everywhere
    texture_blur: float = TEXTURE_BLUR
    carry: float = 0.0  # share of the previous frame's evidence carried along the motion (0: none)
    local_share: float = LOCAL_SHARE  # 0: no local rule
    local_window: float = LOCAL_WINDOW  # frame pixels
    sharp_window: float = SHARP_WINDOW  # frame pixels: the local window on the masks' own map (`update(sharp=)`)
    sharp: bool = True  # use the masks' own map when given (False: the display map alone, as before)
    valley: float = 0.0  # cut the mask along valleys below this share of the lower peak (0: never; rule 5)
    assign_band: int = ASSIGN_BAND  # rule 3b's band, working pixels (0: off); applied where `update` gets the motion
    assign_gain: float = ASSIGN_GAIN
    assign_side: str = "background"  # one of `motion_edges.SIDES`
    assign_fit: float = ASSIGN_FIT  # grey levels in [0, 1]: side "background" only where the camera explains the pixel
    unexplained_gain: float = 0.0  # rule 3c, tried (`motion_edges.RAISE_GAIN`): evidence added where the camera's motion explains a pixel badly
    work_short_side: int = WORK_SHORT_SIDE
    stats_samples: int = STATS_SAMPLES  # rule 1's median and peak from a grid of at least about this many pixels
    optical_flow: bool = False  # rule 1 on the codec's maps and optical-flow maps together (`saliency.flow_maps`; over the speed budget)
    refine: str = "colour"  # one of REFINES: the appearance step (rule 4); needs the frame's image
    confident_unfiltered: bool = False  # rule 4's confident motion also from rule 2's evidence, its small confident
    # cores kept (`_keep_small_cores`): keeps a mover about the edge filter's size, but also small regions beside the
    # annotated object (unseen DAVIS J 0.498 -> 0.462; docs/EVALUATION.md 2c, "Small movers"): off unless
    # `saliency --small-movers`
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)

    def __post_init__(self) -> None:
        if self.refine not in REFINES:
            raise ValueError(f"refine must be one of {', '.join(REFINES)}, got {self.refine!r}")


def motion_threshold(raw: np.ndarray, cfg: MaskConfig = MaskConfig()) -> float:
    """T of one raw map (any shape, units of the map): see the module docstring, rule 1."""
    if raw.size == 0:
        return float("inf")
    if raw.ndim != 2:
        median, peak = median_and_percentile(raw, PEAK_PERCENTILE)
        return float(_threshold(cfg.noise_factor * median, cfg.peak_share * peak, cfg))
    return float(motion_thresholds(raw[None], cfg)[0])


def motion_thresholds(maps: np.ndarray, cfg: MaskConfig = MaskConfig()) -> np.ndarray:
    """(K,) float64: `motion_threshold` of each map of a stack (K, h, w), the same values, computed at once."""
    k, h, w = maps.shape
    if not maps.size:
        return np.full(k, np.inf)
    step = max(1, int((h * w / cfg.stats_samples) ** 0.5))  # the map is smooth: a regular grid of it suffices
    median, peak = medians_and_percentiles(maps[:, ::step, ::step].reshape(k, -1), PEAK_PERCENTILE)
    return _threshold(cfg.noise_factor * median.astype(np.float64), cfg.peak_share * peak.astype(np.float64), cfg)


def _threshold(noise: float | np.ndarray, peak: float | np.ndarray, cfg: MaskConfig) -> np.ndarray:
    """max(min(noise, peak), floor): rule 1's T from the noise and peak levels (scaled already), of one map or
    of each map of a stack."""
    return np.maximum(np.minimum(noise, peak), max(cfg.floor, 1e-12))


def _thresholds_of(raw: np.ndarray, cfg: MaskConfig) -> float | np.ndarray:
    """T of one map (h, w), as a float, or of each map of a stack (K, h, w), (K,)."""
    return motion_thresholds(raw, cfg) if raw.ndim == 3 else motion_threshold(raw, cfg)


def median_and_percentile(a: np.ndarray, q: float) -> tuple[float, float]:
    """(np.median(a), np.percentile(a, q)) of a finite array, the same values to the bit, from one partition
    instead of two for float32 (half the time: a mask's threshold needs both on every frame; other dtypes
    take numpy's two calls); `medians_and_percentiles` of its values as one row."""
    if a.dtype != np.float32 or a.size == 0:
        return float(np.median(a)), float(np.percentile(a, q))
    median, top = medians_and_percentiles(a.reshape(1, -1), q)
    return float(median[0]), float(top[0])


def medians_and_percentiles(rows: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """((K,), (K,)): np.median and np.percentile(q) of each row of rows (K, n), n > 0, as `rows`' dtype; for
    float32 the same values to the bit from one partition of the rows: the percentile is numpy's "linear"
    method as numpy computes it for float32, the virtual index (n - 1) q / 100 and the two order statistics
    around it interpolated in float32."""
    if rows.dtype != np.float32:
        return np.median(rows, axis=1), np.percentile(rows, q, axis=1)
    n = rows.shape[1]
    share = q / 100
    virtual = n * share + (1 + share * -1) - 1  # numpy's formula for alpha = beta = 1, operation for operation
    lo = min(max(int(np.floor(virtual)), 0), n - 1)
    hi = min(lo + 1, n - 1)
    t = virtual - lo
    middle = [(n - 1) // 2, n // 2]
    part = np.partition(rows, sorted({*middle, lo, hi}), axis=1)
    median = np.mean(part[:, middle], axis=1)  # np.median: the mean of the middle one (twice) or two, in float32
    below, above = part[:, lo], part[:, hi]
    diff = above - below
    top = above - diff * np.float32(1 - t) if t >= 0.5 else below + diff * np.float32(t)
    return median, top


def evidence(raw: np.ndarray, cfg: MaskConfig = MaskConfig(), scale: float = 1.0, threshold: float | np.ndarray | None = None,
             window: float | None = None) -> np.ndarray:  # fmt: skip
    """clip(raw / T, 0, 2) / 2 as float32, same shape: 0.5 exactly at the threshold (rule 2). raw: one map
    (h, w) or a stack (K, h, w); scale: map pixels per frame pixel (for the local window). threshold: T
    (default: `motion_threshold` of raw, of each map of a stack: `motion_thresholds`), a stack's (K,);
    window: the local peak's window in frame pixels (default `cfg.local_window`)."""
    maps = np.ascontiguousarray(raw, np.float32).reshape(-1, *raw.shape[-2:])  # (K, h, w)
    t = np.asarray(_thresholds_of(raw, cfg) if threshold is None else threshold, np.float32).reshape(-1)  # each map's T in float32
    if cfg.local_share > 0:
        import cv2

        k = max(3, int((cfg.local_window if window is None else window) * scale) | 1)
        kernel = np.ones((k, k), np.uint8)
        peaks = np.empty_like(maps)
        for m, p in zip(maps, peaks):
            cv2.dilate(m, kernel, dst=p)
    else:
        peaks = np.zeros_like(maps)
    return _evidence(maps, peaks, t, np.float32(max(cfg.local_share, 0))).reshape(raw.shape)


@numba.njit(cache=True, nogil=True, fastmath={"nnan", "ninf"})  # finite maps: lets LLVM vectorise min/max
@no_type_check  # numba code: numpy scalars throughout
def _evidence(maps: np.ndarray, peaks: np.ndarray, t: np.ndarray, share: np.float32) -> np.ndarray:
    """clip(m / max(T, share x peak), 0, 2) / 2 per pixel of maps (K, h, w) float32, with their local peaks
    (K, h, w) and thresholds T (K,), in float32 as numpy computes it: `evidence`'s arithmetic in one pass."""
    out = np.empty_like(maps)
    zero, two, half = np.float32(0), np.float32(2), np.float32(0.5)
    for k in range(maps.shape[0]):
        tk = t[k]
        m, p, o = maps[k].ravel(), peaks[k].ravel(), out[k].ravel()
        for i in range(m.size):
            q = m[i] / max(tk, share * p[i])
            o[i] = min(max(q, zero), two) * half
    return out


def rule_one(raw: np.ndarray, sharp: np.ndarray | None, cfg: MaskConfig, scale: float) -> np.ndarray:
    """Rules 1 and 2 (module docstring): the evidence of one map (h, w) or each map of a stack (K, h, w),
    with the masks' own map(s) `sharp` of the same shape (None, or `cfg.sharp` False: raw alone). cfg: its
    floor already scaled to the frame (`MaskTracker.floor_scaled`); scale: map pixels per frame pixel."""
    t = _thresholds_of(raw, cfg)
    e = evidence(raw, cfg, scale, t)
    if sharp is not None and cfg.sharp:
        e = np.sqrt(e * evidence(sharp, cfg, scale, t, cfg.sharp_window))
    return e


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float, subsample: int = 1, reduced: bool = False,
                  small_guide: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Grey-guided filter of `src` by `guide` (both float32, guide (H, W) in [0, 1]); box windows of side
    2 * radius + 1; (H, W). He, Sun & Tang, "Guided Image Filtering", TPAMI 2013, Algorithm 1. subsample s > 1:
    the fast guided filter (He & Sun, arXiv:1505.00996): the linear coefficients computed at 1/s of the size
    (radius / s), upsampled, and applied to the full-size guide. `src` is at the guide's size, or at that
    reduced size (used as it is: the masks' evidence is made there); any other size is resized first.
    reduced: with the fast filter, the output at the reduced size, the coefficients applied to the guide
    shrunk there (for a step that works there: the masks' colour step); (H / s, W / s). small_guide: the guide
    shrunk already (`shrink_guide`), when the caller needs it too."""
    import cv2

    h, w = guide.shape
    if reduced_size(w, h, radius, subsample) is not None:
        i, r = small_guide if small_guide is not None else shrink_guide(guide, subsample), round(radius / subsample)
        p = src if src.shape == i.shape else shrink_guide(_at(src, (w, h)), subsample)
    else:
        i, p, r = guide, _at(src, (w, h)), radius
    k = (2 * r + 1, 2 * r + 1)
    box = lambda x: cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mean_i, mean_p = box(i), box(p)
    a = (box(i * p) - mean_i * mean_p) / (box(i * i) - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    mean_a, mean_b = box(a), box(b)
    if reduced and i is not guide:
        return mean_a * i + mean_b
    if mean_a.shape != (h, w):
        mean_a = cv2.resize(mean_a, (w, h), interpolation=cv2.INTER_LINEAR)
        mean_b = cv2.resize(mean_b, (w, h), interpolation=cv2.INTER_LINEAR)
    return mean_a * guide + mean_b


def reduced_size(width: int, height: int, radius: int, subsample: int) -> tuple[int, int] | None:
    """(width, height) at which the fast guided filter of a width x height guide computes its coefficients
    (`guided_filter`: 1/subsample of each side, rounded as OpenCV rounds a resize by a factor); None where the
    filter runs exact (no subsample, or a radius under two reduced pixels)."""
    if subsample <= 1 or radius < 2 * subsample:
        return None
    return max(1, round(width / subsample)), max(1, round(height / subsample))


def shrink_guide(x: np.ndarray, subsample: int) -> np.ndarray:
    """(h, w) float32 `x` at 1/subsample of each side (area average; the size `reduced_size` says)."""
    import cv2

    return cv2.resize(x, None, fx=1 / subsample, fy=1 / subsample, interpolation=cv2.INTER_AREA)


def _at(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) float32 `x` at `size` = (width, height): itself, or resized bilinearly."""
    import cv2

    return x if x.shape[::-1] == tuple(size) else cv2.resize(x, size, interpolation=cv2.INTER_LINEAR)


def texture_confidence(grey: np.ndarray, cfg: MaskConfig = MaskConfig(), size: tuple[int, int] | None = None) -> np.ndarray:
    """(h, w) float32 in [0, 1]: how far the motion map is trusted at each pixel of a grey image (h, w) in
    [0, 1] (rule 0 of the module docstring); at `size` = (width, height) if given (the maps' size)."""
    import cv2

    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    g = _smooth_blur(cv2.magnitude(gx, gy), cfg.texture_blur, size)
    return np.clip(g / cfg.texture_scale, 0, 1)


def _confident(e: np.ndarray, motion_e: np.ndarray | None) -> np.ndarray:
    """(h, w) float32: the larger of the filtered evidence e (h, w) and rule 2's evidence `motion_e` (resized to
    e's size; None: e) at each pixel: what the solid rule counts as confident motion. The edge filter lowers the
    peak of a mover about its own size (a 24-px square at 640x360 peaked at 0.6 to 0.7, under FG_SHARE), so the
    evidence before it counts too (`appearance.solid`)."""
    return e if motion_e is None else np.maximum(e, _at(np.asarray(motion_e, np.float32), e.shape[::-1]))


def _keep_small_cores(e: np.ndarray, motion_e: np.ndarray, share: float, area: float) -> np.ndarray:
    """(h, w) float32: evidence e (h, w) raised to rule 2's evidence `motion_e` (any size, resized to e's) in its
    components above `share` (8-connected) of at most `area` pixels of e: a mover about the edge filter's size,
    whose evidence the filter lowers under the threshold, keeps its confident core (`MaskConfig.confident_unfiltered`)."""
    import cv2

    core = _at(np.asarray(motion_e, np.float32), e.shape[::-1])
    _, labels, stats, _ = cv2.connectedComponentsWithStats((core > share).astype(np.uint8), connectivity=8)
    small = stats[:, cv2.CC_STAT_AREA] <= area
    small[0] = False
    return np.where(small[labels], np.maximum(e, core), e).astype(np.float32)


def _smooth_blur(x: np.ndarray, sigma: float, size: tuple[int, int] | None = None) -> np.ndarray:
    """Gaussian blur of (h, w) float32 `x` by `sigma` pixels, at `size` = (width, height) (default x's own);
    for sigma >= 2, computed at half the size (2x2 block averages, sigma / 2): a wide blur keeps nothing
    finer than the half size."""
    import cv2

    size = size or x.shape[::-1]
    if sigma < 2:
        out = cv2.GaussianBlur(x, (0, 0), sigma)
    else:
        out = cv2.GaussianBlur(cv2.resize(x, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), (0, 0), sigma / 2)
    return out if out.shape[::-1] == tuple(size) else cv2.resize(out, size, interpolation=cv2.INTER_LINEAR)


def map_size(width: int, height: int, cfg: MaskConfig = MaskConfig()) -> tuple[int, int]:
    """(width, height) of the maps `MaskTracker.update` reads for a video of width x height: the working size
    (`work_size`) at the fast guided filter's reduced size (`reduced_size`), where rules 0 to 2 run (module
    docstring); the working size itself for the exact filter."""
    w, h = work_size(width, height, cfg.work_short_side)
    return reduced_size(w, h, cfg.guide_radius, cfg.guide_subsample) or (w, h)


def colour_short(cfg: MaskConfig) -> int | None:
    """The short side of the colour image the appearance step of `cfg` reads (`Picture.colour`); None: none."""
    return {"colour": cfg.appearance.short_side, "grabcut": GRABCUT_SHORT_SIDE}.get(cfg.refine)


def propagate(previous: np.ndarray, flow: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """`previous` (h, w) carried one frame forward along `flow` (gh, gw, 2), px/frame at `frame_size` =
    (width, height), the motion from frame t-1 to t at frame t (`MotionField.vectors`): out(x) = previous(x - v(x))."""
    import cv2

    h, w = previous.shape
    v = cv2.resize(np.ascontiguousarray(flow, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    mx = xs - v[..., 0] * (w / frame_size[0])
    my = ys - v[..., 1] * (h / frame_size[1])
    return cv2.remap(previous, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class MaskTracker:
    """Masks of consecutive frames: feed each frame's raw map (at the maps' size, `map_size`) and its pixels
    (`pictures.picture`).

    `update` returns the frame's refined evidence (float32 in about [0, 1]; moving where > 0.5) at the working
    size or smaller (the colour step's); `mask` resizes it to any output size. State: the previous evidence
    (for `MaskConfig.carry`), the colour model, the previous grey levels (rule 3b).
    """

    def __init__(self, cfg: MaskConfig = MaskConfig()):
        self.cfg = cfg
        self._previous: np.ndarray | None = None
        self._scaled: tuple[int, MaskConfig] | None = None  # (short side, the config with its floor scaled)
        self._colours = ColourModel(cfg.appearance)
        self._grey: np.ndarray | None = None  # the previous frame's grey levels at the working size (rule 3b)
        self._flow: FlowMaps | None = None  # `MaskConfig.optical_flow`'s state

    def update(self, raw: np.ndarray, image: np.ndarray | Picture | None = None, flow: np.ndarray | None = None,
               frame_size: tuple[int, int] | None = None, sharp: np.ndarray | None = None,
               motion: FrameMotion | None = None) -> np.ndarray:  # fmt: skip
        """raw: (h, w) map, at the maps' size (`map_size`) or at the working size (`work_size`); image: the
        frame's `Picture` (`picture`, as `colour_short` asks), or its (H, W, 3) uint8 RGB image at the video's
        size or already at the working size (None: no edge refinement); frame_size: the video's (width,
        height) (default the image's, else raw's); flow: (gh, gw, 2) px/frame at `frame_size`, for carrying the
        previous evidence (None: not carried); sharp: raw's size, the masks' own map, the same motion less
        blurred (module docstring, rule 1; None or `MaskConfig.sharp` False: raw alone); motion: the frame's
        motion at the working size, for rule 3b (None: not applied). Frames come in order, each once. Returns
        the evidence at the working size, or at the colour step's where it runs (`colour_short`; at raw's size
        without an image): `mask` resizes it, boxes scale by its own size."""
        frame = frame_size or ((image.shape[1], image.shape[0]) if isinstance(image, np.ndarray) else raw.shape[::-1])
        pic = picture(image, frame, self.cfg.work_short_side, self.colour_short) if isinstance(image, np.ndarray) else image
        if self.cfg.optical_flow and pic is not None:
            flow_maps = self._flow_maps().update(pic.grey, frame, raw.shape[::-1])
            if flow_maps is not None:  # a region must move in both
                raw = np.sqrt(raw * flow_maps[0])
                sharp = np.sqrt(sharp * flow_maps[1]) if sharp is not None else None
        if pic is not None and self.cfg.texture_scale > 0:
            confidence = texture_confidence(pic.grey, self.cfg, raw.shape[::-1])
            raw = raw * confidence
            sharp = sharp * confidence if sharp is not None else None
        e = rule_one(raw, sharp, self.floor_scaled(min(frame)), raw.shape[1] / frame[0])
        if self.cfg.carry > 0 and self._previous is not None and flow is not None and frame_size is not None:
            e = (1 - self.cfg.carry) * e + self.cfg.carry * propagate(self._previous, flow, frame_size)
        self._previous = e
        if pic is None:
            return e
        motion_e = e if self.cfg.confident_unfiltered else None  # rule 2's: confident motion for rule 4 too
        grey = pic.grey
        # the colour step alone reads rule 3's output, at its own size: the fast filter's reduced size, if that is it
        reduced = (self.cfg.refine == "colour" and pic.colour is not None
                   and pic.colour.shape[1::-1] == reduced_size(grey.shape[1], grey.shape[0], self.cfg.guide_radius, self.cfg.guide_subsample))  # fmt: skip
        assign = motion is not None and self.cfg.assign_band != 0
        small = shrink_guide(grey, self.cfg.guide_subsample) if reduced and assign else None  # the filter's and 3b's
        if self.cfg.guide_radius > 0:
            e = guided_filter(grey, e, self.cfg.guide_radius, self.cfg.guide_eps, self.cfg.guide_subsample, reduced, small)
        if not reduced:
            e = _at(e, grey.shape[::-1])
        if assign:  # rule 3b at the evidence's size (the colour step's, where it reads that)
            now = grey if small is None else small
            previous, self._grey = self._grey, now
            if previous is not None and previous.shape == now.shape:
                k = e.shape[1] / grey.shape[1]
                band = self.cfg.assign_band if self.cfg.assign_band < 0 else max(1, round(self.cfg.assign_band * k))
                e = assign_edges(e, now, previous, motion, band, self.cfg.assign_gain,
                                 self.cfg.assign_side, self.cfg.assign_fit, max(3, 2 * round(ASSIGN_BOX * k / 2) + 1),
                                 self.cfg.unexplained_gain)  # fmt: skip
        if self.cfg.refine != "none" and pic.colour is not None:
            e = self._appearance(e, pic.colour, grey, motion_e)
        if motion_e is not None:  # a small mover's confident motion stays, whatever the edge filter and colours did
            e = _keep_small_cores(e, motion_e, self.cfg.appearance.fg_share, (SMALL_SIDE * self.cfg.guide_radius * e.shape[1] / grey.shape[1]) ** 2)
        if self.cfg.valley > 0:
            landscape = sharp if sharp is not None and self.cfg.sharp else raw
            e = np.where(valley_cuts(_at(landscape, e.shape[::-1]), e > 0.5, self.cfg.valley), np.float32(0), e)
        return e

    def _flow_maps(self) -> FlowMaps:
        """The optical-flow maps' state (`MaskConfig.optical_flow`), made on first use."""
        from .flow_maps import FlowMaps

        if self._flow is None:
            self._flow = FlowMaps()
        return self._flow

    @property
    def colour_short(self) -> int | None:
        """`colour_short` of its config."""
        return colour_short(self.cfg)

    def update_stack(self, raws: np.ndarray, frame_size: tuple[int, int], sharp: np.ndarray | None = None) -> np.ndarray:
        """(K, h, w) float32: `update(raws[k], frame_size=frame_size, sharp=sharp[k])` of each map of a stack
        (K, h, w) in turn, the same values, computed at once: for a config whose rules need no image and
        no earlier frame (no `carry`, no `valley`). Raises ValueError for one that does."""
        if self.cfg.carry > 0 or self.cfg.valley > 0:
            raise ValueError("update_stack takes a config without carry or valley (their rules read the frames one by one)")
        return rule_one(raws, sharp, self.floor_scaled(min(frame_size)), raws.shape[2] / frame_size[0])

    def floor_scaled(self, short: int) -> MaskConfig:
        """The config with its floor for a frame of short side `short` pixels (module docstring, rule 1)."""
        floor = scaled_floor(short, self.cfg.floor, self.cfg.floor_short_side)
        if floor == self.cfg.floor:
            return self.cfg
        if self._scaled is None or self._scaled[0] != short:
            self._scaled = (short, dataclasses.replace(self.cfg, floor=floor))
        return self._scaled[1]

    def _appearance(self, e: np.ndarray, colour: np.ndarray, grey: np.ndarray, motion_e: np.ndarray | None) -> np.ndarray:
        """Rule 4 on evidence e (at the working size, or already at the colour's), the frame's colour (h', w', 3)
        uint8 RGB (`Picture.colour`) and grey levels (h, w) in [0, 1] at the working size: the colour step at
        a short side of `AppearanceConfig.short_side`, its size (GrabCut at its own, then (h, w)). motion_e:
        rule 2's evidence, before the edge filter (any size; None: e alone): a component is kept where it or e is
        confident."""
        h, w = grey.shape
        if self.cfg.refine == "grabcut":
            c = guided_filter(grey, _at(grabcut(e, colour), (w, h)), APPEARANCE_RADIUS, self.cfg.guide_eps)
            return solid(c, _confident(e, motion_e), self.cfg.appearance.fg_share) if self.cfg.appearance.solid else c
        grey = shrink(grey, self.cfg.appearance.short_side)
        e = e if e.shape == grey.shape else shrink(e, self.cfg.appearance.short_side)
        scale = e.shape[1] / w
        c = combine(e, colour, self._colours, scale)
        c = guided_filter(grey, c, max(1, round(APPEARANCE_RADIUS * scale)), self.cfg.guide_eps)
        c = solid(c, _confident(e, motion_e), self.cfg.appearance.fg_share) if self.cfg.appearance.solid else c
        return c

    @staticmethod
    def mask(refined: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """(H, W) bool at `size` = (width, height) of refined evidence (`update`)."""
        import cv2

        if refined.shape[::-1] != size:
            refined = cv2.resize(refined, size, interpolation=cv2.INTER_LINEAR)
        return refined > 0.5
