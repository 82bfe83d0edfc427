"""Decoding: frame counts, PTS timestamps, streams, frame folders and every kind of bad file."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from mosi_tool.video.decode import VideoError, VideoReader

from .conftest import encode_frames, shared, texture, write_video


def test_frames_and_timestamps(moving_square_video):
    reader = VideoReader(moving_square_video)
    assert (reader.info.width, reader.info.height, reader.info.fps) == (96, 72, 12)
    frames = list(reader.frames())
    assert len(frames) == 40 and reader.decoded == 40 and not reader.warnings
    assert [f.index for f in frames] == list(range(40))
    np.testing.assert_allclose([f.time for f in frames], np.arange(40) / 12, atol=1e-6)
    assert frames[0].image.shape == (72, 96, 3) and frames[0].image.dtype == np.uint8


def test_resize_happens_in_the_decoder(moving_square_video):
    frame = next(VideoReader(moving_square_video).frames(size=(48, 32)))
    assert frame.image.shape == (32, 48, 3)


def test_variable_frame_rate_uses_pts(tmp_path):
    # 1/1000 s time base; frames at irregular times
    pts = [0, 40, 80, 200, 210, 220, 500, 510]
    path = write_video(tmp_path / "vfr.mkv", n=len(pts), pts=pts, time_base=(1, 1000))
    times = [f.time for f in VideoReader(path).frames()]
    np.testing.assert_allclose(times, np.array(pts) / 1000, atol=1e-3)


def test_frame_folder_with_fps(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(12):
        Image.fromarray(texture(40, 60, i)).save(folder / f"{i:05d}.jpg")
    (folder / "notes.txt").write_text("ignored")
    reader = VideoReader(folder, fps=24)
    frames = list(reader.frames())
    assert len(frames) == 12 and reader.info.fps == 24 and not reader.info.notes and not reader.warnings
    assert frames[3].time == pytest.approx(3 / 24)
    guessed = VideoReader(folder)
    assert "assuming 25 fps" in guessed.info.notes[0] and guessed.warnings == guessed.info.notes  # printed by features


def _two_stream_video(path):
    with av.open(str(path), "w") as out:
        streams = []
        for w, h in ((64, 48), (96, 64)):
            s = out.add_stream("mpeg4", rate=10)
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            streams.append(s)
        for i in range(10):
            for s in streams:
                frame = av.VideoFrame.from_ndarray(texture(s.height, s.width, i), format="rgb24")
                for p in s.encode(frame):
                    out.mux(p)
        for s in streams:
            for p in s.encode():
                out.mux(p)
    return path


def test_several_streams(tmp_path):
    path = _two_stream_video(tmp_path / "two.mkv")
    first = VideoReader(path)
    assert (first.info.width, first.info.video_streams) == (64, 2) and "2 video streams" in first.info.notes[0]
    second = VideoReader(path, stream=1)
    assert second.info.width == 96 and len(list(second.frames())) == 10
    with pytest.raises(VideoError, match="--stream 2 does not exist"):
        VideoReader(path, stream=2)


def test_odd_resolution(tmp_path):
    path = encode_frames(tmp_path / "odd.mkv", [texture(71, 97, i) for i in range(6)], rate=5, codec="ffv1", pix_fmt="yuv444p")
    frames = list(VideoReader(path).frames(size=(33, 25)))
    assert len(frames) == 6 and frames[0].image.shape == (25, 33, 3)


def _audio_only(path):
    with av.open(str(path), "w") as out:
        s = out.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for p in s.encode(frame):
            out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("this is not a video\n" * 20), "not a video FFmpeg can read"),
        (_audio_only, "no video stream"),
    ],
)
def test_bad_files_raise_one_clear_line(tmp_path, make, message):
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(VideoError) as err:
        reader = VideoReader(path)
        list(reader.frames())
    text = str(err.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


def test_missing_file(tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        VideoReader(tmp_path / "nope.mp4")


def test_truncated_file_yields_what_decoded_with_a_warning(tmp_path, moving_square_video):
    data = moving_square_video.read_bytes()
    # an mkv keeps its index at the end: cut it and half the frames
    mkv = write_video(tmp_path / "long.mkv", n=120)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(mkv.read_bytes()[: len(mkv.read_bytes()) // 2])
    reader = VideoReader(cut)
    frames = list(reader.frames())
    assert 10 < len(frames) < 120
    assert reader.warnings and "truncated" in reader.warnings[0]
    assert len(data) > 0


def test_cut_short_avi_is_called_truncated(tmp_path):
    # An AVI keeps its header's frame count at the start; FFmpeg guesses the duration from what is left
    avi = write_video(tmp_path / "long.avi", n=120, codec="ffv1")  # intra-only: bytes track frames
    cut = tmp_path / "cut.avi"
    cut.write_bytes(avi.read_bytes()[: len(avi.read_bytes()) // 3])
    reader = VideoReader(cut)
    frames = list(reader.frames())
    assert 10 < len(frames) < 60 and reader.info.frames == 120
    assert reader.warnings and "header claims 120 frames" in reader.warnings[0] and "truncated" in reader.warnings[0]


def _faststart(src: Path, out: Path) -> Path:
    """`src` remuxed with its index (moov) before the media data, as streaming files are."""
    with av.open(str(src)) as i, av.open(str(out), "w", options={"movflags": "faststart"}) as o:
        stream = o.add_stream_from_template(i.streams.video[0])
        for packet in i.demux(i.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                o.mux(packet)
    return out


def test_cut_short_mp4_says_what_is_missing(tmp_path, moving_square_video):
    from mosi_tool.video.iso_boxes import top_level_boxes

    data = moving_square_video.read_bytes()  # index at the end
    (tmp_path / "half.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match=r"without its index \(no moov box\).*\(not a video FFmpeg can read"):
        VideoReader(tmp_path / "half.mp4")
    fast = _faststart(moving_square_video, tmp_path / "fast.mp4").read_bytes()
    boxes = {kind: (offset, size) for kind, offset, size in top_level_boxes(tmp_path / "fast.mp4")[0]}
    moov_end, mdat = boxes[b"moov"][0] + boxes[b"moov"][1], boxes[b"mdat"]
    (tmp_path / "moov_cut.mp4").write_bytes(fast[: moov_end - 100])
    with pytest.raises(VideoError, match=r"index \(moov box\) is cut short"):
        list(VideoReader(tmp_path / "moov_cut.mp4").frames())
    (tmp_path / "mdat_cut.mp4").write_bytes(fast[: mdat[0] + 200])
    with pytest.raises(VideoError, match=rf"its mdat box ends at byte {mdat[0] + mdat[1]}, the file at {mdat[0] + 200} \(no frames"):
        list(VideoReader(tmp_path / "mdat_cut.mp4").frames())
    import struct

    from mosi_tool.video.iso_boxes import cut_short_reason

    image = struct.pack(">I4s4sI", 16, b"ftyp", b"heic", 0) + struct.pack(">I4s", 8, b"meta")  # whole, and no movie
    (tmp_path / "image.heic").write_bytes(image)
    assert cut_short_reason(tmp_path / "image.heic") is None
    (tmp_path / "noise.mp4").write_bytes(bytes(range(256)) * 8)  # not an MP4 at all: FFmpeg's reason alone
    with pytest.raises(VideoError, match=r"^\S+noise.mp4: not a video FFmpeg can read"):
        VideoReader(tmp_path / "noise.mp4")


def test_real_truncated_avi():
    path = shared("videos", "tree.avi")
    reader = VideoReader(path)
    frames = list(reader.frames())
    assert len(frames) == 68 and "444" in reader.warnings[0]
    assert frames[-1].time == pytest.approx(443 * 66667 / 1e6, rel=1e-4)  # PTS, not index / fps


@pytest.mark.parametrize(
    "name, codec, streams",
    [("vtest.avi", "msmpeg4", 1), ("flipping_a_pancake.mkv", "h264", 1), ("nasa_13013.mp4", "h264", 2)],
)
def test_real_containers(name, codec, streams):
    reader = VideoReader(shared("videos", name))
    assert reader.info.codec.startswith(codec[:4]) and reader.info.video_streams == streams
    n = sum(1 for _ in reader.frames(size=(64, 48)))
    assert n > 100 and not reader.warnings


def test_time_base_fraction_is_exact():
    assert Fraction(1, 1000) * 500 == Fraction(1, 2)


def test_a_text_file_is_not_a_video(tmp_path):
    """FFmpeg opens a .txt file as "video": its tty demuxer draws the text as a terminal would. Named on the
    command line, it was taken for a video and given maps and features."""
    path = tmp_path / "notes.txt"
    path.write_text("A page of notes about the dataset.\n" * 200)
    with pytest.raises(VideoError, match=r"notes.txt: not a video \(FFmpeg reads it only as text"):
        VideoReader(path)


def test_the_codec_is_named_not_the_decoder(tmp_path):
    """AV1 is decoded by libdav1d: the info names the codec, av1, as `ffprobe` does."""
    path = tmp_path / "av1.mkv"
    try:
        with av.open(str(path), "w") as out:
            s = out.add_stream("libsvtav1", rate=10)
            s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
            for i in range(3):
                for p in s.encode(av.VideoFrame.from_ndarray(texture(64, 64, i), format="rgb24")):
                    out.mux(p)
            for p in s.encode():
                out.mux(p)
    except (av.FFmpegError, ValueError) as e:
        pytest.skip(f"no AV1 encoder in this PyAV build ({e})")
    reader = VideoReader(path)
    assert reader.info.codec == "av1" and len(list(reader.frames())) == 3


def test_a_folder_of_16_bit_grey_frames_is_scaled_not_clipped_to_white(tmp_path):
    """16-bit grey PNGs (depth, microscopy, scientific cameras): Pillow's convert("RGB") clipped every value
    above 255, so a folder of them read as white frames, for every command and for training sources alike."""
    from mosi_tool.video.decode import grab_frame

    grey = (np.linspace(0, 65535, 48 * 64).reshape(48, 64)).astype(np.uint16)
    for i in range(3):
        Image.fromarray(grey).save(tmp_path / f"{i:03d}.png")
    frame = next(iter(VideoReader(tmp_path).frames()))
    for rgb in (frame.image, grab_frame(tmp_path, 0.5)):
        assert rgb.shape == (48, 64, 3)
        np.testing.assert_allclose(rgb[..., 0].astype(float), grey / 257, atol=1)
