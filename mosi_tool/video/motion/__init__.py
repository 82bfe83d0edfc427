"""Dense motion fields from the codec's own motion vectors, and the camera motion of every frame.

H.264 and MPEG-4 streams carry one motion vector per block (16x16 down to 4x4). FFmpeg exports them while
decoding (`flags2=+export_mvs`, frame side data `MOTION_VECTORS`), so a motion field costs little more than
decoding, with no pixel conversion at all. Each frame's vectors become a dense field of velocities:

- **Cells.** `cell` x `cell` pixel cells (default 8); a block larger than a cell fills every cell it covers,
  smaller blocks are averaged by area. A cell no vector covers (intra blocks) takes the same cell's value in
  the nearest frames that have one (linear in time), else the frame's camera motion.
- **Velocity.** Every field is (dx, dy) in pixels per frame at the frame's resolution, the motion from frame
  t-1 to frame t at frame t's cell centres. A vector only says whether its reference is in the past or the
  future, not how far: the distance is estimated per frame from the frame types and the camera's speed in
  the neighbouring frames (`reference_distances`), then again per cell where a cell's velocity jumps away from
  its agreeing neighbours in time (encoders pick the reference per block). With `measure=True` (what
  `saliency` passes: `saliency.motion.MEASURE_REFERENCES`) the pictures are decoded too and each block's
  reference is measured on them instead (`codec.block_references`: the frame its displaced luma matches
  best), wherever that is clear. Past and future vectors of a B-frame are both turned into velocities and
  averaged.
- **Frames without vectors** (I-frames; and the B-frames of MPEG-4 Part 2, Xvid and DivX, whose vectors FFmpeg
  exports as all (0, 0): `codec.ZERO_B_VECTORS`) are interpolated linearly in time from their neighbours.
- **Camera motion.** Per frame, a similarity (pan, zoom, rotation; or a full affine) fitted by RANSAC with a
  least-squares refinement on the inliers (OpenCV `estimateAffinePartial2D` / `estimateAffine2D`), as the
  2x3 matrix taking frame t's pixel coordinates to frame t-1's.

Streams without vectors (MJPEG, VP9, HEVC in most FFmpeg builds, frame folders) fall back to DIS optical
flow (OpenCV, medium preset) on frames downscaled to a short side of `FALLBACK_SHORT_SIDE` pixels,
averaged into the same cells; `MotionField.source` says which one was used.

Frame threading is off while vectors are exported: with it FFmpeg exports different vectors from run to run
(some frames lose most of their vectors). The vector pass skips deblocking and the inverse transform
(the vectors do not depend on them; the tests check them against a plain decode).
"""

from .camera import IDENTITY, MODELS, fit_camera, fit_cameras
from .codec import PICT_B, PICT_I, PICT_P, rasterize, reference_distances, upright_field
from .field import CELL, MotionField, camera_velocity, cell_centres, fill_in_time
from .streaming import iter_motion, join, read_motion

# Raised whenever the same video gives another field, so outputs that keep a record of what made them (`saliency`'s
# batch, `targets`' settings) are made again; 2: MPEG-4 Part 2 B-frames without vectors, DIS's medium preset;
# 3: the cells a pan brings in at the frame's edge take the motion beside them (`field.entering_cells`); 4: the field
# made shot by shot at scene cuts (`iter_motion`'s `shots`), 10-bit video's reference distances measured (`codec.luma_shift`);
# 5: the cut test leaves black bars out and finds fades through black or white into another scene (`saliency.shots`);
# 6: subtitles in a bar stay within the bar (`saliency.shots.bars`); 7: B-frames in AVI take their decode timestamps
# from the first frame on (`timeline.decode_order_pts`: packed B-frames' first times were 0, .04, .12, .14 s at 25 fps)
REVISION = 7

__all__ = [
    "REVISION", "CELL", "IDENTITY", "MODELS", "PICT_B", "PICT_I", "PICT_P", "MotionField", "camera_velocity", "cell_centres",
    "fill_in_time", "fit_camera", "fit_cameras", "iter_motion", "join", "rasterize", "read_motion",
    "reference_distances", "upright_field",
]
