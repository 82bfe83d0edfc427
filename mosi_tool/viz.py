"""Pictures: heatmap overlays with a colour bar, labelled grids, contact sheets and GIFs."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .atomic import atomic_path

COLORMAP = "inferno"  # perceptually uniform: equal steps in the map look like equal steps in colour
OVERLAY_ALPHA = 0.75  # opacity of the colour where the map is at its peak
OVERLAY_LOW, OVERLAY_HIGH = 0.3, 0.9  # below LOW no colour at all; opacity ramps up to full at HIGH


@lru_cache(maxsize=4)
def colormap_lut(name: str = COLORMAP) -> np.ndarray:
    """(256, 3) uint8 lookup table of a matplotlib colormap."""
    import matplotlib

    cmap = matplotlib.colormaps[name]
    return (cmap(np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


def heat_colors(heat: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (H, W) to RGB (H, W, 3) uint8."""
    return colormap_lut()[heat_index(heat)]


def heat_index(heat: np.ndarray) -> np.ndarray:
    """(H, W) uint8 colour-table index of values in [0, 1] (rounded, clipped); uint8 `heat` is taken as
    indices already (`saliency.render.heat_indices`) and returned as it is."""
    import cv2

    if heat.dtype == np.uint8:
        return heat
    return cv2.convertScaleAbs(np.ascontiguousarray(heat, dtype=np.float32), alpha=255.0)


def overlay_opacity(heat: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """Opacity (H, W) of the colour: 0 up to OVERLAY_LOW, a smooth ramp to `alpha` at OVERLAY_HIGH and above."""
    x = np.clip((np.asarray(heat, np.float32) - OVERLAY_LOW) / (OVERLAY_HIGH - OVERLAY_LOW), 0, 1)
    return alpha * x * x * (3 - 2 * x)


@lru_cache(maxsize=4)
def _overlay_tables(alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Per heat index, for cv2.LUT on a 3-channel index image: the weight left to the frame, 255 * (1 - a),
    and the colour already weighted, a * colour, both (1, 256, 3) uint8 (a: `overlay_opacity`)."""
    a = overlay_opacity(np.linspace(0, 1, 256, dtype=np.float32), alpha)[:, None]  # (256, 1)
    keep = np.round(255 * (1 - a)).repeat(3, axis=1).astype(np.uint8)
    colour = np.round(colormap_lut().astype(np.float32) * a).astype(np.uint8)
    return keep[None].copy(), colour[None].copy()


def overlay(frame: np.ndarray, heat: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """Blend the heatmap over the frame: colour only where the map is high (`overlay_opacity`), the untouched
    frame elsewhere. frame (H, W, 3) uint8, heat (H, W) in [0, 1] (or uint8 colour-table indices,
    `heat_index`). In 8-bit fixed point with OpenCV (table lookups, one saturating multiply and add): within
    one level of the exact blend, and 1.6x faster than a float blend, which matters at one call per overlay
    frame."""
    import cv2

    keep, colours = _overlay_tables(alpha)
    idx = heat_index(heat)
    out = np.array(frame, dtype=np.uint8, copy=True, order="C")
    # only the rectangle holding any colour is blended (motion maps are mostly zero)
    x, y, w, h = cv2.boundingRect((idx > int(OVERLAY_LOW * 255)).view(np.uint8))
    if w == 0 or h == 0:
        return out
    sub = idx[y : y + h, x : x + w]
    sub3 = cv2.merge([sub, sub, sub])
    region = out[y : y + h, x : x + w]
    out[y : y + h, x : x + w] = cv2.add(cv2.multiply(region, cv2.LUT(sub3, keep), scale=1 / 255), cv2.LUT(sub3, colours))
    return out


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


@lru_cache(maxsize=16)
def colorbar_stamp(height: int, width: int, low: str = "0", high: str = "1", title: str = "motion") -> tuple[int, int, np.ndarray, np.ndarray] | None:
    """The colour bar of a height x width frame, drawn once: (top, left, colours (h, w, 3) uint8, opacity
    (h, w, 1) uint8) of the frame's bottom-right corner it covers; None when the frame is too small to hold
    the bar with its title and labels (16x16, 1920x8: such frames get no colour bar)."""
    h, w = height, width
    bar_h = max(24, h // 4)
    bar_w = max(4, w // 80)
    fs = max(8, h // 40)
    x1 = w - max(6, w // 60) - 3 * fs
    y1 = h - max(6, h // 30)
    x0, y0 = x1 - bar_w, y1 - bar_h
    if x0 - fs < 0 or y0 - fs - 5 < 0:
        return None
    left, top = x0 - fs, y0 - fs - 5
    layer = Image.new("RGBA", (w - left, h - top), (0, 0, 0, 0))
    ramp = np.linspace(1, 0, bar_h)[:, None].repeat(bar_w, axis=1)
    # the bar shows what the overlay does: colour blended over mid grey with the same opacity
    bar = overlay(np.full((bar_h, bar_w, 3), 128, np.uint8), ramp)
    layer.paste(Image.fromarray(bar), (x0 - left, y0 - top))
    d = ImageDraw.Draw(layer)
    font = _font(fs)
    for text, y in ((high, y0), (low, y1 - fs)):
        d.text((x1 + 2 - left, y - top), text, fill=(255, 255, 255, 255), font=font, stroke_width=1, stroke_fill=(0, 0, 0, 255))
    d.text((x0 - fs - left, y0 - fs - 3 - top), title, fill=(255, 255, 255, 255), font=font, stroke_width=1, stroke_fill=(0, 0, 0, 255))
    rgba = np.asarray(layer)
    return top, left, np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3:])


def draw_colorbar(frame: np.ndarray, low: str = "0", high: str = "1", title: str = "motion") -> np.ndarray:
    """Draw a small vertical colour bar with its scale in the bottom-right corner (in place; returns frame).
    A frame too small to hold it is returned unchanged (`colorbar_stamp`)."""
    stamp = colorbar_stamp(frame.shape[0], frame.shape[1], low, high, title)
    if stamp is None:
        return frame
    top, left, colours, opacity = stamp
    corner = frame[top:, left:].astype(np.uint16)
    a = opacity.astype(np.uint16)
    frame[top:, left:] = ((colours * a + corner * (255 - a) + 127) // 255).astype(np.uint8)
    return frame


def with_colorbar(image: np.ndarray, title: str = "motion") -> np.ndarray:
    """The image with a margin on the right that holds the colour bar (for sheets, not video frames)."""
    h, w = image.shape[:2]
    fs = max(8, h // 40)  # draw_colorbar's font size: a tall sheet (portrait video) has large text
    margin = max(64, w // 12, 5 * fs + (w + 5 * fs) // 40 + 8)  # room for its title, bar and labels
    out = np.full((h, w + margin, 3), 255, np.uint8)
    out[:, :w] = image
    return draw_colorbar(out, title=title)


def label(image: np.ndarray, text: str, size: int | None = None) -> np.ndarray:
    """Return a copy with `text` in the top-left corner, outlined for legibility."""
    img = Image.fromarray(np.ascontiguousarray(image))
    fs = size or max(9, image.shape[0] // 9)
    ImageDraw.Draw(img).text((3, 2), text, fill=(255, 255, 255), font=_font(fs), stroke_width=1, stroke_fill=(0, 0, 0))
    return np.asarray(img)


def grid(images: Sequence[np.ndarray], cols: int, pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile equally sized (H, W, 3) images row-major with `pad` pixels between them."""
    h, w = images[0].shape[:2]
    rows = -(-len(images) // cols)
    out = np.full((rows * h + (rows + 1) * pad, cols * w + (cols + 1) * pad, 3), fill, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y : y + h, x : x + w] = im
    return out


def save_png(image: np.ndarray, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG", optimize=True)


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike[str], fps: float = 8.0) -> None:
    pics = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        pics[0].save(tmp, format="GIF", save_all=True, append_images=pics[1:], duration=round(1000 / fps), loop=0)


def save_image_or_gif(frames: Sequence[np.ndarray], sheet: np.ndarray, path: Path, fps: float = 8.0) -> None:
    """`.gif` -> animation of `frames`; `.png`/`.jpg` -> the still `sheet`."""
    suffix = path.suffix.lower()
    if suffix == ".gif":
        save_gif(frames, path, fps)
    elif suffix == ".png":
        save_png(sheet, path)
    else:
        raise ValueError(f"{path}: unsupported picture type {suffix!r} (use .png or .gif)")
