"""Timestamps and pixel geometry the header states: timestamps that go back (joined MPEG-TS files, B-frames
muxed with decode-order timestamps), non-square pixels (SAR), an H.264 crop, and HDR transfer functions.

Every test makes its own input with PyAV.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from mosi_tool.cli import app
from mosi_tool.pipeline.decode_worker import video_info
from mosi_tool.video.clips import Sampling, iter_clips
from mosi_tool.video.decode import VideoReader
from mosi_tool.video.timeline import Clock

from .conftest import texture


def moving_square(n: int, w: int, h: int, start: int = 0, speed: int = 2, square: int = 16) -> list[np.ndarray]:
    """A textured square moving right over a textured background, (h, w, 3) uint8 each."""
    bg, fg = texture(h, w, seed=1), texture(square, square, seed=2, scale=3)
    out = []
    for i in range(start, start + n):
        img = bg.copy()
        x, y = (2 + i * speed) % (w - square), (h - square) // 3
        img[y : y + square, x : x + square] = fg
        out.append(img)
    return out


def write(path: Path, frames: list[np.ndarray], fps: int = 25, fmt: str | None = None, decode_order_pts: bool = False,
          options: dict[str, str] | None = None, pix_fmt: str = "yuv420p") -> Path:  # fmt: skip
    """Encode with libx264 (2 B-frames); decode_order_pts: mux every packet with pts = dts (a broken muxer)."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format=fmt) as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        s.options = {"bf": "2", "g": "12", "crf": "18", **(options or {})}
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            packets = s.encode(frame)
            for p in packets:
                if decode_order_pts:
                    p.pts = p.dts
                out.mux(p)
        for p in s.encode():
            if decode_order_pts:
                p.pts = p.dts
            out.mux(p)
    return path


def joined_ts(tmp_path: Path, n: int = 50) -> Path:
    """Two MPEG-TS files of n frames each, joined byte for byte (`cat a.ts b.ts`): the second restarts the clock."""
    a = write(tmp_path / "a.ts", moving_square(n, 96, 64), fmt="mpegts")
    b = write(tmp_path / "b.ts", moving_square(n, 96, 64, start=n), fmt="mpegts")
    joined = tmp_path / "joined.ts"
    joined.write_bytes(a.read_bytes() + b.read_bytes())
    return joined


def cli(*args: str, code: int = 0):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


def overlay_times(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.array([f.time for f in c.decode(c.streams.video[0])])


# 1. Timestamps that go back -------------------------------------------------------------------------------


def test_clock_best_effort_follows_ffmpeg():
    """FFmpeg's rule: the PTS until it has run out of order more often than the DTS."""
    clock = Clock(Fraction(1, 1000), 40)
    got = [clock.best_effort(p, d) for p, d in [(0, 0), (80, 40), (120, 80), (40, 120), (160, 160), (240, 200), (200, 240)]]
    assert got == [0, 80, 120, 120, 160, 200, 240]


def test_clock_joins_parts_and_never_goes_back():
    clock = Clock(Fraction(1, 100), 4)
    part = list(range(100, 160, 4))  # 15 frames, then a second part restarting at 100
    ticks = [clock.ticks(p, p) for p in part + part]
    assert ticks == list(range(100, 220, 4)) and "jump back 1 time" in (clock.warning() or "")
    clock = Clock(Fraction(1, 100), 4)
    ticks = [clock.ticks(p, None) for p in [0, 4, 8, 8, 12, None, 20]]  # a repeated time, a frame without one
    assert ticks == [0, 4, 8, 10, 12, 16, 20] and clock.reordered == 1
    assert Clock(Fraction(1, 100), 4).warning() is None


def test_joined_mpegts_times_go_forward_over_both_parts(tmp_path):
    path = joined_ts(tmp_path)
    reader = VideoReader(path)
    times = np.array([f.time for f in reader.frames()])
    assert len(times) == 100 and (np.diff(times) > 0.03).all() and times[-1] == pytest.approx(99 / 25, abs=1e-6)
    assert reader.lost_frames == 0
    (warning,) = [w for w in reader.warnings if "jump back" in w]
    assert "frame 50" in warning and warning in video_info(reader)["warnings"]
    clips = list(iter_clips(VideoReader(path), Sampling(stack=16, mode="full")))
    ranges = np.array([(c.times[0], c.times[-1]) for c in clips])
    assert (ranges[:, 1] > ranges[:, 0]).all() and (np.diff(ranges[:, 0]) > 0).all()  # time_range in order


def test_joined_mpegts_motion_and_overlay_last_both_parts(tmp_path):
    from mosi_tool.video.motion_vectors import read_motion

    path = joined_ts(tmp_path)
    field = read_motion(path)
    assert len(field.times) == 100 and (np.diff(field.times) > 0.03).all()
    out = tmp_path / "o.mp4"
    result = cli("saliency", str(path), "--method", "mv", "--out", str(out))
    assert "jump back" in result.output
    t = overlay_times(out)
    assert len(t) == 100 and (np.diff(t) > 0.03).all() and t[-1] - t[0] == pytest.approx(99 / 25, abs=0.002)


def test_b_frames_with_decode_order_timestamps_play_in_order(tmp_path):
    path = write(tmp_path / "dts.mkv", moving_square(50, 96, 64), fmt="matroska", decode_order_pts=True)
    reader = VideoReader(path)
    times = np.array([f.time for f in reader.frames()])
    assert len(times) == 50 and (np.diff(times) >= 0.02 - 1e-9).all() and times[-1] == pytest.approx(49 / 25, abs=0.041)
    assert any("best-effort" in w for w in reader.warnings)
    out = tmp_path / "o.mp4"
    cli("saliency", str(path), "--method", "mv", "--out", str(out))
    t = overlay_times(out)
    assert len(t) == 50 and (np.diff(t) >= 0.02 - 1e-3).all()  # no frame of a few microseconds


def test_intact_b_frame_stream_keeps_its_timestamps(tmp_path):
    path = write(tmp_path / "ok.mp4", moving_square(30, 96, 64))
    reader = VideoReader(path)
    times = np.array([f.time for f in reader.frames()])
    np.testing.assert_allclose(times, np.arange(30) / 25, atol=1e-6)
    assert not reader.warnings
