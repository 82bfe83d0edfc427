"""Optical-flow maps for the motion masks (`MaskConfig.optical_flow`, off by default): a second motion estimate beside the
codec's vectors, frame by frame.

DIS optical flow (OpenCV, Kroeger et al., ECCV 2016; the medium preset without its variational refinement) between
the previous and the current frame's grey levels at a short side of FLOW_SHORT_SIDE pixels, averaged into the
motion field's cells, less the camera's motion (`video.motion.fit_camera`, the masks' camera model), its length
blurred as the maps are (`saliency.motion`, `saliency.defaults`: BLUR_CELLS for the display map, MASK_BLUR_CELLS for the masks' own)
and resized to the masks' maps. The masks take the geometric mean of these and the codec's maps: a region must
move in both. Causal (no average over later frames: on the DAVIS development sequences it scored no less
without one). The first frame has no flow: the codec's maps alone.
"""

from __future__ import annotations

import numpy as np

from ..video.motion import CELL, camera_velocity, cell_centres, fit_camera
from ..video.motion.flow import cell_velocities
from .defaults import BLUR_CELLS, CAMERA_MODEL, MASK_BLUR_CELLS
from .pictures import shrink

FLOW_SHORT_SIDE = 160  # pixels: the flow's working size


class FlowMaps:
    """Feed each frame's grey levels in order (`update`); returns its optical-flow maps."""

    def __init__(self) -> None:
        import cv2

        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self._dis.setVariationalRefinementIterations(0)  # the preset's costliest stage, left out
        self._previous: np.ndarray | None = None

    def update(self, grey: np.ndarray, frame_size: tuple[int, int], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
        """grey: (h, w) float32 in [0, 1], the frame at any size; frame_size: the video's (width, height);
        size: the maps' (width, height). Returns (display map, the masks' own map), each (height, width)
        float32 in px/frame, or None on the first frame."""
        import cv2

        luma = shrink(cv2.convertScaleAbs(grey, alpha=255.0), FLOW_SHORT_SIDE)  # uint8
        previous, self._previous = self._previous, luma
        if previous is None or previous.shape != luma.shape:
            return None
        back = self._dis.calc(luma, previous, None)  # (h', w', 2): luma(x) ~ previous(x + back)
        velocity = cell_velocities(back, frame_size, CELL)  # (gh, gw, 2) px/frame at the frame's scale
        centres = cell_centres(*velocity.shape[:2], CELL)
        camera = fit_camera(velocity, centres, CAMERA_MODEL)
        if camera is not None:
            velocity = velocity - camera_velocity(camera[None], centres)[0]
        speed = np.ascontiguousarray(np.linalg.norm(velocity, axis=-1), np.float32)
        return tuple(cv2.resize(cv2.GaussianBlur(speed, (0, 0), b), size, interpolation=cv2.INTER_LINEAR)  # type: ignore[return-value]
                     for b in (BLUR_CELLS, MASK_BLUR_CELLS))  # fmt: skip
