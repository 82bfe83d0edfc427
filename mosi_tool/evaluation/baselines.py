"""Non-learned saliency baselines, computed on grayscale frames at a reduced working resolution.

centre prior (a Gaussian), absolute frame difference, Farneback optical-flow magnitude, and
camera-compensated flow (flow minus its per-frame median, magnitude, blurred). Every function returns
float32 maps (F, h, w); frame t's motion maps describe the change from frame t-1 to t (frame 0 uses 0 -> 1).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from ..video.clips import ClipSpec

WORK_SHORT_SIDE = 240  # pixels; DAVIS 854x480 is processed at 427x240
CENTRE_SIGMA = 0.25  # of the frame's width and height
COMPENSATED_BLUR = 0.02  # Gaussian sigma, as a fraction of the working width


def _cv2():  # noqa: ANN202 - opencv is an optional extra (`pip install mosi-tool[eval]`)
    try:
        import cv2
    except ImportError:
        raise ImportError("the flow baselines need OpenCV: pip install 'mosi-tool[eval]' (opencv-python-headless)") from None
    return cv2


def working_size(width: int, height: int, short: int = WORK_SHORT_SIDE) -> tuple[int, int]:
    """(w, h) with the short side at `short` (never upscaled)."""
    scale = min(1.0, short / min(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def read_gray(path: str | Path, size: tuple[int, int], max_frames: int | None = None, fps: float | None = None) -> np.ndarray:
    """The first `max_frames` frames of a video or frame folder, as grayscale uint8 (F, h, w) at `size`."""
    cv2 = _cv2()
    reader = ClipSpec(fps=fps).open(path)
    frames = itertools.islice(reader.frames(size), max_frames)
    gray = [cv2.cvtColor(f.image, cv2.COLOR_RGB2GRAY) for f in frames]
    return np.stack(gray)


def centre_prior(frames: int, height: int, width: int, sigma: float = CENTRE_SIGMA) -> np.ndarray:
    """The same centred Gaussian on every frame, with standard deviations `sigma` x (width, height)."""
    y = (np.arange(height) + 0.5 - height / 2) / (sigma * height)
    x = (np.arange(width) + 0.5 - width / 2) / (sigma * width)
    g = np.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2)).astype(np.float32)
    return np.broadcast_to(g, (frames, height, width))


def _previous(n: int) -> np.ndarray:
    """Index of the frame each frame is compared with: t-1, and 1 for frame 0."""
    return np.r_[min(1, n - 1), np.arange(n - 1)]


def frame_difference(gray: np.ndarray) -> np.ndarray:
    """|I_t - I_{t-1}| per pixel."""
    g = gray.astype(np.float32)
    return np.abs(g - g[_previous(len(g))])


def farneback_flow(gray: np.ndarray) -> np.ndarray:
    """Dense optical flow (F, h, w, 2) in working-resolution pixels per frame, from frame t-1 to t."""
    cv2 = _cv2()
    prev = _previous(len(gray))
    flows = np.zeros((*gray.shape, 2), np.float32)
    for t in range(len(gray)):
        if prev[t] == t:
            continue  # a single frame: no motion
        a, b = (gray[prev[t]], gray[t]) if prev[t] < t else (gray[t], gray[prev[t]])
        flows[t] = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    return flows


def flow_magnitude(flow: np.ndarray) -> np.ndarray:
    return np.linalg.norm(flow, axis=-1)


def compensated_flow(flow: np.ndarray, blur: float = COMPENSATED_BLUR) -> np.ndarray:
    """Magnitude of the flow minus its per-frame median (a crude global camera motion), Gaussian-blurred."""
    cv2 = _cv2()
    median = np.median(flow.reshape(len(flow), -1, 2), axis=1)[:, None, None, :]
    mag = flow_magnitude(flow - median)
    sigma = max(0.5, blur * flow.shape[2])
    return np.stack([cv2.GaussianBlur(m, (0, 0), sigma) for m in mag])


def background_motion(flow: np.ndarray, masks: np.ndarray, margin: int = 5) -> np.ndarray:
    """Per frame, the median flow magnitude outside the object mask (dilated by `margin` px), px/frame.

    `masks` (F, h, w) bool at the flow's resolution. NaN for frames whose mask covers everything.
    """
    cv2 = _cv2()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    mag = flow_magnitude(flow)
    out = np.full(len(flow), np.nan, np.float32)
    for t in range(len(flow)):
        outside = cv2.dilate(masks[t].astype(np.uint8), kernel) == 0
        if outside.any():
            out[t] = np.median(mag[t][outside])
    return out
