"""Still images as 8-bit RGB: the frames of a frame folder and the training sources alike."""

from __future__ import annotations

import numpy as np
from PIL import Image

# Pillow's modes of more than 8 bits per grey pixel (16-bit PNG and TIFF); their convert("RGB") clips every
# value above 255 to white instead of scaling.
_WIDE_GREY = ("I", "I;16", "I;16B", "I;16L", "I;16N")


def to_rgb(img: Image.Image) -> Image.Image:
    """`img` as 8-bit RGB; 16-bit grey scaled to 8 bits (0..65535 -> 0..255), not clipped."""
    if img.mode in _WIDE_GREY:
        grey = np.asarray(img, dtype=np.int64)
        img = Image.fromarray((np.clip(grey, 0, 65535) // 257).astype(np.uint8), "L")
    return img.convert("RGB")
