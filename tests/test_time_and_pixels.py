"""Timestamps and pixel geometry the header states: timestamps that go back (joined MPEG-TS files, B-frames
muxed with decode-order timestamps), non-square pixels (SAR), an H.264 crop, and HDR transfer functions.

Every test makes its own input with PyAV.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from mosi_tool.cli import app
from mosi_tool.pipeline.dataset import video_info
from mosi_tool.video.clips import ClipSpec, iter_clips
from mosi_tool.video.decode import VideoReader
from mosi_tool.video.timeline import Clock, decode_order_pts

from .conftest import shared, texture


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
          options: dict[str, str] | None = None, pix_fmt: str = "yuv420p", pts: list[int] | None = None) -> Path:  # fmt: skip
    """Encode with libx264 (2 B-frames); decode_order_pts: mux every packet with pts = dts (a broken muxer);
    pts: each frame's timestamp in 1/fps ticks (default 0, 1, 2, ...)."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format=fmt) as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        s.options = {"bf": "2", "g": "12", "crf": "18", **(options or {})}
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = pts[i] if pts else i
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


VOP = b"\x00\x00\x01\xb6"  # an MPEG-4 Part 2 picture's start code
N_VOP = VOP + bytes([0b01010000, 0b01001111])  # a P picture not coded (5-bit time increment): packed B-frames' filler
DIVX_PACKED = b"\x00\x00\x01\xb2DivX503b1393p"  # user data by which FFmpeg's decoder knows packed B-frames


def write_packed_avi(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """MPEG-4 Part 2 with 2 B-frames in AVI, packed as DivX and Xvid store them: each P picture's packet also holds
    the first B-frame after it in decode order, and an N-VOP fills the slot that frees."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format="avi") as out:
        s = out.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"bf": "2", "g": "300"}
        coded: list[bytes] = []
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            coded += [bytes(p) for p in s.encode(frame)]
        coded += [bytes(p) for p in s.encode()]
        at = coded[0].find(VOP)
        slots, i = [coded[0][:at] + DIVX_PACKED + coded[0][at:]], 1
        while i < len(coded):
            anchor, bs, i = coded[i], [], i + 1
            while i < len(coded) and coded[i][coded[i].find(VOP) + 4] >> 6 == 2:  # vop_coding_type B
                bs, i = [*bs, coded[i]], i + 1
            slots += [anchor + bs[0], *bs[1:], N_VOP] if bs else [anchor]
        for n, data in enumerate(slots):
            packet = av.Packet(data)
            packet.pts = packet.dts = n
            packet.time_base, packet.stream, packet.is_keyframe = Fraction(1, fps), s, n == 0
            out.mux(packet)
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
    assert ticks == list(range(100, 220, 4)) and "jump back once" in (clock.warning() or "")
    clock = Clock(Fraction(1, 100), 4)
    ticks = [clock.ticks(p, None) for p in [0, 4, 8, 8, 12, None, 20]]  # a repeated time, a frame without one
    assert ticks == [0, 4, 8, 10, 12, 16, 20] and clock.reordered == 1
    assert Clock(Fraction(1, 100), 4).warning() is None


def test_clock_mends_pairs_out_of_order_without_shifting_the_rest():
    """PTS swapped in pairs, DTS in order, a 1/25 time base (a period of 1 tick): MPEG-4 packed B-frames in AVI
    on a clock without `decode_order` (the reader's takes their DTS)."""
    clock = Clock(Fraction(1, 25), 1)
    stream = [(1, 1), (2, 2), (4, 3), (3, 4), (5, 5), (7, 6), (6, 7), (8, 8), (10, 9), (9, 10)]
    got = [clock.ticks(p, d) for p, d in stream]
    assert got == [1, 2, 4, Fraction(9, 2), 5, 6, 7, 8, 9, 10] and clock.reordered == 1  # half a tick, no cascade


def test_joined_mpegts_times_go_forward_over_both_parts(tmp_path):
    path = joined_ts(tmp_path)
    reader = VideoReader(path)
    times = np.array([f.time for f in reader.frames()])
    assert len(times) == 100 and (np.diff(times) > 0.03).all() and times[-1] == pytest.approx(99 / 25, abs=1e-6)
    assert reader.lost_frames == 0
    (warning,) = [w for w in reader.warnings if "jump back" in w]
    assert "frame 50" in warning and warning in video_info(reader)["warnings"]
    clips = list(iter_clips(VideoReader(path), ClipSpec(stack=16, mode="full")))
    ranges = np.array([(c.times[0], c.times[-1]) for c in clips])
    assert (ranges[:, 1] > ranges[:, 0]).all() and (np.diff(ranges[:, 0]) > 0).all()  # time_range in order


def test_joined_mpegts_motion_and_overlay_last_both_parts(tmp_path):
    from mosi_tool.video.motion import read_motion

    path = joined_ts(tmp_path)
    field = read_motion(path)
    assert len(field.times) == 100 and (np.diff(field.times) > 0.03).all()
    out = tmp_path / "o.mp4"
    result = cli("saliency", str(path), "--method", "mv", "--out", str(out))
    assert "jump back" in result.output
    t = overlay_times(out)
    assert len(t) == 100 and (np.diff(t) > 0.03).all() and t[-1] - t[0] == pytest.approx(99 / 25, abs=0.002)


def test_clock_takes_decode_timestamps_throughout_when_pts_are_in_decode_order():
    assert decode_order_pts([0, 40, 80, 120, 160], reorders=True)
    assert not decode_order_pts([0, 80, 40, 120, 160], reorders=True)  # B-frames muxed properly
    assert not decode_order_pts([0, 40, 80, 120, 160], reorders=False)  # no B-frames: the PTS are right
    assert decode_order_pts([1, 3, 2, 4, 6, 5], reorders=True, stored=False)  # AVI: FFmpeg's guesses
    assert not decode_order_pts([1, 2, 3, 4, 5, 6], reorders=False, stored=False)
    clock = Clock(Fraction(1, 1000), 40, decode_order=True)
    stream = [(1040, 1000), (1120, 1040), (1160, 1080), (1080, 1120), (1200, 1160), (1240, None)]  # (pts, dts) per frame
    assert [clock.ticks(p, d) for p, d in stream] == [1040, 1080, 1120, 1160, 1200, 1240]
    assert "decode order" in (clock.warning() or "")


@pytest.mark.parametrize("suffix, fmt, decode_order_pts", [
    ("mkv", "matroska", True),  # a muxer that wrote decode timestamps as presentation ones
    ("ts", "mpegts", True),
    ("avi", None, False),  # AVI stores no presentation timestamps: FFmpeg gives decode-order ones
])  # fmt: skip
def test_b_frames_with_decode_order_timestamps_play_in_order(tmp_path, suffix, fmt, decode_order_pts):
    path = write(tmp_path / f"dts.{suffix}", moving_square(50, 96, 64), fmt=fmt, decode_order_pts=decode_order_pts)
    assert_times_in_order(path, tmp_path)


def test_packed_b_frames_in_avi_play_in_order_from_the_first_frame(tmp_path):
    """AVI stores no PTS: for packed B-frames FFmpeg guesses them out of order in pairs (frames' PTS 1, 2, 4, 3, ...),
    and the first pair out of order kept its PTS and the half-period repair (times 0, .04, .12, .14, .16). The
    last frame, flushed out without a DTS, has a PTS no later than the frame before: it comes one period after."""
    path = write_packed_avi(tmp_path / "packed.avi", moving_square(30, 96, 64))
    with av.open(str(path)) as c:
        pts = [f.pts for f in c.decode(video=0)]
    assert pts[:4] == [1, 2, 4, 3] and pts[-2:] == [30, 29]  # the guessed PTS this is about
    assert_times_in_order(path, tmp_path, 30)


def assert_times_in_order(path: Path, tmp_path: Path, n: int = 50) -> None:
    """The reader, the motion pass and the `saliency` overlay give `path`'s n frames at 0, 1/25, 2/25, ... s, and
    the reader says once that it used the decode timestamps."""
    reader = VideoReader(path)
    times = np.array([f.time for f in reader.frames()])
    np.testing.assert_allclose(times, np.arange(n) / 25, atol=1e-6)
    assert reader.lost_frames == 0 and len(reader.warnings) == 1 and "decode order" in reader.warnings[0]
    from mosi_tool.video.motion import read_motion

    np.testing.assert_allclose(read_motion(path).times, times)  # the motion pass keeps the same clock
    out = tmp_path / "o.mp4"
    cli("saliency", str(path), "--method", "mv", "--out", str(out))
    t = overlay_times(out)
    np.testing.assert_allclose(t - t[0], np.arange(n) / 25, atol=1e-4)  # no frame of a few microseconds


@pytest.mark.parametrize("name, seconds", [
    ("box.mp4", 15.151),  # H.264 in MP4 with decode-order PTS: times went back by up to 0.1 s
    ("eye_makeup.avi", 6.52),  # MPEG-4 with packed B-frames in AVI: PTS out of order in pairs
])  # fmt: skip
def test_real_files_with_timestamps_out_of_order(name, seconds):
    reader = VideoReader(shared("videos", name))
    times = np.array([f.time for f in reader.frames((32, 32))])
    assert (np.diff(times) > 0).all() and times[-1] == pytest.approx(seconds, abs=0.001) and reader.lost_frames == 0
    np.testing.assert_allclose(times[:10], np.arange(10) / reader.info.fps, atol=0.001)  # from the first frame on
    assert len(reader.warnings) == 1 and "took their decode timestamps" in reader.warnings[0]


def test_targets_keep_and_print_the_timestamp_repair(tmp_path):
    """`targets` reads only the motion pass; the clock it shares with the reader mended the timestamps but its
    warning was neither printed nor kept in the file's info, as `features` and `saliency` do."""
    from mosi_tool.motion_targets.compute import compute_targets

    t = compute_targets(shared("videos", "eye_makeup.avi"))
    assert [w for w in t.info["warnings"] if "took their decode timestamps" in w]
    assert t.times[-1] == pytest.approx(6.52, abs=0.001) and (np.diff(t.times) > 0).all()
    np.testing.assert_allclose(t.times[:5], np.arange(5) / 25, atol=1e-6)  # not 0, .04, .12, .14, .16


def test_targets_report_frames_lost_in_a_damaged_part_as_the_reader_does(tmp_path):
    """A gap in a constant-rate stream's timestamps (frames lost to damage) is a warning of the reader's; the
    targets, made from the vector pass and not the reader's decode, said nothing of it."""
    from mosi_tool.motion_targets.compute import compute_targets

    path = write(tmp_path / "gap.mp4", moving_square(40, 128, 96), pts=[*range(20), *range(30, 50)])  # 20..29 lost
    reader = VideoReader(path)
    list(reader.frames())
    lost = [w for w in reader.warnings if "10 frames lost in damaged parts" in w]
    assert lost, reader.warnings
    assert lost[0] in compute_targets(path).info["warnings"]


def test_intact_b_frame_stream_keeps_its_timestamps(tmp_path):
    path = write(tmp_path / "ok.mp4", moving_square(30, 96, 64))
    reader = VideoReader(path)
    times = np.array([f.time for f in reader.frames()])
    np.testing.assert_allclose(times, np.arange(30) / 25, atol=1e-6)
    assert not reader.warnings


# 2. Non-square pixels ---------------------------------------------------------------------------------------


def write_sar(path: Path, frames: list[np.ndarray], sar: Fraction, fps: int = 25) -> Path:
    """libx264 with a sample aspect ratio in its header (VUI) and the MP4's `pasp`."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.sample_aspect_ratio = sar
        s.options = {"crf": "10", "g": "12"}
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def test_non_square_pixels_are_resampled_to_the_displayed_size(tmp_path):
    path = write_sar(tmp_path / "pal.mp4", moving_square(12, 96, 64), Fraction(16, 11))  # shown 140x64
    reader = VideoReader(path)
    frames = [f.image for f in reader.frames()]
    assert (reader.info.width, reader.info.height) == (140, 64) and frames[0].shape == (64, 140, 3)
    assert reader.info.sample_aspect_ratio == "16:11" and any("SAR 16:11" in n for n in reader.info.notes)
    info = video_info(reader)
    assert (info["width"], info["height"]) == (140, 64)
    # the stored square (16 px wide) is shown 16 * 16/11 = 23 px wide: measure it on the decoded frame
    still = write_sar(tmp_path / "still.mp4", [np.full((64, 96, 3), 40, np.uint8)] * 2, Fraction(16, 11))
    plain = np.full((64, 96, 3), 40, np.uint8)
    plain[20:36, 40:56] = 220
    box = write_sar(tmp_path / "box.mp4", [plain] * 2, Fraction(16, 11))
    image = next(iter(VideoReader(box).frames())).image.astype(int) - next(iter(VideoReader(still).frames())).image
    cols = np.flatnonzero(image[28, :, 0] > 90)
    assert 21 <= len(cols) <= 25 and abs(cols.mean() - 48 * 16 / 11) < 2


def test_non_square_motion_field_and_overlay_are_in_displayed_pixels(tmp_path):
    from mosi_tool.video.motion import read_motion

    path = write_sar(tmp_path / "pal.mp4", moving_square(30, 192, 96, speed=3, square=24), Fraction(16, 11))  # shown 279x96
    for measure in (False, True):  # measured on the stored pictures, then resampled as the displacements are
        field = read_motion(path, measure=measure)
        assert field.size == (279, 96) and field.grid == (12, 35)
        speed = np.linalg.norm(field.residual()[3:], axis=-1)
        moving = field.vectors[3:][speed > 1.5]
        assert len(moving) and np.median(moving[:, 0]) == pytest.approx(3 * 16 / 11, rel=0.15)  # 3 stored px/frame
    out = tmp_path / "o.mp4"
    cli("saliency", str(path), "--method", "mv", "--out", str(out))
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert (s.width, s.height) == (280, 96)  # 279 padded to even; square pixels
        assert s.sample_aspect_ratio in (None, Fraction(1))


# 3. An H.264 crop -------------------------------------------------------------------------------------------


def crop_stream(src: Path, dst: Path, **crop: int) -> Path:
    """`dst`: `src`'s H.264 stream with a new crop in its SPS (the h264_metadata bitstream filter, no re-encode)."""
    if "h264_metadata" not in av.bitstream.bitstream_filters_available:
        pytest.skip("this FFmpeg build has no h264_metadata bitstream filter")
    desc = "h264_metadata=" + ":".join(f"crop_{k}={v}" for k, v in crop.items())
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        ivs = i.streams.video[0]
        ovs = o.add_stream_from_template(ivs)
        bsf = av.bitstream.BitStreamFilterContext(desc, ivs, ovs)
        for packet in i.demux(ivs):
            for p in bsf.filter(packet if packet.dts is not None else None):
                p.stream = ovs
                o.mux(p)
    return dst


@pytest.mark.parametrize("options, pix_fmt", [
    ({}, "yuv420p"),  # High profile
    ({"profile": "baseline", "bf": "0"}, "yuv420p"),  # no chroma_format_idc in the SPS
    ({"x264-params": "cqm=jvt"}, "yuv420p"),  # scaling lists in the SPS
    ({"flags": "+ildct+ilme", "x264-params": "interlaced=1"}, "yuv420p"),  # field coding: rows in pairs of macroblocks
    ({}, "yuv444p"),  # a crop unit of 1 pixel
])  # fmt: skip
def test_sps_crop_is_read_from_the_header(tmp_path, options, pix_fmt):
    from mosi_tool.video.h264_sps import stream_crop

    odd = write(tmp_path / "odd.mkv", moving_square(3, 100, 60), options=options, pix_fmt=pix_fmt)  # coded 112x64
    with av.open(str(odd)) as c:
        crop = stream_crop(c.streams.video[0].codec_context.extradata)
    assert crop is not None and (crop.left, crop.right, crop.top, crop.bottom, crop.coded_width, crop.coded_height) == (0, 12, 0, 4, 112, 64)


def test_sps_crop_offsets_from_annex_b_and_a_bitstream_filter(tmp_path):
    from mosi_tool.video.h264_sps import stream_crop

    ts = write(tmp_path / "t.ts", moving_square(3, 100, 60), fmt="mpegts")  # Annex B extradata
    with av.open(str(ts)) as c:
        crop = stream_crop(c.streams.video[0].codec_context.extradata)
    assert crop is not None and (crop.right, crop.bottom) == (12, 4)
    moved = crop_stream(write(tmp_path / "big.mp4", moving_square(3, 192, 128)), tmp_path / "c.mp4", left=64, top=32, right=16)
    reader = VideoReader(moved)
    assert reader.pixels.offset == (64, 32) and (reader.info.width, reader.info.height) == (112, 96)
    assert stream_crop(b"") is None and stream_crop(b"\x00\x00\x01\x67\x42") is None  # none, or cut short


def test_a_left_crop_is_applied_exactly(tmp_path):
    """FFmpeg drops a 32-pixel left crop to keep memory aligned unless told otherwise: frames came out 32 pixels
    wider than the stream's size, then squeezed into it."""
    src = write(tmp_path / "big.mp4", moving_square(3, 192, 128), options={"crf": "0"})
    cropped = crop_stream(src, tmp_path / "c.mp4", left=32)
    full = next(iter(VideoReader(src).frames())).image.astype(int)
    shown = next(iter(VideoReader(cropped).frames())).image
    assert shown.shape == (128, 160, 3) and np.abs(shown - full[:, 32:]).mean() < 2


def test_motion_of_a_cropped_stream_is_where_the_object_is(tmp_path):
    from mosi_tool.video.motion import read_motion

    src = write(tmp_path / "big.mp4", moving_square(30, 256, 160, start=30, speed=3, square=24))  # x from 92 to 179
    cropped = crop_stream(src, tmp_path / "c.mp4", left=64, top=32)
    for measure in (False, True):  # reference distances measured on the cropped pictures: the vectors' positions less the crop
        whole, part = read_motion(src, measure=measure), read_motion(cropped, measure=measure)
        assert part.size == (192, 128) and part.grid == (16, 24)
        a, b = np.linalg.norm(whole.residual(), axis=-1)[2:, 4:, 8:], np.linalg.norm(part.residual(), axis=-1)[2:]
        moving = a > 1.5
        assert moving.sum() > 20 and (b[moving] > 1.5).mean() > 0.8 and (b[~moving] > 1.5).mean() < 0.05
    boxes = tmp_path / "b.jsonl"
    cli("saliency", str(cropped), "--method", "mv", "--boxes", str(boxes), "--out", str(tmp_path / "o.mp4"))
    lines = [json.loads(line) for line in boxes.read_text().splitlines()]
    frame = lines[10]["boxes"]
    x = 2 + (30 + 10) * 3 - 64  # the square's left edge in the shown picture (the background is still)
    assert frame and all(b[0] - 8 <= x + 12 <= b[2] + 8 for b in frame), frame  # around its centre, not 64 px off


# 4. HDR -------------------------------------------------------------------------------------------------


def test_hdr_video_is_said_to_be_not_tone_mapped_and_the_overlay_is_tagged_sdr(tmp_path):
    path = tmp_path / "hdr.mkv"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p10le"
        s.codec_context.color_trc, s.codec_context.color_primaries, s.codec_context.colorspace = 16, 9, 9  # PQ, BT.2020
        for i, img in enumerate(moving_square(12, 96, 64)):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p10le")
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    reader = VideoReader(path)
    list(reader.frames())
    (warning,) = [w for w in video_info(reader)["warnings"] if "HDR" in w]
    assert "PQ transfer, BT.2020 primaries" in warning and "without tone mapping" in warning
    overlay = tmp_path / "o.mp4"
    result = cli("saliency", str(path), "--method", "mv", "--out", str(overlay))
    assert result.output.count("without tone mapping") == 1
    with av.open(str(overlay)) as c:
        cc = c.streams.video[0].codec_context
        assert (cc.color_trc, cc.colorspace) == (1, 6)  # SDR BT.709 transfer, BT.601 matrix: what was written
