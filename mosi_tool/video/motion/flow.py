"""The fallback for streams without motion vectors: DIS optical flow (OpenCV) on small frames."""

from __future__ import annotations

import itertools
from typing import Callable, Iterator

import numpy as np

from ..decode import Frame, VideoReader
from ..kept_frames import KeptFrames
from ..letterbox import Bars

FALLBACK_SHORT_SIDE = 160  # pixels: working size of the optical-flow fallback
# OpenCV's DIS preset (ultrafast, fast, medium). Medium: objects' error 0.18 px/step against 0.71 for ultrafast
# on bench/targets_codecs.py's VP9 scenes, at 7 CPU ms a frame against 4 (docs/TARGETS.md)
FALLBACK_PRESET = "medium"


def flow_frames(reader: VideoReader, size: tuple[int, int], cell: int, max_frames: int | None,
                keep: KeptFrames | None = None, bars: Bars = Bars(),
                shots: Callable[[Frame], bool] | None = None) -> Iterator[tuple[np.ndarray, float, bool | None]]:  # fmt: skip
    """(velocities (gh, gw, 2), time, cut) per frame from DIS optical flow on frames with a short side of
    FALLBACK_SHORT_SIDE, averaged into cells and scaled to frame pixels; frame 0 is all NaN. keep: given the
    decoded pictures at full size for a later pass (`video.kept_frames`), unless `max_frames` stops early. bars:
    the video's black bars (`video.letterbox`): the flow is found on the picture inside them, and the picture's
    edge velocities are carried out over them (the bars' cells are the camera's in the motion field). On the
    whole frame the bars' still edge held the flow of the picture's lines beside it back: they read as motion
    against a pan (patch_motion 0.3 beside 45-px bars, a motion box on 3 frames of 4, against 0.08 and 1 in 10
    on the same pan without bars). shots: asked of each of those frames whether it begins a new shot (the
    `cut`; None without it)."""
    import cv2

    w, h = size
    scale = min(1.0, FALLBACK_SHORT_SIDE / min(w, h))
    small = (max(8, round(w * scale)), max(8, round(h * scale)))
    gh, gw = -(-h // cell), -(-w // cell)
    x0, y0, x1, y1 = bars.content(size)  # the picture inside the bars, at the working size (no line of a bar in it)
    x0, x1 = int(np.ceil(x0 * small[0] / w)), int(x1 * small[0] / w)
    y0, y1 = int(np.ceil(y0 * small[1] / h)), int(y1 * small[1] / h)
    dis = cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{FALLBACK_PRESET.upper()}"))  # type: ignore[attr-defined]
    prev = None
    for frame in itertools.islice(reader.frames(small, keep=keep if max_frames is None else None), max_frames):
        gray = np.ascontiguousarray(cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)[y0:y1, x0:x1])
        cut = shots(frame) if shots is not None else None
        if prev is None:
            yield np.full((gh, gw, 2), np.nan, np.float32), frame.time, cut
        else:
            back = dis.calc(gray, prev, None)  # (h', w', 2): gray(x) ~ prev(x + back)
            if bars:
                back = cv2.copyMakeBorder(back, y0, small[1] - y1, x0, small[0] - x1, cv2.BORDER_REPLICATE)
            yield cell_velocities(back, size, cell), frame.time, cut
        prev = gray


def cell_velocities(back: np.ndarray, size: tuple[int, int], cell: int) -> np.ndarray:
    """(gh, gw, 2) float32 px/frame at the frame's scale: DIS's backward flow `back` (h', w', 2) between two
    frames shrunk from `size` = (width, height), negated, scaled to frame pixels and averaged into cells of
    `cell` frame pixels (the last row and column may overhang the frame)."""
    import cv2

    w, h = size
    vel = -back * np.array([w / back.shape[1], h / back.shape[0]], np.float32)
    return cv2.resize(vel, (-(-w // cell), -(-h // cell)), interpolation=cv2.INTER_AREA)
