"""What `mosi-tool saliency` does when no option says otherwise (a light module: the CLI imports it at start-up)."""

# The method and stabilisation with the best mean AUC-Judd in `mosi-tool eval saliency` on the shared DAVIS
# (docs/EVALUATION.md states the run). Re-measure when the default model changes; the evaluation prints its
# own best next to these so a disagreement shows.
# Bundled model r2plus1d_10-e3c36d88085a, 10 sequences x 40 frames from mp4 (docs/evaluation/default/saliency.json):
# mv 0.901, fused 0.907 (a lead below the standard error of its per-sequence difference, so the cheaper mv
# stays), cam 0.760, cam with --stabilize mv 0.818: the network's own maps are compensated by default.
DEFAULT_METHOD = "mv"
DEFAULT_STABILIZE = "mv"

METHODS = ("cam", "gradcam", "mv", "fused")
MODEL_METHODS = ("cam", "gradcam", "fused")  # the ones that run a network
# display scale of the overlay: each frame's own top bounded by the video's (saliency/display.py), one range
# for the whole video, or each frame's own min..max
NORMS = ("bounded", "video", "frame")
LAYERS = ("conv5", "conv4")  # Grad-CAM layers
DEFAULT_TARGET = "motion"  # measured, not assumed: see cli/saliency.py's docstring
