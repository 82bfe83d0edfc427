"""Decoding one source image at the size MoSI crops from: the same pixels for the cached and the uncached path."""

from __future__ import annotations

import numpy as np
from PIL import Image

# Pillow's modes of more than 8 bits per grey pixel (16-bit PNG and TIFF); their convert("RGB") clips every
# value above 255 to white instead of scaling.
_WIDE_GREY = ("I", "I;16", "I;16B", "I;16L", "I;16N")


def resize_short_side(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    scale = size / min(w, h)
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    return img.resize(new, Image.BILINEAR) if new != (w, h) else img


def to_rgb(img: Image.Image) -> Image.Image:
    """`img` as 8-bit RGB; 16-bit grey scaled to 8 bits (0..65535 -> 0..255), not clipped."""
    if img.mode in _WIDE_GREY:
        grey = np.asarray(img, dtype=np.int64)
        img = Image.fromarray((np.clip(grey, 0, 65535) // 257).astype(np.uint8), "L")
    return img.convert("RGB")


def load_image(path: str, size: int) -> Image.Image:
    with Image.open(path) as img:
        img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when that is still >= size
        return resize_short_side(to_rgb(img), size)
