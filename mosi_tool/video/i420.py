"""`i420_frame`: an RGB image as a yuv420p frame for an encoder, with every byte of its planes written."""

from __future__ import annotations

import av
import cv2
import numpy as np


def i420_frame(rgb: np.ndarray) -> av.VideoFrame:
    """A yuv420p frame of an even-sized RGB image (H, W, 3) uint8, BT.601 limited range (FFmpeg's default).

    Every byte of its planes is written, row padding included: encoders read past the width (x264 does), and
    the uninitialised padding of a frame from `VideoFrame.from_ndarray` or `reformat` made identical images
    encode to different files from run to run.
    """
    h, w = rgb.shape[:2]
    yuv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)  # (3H/2, W): Y, then U, then V
    frame = av.VideoFrame(w, h, "yuv420p")
    q = h * w // 4
    planes = (yuv[:h], yuv[h:].reshape(-1)[:q].reshape(h // 2, w // 2), yuv[h:].reshape(-1)[q:].reshape(h // 2, w // 2))
    for plane, data in zip(frame.planes, planes):
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(data.shape[0], plane.line_size)  # writable view
        rows[:, : data.shape[1]] = data
        rows[:, data.shape[1] :] = 0
    return frame
