"""What `mosi-tool saliency` does when no option says otherwise (a light module: the CLI imports it at start-up)."""

# The method and stabilisation with the best mean AUC-Judd in `mosi-tool eval saliency` on the shared DAVIS
# (docs/EVALUATION.md states the run). Re-measure when the default model changes; the evaluation prints its
# own best next to these so a disagreement shows.
# Bundled model r2plus1d_10-e3c36d88085a, 10 sequences x 40 frames from mp4 (docs/evaluation/default/saliency.json):
# mv 0.901, fused 0.907 (a lead below the standard error of its per-sequence difference, so the cheaper mv
# stays), cam 0.760, cam with --stabilize mv 0.818: the network's own maps are compensated by default. Since the mv
# maps carry the enclosed speed (docs/evaluation/mv/enclosed.json): mv 0.950, fused 0.937, cam --stabilize mv 0.822.
DEFAULT_METHOD = "mv"
# Raised whenever the same options give other maps, masks or boxes from the same motion field (`video.motion.REVISION`
# counts the field's own changes; `saliency --out-dir` records both, so a rerun remakes what the rules before made):
# 2: the mv maps carry the enclosed speed (`geodesic`); 3: the camera's parallax starts it at 0 (`geodesic.PARALLAX_SHARE`);
# 4: a lone region of under 4 pixels gets no box (`boxes.FALLBACK_PIXELS`), --small-movers keeps small confident cores;
# 5: masks and boxes start afresh at a scene cut (`shots`: the colour model, the tracks); 6: the network's clips are
# cut at scene cuts (`compute_saliency`: each shot clipped, and resampled with --fps, on its own); 7: the cut test
# leaves black bars out and finds fades through black or white into another scene (`shots`); 8: subtitles in a bar
# stay within the bar (`shots.bars`); 9: mask edges the camera's motion explains are given to the background
# (masks rule 3b, `motion_edges`)
REVISION = 9
DEFAULT_STABILIZE = "mv"

METHODS = ("cam", "gradcam", "mv", "fused")
MODEL_METHODS = ("cam", "gradcam", "fused")  # the ones that run a network
# display scale of the overlay: each frame's own top bounded by the video's (saliency/display.py), one range
# for the whole video, or each frame's own min..max
NORMS = ("bounded", "video", "frame")
LAYERS = ("conv5", "conv4")  # Grad-CAM layers
DEFAULT_TARGET = "motion"  # measured, not assumed: see cli/saliency.py's docstring

# The motion maps (`saliency.motion`; the masks' optical-flow maps, `saliency.flow_maps`, blur theirs alike)
BLUR_CELLS = 2.0  # Gaussian sigma, in cells (16 px at the default 8 px cells)
MASK_BLUR_CELLS = 1.0  # the masks' narrower blur (docs/EVALUATION.md 2c: 0.7 and 1.5 scored less)
CAMERA_MODEL = "auto"  # the similarity, or the affine model where it fits clearly more (docs/EVALUATION.md 2c)

# The masks' floor (`saliency.masks`, rule 1): the least speed called motion on a still, clean background; also the
# overlay's least top (`display`) and the scale of the enclosed speed's free change (`geodesic`)
FLOOR = 0.5  # px/frame (raw maps of --method mv); 0 for maps in arbitrary units
FLOOR_SHORT_SIDE = 480  # pixels: FLOOR holds from this short side up, and shrinks with a smaller one


def scaled_floor(short: int, floor: float = FLOOR, floor_short_side: int = FLOOR_SHORT_SIDE) -> float:
    """The least speed called motion (px/frame) on a frame of short side `short` pixels: `floor` from a short
    side of `floor_short_side` up, shrinking in proportion below it (`saliency.masks`, rule 1)."""
    return floor if short >= floor_short_side or floor == 0 else floor * short / floor_short_side
