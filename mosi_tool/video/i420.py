"""yuv420p frames for an encoder, with every byte of their planes written: `i420_frame` (from RGB) and
`i420_canvas` (empty planes to fill)."""

from __future__ import annotations

import av
import cv2
import numpy as np


def i420_canvas(width: int, height: int) -> tuple[av.VideoFrame, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A new yuv420p frame of an even size, and writable views of its Y (H, W), U and V (H/2, W/2) planes,
    with the row padding beyond the width zeroed: encoders read past the width (x264 does), and the
    uninitialised padding of a new frame made identical images encode to different files from run to run. The
    caller writes every byte of the views."""
    frame = av.VideoFrame(width, height, "yuv420p")
    views = []
    for plane, (w, h) in zip(frame.planes, ((width, height), (width // 2, height // 2), (width // 2, height // 2))):
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(h, plane.line_size)  # writable view
        rows[:, w:] = 0
        views.append(rows[:, :w])
    return frame, (views[0], views[1], views[2])


def i420_frame(rgb: np.ndarray) -> av.VideoFrame:
    """A yuv420p frame of an even-sized RGB image (H, W, 3) uint8, BT.601 limited range (FFmpeg's default).
    Every byte of its planes is written, row padding included (`i420_canvas`)."""
    h, w = rgb.shape[:2]
    yuv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)  # (3H/2, W): Y, then U, then V
    frame, views = i420_canvas(w, h)
    q = h * w // 4
    planes = (yuv[:h], yuv[h:].reshape(-1)[:q].reshape(h // 2, w // 2), yuv[h:].reshape(-1)[q:].reshape(h // 2, w // 2))
    for view, data in zip(views, planes):
        view[:] = data
    return frame


# BT.601 limited range (FFmpeg's default for yuv420p, and the matrix the overlay's stream is tagged with)
_RGB_TO_YUV601 = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], np.float64) / 255.0
_YUV601_OFFSET = np.array([16.0, 128.0, 128.0])


def rgb_to_yuv601(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB in 0..255 -> (..., 3) float64 Y, U, V in BT.601 limited range (Y 16..235, U and V 16..240),
    unrounded; the matrix FFmpeg and OpenCV's I420 conversions use."""
    return np.asarray(rgb, np.float64) @ _RGB_TO_YUV601.T + _YUV601_OFFSET
