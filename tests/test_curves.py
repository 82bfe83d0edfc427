"""curves.png: every epoch is drawn, even when a run has only one."""

from __future__ import annotations

import numpy as np
from PIL import Image

from mosi_tool.training.curves import plot_curves

TRAIN_BLUE = (0x1F, 0x77, 0xB4)  # matplotlib's first colour: the train curves


def test_one_epoch_run_draws_its_points(tmp_path):
    (tmp_path / "metrics.csv").write_text("epoch,train_loss,train_acc,val_loss,val_acc\n1,2.1,0.3,2.2,0.25\n")
    plot_curves(tmp_path / "metrics.csv", tmp_path / "curves.png")
    image = np.asarray(Image.open(tmp_path / "curves.png").convert("RGB")).astype(int)
    blue = int((np.abs(image - TRAIN_BLUE).sum(-1) < 60).sum())
    # The two legend entries alone give about 130 such pixels; a single point drawn as a line adds none.
    assert blue > 180, f"only {blue} pixels of the train colour: the one epoch's points are not drawn"
