"""The overlay blended on yuv420p planes (`saliency.overlay_i420`) against the RGB blend it replaces, the
decode that keeps a frame's planes (`VideoReader.frames(planes=True)`), and the 8-bit heat indices."""

import cv2
import numpy as np
import pytest

from mosi_tool import viz
from mosi_tool.saliency.overlay_i420 import draw_colorbar_i420, overlay_i420
from mosi_tool.video.decode import VideoReader
from mosi_tool.video.i420 import i420_canvas, i420_frame

from .conftest import encode_frames

W, H = 320, 240


def planes_of(frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.frombuffer(memoryview(p), np.uint8).reshape(h, p.line_size)[:, :w].copy()
                 for p, (w, h) in zip(frame.planes, [(frame.width, frame.height)] + [(frame.width // 2, frame.height // 2)] * 2))  # fmt: skip


def to_rgb(planes) -> np.ndarray:
    y, u, v = planes
    return cv2.cvtColor(np.concatenate([y, u.reshape(-1, y.shape[1]), v.reshape(-1, y.shape[1])]), cv2.COLOR_YUV2RGB_I420).astype(int)


def scene() -> tuple[np.ndarray, np.ndarray]:
    """A textured RGB frame (H, W, 3) and a smooth heat map (H, W) in [0, 1] with two blobs, one at the peak."""
    rng = np.random.default_rng(0)
    rgb = cv2.resize(rng.integers(0, 256, (H // 8, W // 8, 3), dtype=np.uint8), (W, H), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    heat = np.exp(-((xx - 90) ** 2 + (yy - 100) ** 2) / (2 * 30**2)) + 0.7 * np.exp(-((xx - 230) ** 2 + (yy - 150) ** 2) / (2 * 20**2))
    return rgb, np.clip(heat, 0, 1).astype(np.float32)


def test_yuv_blend_looks_as_the_rgb_blend():
    """The overlay and colour bar blended on the planes decode to the same picture as the RGB blend converted
    to yuv420p (the old path) within a level or two; pixels without colour keep their bytes exactly."""
    rgb, heat = scene()
    planes = planes_of(i420_frame(rgb))  # what a decoder hands over
    source = to_rgb(planes)
    old = to_rgb(planes_of(i420_frame(viz.draw_colorbar(viz.overlay(source.astype(np.uint8), heat)))))
    _, out = i420_canvas(W, H)
    overlay_i420(planes, heat, out)
    draw_colorbar_i420(out)
    new = to_rgb(out)
    coloured = heat > viz.OVERLAY_LOW + 0.1
    assert coloured.mean() > 0.05 and np.abs(new - source)[coloured].mean() > 30  # the test has colour to see
    diff = np.abs(new - old)
    assert diff.mean() < 1.5 and diff[coloured].mean() < 3.0
    assert np.percentile(diff, 99.9) < 16  # text edges of the colour bar, where chroma is shared by 2x2 blocks
    # far from any colour and from the colour bar, Y, U and V are the decoded bytes
    assert np.array_equal(out[0][:40, :40], planes[0][:40, :40]) and np.array_equal(out[1][:20, :20], planes[1][:20, :20])


def test_yuv_blend_takes_indices_or_floats_alike():
    rgb, heat = scene()
    planes = planes_of(i420_frame(rgb))
    outs = []
    for h in (heat, viz.heat_index(heat)):
        _, out = i420_canvas(W, H)
        overlay_i420(planes, h, out)
        outs.append([p.copy() for p in out])
    assert all(np.array_equal(a, b) for a, b in zip(*outs))
    _, out = i420_canvas(W, H)
    overlay_i420(planes, np.zeros_like(heat), out)  # no colour at all: the picture as decoded
    assert all(np.array_equal(a, b) for a, b in zip(out, planes))


def test_i420_canvas_zeroes_the_row_padding():
    frame, (y, u, v) = i420_canvas(40, 24)
    for plane, (w, h) in zip(frame.planes, [(40, 24), (20, 12), (20, 12)]):
        buf = np.frombuffer(memoryview(plane), np.uint8).reshape(h, plane.line_size)
        assert plane.line_size > w and not buf[:, w:].any()
    y[:] = 7
    assert (np.frombuffer(memoryview(frame.planes[0]), np.uint8).reshape(24, -1)[:, :40] == 7).all()  # views, not copies


def test_frames_keep_planes_only_where_they_are_the_encoders_picture(tmp_path):
    """planes=True: an even-sized BT.601 yuv420p video's frames carry their decoded planes, and their RGB
    image (converted on first use) is the one frames() gives; an odd size or full-range (yuvj420p) comes as RGB."""
    rgb, _ = scene()
    frames = [np.roll(rgb, 3 * i, axis=1) for i in range(4)]
    video = encode_frames(tmp_path / "v.mp4", frames)
    reader = VideoReader(video)
    plain = list(reader.frames())
    kept = list(reader.frames(planes=True))
    assert len(kept) == len(plain) == 4
    for a, b in zip(plain, kept):
        assert b.planes is not None and [p.shape for p in b.planes] == [(H, W), (H // 2, W // 2), (H // 2, W // 2)]
        assert not b.planes[0].flags.writeable  # views of the decoder's picture
        assert np.array_equal(a.image, b.image) and (a.index, a.time) == (b.index, b.time)
        assert np.abs(to_rgb(b.planes) - a.image.astype(int)).mean() < 2
    odd = encode_frames(tmp_path / "odd.mkv", [f[:, :-1] for f in frames], codec="ffv1", pix_fmt="yuv420p")
    assert all(f.planes is None for f in VideoReader(odd).frames(planes=True))
    full = encode_frames(tmp_path / "full.mp4", frames, pix_fmt="yuvj420p")
    assert all(f.planes is None for f in VideoReader(full).frames(planes=True))


def test_heat_indices_are_the_heat_frames_indexed():
    """`heat_indices` (8-bit upsampling) is within one level of indexing `heat_frames` (float upsampling)."""
    from mosi_tool.saliency.render import heat_frames, heat_indices
    from mosi_tool.saliency.result import SaliencyResult
    from mosi_tool.video.clips import Geometry

    rng = np.random.default_rng(1)
    for geometry in (Geometry((20, 15), (0, 0, 20, 15)), Geometry((20, 15), (3, 0, 15, 15))):  # whole frame, a centre crop
        maps = rng.random((6, 15, geometry.crop[2])).astype(np.float32)
        result = SaliencyResult(None, geometry, np.arange(6) / 24, maps, np.zeros((0, 0), np.float32),
                                np.zeros((0, 2), np.int64), 0)  # fmt: skip
        for norm in ("bounded", "video", "frame"):
            idx = heat_indices(result, 1, 5, W, H, norm)
            ref = np.stack([viz.heat_index(m) for m in heat_frames(result, 1, 5, W, H, norm)])
            assert idx.dtype == np.uint8 and idx.shape == (4, H, W)
            assert np.abs(idx.astype(int) - ref).max() <= 1
        if geometry.crop[0]:
            assert not idx[:, :, :10].any() and idx[:, :, 60:].any()  # zero outside the crop's footprint
    with pytest.raises(ValueError, match="raw"):
        heat_indices(result, 0, 2, W, H, "raw")


def test_stored_inferno_table_is_matplotlibs():
    import matplotlib

    viz.colormap_lut.cache_clear()
    want = (matplotlib.colormaps["inferno"](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)
    assert np.array_equal(viz.colormap_lut("inferno"), want)
    assert not np.array_equal(viz.colormap_lut("viridis"), want)  # other names still come from matplotlib

