"""Point trajectories through a motion field: MME's target, from the codec's vectors instead of optical flow.

A point starts at the centre (4 + 8j, 4 + 8i) of cell (i, j) of start frame s and is followed for L steps.
Step k moves it from frame s + k to frame s + k + 1 with the field of frame t = s + k + 1, read at the point's
current position (bilinear between cell centres). The field of frame t gives, at frame t's positions, the
velocity from frame t-1 (a pixel at q in frame t was at q - v(q) in frame t-1), so the point p of frame t-1
goes to the q that solves q = p + v(q): one fixed-point iteration from a first guess, the point's previous
step (motion is smooth in time; the first step's guess is the field at p). The error of a guess shrinks by
the field's gradient (a few hundredths for the smooth fields cells average to), so one iteration is exact
to far below the vectors' own precision.

Stored per step: the displacement q - p (`compensate=False`), or its part the camera does not explain,
A_t q - p, where A_t is frame t's camera model (it maps frame t's coordinates to frame t-1's): zero on a
static background under any pan, zoom or rotation the model fits. The point itself always follows the raw
motion (it stays on its content). A trajectory is valid while the point stays inside the frame and every
step reads a cell that had a vector of its own (not a gap filled in time or by the camera).

All starts of a window are tracked at once: the window's frames are stacked into one tall image and each
step is one `cv2.remap` over every start (OpenCV's bilinear weights are quantised to 1/32 of a cell, a
quarter of a pixel of position: far below the vectors' own precision).
"""

from __future__ import annotations

import numpy as np

CELL = 8  # pixels: MME's grid (points at 4 + 8k)


def start_grid(height: int, width: int, cell: int = CELL) -> np.ndarray:
    """(H // cell, W // cell, 2) float32 (x, y) pixel positions of the cell centres inside the frame (cells
    that overhang the right or bottom edge are left out)."""
    ys, xs = np.mgrid[0 : height // cell, 0 : width // cell].astype(np.float32)
    return np.stack([(xs + 0.5) * cell, (ys + 0.5) * cell], axis=-1)


def _sample(stack: np.ndarray, rows: int, t: np.ndarray, pos: np.ndarray, cell: int, interpolation: int) -> np.ndarray:
    """Values of the frames stacked in `stack` ((n * rows, cols, C), frame k in rows [k * rows, (k + 1) * rows))
    at pixel positions pos (S, h, w, 2) of frames t (S,), clamped to the frame's cells: (S, h, w, C)."""
    import cv2

    cols = stack.shape[1]
    gx = np.clip(pos[..., 0] / cell - 0.5, 0, cols - 1).astype(np.float32)
    gy = np.clip(pos[..., 1] / cell - 0.5, 0, rows - 1) + (t * rows).astype(np.float32)[:, None, None]
    s, h, w = gx.shape
    # remap takes maps of at most 32767 rows: lay the starts side by side in rows of one start each
    out = cv2.remap(stack, gx.reshape(s * h, w), gy.astype(np.float32).reshape(s * h, w), interpolation, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(s, h, w, -1)


MAX_ROWS = 32000  # OpenCV's remap takes images and maps of fewer than 32767 rows
GROUP = 8  # starts tracked together: their arrays stay in the CPU's cache (1.1 s against 1.8 s with 500 for 1800 frames at 854x480)


def track(vectors: np.ndarray, camera: np.ndarray, known: np.ndarray, starts: np.ndarray, length: int, size: tuple[int, int],
          compensate: bool = True, cell: int = CELL) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Trajectories of the cell-centre points of frames `starts` of a window of frames (module docstring).

    vectors: (n, gh, gw, 2) float32 px/frame, the window's motion field (`MotionField.vectors`, cells of `cell`
    px); camera: (n, 2, 3) its camera models; known: (n, gh, gw) bool, cells with their own vector;
    starts: (S,) int, increasing start frames, indices into the window with starts + length < n; size: (W, H)
    pixels of the frames. Returns (steps (S, H // cell, W // cell, length, 2) float32 px, valid (S, H // cell,
    W // cell) bool).
    """
    w, h = size
    gh = vectors.shape[1]
    oh, ow = h // cell, w // cell
    starts = np.asarray(starts, np.int64)
    steps = np.zeros((len(starts), oh, ow, length, 2), np.float32)
    valid = np.ones((len(starts), oh, ow), bool)
    if len(starts) == 0 or oh == 0 or ow == 0:
        return steps, valid
    a = 0
    while a < len(starts):  # groups of starts small enough for the cache and remap's row limit
        b = a + 1
        while b < len(starts) and b - a < GROUP and (b + 1 - a) * oh < MAX_ROWS and (starts[b] - starts[a] + length + 1) * gh < MAX_ROWS:
            b += 1
        lo, hi = int(starts[a]), int(starts[b - 1]) + length + 1
        steps[a:b], valid[a:b] = _track(vectors[lo:hi], camera[lo:hi], known[lo:hi], starts[a:b] - lo, length, size, compensate, cell)
        a = b
    return steps, valid


def _track(vectors: np.ndarray, camera: np.ndarray, known: np.ndarray, starts: np.ndarray, length: int, size: tuple[int, int],
           compensate: bool, cell: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """`track` for a window and starts within remap's row limit."""
    import cv2

    w, h = size
    n, gh, gw, _ = vectors.shape
    p0 = start_grid(h, w, cell)
    oh, ow = p0.shape[:2]
    s_count = len(starts)
    steps = np.zeros((s_count, oh, ow, length, 2), np.float32)
    valid = np.ones((s_count, oh, ow), bool)
    stack = np.ascontiguousarray(vectors.reshape(n * gh, gw, 2), dtype=np.float32)
    known_stack = np.ascontiguousarray(known.reshape(n * gh, gw), dtype=np.uint8)
    p = np.broadcast_to(p0, (s_count, oh, ow, 2)).copy()
    raw_step = np.zeros_like(p)
    for k in range(length):
        t = starts + k + 1
        # first guess: the previous step repeated (motion is smooth in time), else the field at the point
        q = p + (raw_step if k else _sample(stack, gh, t, p, cell, cv2.INTER_LINEAR))
        q = p + _sample(stack, gh, t, q, cell, cv2.INTER_LINEAR)
        raw_step = q - p
        if compensate:
            a = camera[t].astype(np.float32)[:, None, None]  # (S, 1, 1, 2, 3): frame t -> frame t-1
            qx, qy = q[..., 0], q[..., 1]
            steps[:, :, :, k, 0] = a[..., 0, 0] * qx + a[..., 0, 1] * qy + a[..., 0, 2] - p[..., 0]
            steps[:, :, :, k, 1] = a[..., 1, 0] * qx + a[..., 1, 1] * qy + a[..., 1, 2] - p[..., 1]
        else:
            steps[:, :, :, k] = raw_step
        inside = (q[..., 0] >= 0) & (q[..., 0] < w) & (q[..., 1] >= 0) & (q[..., 1] < h)
        own = _sample(known_stack, gh, t, q, cell, cv2.INTER_NEAREST).reshape(inside.shape) > 0
        valid &= inside & own
        p = q
    return steps, valid
