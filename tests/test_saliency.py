"""Saliency: CAM = Grad-CAM, time/space interpolation, overlay outputs, and heat where things move."""

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from mosi_tool import load_model
from mosi_tool.cli import app
from mosi_tool.saliency.compute import compute_saliency
from mosi_tool.saliency.gradcam import grad_cam
from mosi_tool.saliency.maps import frame_maps
from mosi_tool.saliency.targets import parse_target, select_maps

from .conftest import encode_frames, shared, write_video

SQUARE = dict(n=40, size=(128, 96), square=32, speed=2)  # moves right by 2 px per frame, never wraps


def square_box(i: int, w: int = 128, h: int = 96, square: int = 32, speed: int = 2) -> tuple[int, int]:
    return (4 + i * speed) % (w - square), (h - square) // 2


@pytest.mark.parametrize("arch", ["r2plus1d_10", "r2d3d_18"])
def test_cam_equals_autograd_gradcam_on_conv5(tmp_path, arch):
    from .conftest import micro_checkpoint

    engine = load_model(micro_checkpoint(tmp_path / "m.safetensors", arch=arch, frames=8), device="cpu")
    torch.manual_seed(0)
    clips = torch.randint(0, 256, (3, 8, 32, 48, 3), dtype=torch.uint8)
    out = engine(clips)
    for c in range(9):
        cam, logits = grad_cam(engine.model, clips, c, "conv5")
        torch.testing.assert_close(cam, out.cam[:, c], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(logits, out.logits)
    cam, _ = grad_cam(engine.model, clips, "pred", "conv5")
    torch.testing.assert_close(cam, select_maps(out.cam, out.logits, "pred", 8), atol=1e-5, rtol=1e-4)


def test_gradcam_conv4_is_finer(micro_ckpt):
    engine = load_model(micro_ckpt, device="cpu")
    clips = torch.randint(0, 256, (2, 4, 32, 32, 3), dtype=torch.uint8)
    c5, _ = grad_cam(engine.model, clips, "motion", "conv5")
    c4, _ = grad_cam(engine.model, clips, "motion", "conv4")
    assert c4.shape[-1] == 2 * c5.shape[-1] and (c4 >= 0).all()


def test_targets():
    cam = torch.rand(2, 9, 1, 2, 2)
    logits = torch.zeros(2, 9)
    logits[0, 3] = 5.0
    logits[1, 8] = 5.0
    torch.testing.assert_close(select_maps(cam, logits, "pred", 8), torch.stack([cam[0, 3], cam[1, 8]]))
    motion = select_maps(cam, logits, "motion", 8)
    p = torch.softmax(logits, 1)[:, :8]
    expected = torch.einsum("bc,bcthw->bthw", p / p.sum(1, keepdim=True), cam[:, :8])
    torch.testing.assert_close(motion, expected)
    torch.testing.assert_close(select_maps(cam, logits, "static-contrast", 8), torch.relu(motion - cam[:, 8]))
    torch.testing.assert_close(select_maps(cam, logits, 2, 8), cam[:, 2])
    assert parse_target("4", 9) == 4
    with pytest.raises(ValueError, match="out of range"):
        parse_target("9", 9)
    with pytest.raises(ValueError, match="must be one of"):
        parse_target("moving", 9)


def test_frame_maps_equal_trilinear_upsampling_in_time():
    clip = torch.rand(1, 2, 3, 4)  # (N, t, h, w)
    times = np.arange(16)[None] / 25.0
    ours = frame_maps(clip.numpy(), times, times[0])
    ref = F.interpolate(clip[None], size=(16, 3, 4), mode="trilinear", align_corners=False)[0, 0]
    np.testing.assert_allclose(ours, ref.numpy(), atol=1e-6)


def test_overlapping_clips_are_averaged_and_every_frame_is_covered():
    maps = np.stack([np.full((1, 1, 1), 1.0), np.full((1, 1, 1), 3.0)]).astype(np.float32)  # (2, t=1, 1, 1)
    times = np.array([[0, 1, 2, 3], [2, 3, 4, 5]], dtype=float)
    out = frame_maps(maps, times, np.arange(7, dtype=float))[:, 0, 0]
    np.testing.assert_allclose(out, [1, 1, 2, 2, 3, 3, 3])  # frame 6 is past every clip: nearest frame's map


def test_a_frame_outside_every_clip_takes_a_map_of_its_own_shot():
    """Frames 2-4 lie between the clips (0-1 and 5-7, as between resampled frames); with a cut at frame 2 they
    take shot 2's nearest map (frame 5's), not frame 1's of the shot before."""
    maps = np.stack([np.full((1, 1, 1), 1.0), np.full((1, 1, 1), 3.0)]).astype(np.float32)
    times = np.array([[0, 1], [5, 7]], dtype=float)
    plain = frame_maps(maps, times, np.arange(8, dtype=float))[:, 0, 0]
    np.testing.assert_allclose(plain, [1, 1, 1, 3, 3, 3, 3, 3])
    cuts = np.zeros(8, bool)
    cuts[2] = True
    np.testing.assert_allclose(frame_maps(maps, times, np.arange(8, dtype=float), cuts)[:, 0, 0], [1, 1, 3, 3, 3, 3, 3, 3])


def _read(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
        return frames, s.average_rate, (s.width, s.height)


@pytest.mark.parametrize("mode", ["full", "center"])
def test_saliency_is_higher_inside_the_moving_square(tmp_path, energy_ckpt, mode):
    video = write_video(tmp_path / "sq.mp4", **SQUARE)
    engine = load_model(energy_ckpt, device="cpu")
    result = compute_saliency(engine, video, "motion", mode=mode, batch_size=4)
    assert result.maps.shape[0] == 40
    from mosi_tool.saliency.render import heat_frames

    heat = heat_frames(result, 0, 40, 128, 96, "video")
    ratios, hits = [], 0
    for i in range(40):
        x, y = square_box(i)
        mask = np.zeros((96, 128), bool)
        mask[y : y + 32, x : x + 32] = True
        ratios.append(heat[i][mask].mean() / heat[i][~mask].mean())
        peak_y, peak_x = np.unravel_index(heat[i].argmax(), heat[i].shape)
        hits += bool(mask[peak_y, peak_x])
    assert np.median(ratios) > 3 and min(ratios) > 1.5
    # The peak falls inside the square (8% of the frame) on most frames; this hand-built model samples
    # its frame differences on a coarse stride grid, so a learned model's peaks are not required here.
    assert hits >= 24


def test_saliency_cli_writes_overlay_maps_and_sheet(tmp_path, energy_ckpt):
    video = write_video(tmp_path / "sq.mp4", **SQUARE)
    out, maps, sheet = tmp_path / "o.mp4", tmp_path / "m.npy", tmp_path / "s.png"
    result = CliRunner().invoke(app, ["saliency", str(video), "--method", "cam", "--model", str(energy_ckpt), "--out", str(out),
                                      "--maps", str(maps), "--sheet", str(sheet), "--step", "4", "--device", "cpu",
                                      "--runtime", "torch"])  # fmt: skip
    assert result.exit_code == 0, result.output
    frames, rate, size = _read(out)
    assert len(frames) == 40 and rate == 12 and size == (128, 96)  # original count, rate and resolution
    m = np.load(maps)
    # default map size: the whole frame at the model's input scale (short side 64, width rounded to 16)
    assert m.shape == (40, 64, 80) and m.dtype == np.float16 and 0 <= m.min() and m.max() <= 1 and m.max() > 0.9
    assert sheet.stat().st_size > 1000
    small = tmp_path / "small.npy"
    result = CliRunner().invoke(app, ["saliency", str(video), "--method", "cam", "--model", str(energy_ckpt), "--out", str(tmp_path / "o2.mkv"),
                                      "--maps", str(small), "--maps-size", "24x18", "--runtime", "torch"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert np.load(small).shape == (40, 18, 24)
    assert len(_read(tmp_path / "o2.mkv")[0]) == 40


def test_saliency_of_a_video_shorter_than_a_clip(tmp_path, energy_ckpt):
    video = write_video(tmp_path / "short.mp4", n=5)
    out = tmp_path / "short_sal.mp4"
    result = CliRunner().invoke(app, ["saliency", str(video), "--method", "cam", "--model", str(energy_ckpt), "--out", str(out), "--runtime", "torch"])
    assert result.exit_code == 0, result.output
    assert "padded with 3" in result.output
    assert len(_read(out)[0]) == 5


def test_saliency_odd_resolution_is_padded_to_even(tmp_path, energy_ckpt):
    frames = [np.zeros((49, 65, 3), np.uint8) for _ in range(12)]
    for i, img in enumerate(frames):
        img[10:30, 2 + 3 * i : 22 + 3 * i] = 200
    path = encode_frames(tmp_path / "odd.mkv", frames, rate=10, codec="ffv1", pix_fmt="yuv444p")
    out = tmp_path / "odd_sal.mp4"
    result = CliRunner().invoke(app, ["saliency", str(path), "--method", "cam", "--model", str(energy_ckpt), "--out", str(out), "--runtime", "torch"])
    assert result.exit_code == 0, result.output
    frames, _, size = _read(out)
    assert size == (66, 50) and len(frames) == 12 and "padded from 65x49 to 66x50" in result.output


def test_saliency_bad_inputs(tmp_path, energy_ckpt):
    bad = tmp_path / "text.mp4"
    bad.write_text("not a video")
    result = CliRunner().invoke(app, ["saliency", str(bad), "--method", "cam", "--model", str(energy_ckpt), "--runtime", "torch"])
    assert result.exit_code == 2 and f"error: {bad}: not a video" in result.output
    result = CliRunner().invoke(app, ["saliency", str(bad), "--method", "cam", "--model", str(tmp_path / "none.safetensors")])
    assert result.exit_code == 2 and "no such file" in result.output
    result = CliRunner().invoke(app, ["saliency", str(bad), "--method", "cam", "--model", str(energy_ckpt), "--target", "12"])
    assert result.exit_code == 2 and "out of range" in result.output


def test_real_video_second_stream_and_truncated(tmp_path, energy_ckpt):
    nasa = shared("videos", "nasa_13013.mp4")
    out = tmp_path / "nasa.mp4"
    result = CliRunner().invoke(app, ["saliency", str(nasa), "--stream", "1", "--method", "cam", "--model", str(energy_ckpt), "--out", str(out), "--runtime", "torch"])
    assert result.exit_code == 0, result.output
    frames, _, size = _read(out)
    assert size == (480, 270)
    tree = shared("videos", "tree.avi")
    out = tmp_path / "tree.mp4"
    result = CliRunner().invoke(app, ["saliency", str(tree), "--method", "cam", "--model", str(energy_ckpt), "--out", str(out), "--runtime", "torch"])
    assert result.exit_code == 0, result.output
    assert "truncated" in result.output and len(_read(out)[0]) == 68
    # --method mv decodes the frames only for the overlay; the warning still comes, and the summary names the source.
    result = CliRunner().invoke(app, ["saliency", str(tree), "--method", "mv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "truncated" in result.output and "optical flow" in result.output.splitlines()[-2]


def test_overlay_frames_are_fully_written_i420():
    """Every plane byte is set (row padding zeroed), and the picture decodes back to the RGB it was made from."""
    import av

    from mosi_tool.video.i420 import i420_frame

    rng = np.random.default_rng(0)
    rgb = np.clip(rng.normal(128, 40, (6, 10, 3)).repeat(4, 0).repeat(4, 1), 0, 255).astype(np.uint8)  # 24x40
    frame = i420_frame(rgb)
    assert (frame.width, frame.height, frame.format.name) == (40, 24, "yuv420p")
    for plane, (w, h) in zip(frame.planes, [(40, 24), (20, 12), (20, 12)]):
        buf = np.frombuffer(memoryview(plane), np.uint8).reshape(h, plane.line_size)
        assert plane.line_size > w and not buf[:, w:].any()  # padding exists here, and is zero
    back = frame.to_ndarray(format="rgb24").astype(int)
    assert np.abs(back - rgb).mean() < 3


def test_overlay_video_is_byte_reproducible(tmp_path):
    """The same command in two processes gives the same file (x264's macroblock tree made them differ; it is off)."""
    import subprocess
    import sys

    camel = shared("davis", "mp4", "camel.mp4")
    outs = [tmp_path / "a.mp4", tmp_path / "b.mp4"]
    for out in outs:
        subprocess.run([sys.executable, "-m", "mosi_tool", "saliency", str(camel), "--out", str(out)], check=True, capture_output=True)
    assert outs[0].read_bytes() == outs[1].read_bytes()


def test_motion_labels_name_the_window_speed_and_the_content_direction():
    from mosi_tool.metadata import ModelMeta, motion_label

    assert [motion_label(*s) for s in [(0, 0), (-2, 0), (1, 0), (0, 1), (0, -1)]] == ["static", "x-2 ->", "x+1 <-", "y+1 ^", "y-1 v"]
    assert len({motion_label(*s) for s in ModelMeta().speed_table()}) == 9  # every class of the default pool apart


def test_mv_note_counts_interpolated_frames_only_where_there_are_some(tmp_path):
    """The note names the frames without vectors (I-frames) that were interpolated; the optical-flow fallback
    (a frame folder) has none, so its note does not speak of vectors ("0 frames without vectors interpolated")."""
    from PIL import Image

    from mosi_tool.saliency.motion import compute_motion_saliency

    video = write_video(tmp_path / "v.mp4", n=20)  # g=8: I-frames at 8 and 16
    (note,) = compute_motion_saliency(video).notes
    assert note.startswith("motion from h264 motion vectors; ") and "2 frames without vectors interpolated" in note, note
    folder = tmp_path / "frames"
    folder.mkdir()
    with av.open(str(video)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            Image.fromarray(frame.to_ndarray(format="rgb24")).save(folder / f"{i:05d}.png")
    (note,) = compute_motion_saliency(folder, fps=12).notes
    assert note.startswith("motion from optical flow") and "vectors" not in note, note
