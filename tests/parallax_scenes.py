"""Synthetic scenes of a camera translating sideways over ground at several depths: parallax the camera model
cannot hold, with a known mover (`bench/masks_synthetic.py --scenes parallax`, tests/test_masks.py).

The camera moves right, so the scene moves left in the picture, by P px/frame times each row's depth factor:
a far layer along the top (0.4), ground whose nearness grows down the frame (0.7 to 1.3), and, in the scenes
named "band", near ground along the bottom edge (2.6: rocks close to the lens). The textures are smooth noise
at three scales (no flat areas: every cell carries motion).
"""

from __future__ import annotations

import numpy as np

W, H, N = 640, 360, 48
P = 3.0  # px/frame: the ground's motion at depth factor 1
SCENES = {
    "band": "a mover the camera follows, on the ground, near ground along the bottom edge",
    "followed": "the same mover and ground, no near band",
    "cut": "a large mover the camera follows, cut by the bottom edge (58% of it)",
    "entering": "a square entering at the right edge, moving left 4 x P (the scene's way, faster)",
    "band-entering": "the same square, with the near band",
    "poles": "the followed mover, two poles close to the lens crossing the frame in front of it (2.6 x P)",
}


def smooth_texture(h: int, w: int, seed: int) -> np.ndarray:
    """(h, w, 3) uint8: random colour noise at 64, 16 and 4 px, summed and stretched to 0..255."""
    import cv2

    rng = np.random.default_rng(seed)
    out = np.zeros((h, w, 3), np.float32)
    for scale, weight in ((64, 0.5), (16, 0.3), (4, 0.2)):
        small = rng.random((h // scale + 2, w // scale + 2, 3)).astype(np.float32)
        out += weight * cv2.resize(small, (w + 2 * scale, h + 2 * scale), interpolation=cv2.INTER_CUBIC)[:h, :w]
    out = (out - out.min()) / (out.max() - out.min())
    return (out * 255).astype(np.uint8)


def row_speeds(band: bool) -> np.ndarray:
    """(H,) float32 px/frame: each row's motion to the left."""
    y = np.arange(H) / H
    s = np.where(y < 0.3, 0.4, 0.7 + 0.6 * (y - 0.3) / 0.7)
    if band:
        s = np.where(y >= 0.78, 2.6, s)
    return (s * P).astype(np.float32)


def parallax_scene(name: str) -> tuple[list[np.ndarray], np.ndarray]:
    """(frames: N RGB (H, W, 3) uint8, truth: (N, H, W) bool, the mover) of one of SCENES."""
    import cv2

    if name not in SCENES:
        raise ValueError(f"unknown scene {name!r}; known: {', '.join(SCENES)}")
    bg = smooth_texture(H, W + int(3 * P * N) + 16, seed=5)
    fg = smooth_texture(160, 400, seed=9)
    poles = smooth_texture(H, 24, seed=13)
    speeds = row_speeds(name.startswith("band"))
    xs, ys = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    frames, truth = [], []
    for t in range(N):
        img = cv2.remap(bg, xs + speeds[:, None] * t, ys, cv2.INTER_LINEAR)
        if name in ("band", "followed", "poles"):  # an ellipse 120 x 80 swaying a little about its place
            cx, cy = 300 + 12 * np.sin(t / 7), 190 + 4 * np.sin(t / 3)
            mask = ((xs - cx) / 60) ** 2 + ((ys - cy) / 40) ** 2 <= 1
            u, v = xs - cx + 200, ys - cy + 80
        elif name == "cut":  # a half-ellipse 380 wide rising 100 px from the bottom edge
            cx, cy = 320 + 15 * np.sin(t / 6), 380.0
            mask = ((xs - cx) / 190) ** 2 + ((ys - cy) / 120) ** 2 <= 1
            u, v = xs - cx + 200, ys - cy + 130
        else:  # a 70-px square entering at the right edge
            x0 = W - 4 * P * t
            mask = (xs >= x0) & (xs < x0 + 70) & (ys >= 150) & (ys < 220)
            u, v = xs - x0, ys - 150
        tex = cv2.remap(fg, u.astype(np.float32), v.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        img[mask] = tex[mask]
        if name == "poles":  # 24-px poles from the top edge to the bottom, the nearest thing in the scene
            for k, x0 in enumerate((W - 40 - 2.6 * P * t, W + 260 - 2.6 * P * t)):
                pole = (xs >= x0) & (xs < x0 + 24)
                img[pole] = cv2.remap(poles, (xs - x0).astype(np.float32), ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)[pole]
                mask = mask & ~pole
        frames.append(img)
        truth.append(mask)
    return frames, np.array(truth)
