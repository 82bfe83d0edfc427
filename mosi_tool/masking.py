"""Motion-guided token masks for VideoMAE-style pre-training, from `targets`' `patch_motion`.

VideoMAE cuts a clip of T frames into tubes of `tubelet` frames x 16 x 16 pixels and hides a share of them
from the encoder. MOFO (Moohnai/MOFO) hides a fixed share of the tubes inside the motion area and fills the
rest of the overall share from outside it; MGMAE and MGM (Fan et al., ICCV 2023) choose the tubes to hide
from the motion inside them. `motion_guided_mask` does the first with the motion area taken per token from
the motion itself: a tube is inside the motion area when its motion reaches `threshold` (patch_motion is in
[0, 1], normalised over the video).
"""

from __future__ import annotations

import numpy as np

THRESHOLD = 0.25  # patch_motion at or above which a tube is in the motion area


def motion_guided_mask(patch_motion: np.ndarray, ratio: float = 0.9, inside_ratio: float = 0.75, tubelet: int = 2,
                       rng: np.random.Generator | int | None = None, threshold: float = THRESHOLD, tube: bool = False) -> np.ndarray:  # fmt: skip
    """A VideoMAE token mask (True: hidden) for one clip's patch motion.

    patch_motion: (T, H/16, W/16) in [0, 1] (`targets`' array for the clip's frames; float16 is fine), T a
    multiple of `tubelet`. Each time step of tokens averages `tubelet` frames. Of its tokens, round(ratio * N)
    are hidden: round(inside_ratio * n_in) of the n_in tokens in the motion area (motion >= `threshold`),
    chosen at random, and the rest at random outside it; when one side has too few tokens, the other takes
    the remainder. Each time step draws its own mask, following the motion (MGMAE's motion-guided masking);
    tube=True draws one mask from the clip's mean motion and repeats it at every time step (VideoMAE's tube
    masking, as MOFO masks inside its box). Returns (T / tubelet, H/16, W/16) bool. Raises ValueError for a
    bad shape, tubelet or ratio, or a NaN in patch_motion (`targets` writes none; a NaN token is neither inside nor
    outside the motion area, so fewer than round(ratio * N) tokens were hidden: none for an all-NaN clip).
    """
    motion = np.asarray(patch_motion, np.float32)
    if tubelet < 1:
        raise ValueError(f"tubelet must be at least 1, got {tubelet}")
    if motion.ndim != 3 or len(motion) % tubelet:
        raise ValueError(f"patch_motion must be (T, h, w) with T a multiple of tubelet={tubelet}, got {motion.shape}")
    if np.isnan(motion).any():
        raise ValueError(f"patch_motion holds {int(np.isnan(motion).sum())} NaN value(s): it must be in [0, 1] everywhere")
    for name, value in (("ratio", ratio), ("inside_ratio", inside_ratio)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    t, h, w = motion.shape
    tokens = motion.reshape(t // tubelet, tubelet, h, w).mean(axis=1)  # (T', h, w)
    if tube:
        one = motion_guided_mask(tokens.mean(axis=0, keepdims=True), ratio, inside_ratio, 1, gen, threshold)  # (1, h, w)
        return np.repeat(one, len(tokens), axis=0)
    mask = np.zeros(tokens.shape, bool)
    n = h * w
    total = int(round(ratio * n))
    for k, frame in enumerate(tokens.reshape(len(tokens), n)):
        inside = np.flatnonzero(frame >= threshold)
        outside = np.flatnonzero(frame < threshold)
        want_in = min(len(inside), int(round(inside_ratio * len(inside))), total)
        want_out = min(len(outside), total - want_in)
        want_in = min(len(inside), total - want_out)  # outside could not take its share: inside takes the rest
        chosen = np.concatenate([gen.choice(inside, want_in, replace=False), gen.choice(outside, want_out, replace=False)])
        mask[k].reshape(-1)[chosen.astype(np.int64)] = True
    return mask
