"""Videos with known motion, for checking motion targets against the truth (tests and bench/targets.py).

A smooth random texture as background, moving by `background` px/frame (a camera panning the other way), under
textured squares that move by their own image velocity (camera included); all velocities may be sub-pixel.
Frames are rendered by bilinear resampling of textures blurred well below the Nyquist rate, so resampling
adds almost nothing: the motion in the pixels is the motion asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BLUR = 2.0  # px: Gaussian blur of the random textures


@dataclass(frozen=True)
class MovingSquare:
    x: float  # px: top-left corner in frame 0
    y: float
    size: int  # px
    velocity: tuple[float, float]  # (dx, dy) px/frame in the image (camera included)
    seed: int = 1


@dataclass(frozen=True)
class Scene:
    width: int = 320
    height: int = 192
    frames: int = 48
    background: tuple[float, float] = (1.25, -0.5)  # px/frame: how the background's content moves
    squares: tuple[MovingSquare, ...] = field(default_factory=lambda: (
        MovingSquare(40.0, 50.0, 64, (2.75, 0.5), seed=2),
        MovingSquare(200.0, 80.0, 56, (-1.5, -0.75), seed=3),
    ))  # fmt: skip

    def square_box(self, k: int, t: float) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of square k in frame t, px."""
        sq = self.squares[k]
        x, y = sq.x + sq.velocity[0] * t, sq.y + sq.velocity[1] * t
        return x, y, x + sq.size, y + sq.size


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (h, w, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), BLUR)
    lo, hi = smooth.min(), smooth.max()
    return ((smooth - lo) / max(hi - lo, 1e-6) * 235 + 10).astype(np.float32)


def render(scene: Scene) -> list[np.ndarray]:
    """The scene's frames, (H, W, 3) uint8 RGB each."""
    import cv2

    pad = int(np.ceil(max(abs(v) for v in scene.background) * scene.frames)) + 8
    bg = _texture(scene.height + 2 * pad, scene.width + 2 * pad, seed=11)
    tex = [_texture(sq.size, sq.size, sq.seed) for sq in scene.squares]
    out = []
    for t in range(scene.frames):
        bx, by = scene.background[0] * t, scene.background[1] * t
        # frame pixel x shows background pixel x + pad - bx
        m = np.array([[1, 0, -pad + bx], [0, 1, -pad + by]], np.float64)
        img = cv2.warpAffine(bg, m, (scene.width, scene.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        for k, sq in enumerate(scene.squares):
            x0, y0, _, _ = scene.square_box(k, t)
            m = np.array([[1, 0, x0], [0, 1, y0]], np.float64)
            layer = cv2.warpAffine(tex[k], m, (scene.width, scene.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            alpha = cv2.warpAffine(np.ones((sq.size, sq.size), np.float32), m, (scene.width, scene.height), flags=cv2.INTER_LINEAR)
            img = img * (1 - alpha[..., None]) + layer * alpha[..., None]
        out.append(np.clip(img + 0.5, 0, 255).astype(np.uint8))
    return out


def encode(scene: Scene, path: str | Path, crf: int = 18, options: dict[str, str] | None = None, rate: int = 25) -> Path:
    """The scene encoded with libx264 (yuv420p, preset medium) into `path`: one encoder thread (x264's output
    depends on its thread count, by default the machine's CPUs) and frames whose row padding is written
    (`i420_frame`). Even so, about one encode in ten of the same frames differs in a few bytes from run to run
    (measured: 2 of 16 encodes of one scene, in this process or a new one), so figures made from these
    videos are read as means over several scenes (bench/targets.py), not per video."""
    import av

    from ..video.i420 import i420_frame

    opts: dict[str, object] = {"crf": str(crf), "preset": "medium", "threads": "1", **(options or {})}
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.pix_fmt = "yuv420p"
        stream.width, stream.height = scene.width, scene.height
        stream.options = opts
        for img in render(scene):
            for packet in stream.encode(i420_frame(img)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return Path(path)


def truth(scene: Scene, starts: np.ndarray, length: int, cell: int = 8, margin: float = 8.0,
          compensate: bool = True) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The true per-step displacement of the grid points (centres 4 + 8k) of frames `starts`.

    Returns (steps (S, H // cell, W // cell, length, 2) float32 px, region (S, H // cell, W // cell) int8: -1
    for points not to be scored (within `margin` px of a square's edge, or leaving the frame, at any step),
    0 for the background, k + 1 for square k). Compensated: the background's motion subtracted (the camera
    is a pure translation here).
    """
    oh, ow = scene.height // cell, scene.width // cell
    ys, xs = np.mgrid[0:oh, 0:ow].astype(np.float64)
    px, py = (xs + 0.5) * cell, (ys + 0.5) * cell
    bg = np.array(scene.background)
    steps = np.zeros((len(starts), oh, ow, length, 2), np.float32)
    region = np.zeros((len(starts), oh, ow), np.int8)
    for i, s in enumerate(starts):
        lab = np.zeros((oh, ow), np.int8)
        for k in range(len(scene.squares)):
            x0, y0, x1, y1 = scene.square_box(k, s)
            lab[(px >= x0) & (px < x1) & (py >= y0) & (py < y1)] = k + 1
        vel = np.where(lab[..., None] > 0, 0.0, bg).astype(np.float64) * np.ones((oh, ow, 2))
        for k, sq in enumerate(scene.squares):
            vel[lab == k + 1] = sq.velocity
        bad = np.zeros((oh, ow), bool)
        x, y = px.copy(), py.copy()
        for j in range(length + 1):
            t = s + j
            for k in range(len(scene.squares)):
                x0, y0, x1, y1 = scene.square_box(k, t)
                near = (x > x0 - margin) & (x < x1 + margin) & (y > y0 - margin) & (y < y1 + margin)
                deep = (x > x0 + margin) & (x < x1 - margin) & (y > y0 + margin) & (y < y1 - margin)
                bad |= near & ~(deep & (lab == k + 1))  # near an edge, or another region passing over
            bad |= (x < 0) | (x >= scene.width) | (y < 0) | (y >= scene.height)
            x, y = x + vel[..., 0], y + vel[..., 1]
        steps[i] = (vel - (bg if compensate else 0.0))[:, :, None, :]
        region[i] = np.where(bad, -1, lab)
    return steps, region
