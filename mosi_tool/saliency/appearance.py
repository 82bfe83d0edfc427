"""Appearance for motion masks: what the moving object looks like decides its extent (`MaskConfig.refine`).

Motion evidence alone finds where an object moves, not where it ends: flat parts of a mover carry no motion
vectors, and the blur of the maps spills onto the background. Training-free video segmentation fills this gap
with appearance (Papazoglou & Ferrari, "Fast Object Segmentation in Unconstrained Video", ICCV 2013: motion
gives a rough inside/outside estimate, per-video colour models and a graph cut give the segmentation).
Two refinements of the motion evidence e (float32 in [0, 1], moving where > 0.5, `masks.MaskTracker`):

- **colour** (`ColourModel` + `combine`, the default; at a short side of SHORT_SIDE pixels): colour histograms of the foreground (e > FG_SHARE) and of
  the background (farther than BG_DISTANCE working pixels from e > 0.5) accumulated over the video with a decay
  per frame (the video-level appearance model of FST, as histograms instead of GMMs: one pass over the pixels a frame);
  each pixel's colour posterior p(fg | colour), limited to the neighbourhood of the motion by a spatial prior
  (the blurred motion mask), is blended with e: c = MOTION_WEIGHT x e + (1 - MOTION_WEIGHT) x p x prior.
- **grabcut** (`grabcut`; `MaskConfig(refine="grabcut")`, the `masks-grabcut` row of `eval segmentation`, no
  `saliency` option): OpenCV's GrabCut (Rother et al., SIGGRAPH 2004: per-frame colour GMMs + graph cut)
  seeded from e at a short side of GRABCUT_SHORT_SIDE pixels: e > GRABCUT_SURE = foreground, e > 0.5 =
  probable foreground, near the motion = probable background, far from it = background. Several times the
  cost of the colour step for less J on the DAVIS development sequences (docs/EVALUATION.md 2c).

Then `solid`: objects are solid and move, so a component of the mask is kept only where it holds confident
motion (e > FG_SHARE) and its holes are filled (the inside-outside idea: what the moving outline encloses is
object). Every constant was chosen by J on the DAVIS development sequences only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import no_type_check

import numba
import numpy as np

BITS = 5  # per colour channel (RGB): 32768 histogram bins
DECAY = 0.9  # per frame: the histograms' memory (about ten frames)
FG_SHARE = 0.75  # evidence above which a pixel is confident motion (foreground samples, component support)
BG_DISTANCE = 10  # working pixels: background samples lie farther than this from the motion mask (40: 0.003
# more J on the DAVIS development sequences, but the synthetic three movers' union J fell from 0.65 to 0.48)
PRIOR_SIGMA = 30.0  # working pixels: Gaussian blur of the motion mask, the spatial prior
PRIOR_GAIN = 10.0  # the prior is min(1, PRIOR_GAIN x blurred mask): 1 on and near the motion (sigma 20 and
# gain 6: 0.014 less J on the DAVIS development sequences, the same on the synthetic movers)
MOTION_WEIGHT = 0.3  # of the motion evidence in the blend with the colour posterior
MIN_SAMPLES = 50.0  # foreground weight the model needs before it is used
SHORT_SIDE = 120  # pixels: the colour step runs at this short side (the distances above are at 240 and scaled;
# 240 scored 0.012 more J on the DAVIS development sequences at three times the cost: over the speed budget)
GRABCUT_SHORT_SIDE = 160  # pixels
GRABCUT_ITERATIONS = 2
GRABCUT_SURE = 0.7  # evidence above which GrabCut takes a pixel as sure foreground
GRABCUT_NEAR = 80  # working pixels: probable background within this distance of the motion, background beyond


@dataclass(frozen=True)
class AppearanceConfig:
    """Settings of the appearance step (defaults: the module constants)."""

    bits: int = BITS
    decay: float = DECAY
    fg_share: float = FG_SHARE
    bg_distance: int = BG_DISTANCE
    prior_sigma: float = PRIOR_SIGMA
    prior_gain: float = PRIOR_GAIN
    motion_weight: float = MOTION_WEIGHT
    solid: bool = True  # keep motion-supported components and fill their holes
    short_side: int = SHORT_SIDE


def _disk(diameter: int) -> np.ndarray:
    import cv2

    d = max(3, int(diameter) | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d))


def _wide_blur(x: np.ndarray, sigma: float, factor: int = 2) -> np.ndarray:
    """Gaussian blur of (h, w) float32 `x` by `sigma` pixels, computed at 1/`factor` of the size (a wide
    kernel costs the most of the appearance step at full size) and resized back."""
    import cv2

    h, w = x.shape
    small = cv2.resize(x, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), sigma / factor), (w, h), interpolation=cv2.INTER_LINEAR)


class ColourModel:
    """Foreground and background colour histograms of one video, fed frame by frame (`feed`).

    Bins: the top `bits` bits of R, G and B. Each frame multiplies both histograms by `decay` and adds the
    frame's samples, so the model follows slow changes of light and pose.
    """

    def __init__(self, cfg: AppearanceConfig = AppearanceConfig()):
        self.cfg = cfg
        self.bins = 1 << (3 * cfg.bits)
        self.fg = np.zeros(self.bins)
        self.bg = np.zeros(self.bins)
        self._table = np.empty(self.bins, np.float32)  # `posterior`'s, its entries rewritten each frame ...
        self._stamp = np.zeros(self.bins, np.int64)  # ... where a pixel of that frame reads them: the frame's number
        self._frame = 0

    def quantise(self, image: np.ndarray) -> np.ndarray:
        """(h, w) int32 bin index of an (h, w, 3) uint8 RGB image."""
        return _quantise(np.ascontiguousarray(image), self.cfg.bits)

    def feed(self, image: np.ndarray, e: np.ndarray, fg_share: float, near: np.ndarray) -> np.ndarray:
        """Add one frame, in one pass over its pixels: both histograms times `decay`, plus its foreground
        samples (where e > fg_share) and background samples (where `near` is 0) by their bins (`quantise`);
        image (h, w, 3) uint8, e (h, w) float32, near (h, w) uint8. Returns the bins (h, w) int32."""
        self.fg *= self.cfg.decay  # in place: decay x fg, then + 1 a sample (exact: the counts stay far under 2**52)
        self.bg *= self.cfg.decay
        return _feed(np.ascontiguousarray(image), np.ascontiguousarray(e, np.float32), np.float32(fg_share),
                     np.ascontiguousarray(near, np.uint8), self.cfg.bits, self.fg, self.bg)  # fmt: skip

    def posterior(self, bins: np.ndarray) -> np.ndarray | None:
        """(h, w) float32 p(foreground | colour) with equal priors and add-0.1 smoothing; None before the model
        has MIN_SAMPLES of foreground."""
        total = self.fg.sum()
        if total < MIN_SAMPLES:
            return None
        self._frame += 1
        return _posterior_of(bins, self.fg, self.bg, total + 0.1 * self.bins, self.bg.sum() + 0.1 * self.bins, self._table,
                             self._stamp, self._frame)  # fmt: skip


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _posterior_of(bins: np.ndarray, fg: np.ndarray, bg: np.ndarray, fg_norm: float, bg_norm: float, table: np.ndarray,
                  stamp: np.ndarray, frame: int) -> np.ndarray:  # fmt: skip
    """(h, w) float32: each pixel's table[bin], table = pf / (pf + pb), pf = (fg + 0.1) / fg_norm and pb likewise
    (numpy's float64 operations in its order, then rounded to float32), made in one pass over the pixels for
    the bins they hold only (stamped with `frame`; a frame holds a few thousand of the 32768)."""
    h, w = bins.shape
    out = np.empty((h, w), np.float32)
    for i in range(h):
        for j in range(w):
            k = bins[i, j]
            if stamp[k] != frame:
                pf = (fg[k] + 0.1) / fg_norm
                pb = (bg[k] + 0.1) / bg_norm
                table[k] = np.float32(pf / (pf + pb))
                stamp[k] = frame
            out[i, j] = table[k]
    return out


@numba.njit(cache=True, nogil=True, inline="always")
@no_type_check  # numba code: numpy scalars throughout
def _bin(r: np.uint8, g: np.uint8, b: np.uint8, bits: int) -> np.int32:
    """The histogram bin of one RGB colour: the top `bits` bits of R, G and B."""
    shift = 8 - bits
    return ((np.int32(r) >> shift) << (2 * bits)) | ((np.int32(g) >> shift) << bits) | (np.int32(b) >> shift)


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _quantise(image: np.ndarray, bits: int) -> np.ndarray:
    """`ColourModel.quantise`: each pixel's bin."""
    h, w = image.shape[:2]
    bins = np.empty((h, w), np.int32)
    for i in range(h):
        for j in range(w):
            bins[i, j] = _bin(image[i, j, 0], image[i, j, 1], image[i, j, 2], bits)
    return bins


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _feed(image: np.ndarray, e: np.ndarray, fg_share: np.float32, near: np.ndarray, bits: int, fg: np.ndarray,
          bg: np.ndarray) -> np.ndarray:  # fmt: skip
    """`ColourModel.feed`'s pass: each pixel's bin (`quantise`), and + 1 in fg or bg where it is a sample."""
    h, w = e.shape
    bins = np.empty((h, w), np.int32)
    for i in range(h):
        for j in range(w):
            b = _bin(image[i, j, 0], image[i, j, 1], image[i, j, 2], bits)
            bins[i, j] = b
            if e[i, j] > fg_share:
                fg[b] += 1.0
            if near[i, j] == 0:
                bg[b] += 1.0
    return bins


def combine(e: np.ndarray, image: np.ndarray, model: ColourModel, scale: float = 1.0) -> np.ndarray:
    """Motion evidence e (h, w) float32 blended with the colour posterior of `image` (h, w, 3) uint8 RGB near the
    motion; feeds the frame to `model` first. scale: these pixels per working pixel (the config's distances are
    in working pixels, short side 240). Returns (h, w) float32 in [0, 1] (moving where > 0.5); e itself while
    the model is empty."""
    import cv2

    cfg = model.cfg
    moving = e > 0.5
    near = cv2.dilate(moving.view(np.uint8), _disk(round(cfg.bg_distance * scale)))
    bins = model.feed(image, e, cfg.fg_share, near)
    p = model.posterior(bins)
    if p is None:
        return e
    p = cv2.GaussianBlur(p, (0, 0), 1.5 * scale)
    prior = np.clip(cfg.prior_gain * _wide_blur(moving.astype(np.float32), cfg.prior_sigma * scale), 0, 1)
    return cfg.motion_weight * e + (1 - cfg.motion_weight) * p * prior


def grabcut(e: np.ndarray, image: np.ndarray, short: int = GRABCUT_SHORT_SIDE) -> np.ndarray:
    """GrabCut of `image` (h, w, 3) uint8 RGB seeded from evidence e (h, w) (see the module docstring); (h, w)
    float32 in {0, 1}, or e unchanged when it has too few moving pixels."""
    import cv2

    h, w = e.shape
    s = min(1.0, short / min(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    es = cv2.resize(e, size, interpolation=cv2.INTER_AREA)
    moving = es > 0.5
    if np.count_nonzero(moving) < 10:
        return e
    near = cv2.dilate(moving.astype(np.uint8), _disk(round(GRABCUT_NEAR * s))) > 0
    seeds = np.where(near, cv2.GC_PR_BGD, cv2.GC_BGD).astype(np.uint8)
    seeds[moving] = cv2.GC_PR_FGD
    seeds[es > GRABCUT_SURE] = cv2.GC_FGD
    small = cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
    try:
        cv2.grabCut(small, seeds, None, np.zeros((1, 65)), np.zeros((1, 65)), GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # one class without samples (all background or all foreground)
        return e
    fg = ((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)).astype(np.float32)
    return cv2.resize(fg, (w, h), interpolation=cv2.INTER_LINEAR)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """(h, w) bool: `mask` with every background region that does not touch the image border filled."""
    import cv2

    h, w = mask.shape
    ring = np.zeros((h + 2, w + 2), np.uint8)  # the mask inside a one-pixel background ring: every region that
    ring[1:-1, 1:-1] = mask  # touches the border joins the ring, and one flood fill from a corner reaches them all
    cv2.floodFill(ring, None, (0, 0), 2, flags=4)
    return ring[1:-1, 1:-1] != 2


def solid(c: np.ndarray, e: np.ndarray, fg_share: float = FG_SHARE) -> np.ndarray:
    """Refined evidence c (h, w) with the components of c > 0.5 that hold no pixel of e > fg_share removed and
    the kept ones' holes filled; values stay on their side of 0.5 (kept: at least 0.51, removed: at most 0.49)
    so the mask's scores still rank boxes."""
    import cv2

    mask = c > 0.5
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return c
    support = np.zeros(n, bool)
    support[labels[e > fg_share]] = True
    support[0] = False
    kept = fill_holes(support[labels])
    return np.where(kept, np.maximum(c, 0.51), np.minimum(c, 0.49)).astype(np.float32)
