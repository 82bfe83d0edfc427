"""Decoding one source image at the size MoSI crops from: the same pixels for the cached and the uncached path."""

from __future__ import annotations

from PIL import Image

from mosi_tool.video.images import to_rgb


def resize_short_side(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    scale = size / min(w, h)
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    return img.resize(new, Image.BILINEAR) if new != (w, h) else img


def load_image(path: str, size: int) -> Image.Image:
    with Image.open(path) as img:
        img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when that is still >= size
        return resize_short_side(to_rgb(img), size)
