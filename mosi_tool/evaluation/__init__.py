"""Evidence that MoSI works: pretext accuracy, motion saliency on DAVIS against baselines, a linear
motion probe on real videos, and the shared metric, chart and report helpers they use."""
