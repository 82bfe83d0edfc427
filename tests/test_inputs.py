"""Inputs users actually have: rotated phone videos, edit lists and late starts, odd sizes, Mac folders,
damaged streams, long videos (streamed maps) and numpy clips in the Python API.

Every test builds its own small input with PyAV; the `bugcase` tests also run the real files of
../shared/bugcases (skipped without them).
"""

from __future__ import annotations

import json
import random
import re
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mosi_tool import load_model
from mosi_tool.loader import load_engine
from mosi_tool.cli import app
from mosi_tool.pipeline.dataset import video_info
from mosi_tool.batch.jobs import find_inputs
from mosi_tool.video.decode import VideoError, VideoReader
from mosi_tool.video.hidden import APPLEDOUBLE_MAGIC
from mosi_tool.video.orientation import from_matrix

from .conftest import bugcase, encode_frames, texture, write_video

ORIENTATIONS = [(0, False, False), (90, False, False), (180, False, False), (270, False, False),
                (0, True, False), (90, True, False), (0, False, True), (270, True, False)]  # fmt: skip


def square_frames(n: int, w: int, h: int, square: int = 16, speed: int = 2) -> list[np.ndarray]:
    """A textured square moving right over a textured background, (h, w, 3) uint8 each."""
    bg, fg = texture(h, w, seed=1), texture(square, square, seed=2, scale=3)
    frames = []
    for i in range(n):
        img = bg.copy()
        x, y = (2 + i * speed) % (w - square), (h - square) // 3
        img[y : y + square, x : x + square] = fg
        frames.append(img)
    return frames


def displayed(stored: np.ndarray, degrees: int, hflip: bool, vflip: bool) -> np.ndarray:
    """What a player shows for `set_display_rotation(degrees, hflip, vflip)`: counter-clockwise, then mirrors
    (PyAV's documented meaning, independent of the code under test)."""
    img = np.rot90(stored, degrees // 90)
    img = img[:, ::-1] if hflip else img
    return img[::-1] if vflip else img


def stored_for(upright: np.ndarray, degrees: int, hflip: bool, vflip: bool) -> np.ndarray:
    """The stored frame that `displayed` turns into `upright`."""
    img = upright[::-1] if vflip else upright
    img = img[:, ::-1] if hflip else img
    return np.ascontiguousarray(np.rot90(img, -(degrees // 90)))


def encode(
    path: Path, frames: list[np.ndarray], fps: int = 10, display: tuple[int, bool, bool] | None = None, start: float = 0.0,
    pts_ms: list[int] | None = None, options: dict[str, str] | None = None, pix_fmt: str = "yuv420p", crf: str = "10",
) -> Path:  # fmt: skip
    """Encode RGB frames with libx264 at `fps` from `start` seconds (or at `pts_ms`), with an optional display matrix."""
    h, w = frames[0].shape[:2]
    tb = Fraction(1, 1000)
    with av.open(str(path), "w", options=options or {}) as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        s.options = {"crf": crf, "g": "10"}
        s.codec_context.time_base = tb
        if display:
            s.set_display_rotation(display[0], hflip=display[1], vflip=display[2])
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = pts_ms[i] if pts_ms is not None else round((start + i / fps) * 1000)
            frame.time_base = tb
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def cli(*args: str, code: int = 0):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


# 1. Rotation and mirror from the display matrix ---------------------------------------------------------


@pytest.mark.parametrize("degrees, hflip, vflip", ORIENTATIONS)
def test_display_matrix_gives_upright_frames(tmp_path, degrees, hflip, vflip):
    stored = texture(24, 40, seed=3, scale=8)
    path = encode(tmp_path / "r.mp4", [stored] * 3, display=(degrees, hflip, vflip), pix_fmt="yuv444p", crf="0")
    reader = VideoReader(path)
    want = displayed(stored, degrees, hflip, vflip)
    assert (reader.info.height, reader.info.width) == want.shape[:2]
    frames = list(reader.frames())
    assert frames[0].image.shape == want.shape
    assert np.abs(frames[0].image.astype(int) - want).mean() < 2  # lossless 4:4:4, up to RGB<->YUV rounding
    small = next(VideoReader(path).frames(size=(want.shape[1] // 2, want.shape[0] // 2))).image
    assert small.shape == (want.shape[0] // 2, want.shape[1] // 2, 3)  # size is the displayed one
    rotation, mirrored = reader.info.rotation, reader.info.mirrored
    assert np.array_equal(displayed(stored, rotation, mirrored, False), want)  # info says what was done


def test_display_matrix_not_a_multiple_of_90_is_snapped_with_a_note():
    c, s = np.cos(np.radians(80)), np.sin(np.radians(80))
    m = [round(v * 65536) for v in (c, -s, 0, s, c, 0)] + [0, 0, 1 << 30]
    orientation = from_matrix(m)
    assert orientation.transpose and orientation.note and "nearest" in orientation.note
    assert orientation.describe() == (90, False)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (n, D) feature arrays."""
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_rotated_video_features_match_the_upright_video(tmp_path, micro_ckpt):
    upright = square_frames(24, 48, 80)  # portrait, as displayed
    stored = [stored_for(f, 90, False, False) for f in upright]
    folder = tmp_path / "videos"
    folder.mkdir()
    # 4:4:4, so chroma subsampling (sited differently across and down the frame) does not blur this random
    # colour texture differently in the two files; the real 4:2:0 files are compared below
    encode(folder / "upright.mp4", upright, pix_fmt="yuv444p")
    encode(folder / "phone.mp4", stored, display=(90, False, False), pix_fmt="yuv444p")
    encode(folder / "sideways.mp4", stored, pix_fmt="yuv444p")  # the control: what ignoring the matrix sees
    out = tmp_path / "feats"
    cli("features", str(folder), "--model", str(micro_ckpt), "--out-dir", str(out), "--workers", "0", "--runtime", "torch")
    a, b, c = (np.load(out / f"{name}.mp4.npz") for name in ("upright", "phone", "sideways"))
    cos, control = cosine(a["features"], b["features"]), cosine(a["features"], c["features"])
    assert cos.min() >= 0.99, cos
    # random-init features are alike for any input of the same colours: the rotated file must be far closer
    assert (1 - cos).mean() < 0.2 * (1 - control).mean(), (cos, control)
    info = json.loads(str(b["info"]))
    assert (info["rotation"], info["mirrored"], info["width"], info["height"]) == (90, False, 48, 80)
    assert json.loads(str(a["info"]))["rotation"] == 0


@pytest.mark.parametrize("measure", [False, True])  # reference distances estimated, or measured on the stored pictures
@pytest.mark.parametrize("display", [(90, False, False), (270, True, False), (180, False, True)])
def test_motion_vectors_of_rotated_files_are_upright(tmp_path, display, measure):
    from mosi_tool.video.motion import read_motion

    upright = square_frames(24, 96, 64, square=24, speed=3)
    plain = read_motion(encode(tmp_path / "upright.mp4", upright), measure=measure)
    turned = read_motion(encode(tmp_path / "phone.mp4", [stored_for(f, *display) for f in upright], display=display), measure=measure)
    assert turned.vectors.shape == plain.vectors.shape and turned.source == plain.source
    a, b = plain.vectors[2:], turned.vectors[2:]
    mag_a, mag_b = np.linalg.norm(a, axis=-1).mean(0), np.linalg.norm(b, axis=-1).mean(0)
    assert np.corrcoef(mag_a.ravel(), mag_b.ravel())[0, 1] > 0.8  # the square's cells, where they are displayed
    moving = np.linalg.norm(a, axis=-1) > 1
    assert (a[moving] * b[moving]).sum(-1).mean() > 0.5 * (a[moving] ** 2).sum(-1).mean()  # and pointing the same way


@pytest.mark.parametrize("method", ["cam", "mv"])
def test_rotated_overlay_plays_upright_at_the_display_size(tmp_path, energy_ckpt, method):
    upright = square_frames(16, 64, 96)
    plain = encode(tmp_path / "upright.mp4", upright)
    phone = encode(tmp_path / "phone.mp4", [stored_for(f, 270, True, False) for f in upright], display=(270, True, False))
    overlays = []
    for video in (plain, phone):
        out = tmp_path / f"{video.stem}.overlay.mp4"
        cli("saliency", str(video), "--model", str(energy_ckpt), "--method", "cam", "--out", str(out), "--runtime", "torch")
        with av.open(str(out)) as c:
            s = c.streams.video[0]
            assert (s.width, s.height) == (64, 96)
            overlays.append(np.stack([f.to_ndarray(format="rgb24").astype(np.float32) for f in c.decode(s)]))
    same = np.abs(overlays[0] - overlays[1]).mean()
    sideways = np.abs(overlays[0] - overlays[1][:, ::-1]).mean()  # the same overlay, mirrored: a control
    assert same < 12 and sideways > 4 * same, (same, sideways)


# 2. Edit lists and late starts: no false "truncated" warning ------------------------------------------


@pytest.mark.parametrize("suffix", ["mp4", "mov"])
def test_edit_list_hiding_frames_is_not_called_truncated(tmp_path, suffix):
    # frames from -0.8 s: the MP4 muxer writes an edit list that hides the first 8 of 40 frames
    path = encode(tmp_path / f"edit.{suffix}", square_frames(40, 64, 48), start=-0.8, options={"avoid_negative_ts": "disabled"})
    reader = VideoReader(path)
    frames = list(reader.frames())
    assert reader.info.frames == 40 and len(frames) == 32  # a player shows 32 of the 40 stored frames
    assert not reader.warnings, reader.warnings
    assert frames[0].time == 0.0 and reader.start_time == 0.0


@pytest.mark.parametrize("suffix", ["mkv", "mp4", "ts"])
def test_late_start_time_is_recorded_not_called_truncated(tmp_path, suffix):
    path = encode(tmp_path / f"late.{suffix}", square_frames(40, 64, 48), start=10.0)
    reader = VideoReader(path)
    frames = list(reader.frames())
    assert len(frames) == 40 and not reader.warnings, reader.warnings
    assert frames[0].time == 0.0 and frames[-1].time == pytest.approx(3.9, abs=0.002)  # from the first frame
    info = video_info(reader)
    assert info["start_time"] == pytest.approx(10.0, abs=0.002) and info["lost_frames"] == 0


def test_a_late_start_does_not_hide_real_truncation(tmp_path):
    mkv = encode(tmp_path / "late.mkv", square_frames(120, 64, 48), start=10.0)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(mkv.read_bytes()[: mkv.stat().st_size // 2])
    reader = VideoReader(cut)
    n = len(list(reader.frames()))
    assert 10 < n < 100 and any("truncated" in w for w in reader.warnings)


# 3. Overlays: yuv420p H.264, even size, index first ----------------------------------------------------


def top_level_boxes(path: Path) -> list[str]:
    """The MP4 file's top-level box types, in order."""
    data, names, i = path.read_bytes(), [], 0
    while i + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        size = struct.unpack(">Q", data[i + 8 : i + 16])[0] if size == 1 else size
        names.append(kind.decode("latin-1"))
        if size < 8:
            break
        i += size
    return names


def check_playable_overlay(path: Path, width: int, height: int) -> None:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        assert (s.width, s.height) == (width + width % 2, height + height % 2)
        assert s.profile in ("High", "Main", "Constrained Baseline", "Baseline")
    boxes = top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat")  # +faststart


def test_odd_sized_overlay_is_yuv420p_padded_and_faststart(tmp_path, energy_ckpt):
    video = encode_frames(tmp_path / "odd.mkv", square_frames(12, 75, 49), rate=10, codec="ffv1", pix_fmt="yuv444p")
    out = tmp_path / "odd.overlay.mp4"
    result = cli("saliency", str(video), "--model", str(energy_ckpt), "--method", "cam", "--out", str(out), "--runtime", "torch")
    assert "padded from 75x49 to 76x50" in result.output
    check_playable_overlay(out, 75, 49)
    with av.open(str(out)) as c:
        assert "padded from 75x49 to 76x50" in c.metadata.get("comment", "")
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    # the padding repeats the last column and row
    assert np.abs(frame[:, -1] - frame[:, -2]).mean() < 6 and np.abs(frame[-1] - frame[-2]).mean() < 6
    even = tmp_path / "even.overlay.mov"
    cli("saliency", str(encode(tmp_path / "even.mp4", square_frames(12, 64, 48))), "--model", str(energy_ckpt),
        "--out", str(even), "--runtime", "torch")  # fmt: skip
    check_playable_overlay(even, 64, 48)


# 4. Hidden files and AppleDouble companions ------------------------------------------------------------


def test_hidden_and_appledouble_files_are_skipped_and_counted(tmp_path, micro_ckpt):
    root = tmp_path / "batch"
    (root / ".cache").mkdir(parents=True)
    (root / "frames").mkdir()
    encode(root / "walk.mp4", square_frames(12, 64, 48))
    (root / "._walk.mp4").write_bytes(APPLEDOUBLE_MAGIC + b"\x00\x02\x00\x00Mac OS X        ")
    (root / ".hidden.mp4").write_bytes(b"junk")
    encode(root / ".cache" / "old.mp4", square_frames(12, 64, 48))  # inside a hidden folder: not an input
    for i in range(6):
        av.VideoFrame.from_ndarray(texture(48, 64, i), format="rgb24").to_image().save(root / "frames" / f"{i:03d}.png")
    (root / "frames" / "._000.png").write_bytes(APPLEDOUBLE_MAGIC + b"\x00" * 20)
    found = find_inputs([root])
    assert sorted(p.name for p in found.videos) == ["frames", "walk.mp4"]
    assert sorted(p.name for p in found.hidden) == ["._walk.mp4", ".hidden.mp4"]
    listed = tmp_path / "list.txt"
    listed.write_text("batch/walk.mp4\nbatch/._walk.mp4\n")
    assert [p.name for p in find_inputs([], listed).hidden] == ["._walk.mp4"]  # named explicitly: still not a video
    out = tmp_path / "feats"
    result = cli("features", str(root), "--model", str(micro_ckpt), "--out-dir", str(out), "--workers", "0", "--runtime", "torch")
    assert "2 written" in result.output and "0 failed" in result.output and "2 hidden or AppleDouble files skipped" in result.output
    assert not (out / "failures.jsonl").exists()
    assert VideoReader(root / "frames").info.frames == 6  # the frame folder ignores "._000.png"
    # in parts, part 0 alone counts them: the parts' reports add up to the whole run's
    said = [cli("targets", str(root), "-o", str(tmp_path / "t"), "-j", "0", "--shard", f"{i}/2").output for i in range(2)]
    assert "(2 hidden or AppleDouble files skipped)" in said[0] and "hidden or AppleDouble" not in said[1], said


@pytest.mark.parametrize("command", ["saliency", "targets", "features"])
def test_a_folder_without_videos_is_an_error_before_any_model(tmp_path, command):
    """A folder without videos (empty or mistyped) exited 0 with a warning, and `features` opened the model
    and chose a runtime first: now one error line and exit 2, as a missing input, with no model opened (a
    junk one here) and no --out-dir made."""
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"junk")
    out = tmp_path / "out"
    extra = {"saliency": ["--out-dir", str(out)], "targets": ["-o", str(out)], "features": ["--out-dir", str(out), "--model", str(junk)]}
    result = cli(command, str(empty), *extra[command], code=2)
    assert result.stderr == f"error: no videos found in {empty} (videos are found by their suffix, frame folders by their images)\n"
    assert not out.exists()


# 5. Damaged streams: lost frames counted from timestamp gaps ------------------------------------------


def test_gap_in_a_constant_rate_stream_counts_lost_frames(tmp_path):
    keep = [i for i in range(40) if not 20 <= i < 25]
    frames = square_frames(40, 64, 48)
    path = encode(tmp_path / "gap.mp4", [frames[i] for i in keep], pts_ms=[i * 100 for i in keep])
    reader = VideoReader(path)
    assert len(list(reader.frames())) == 35
    assert reader.lost_frames == 5 and "5 frames lost" in reader.warnings[0] and "2.50 s" in reader.warnings[0]
    assert video_info(reader)["lost_frames"] == 5


def test_variable_frame_rate_is_not_damage(tmp_path):
    pts = [0, 40, 80, 200, 210, 220, 500, 510, 900, 960]
    path = encode(tmp_path / "vfr.mkv", square_frames(len(pts), 64, 48), pts_ms=pts)
    reader = VideoReader(path)
    assert len(list(reader.frames())) == len(pts) and reader.lost_frames == 0 and not reader.warnings


def test_damaged_mpegts_warns_with_the_frames_it_lost(tmp_path):
    path = encode(tmp_path / "d.ts", square_frames(40, 96, 72), crf="20")
    data = bytearray(path.read_bytes())
    off = (len(data) // 2) // 188 * 188 + 4  # garbage over the middle, as a damaged recording
    rnd = random.Random(7)
    data[off : off + 3000] = bytes(rnd.randrange(256) for _ in range(3000))
    path.write_bytes(bytes(data))
    reader = VideoReader(path)
    n = len(list(reader.frames()))
    assert reader.lost_frames > 0 and n + reader.lost_frames == 40  # every frame is decoded or counted lost
    assert any("frames lost" in w for w in reader.warnings) and not any("truncated" in w for w in reader.warnings)



DAMAGED_FRAMES = 60


def refused_packets_mp4(path: Path, every: bool = False) -> tuple[Path, int]:
    """An H.264 MP4 whose coded data is overwritten with random bytes (seed 7): 300 bytes from the start of the
    first packet from the middle on that is not a keyframe, in the middle of the mdat box (its sample sizes and
    offsets intact), or every packet's data (`every`). Returns (path, the frames PyAV's plain `container.decode`
    gives before it raises): the decoder refuses the overwritten packets (a garbage NAL length), which ended the
    whole decode there."""
    encode(path, square_frames(DAMAGED_FRAMES, 96, 72), crf="20")
    with av.open(str(path)) as c:
        places = [(p.pos, p.size, p.is_keyframe) for p in c.demux(video=0) if p.size]
    data, rnd = bytearray(path.read_bytes()), random.Random(7)
    middle = next(pos for pos, _, key in places[len(places) // 2 :] if not key)
    for pos, size in [(pos, size) for pos, size, _ in places] if every else [(middle, 300)]:
        data[pos : pos + size] = bytes(rnd.randrange(256) for _ in range(size))
    path.write_bytes(bytes(data))
    decoded = 0
    with av.open(str(path)) as c, pytest.raises(av.InvalidDataError):  # PyAV's own loop stops at the damage
        for _ in c.decode(video=0):
            decoded += 1
    return path, decoded


@pytest.mark.parametrize("threads", [0, 1])
def test_a_packet_the_decoder_refuses_is_skipped_and_decoding_goes_on(tmp_path, threads):
    """A packet the decoder refuses (coded data overwritten inside an MP4) ended the decode there, with a
    warning; it is skipped as FFmpeg's command line skips it, and the frames after it are used, with a warning
    that says how many packets were refused, where, and how many frames were lost."""
    path, before = refused_packets_mp4(tmp_path / "d.mp4")
    assert before < DAMAGED_FRAMES // 2 + 2
    reader = VideoReader(path, threads=threads)
    frames = list(reader.frames())
    times = [f.time for f in frames]
    assert DAMAGED_FRAMES - 4 <= len(frames) < DAMAGED_FRAMES and len(frames) > before + 20
    assert [f.index for f in frames] == list(range(len(frames))) and all(b > a for a, b in zip(times, times[1:]))
    assert times[-1] == pytest.approx((DAMAGED_FRAMES - 1) / 10)  # the last frame, at its own time
    refused = [w for w in reader.warnings if "the decoder refused" in w]
    lost = DAMAGED_FRAMES - len(frames)
    assert len(refused) == 1 and f"{lost} frame{'s' if lost > 1 else ''} lost" in refused[0], reader.warnings
    assert re.search(r"refused \d+ packets? \(after frame \d+ at \d+\.\d\d s: Invalid data", refused[0]), refused[0]
    assert reader.lost_frames == lost  # the gap in the timestamps says the same
    assert not any("truncated" in w or "stopped" in w for w in reader.warnings), reader.warnings


def test_the_motion_pass_decodes_past_a_refused_packet(tmp_path):
    """`codec_frames` (the motion-vector pass) decodes past the refused packet too, and gives the frames the
    reader gives, at the same times."""
    from mosi_tool.video.motion.codec import codec_frames

    path, before = refused_packets_mp4(tmp_path / "d.mp4")
    reader = VideoReader(path)
    times = [f.time for f in reader.frames()]
    got = codec_frames(path, 0, (96, 72), 8, None, clock=reader.clock())
    assert got is not None
    assert [r.time for r in got[1]] == pytest.approx(times) and len(times) > before + 20


def test_targets_and_saliency_mv_decode_past_a_refused_packet(tmp_path):
    path, before = refused_packets_mp4(tmp_path / "d.mp4")
    out = cli("targets", str(path), "-o", str(tmp_path / "t"), "-j", "0").output
    assert "the decoder refused" in out and "frames lost" in out and "stopped" not in out, out
    targets = np.load(tmp_path / "t" / "d.mp4.npz")
    info = json.loads(str(targets["info"]))
    assert info["decoded_frames"] == len(targets["times"]) > before + 20 and any("the decoder refused" in w for w in info["warnings"])
    out = cli("saliency", str(path), "--method", "mv", "--out", str(tmp_path / "o.mp4"), "--maps", str(tmp_path / "m.npy")).output
    assert "the decoder refused" in out and "h264 motion vectors" in out, out
    assert len(np.load(tmp_path / "m.npy")) > before + 20


@pytest.mark.parametrize("threads", [0, 1])
def test_an_mp4_cut_within_a_packet_still_ends_there_as_truncated(tmp_path, threads):
    """A streaming MP4 (index first) cut short in its media data: the decoder refuses the last, partial packet,
    and that ends the decode with the "truncated" warnings, not a refused packet decoded past."""
    from .test_decode import _faststart

    fast = _faststart(write_video(tmp_path / "v.mp4", n=120), tmp_path / "fast.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fast.read_bytes()[: int(fast.stat().st_size * 0.6)])
    reader = VideoReader(cut, threads=threads)
    n = len(list(reader.frames()))
    assert 40 < n < 100 and any("truncated" in w for w in reader.warnings), reader.warnings
    assert not any("refused" in w for w in reader.warnings), reader.warnings

def test_a_stream_whose_every_packet_is_refused_is_one_clear_error(tmp_path, monkeypatch):
    """Every packet refused: one line naming the file and the reason; and a decode that meets nothing but
    refused packets stops after REFUSED_BEFORE_ANY_FRAME of them rather than reading on."""
    from mosi_tool.video import packets

    path, _ = refused_packets_mp4(tmp_path / "all.mp4", every=True)
    with pytest.raises(VideoError) as err:
        list(VideoReader(path).frames())
    text = str(err.value)
    assert text.startswith(f"{path}: no frames could be decoded: the decoder refused") and "\n" not in text, text
    monkeypatch.setattr(packets, "REFUSED_BEFORE_ANY_FRAME", 3)
    with av.open(str(path)) as c:
        stream = packets.StreamDecode(c, c.streams.video[0])
        assert list(stream) == [] and len(stream.refused) == 3 and stream.packets == 3 and stream.error is not None
    with pytest.raises(VideoError, match="the decoder refused the first 3 packets .*, and decoding stopped there"):
        list(VideoReader(path).frames())


def test_a_healthy_stream_decodes_packet_by_packet_as_pyav_decodes_it(tmp_path):
    """`StreamDecode` gives a healthy stream's frames exactly as PyAV's `container.decode` does (B-frames
    reordered, the decoder flushed at the end): the same timestamps and pixels, and nothing refused."""
    from mosi_tool.video.packets import StreamDecode

    path = encode(tmp_path / "h.mp4", square_frames(30, 96, 72), crf="20")
    with av.open(str(path)) as c:
        plain = [(f.pts, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        stream = StreamDecode(c, c.streams.video[0])
        ours = [(f.pts, f.to_ndarray(format="rgb24")) for f in stream]
    assert [p for p, _ in ours] == [p for p, _ in plain] and len(ours) == 30
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(ours, plain))
    assert not stream.refused and stream.error is None and stream.lost == 0 and stream.refusal_warning(Fraction(1, 1000), 0) is None
    reader = VideoReader(path)
    assert len(list(reader.frames())) == 30 and not reader.warnings

# 6. Maps: compact, streamed, memory-mappable; the display range computed once -------------------------


def test_maps_are_streamed_at_the_model_input_size(tmp_path, energy_ckpt, monkeypatch):
    from mosi_tool.saliency import render as render_module
    from mosi_tool.saliency.compute import compute_saliency

    video = encode(tmp_path / "v.mp4", square_frames(40, 128, 96))
    maps = tmp_path / "m.npy"
    cli("saliency", str(video), "--model", str(energy_ckpt), "--method", "cam", "--out", str(tmp_path / "o.mp4"), "--maps", str(maps), "--runtime", "torch")
    m = np.load(maps, mmap_mode="r")
    assert isinstance(m, np.memmap) and m.dtype == np.float16
    assert m.shape == (40, 64, 80)  # short side 64 (the model's crop), width 128 * 64 / 96 rounded to 16
    assert 0 <= float(m.min()) and 0.5 < float(m.max()) <= 1.0
    # The video-wide range reads every map: it must be computed once, not once per rendered chunk.
    engine = load_model(energy_ckpt, device="cpu")
    result = compute_saliency(engine, video, "motion")
    calls = []
    real = np.percentile
    monkeypatch.setattr(np, "percentile", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(render_module, "CHUNK", 4)
    render_module.render(video, result, overlay=tmp_path / "o2.mp4", maps=tmp_path / "m2.npy", maps_size=(20, 15), norm="video")
    assert len(calls) == 2  # 10 chunks, one range: its low and high percentiles, once
    assert np.load(tmp_path / "m2.npy", mmap_mode="r").shape == (40, 15, 20)


def test_mv_maps_are_streamed_in_chunks_at_the_model_input_size(tmp_path, monkeypatch):
    """--method mv: the field and maps are made chunk by chunk (the same maps however the video is cut), kept
    on disk, and written by default at the bundled model's input scale, not the full frame."""
    from mosi_tool.saliency import motion
    from mosi_tool.saliency.compute import compute_motion_saliency
    from mosi_tool.saliency.map_store import MapStore
    from mosi_tool.video import motion as mv
    from mosi_tool.video.motion import streaming
    from mosi_tool.default_model import default_model_path
    from mosi_tool.loader import read_model_meta

    video = encode(tmp_path / "v.mp4", square_frames(70, 160, 96))
    whole = motion.mv_maps(mv.read_motion(video, measure=motion.MEASURE_REFERENCES))  # as `saliency` reads it
    monkeypatch.setattr(streaming, "CHUNK", 9)
    monkeypatch.setattr(motion, "SPLIT", 9)
    chunked = compute_motion_saliency(video)
    assert isinstance(chunked.maps, MapStore) and chunked.maps.shape == whole.shape == (70, 12, 20)
    np.testing.assert_allclose(chunked.maps[0:70], whole, rtol=1e-3, atol=1e-3)  # float16 on disk
    maps = tmp_path / "m.npy"
    cli("saliency", str(video), "--out", str(tmp_path / "o.mp4"), "--maps", str(maps))
    crop = read_model_meta(default_model_path()).crop
    m = np.load(maps, mmap_mode="r")
    assert m.dtype == np.float16 and m.shape == (70, crop, round(160 * crop / 96 / 16) * 16)


# 7. Python API: numpy or torch in, the same kind out; errors say what the model needs -----------------


def test_python_api_takes_numpy_and_torch(micro_ckpt):
    engine = load_model(micro_ckpt, device="cpu")
    clips = np.stack([np.stack(square_frames(4, 32, 32)[::-1])] * 3)  # (3, 4, 32, 32, 3) uint8, a reversed stride
    out_np = engine(clips)
    out_t = engine(torch.from_numpy(np.ascontiguousarray(clips)))
    assert all(isinstance(a, np.ndarray) for a in out_np) and all(isinstance(t, torch.Tensor) for t in out_t)
    assert out_np.features.shape == (3, engine.meta.feature_dim) and out_np.features.dtype == np.float32
    for a, t in zip(out_np, out_t):
        np.testing.assert_allclose(a, t.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda: np.zeros((2, 4, 32, 32, 3), np.float32), "dtype float32: pass 0..255 pixel values as uint8"),
        (lambda: np.zeros((2, 3, 4, 32, 32), np.uint8), "channels first (axis 1)"),
        (lambda: torch.zeros((2, 8, 32, 32, 3), dtype=torch.uint8), "8 frames per clip"),
        (lambda: np.zeros((4, 32, 32, 3), np.uint8), "one clip needs a batch axis"),
        (lambda: torch.zeros((2, 4, 32, 32, 1), dtype=torch.uint8), "1 channels"),
        (lambda: np.zeros((2, 4, 8, 32, 3), np.uint8), "8x32 pixels: below 16"),
    ],
)
@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_python_api_shape_errors_say_what_is_needed_and_what_came(micro_ckpt, make, says, runtime):
    engine = load_engine(micro_ckpt, device="cpu", runtime=runtime)  # no preprocessing: the engine's own checks
    clips = make()
    with pytest.raises(ValueError) as err:
        engine(clips)
    text = str(err.value)
    assert text.startswith(f"{micro_ckpt.name}: ")  # the checkpoint given, not the cached export that runs it
    assert "needs uint8 RGB clips (batch, 4 frames, height, width, 3 channels)" in text
    assert str(tuple(clips.shape)) in text and says in text


# Real files from ../shared/bugcases ----------------------------------------------------------------------


def test_real_portrait_rotated_matches_upright(tmp_path, micro_ckpt):
    folder = tmp_path / "v"
    folder.mkdir()
    for name in ("portrait_rotated90.mp4", "portrait_upright.mp4"):
        (folder / name).symlink_to(bugcase(name))
    out = tmp_path / "feats"
    cli("features", str(folder), "--model", str(micro_ckpt), "--out-dir", str(out), "--workers", "0", "--runtime", "torch")
    a, b = np.load(out / "portrait_rotated90.mp4.npz"), np.load(out / "portrait_upright.mp4.npz")
    assert cosine(a["features"], b["features"]).min() >= 0.99
    info = json.loads(str(a["info"]))
    assert (info["rotation"], info["width"], info["height"]) == (90, 180, 320)


def test_real_edit_list_damaged_and_odd_files(tmp_path, energy_ckpt):
    reader = VideoReader(bugcase("edit_list_intact.mp4"))
    assert len(list(reader.frames())) == 32 and not reader.warnings
    reader = VideoReader(bugcase("damaged_middle.ts"))
    assert len(list(reader.frames())) == 35 and reader.lost_frames == 5 and reader.start_time == pytest.approx(1.6)
    out = tmp_path / "odd.overlay.mp4"
    cli("saliency", str(bugcase("odd_175x99.mp4")), "--model", str(energy_ckpt), "--out", str(out), "--runtime", "torch")
    check_playable_overlay(out, 175, 99)


def test_real_mac_batch_exits_zero(tmp_path, micro_ckpt):
    out = tmp_path / "feats"
    result = cli("features", str(bugcase("mac_batch")), "--model", str(micro_ckpt), "--out-dir", str(out), "--workers", "0", "--runtime", "torch")
    assert "1 written" in result.output and "1 hidden or AppleDouble file skipped" in result.output


def test_a_still_image_named_like_a_video_is_warned_about(tmp_path):
    from PIL import Image as PILImage

    path = tmp_path / "photo.mp4"
    PILImage.fromarray(texture(64, 96, 3)).save(path, format="JPEG")
    reader = VideoReader(path)
    assert len(list(reader.frames())) == 1
    assert any("only 1 frame: a still image" in w for w in reader.warnings)


def test_a_folder_search_finds_raw_streams_and_ivf(tmp_path):
    """Raw elementary streams (.h264, .hevc, ...), IVF, MXF and VOB files are videos to a folder search too."""
    folder = tmp_path / "in"
    folder.mkdir()
    raw = folder / "cam.h264"
    with av.open(str(raw), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(texture(48, 64, seed=i), format="rgb24")))
        out.mux(stream.encode())
    for name in ("clip.ivf", "tape.mxf", "dvd.vob", "notes.txt"):
        (folder / name).write_bytes(b"x")
    found = find_inputs([folder])
    assert sorted(p.name for p in found.videos) == ["cam.h264", "clip.ivf", "dvd.vob", "tape.mxf"]
    reader = VideoReader(raw)
    assert (reader.info.width, reader.info.height) == (64, 48) and len(list(reader.frames())) == 10


def test_an_ivf_header_that_states_its_duration_as_the_frame_count_is_not_called_truncated(tmp_path):
    """FFmpeg before 6.0 wrote an IVF's duration, in time-base units, where its frame count belongs: a 2-s file
    at 10 fps claimed 2000 frames, and decoding its 20 was called a truncated file."""
    ivf = tmp_path / "vp9.ivf"
    with av.open(str(ivf), "w", format="ivf") as out:
        stream = out.add_stream("libvpx-vp9", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)  # milliseconds, as FFmpeg 5.1 wrote them
        for i in range(20):
            frame = av.VideoFrame.from_ndarray(texture(48, 64, seed=i), format="rgb24")
            frame.pts, frame.time_base = i * 100, Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    honest = VideoReader(ivf)
    assert honest.info.frames in (None, 20)
    data = bytearray(ivf.read_bytes())
    data[24:28] = struct.pack("<I", 2000)  # the header's frame count, as FFmpeg 5.1 filled it
    ivf.write_bytes(bytes(data))
    reader = VideoReader(ivf)
    assert reader.info.frames is None and len(list(reader.frames())) == 20
    assert not any("truncated" in w for w in reader.warnings), reader.warnings


def test_an_audio_file_with_cover_art_is_no_video(tmp_path):
    """An .mp4 holding audio and its cover picture (an attached picture, as music and podcast files carry): no
    video stream, as for audio alone. It was read as a one-frame video at 90000 fps, with a warning that the
    file was truncated or damaged."""
    from mosi_tool.video.decode import VideoError

    path = tmp_path / "song.mp4"
    with av.open(str(path), "w") as c:
        cover = c.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 64, 48, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        audio = c.add_stream("aac", rate=44100)
        picture = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 128, np.uint8), format="rgb24").reformat(format="yuvj420p")
        picture.pts = 0
        for packet in [*cover.encode(picture), *cover.encode()]:
            c.mux(packet)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            for packet in audio.encode(frame):
                c.mux(packet)
        for packet in audio.encode():
            c.mux(packet)
    for call in (VideoReader, __import__("mosi_tool").targets):
        with pytest.raises(VideoError, match=r"song.mp4: no video stream \(streams: audio, cover picture\)"):
            call(path)


def test_a_shard_out_of_range_says_parts_are_numbered_from_0():
    from mosi_tool.batch.jobs import parse_shard

    assert parse_shard("2/3") == (2, 3) and parse_shard(None) is None
    with pytest.raises(ValueError, match=r"--shard 3/3: parts are numbered from 0, so i must be 0 to 2 \(the last of 3 is 2/3\)"):
        parse_shard("3/3")
    with pytest.raises(ValueError, match="n, the number of parts, must be at least 1"):
        parse_shard("0/0")
    with pytest.raises(ValueError, match="must look like 0/4"):
        parse_shard("a/b")


def test_a_map_store_closes_its_file_when_dropped():
    """Each `MapStore` (every `saliency` run, the Python API too) left its temporary file to the garbage
    collector unclosed: a ResourceWarning on every call under `python -W always`."""
    import gc
    import warnings

    from mosi_tool.saliency.map_store import MapStore

    store = MapStore(4, 6)
    store.append(np.ones((3, 4, 6), np.float32))
    f = store._file
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del store
        gc.collect()
    assert f.closed and not [w for w in caught if issubclass(w.category, ResourceWarning)]
