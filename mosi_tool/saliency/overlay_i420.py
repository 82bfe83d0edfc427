"""The overlay's blend done on a yuv420p picture: the heat colour and the colour bar blended straight into the
decoded Y, U and V planes, which then go to the encoder as they are.

The same blend as `viz.overlay` and `viz.draw_colorbar` on RGB followed by the RGB -> yuv420p conversion
(`video.i420.i420_frame`), but without either colour conversion: BT.601 is linear, so blending a colour of
opacity a into a pixel's Y, U and V is blending it into its RGB, converted. Y is blended per pixel; U and V,
one sample per 2x2 block, get the block's mean heat index (the heat is a smooth upsampled map) and, for the
colour bar, the block's mean opacity and premultiplied colour. Pixels without colour keep the decoded bytes
exactly (the RGB round trip moved them by a level or two).
Measured by `python bench/saliency_vs_ffmpeg.py` (docs/BENCHMARKS.md): the RGB decode conversion, the RGB
blend and the RGB -> yuv420p conversion were most of what the overlay cost beyond the transcode itself.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .. import viz
from ..video.i420 import rgb_to_yuv601

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # Y (H, W), U and V (H/2, W/2) uint8


@lru_cache(maxsize=4)
def overlay_tables(alpha: float = viz.OVERLAY_ALPHA) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per heat index (256,) uint8 each: the weight left to the picture, 255 * (1 - a), then the colour's Y, U
    and V already weighted, a * Y(colour) (a: `viz.overlay_opacity`, colour: `viz.colormap_lut`)."""
    a = viz.overlay_opacity(np.linspace(0, 1, 256, dtype=np.float32), alpha).astype(np.float64)  # (256,)
    keep = np.round(255 * (1 - a)).astype(np.uint8)
    yuv = rgb_to_yuv601(viz.colormap_lut()) * a[:, None]  # (256, 3)
    return keep, *(np.round(yuv[:, c]).astype(np.uint8) for c in range(3))  # type: ignore[return-value]


def _blend(src: np.ndarray, index: np.ndarray, keep: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """src * keep[index] / 255 + colour[index], in 8-bit fixed point (as `viz.overlay`)."""
    return cv2.add(cv2.multiply(src, cv2.LUT(index, keep), scale=1 / 255), cv2.LUT(index, colour))


def overlay_i420(planes: Planes, heat: np.ndarray, out: Planes, alpha: float = viz.OVERLAY_ALPHA) -> None:
    """Write into `out` the picture `planes` with the heat map blended over it (`viz.overlay`'s colours and
    opacities). planes, out: Y (H, W), U and V (H/2, W/2) uint8, H and W even; heat: (H, W) float in [0, 1],
    or uint8 colour-table indices (`viz.heat_index`)."""
    for src, dst in zip(planes, out):
        dst[:] = src
    index = viz.heat_index(heat)  # (H, W) uint8
    # only the rectangle holding any colour is blended (motion maps are mostly zero)
    x, y, w, h = cv2.boundingRect((index > int(viz.OVERLAY_LOW * 255)).view(np.uint8))
    if w == 0 or h == 0:
        return
    keep, *colours = overlay_tables(alpha)
    out[0][y : y + h, x : x + w] = _blend(planes[0][y : y + h, x : x + w], index[y : y + h, x : x + w], keep, colours[0])
    x0, y0, x1, y1 = x // 2, y // 2, (x + w + 1) // 2, (y + h + 1) // 2  # the 2x2 blocks the rectangle touches
    block = cv2.resize(index[2 * y0 : 2 * y1, 2 * x0 : 2 * x1], (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    for src, dst, colour in zip(planes[1:], out[1:], colours[1:]):
        dst[y0:y1, x0:x1] = _blend(src[y0:y1, x0:x1], block, keep, colour)


@lru_cache(maxsize=16)
def colorbar_i420(height: int, width: int, title: str = "motion") -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """`viz.colorbar_stamp` in yuv420p terms: (top, left, Y stamp, U and V stamps, chroma opacity) of the
    corner it covers, top and left even. The Y stamp (h, w, 2) float32 holds the premultiplied colour a * Y
    and the opacity a (0..255); U and V (h/2, w/2) the 2x2 block means of a * U and a * V, the chroma opacity
    (h/2, w/2) the blocks' mean a. None when the frame is too small for a colour bar."""
    stamp = viz.colorbar_stamp(height, width, title=title)
    if stamp is None:
        return None
    top, left, colours, opacity = stamp
    pad_top, pad_left = top % 2, left % 2  # start on a 2x2 block: the padding is transparent
    colours = np.pad(colours, ((pad_top, 0), (pad_left, 0), (0, 0)))
    a = np.pad(opacity[..., 0], ((pad_top, 0), (pad_left, 0))).astype(np.float32)  # (h, w)
    premult = rgb_to_yuv601(colours).astype(np.float32) * a[..., None]  # (h, w, 3)
    h, w = a.shape
    if h % 2 or w % 2:  # an odd frame size: such frames take the RGB path, and get no stamp here
        return None

    def blocks(x: np.ndarray) -> np.ndarray:
        return x.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3), dtype=np.float32)

    return top - pad_top, left - pad_left, np.stack([premult[..., 0], a], -1), blocks(premult[..., 1]), blocks(premult[..., 2]), blocks(a)


def draw_colorbar_i420(planes: Planes, title: str = "motion") -> None:
    """Blend the colour bar (`viz.draw_colorbar`) into yuv420p planes, in place; nothing on a frame too small
    to hold one. planes: Y (H, W), U and V (H/2, W/2) uint8, H and W even."""
    stamp = colorbar_i420(planes[0].shape[0], planes[0].shape[1], title)
    if stamp is None:
        return
    top, left, luma, pu, pv, a_half = stamp
    corner = planes[0][top:, left:]
    corner[:] = np.rint((luma[..., 0] + corner * (255 - luma[..., 1])) / 255)
    for plane, premult in zip(planes[1:], (pu, pv)):
        corner = plane[top // 2 :, left // 2 :]
        corner[:] = np.rint((premult + corner * (255 - a_half)) / 255)
