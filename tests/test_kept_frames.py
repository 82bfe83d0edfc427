"""`saliency --method mv` decodes a video once: the motion pass keeps the decoded pictures for the overlay
(`video.kept_frames`) when they fit in memory, and every output is what two decodes gave."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from mosi_tool.saliency.run import Outputs, SaliencyOptions, run
from mosi_tool.video.decode import VideoReader
from mosi_tool.video.kept_frames import KeptFrames, default_budget
from mosi_tool.video.motion import iter_motion

from .conftest import bugcase, write_video
from .test_time_and_pixels import crop_stream, moving_square, write, write_sar


def _outputs(folder: Path) -> Outputs:
    folder.mkdir()
    return Outputs(overlay=folder / "o.mp4", maps=folder / "m.npy", masks=folder / "k.npy", boxes=folder / "b.jsonl", sheet=folder / "s.png")


def _decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the full decodes `VideoReader.frames` starts (one entry per call)."""
    calls: list[int] = []
    frames = VideoReader.frames

    def counted(self, *a, **k):
        calls.append(1)
        return frames(self, *a, **k)

    monkeypatch.setattr(VideoReader, "frames", counted)
    return calls


def _same_outputs(video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pixels: bool = True) -> list[str]:
    """Runs `saliency` on `video` keeping the pictures and decoding twice; asserts the same bytes in every output
    (pixels False: a damaged file, whose concealed parts differ: the same notes and shapes, and close maps
    away from the damage), and that the first decoded the file once and the second twice. Returns the notes."""
    calls = _decodes(monkeypatch)
    once = run(video, SaliencyOptions(), _outputs(tmp_path / "once"))
    assert not calls, "the overlay decoded the file again"
    twice = run(video, SaliencyOptions(keep_bytes=0), _outputs(tmp_path / "twice"))
    assert len(calls) == 1
    for a, b in zip(sorted((tmp_path / "once").iterdir()), sorted((tmp_path / "twice").iterdir())):
        assert a.name == b.name and (a.read_bytes() == b.read_bytes() or not pixels), a.name
    if not pixels:
        ma, mb = np.load(tmp_path / "once" / "m.npy"), np.load(tmp_path / "twice" / "m.npy")
        # the damaged frames differ, the others by the change of the video-wide scale the file is written in
        off = np.abs(ma.astype(np.float32) - mb).max(axis=(1, 2))
        assert ma.shape == mb.shape and np.mean(off < 0.02) >= 0.6, off
    assert once.notes == twice.notes and once.frames == twice.frames
    return once.notes


def test_one_decode_writes_what_two_decodes_wrote(tmp_path, monkeypatch):
    video = write_video(tmp_path / "square.mp4", n=30, size=(128, 96))
    _same_outputs(video, tmp_path, monkeypatch)


@pytest.mark.parametrize("case", ["sar", "left-crop", "odd-size", "rotated", "damaged-middle"])
def test_one_decode_keeps_the_readers_geometry_and_warnings(tmp_path, monkeypatch, case):
    """Non-square pixels, an exact left crop, an odd size, a display matrix and lost frames: the replayed
    frames are the reader's, and so are the warnings."""
    if case == "sar":
        video = write_sar(tmp_path / "pal.mp4", moving_square(16, 96, 64), Fraction(16, 11))
    elif case == "left-crop":
        video = crop_stream(write(tmp_path / "big.mp4", moving_square(16, 192, 128)), tmp_path / "c.mp4", left=32)
    else:
        video = bugcase({"odd-size": "odd_175x99.mp4", "rotated": "portrait_rotated90.mp4", "damaged-middle": "damaged_middle.ts"}[case])
    # FFmpeg conceals a damaged part from the pictures around it, and guesses its vectors from them: with the
    # inverse transform skipped (vectors alone) or another thread count, those guesses differ a little.
    notes = _same_outputs(video, tmp_path, monkeypatch, pixels=case != "damaged-middle")
    if case == "damaged-middle":
        assert any("lost" in n for n in notes), notes


def test_a_truncated_file_is_reported_once_decoded(tmp_path, monkeypatch):
    whole = write_video(tmp_path / "whole.mkv", n=60, size=(96, 72))  # Matroska states its duration up front
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    notes = _same_outputs(cut, tmp_path, monkeypatch)
    assert any("truncated" in n for n in notes), notes


def test_pictures_past_the_budget_are_dropped_and_the_file_decoded_again(tmp_path, monkeypatch):
    video = write_video(tmp_path / "square.mp4", n=30, size=(128, 96))
    reader = VideoReader(video)
    frame_bytes = 128 * 96 * 3 // 2
    assert KeptFrames.fits(reader, 30 * frame_bytes) and not KeptFrames.fits(reader, 29 * frame_bytes)
    assert not KeptFrames(reader, 29 * frame_bytes).wanted  # known too big: the vectors alone are parsed
    # a header that understates the frames: every kept frame is dropped once the budget is passed
    monkeypatch.setattr(KeptFrames, "fits", staticmethod(lambda reader, budget: True))
    kept = KeptFrames(reader, 20 * frame_bytes)
    assert kept.wanted
    for _ in iter_motion(video, reader=reader, keep=kept):
        pass
    assert kept.dropped and not kept.complete and not kept._frames
    calls = _decodes(monkeypatch)
    run(video, SaliencyOptions(keep_bytes=20 * frame_bytes), _outputs(tmp_path / "over"))
    assert len(calls) == 1
    run(video, SaliencyOptions(keep_bytes=0), _outputs(tmp_path / "none"))
    for a, b in zip(sorted((tmp_path / "over").iterdir()), sorted((tmp_path / "none").iterdir())):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_replayed_frames_are_the_readers_and_replay_once(tmp_path):
    video = write_video(tmp_path / "square.mp4", n=20, size=(96, 72))
    reader = VideoReader(video)
    kept = KeptFrames(reader, 1 << 30)
    for _ in iter_motion(video, reader=reader, keep=kept):
        pass
    assert kept.complete
    replayed = list(kept.frames(planes=True))
    decoded = list(VideoReader(video).frames(planes=True))
    assert [f.index for f in replayed] == [f.index for f in decoded] and [f.time for f in replayed] == [f.time for f in decoded]
    for a, b in zip(replayed, decoded):
        assert all(np.array_equal(p, q) for p, q in zip(a.planes, b.planes)) and np.array_equal(a.image, b.image)
    with pytest.raises(RuntimeError, match="not all kept"):
        next(kept.frames())


def test_a_video_without_a_frame_count_or_memory_keeps_nothing(tmp_path, monkeypatch):
    video = write_video(tmp_path / "square.mp4", n=10, size=(96, 72))
    reader = VideoReader(video)
    reader.info.frames = None  # the duration and rate estimate it
    assert KeptFrames(reader, 1 << 30).wanted
    reader.info.duration = None
    assert not KeptFrames(reader, 1 << 30).wanted
    monkeypatch.setattr("mosi_tool.video.kept_frames.available_memory", lambda: None)
    assert default_budget() == 0
    monkeypatch.setattr("mosi_tool.video.kept_frames.available_memory", lambda: 1 << 40)
    assert default_budget() == 4 << 30
    with pytest.raises(ValueError, match="keep_bytes"):
        SaliencyOptions(keep_bytes=-1)


def test_a_resolution_change_mid_stream_is_resized_to_the_streams_size(tmp_path, monkeypatch):
    """Two MPEG-TS recordings of different sizes joined end to end: every frame comes at the header's size
    (the overlay's), with one warning, whether the pictures are kept or decoded again."""
    first = write_video(tmp_path / "a.ts", n=16, size=(128, 96))
    second = write_video(tmp_path / "b.ts", n=16, size=(96, 64))
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    frames = list(VideoReader(joined).frames(planes=True))
    assert len(frames) == 32 and {f.image.shape for f in frames} == {(96, 128, 3)}
    notes = _same_outputs(joined, tmp_path, monkeypatch)
    assert [n for n in notes if "frame size changes" in n] == [
        "the frame size changes mid-stream (frame 16 is 96x64, the stream's 128x96): such frames are resized to 128x96"
    ], notes


def test_the_maps_alone_keep_no_pictures_and_decode_nothing(tmp_path, monkeypatch):
    """The maps need no pixels (`mosi_tool.saliency`'s default): the motion pass parses the vectors alone,
    holds no pictures, and nothing decodes the file again; the maps and the notes are those of a run that keeps
    the pictures for an overlay, a truncated file's warning included."""
    whole = write_video(tmp_path / "whole.mkv", n=60, size=(96, 72))
    video = tmp_path / "cut.mkv"
    video.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    added: list[int] = []
    add = KeptFrames.add

    def counted(self, frame, *a, **k):
        added.append(frame is not None)
        return add(self, frame, *a, **k)

    monkeypatch.setattr(KeptFrames, "add", counted)
    decodes = _decodes(monkeypatch)
    alone = run(video, SaliencyOptions(), Outputs(maps=tmp_path / "alone.npy"))
    assert not any(added) and not decodes
    added.clear()
    both = run(video, SaliencyOptions(), Outputs(maps=tmp_path / "with.npy", overlay=tmp_path / "o.mp4"))
    assert all(added) and len(added) == both.frames and not decodes
    assert (tmp_path / "alone.npy").read_bytes() == (tmp_path / "with.npy").read_bytes()
    assert alone.notes == both.notes and any("truncated" in n for n in alone.notes), alone.notes
    with pytest.raises(RuntimeError, match="no pixels"):
        kept = KeptFrames(VideoReader(video), pixels=False)
        for _ in iter_motion(video, reader=kept.reader, keep=kept):
            pass
        next(iter(kept.frames())).image


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_a_containers_memory_limit_bounds_the_budget(tmp_path, monkeypatch, version):
    """Inside a container /proc/meminfo shows the whole machine: the cgroup's limit, less what it uses (its
    reclaimable page cache not counted), bounds the memory the pictures may take."""
    from mosi_tool import hardware

    gib = 1 << 30
    root, proc = tmp_path / "cgroup", tmp_path / "cgroup.txt"
    if version == "v2":
        proc.write_text("0::/docker/abc\n")
        folder, names = root / "docker" / "abc", ("memory.max", "memory.current", "inactive_file")
    else:
        proc.write_text("4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n")
        folder, names = root / "memory" / "docker" / "abc", ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
    folder.mkdir(parents=True)
    (folder / names[0]).write_text(f"{2 * gib}\n")
    (folder / names[1]).write_text(f"{gib}\n")
    (folder / "memory.stat").write_text(f"anon 1\n{names[2]} {gib // 2}\n")
    monkeypatch.setattr(hardware, "CGROUP_ROOT", root)
    monkeypatch.setattr(hardware, "PROC_CGROUP", proc)
    monkeypatch.setattr(hardware.Path, "read_text", _meminfo(hardware.Path.read_text, 64 * gib))
    assert hardware.cgroup_room() == 2 * gib - gib // 2
    assert hardware.available_memory() == 2 * gib - gib // 2
    assert default_budget() == int(0.25 * (2 * gib - gib // 2))  # not 4 GiB, a quarter of the machine's 64
    (folder / names[0]).write_text("max\n" if version == "v2" else "9223372036854771712\n")
    assert hardware.cgroup_room() is None and hardware.available_memory() == 64 * gib


def _meminfo(read_text, available: int):
    """Path.read_text, answering /proc/meminfo with `available` bytes of MemAvailable."""

    def read(self, *a, **k):
        if str(self) == "/proc/meminfo":
            return f"MemTotal: {2 * available // 1024} kB\nMemAvailable: {available // 1024} kB\n"
        return read_text(self, *a, **k)

    return read


def test_vectors_after_a_resolution_change_land_where_the_mover_is(tmp_path):
    """The codec's vectors of frames past a resolution change are placed on the stream's grid, scaled: the
    maps follow the square in the smaller second part as in the first."""
    first = write_video(tmp_path / "a.ts", n=24, size=(320, 240), square=48, speed=4)
    second = write_video(tmp_path / "b.ts", n=24, size=(160, 120), square=24, speed=2)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    run(joined, SaliencyOptions(maps_size=(320, 240)), Outputs(maps=tmp_path / "m.npy"))
    maps = np.load(tmp_path / "m.npy").astype(np.float32)
    for i in (10, 20, 30, 40):
        # the square's centre in the stream's pixels (`write_video`: x = (4 + i * speed) % (w - square))
        x = (4 + i * 4) % (320 - 48) + 24 if i < 24 else 2 * ((4 + (i - 24) * 2) % (160 - 24) + 12)
        assert abs(int(np.argmax(maps[i].sum(axis=0))) - x) <= 8, (i, x, int(np.argmax(maps[i].sum(axis=0))))


def test_a_batch_resumes_whatever_memory_the_pictures_may_take(tmp_path):
    """keep_bytes changes no output's bytes: a batch made with another budget, or before the option existed
    (a record without it), is done already."""
    import json

    from mosi_tool.saliency.batch import RECORD_SUFFIX, run_batch

    (tmp_path / "v").mkdir()
    video = write_video(tmp_path / "v" / "square.mp4", n=10, size=(96, 72))
    first = run_batch([video.parent], tmp_path / "out", SaliencyOptions(keep_bytes=0), ("overlay", "maps"))
    assert first.ok == 1
    record = next((tmp_path / "out").glob("*" + RECORD_SUFFIX))
    saved = json.loads(record.read_text())
    assert "keep_bytes" not in saved["options"]
    again = run_batch([video.parent], tmp_path / "out", SaliencyOptions(keep_bytes=1 << 30), ("overlay", "maps"))
    assert again.ok == 0 and again.skipped == 1


def test_masks_are_made_without_opencvs_ipp(tmp_path, monkeypatch):
    """The masks are the same bytes on every run: OpenCV's IPP paths (whose float results varied between
    identical runs by a pixel of a mask) are off while they are made, and as they were afterwards."""
    import cv2

    from mosi_tool.saliency.masks import MaskTracker

    video = write_video(tmp_path / "square.mp4", n=10, size=(96, 72))
    seen: list[bool] = []
    update = MaskTracker.update

    def recorded(self, *a, **k):
        seen.append(cv2.ipp.useIPP())
        return update(self, *a, **k)

    monkeypatch.setattr(MaskTracker, "update", recorded)
    before = cv2.ipp.useIPP()
    run(video, SaliencyOptions(), Outputs(masks=tmp_path / "k.npy", boxes=tmp_path / "b.jsonl"))
    assert seen and not any(seen) and cv2.ipp.useIPP() == before


@pytest.mark.parametrize("codec", ["libvpx-vp9", "libvpx"])
def test_the_optical_flow_fallback_keeps_its_pictures_too(tmp_path, monkeypatch, codec):
    """A stream without motion vectors (VP8, VP9, HEVC, AV1) is read by the optical-flow fallback, a decode of its
    own: its pictures are kept too, so the overlay decodes nothing again, with the same bytes."""
    video = write_video(tmp_path / "v.webm", n=24, size=(96, 72), codec=codec)
    calls = _decodes(monkeypatch)
    once = run(video, SaliencyOptions(), _outputs(tmp_path / "once"))
    assert len(calls) == 1 and "optical flow" in once.notes[0]
    twice = run(video, SaliencyOptions(keep_bytes=0), _outputs(tmp_path / "twice"))
    assert len(calls) == 3
    for a, b in zip(sorted((tmp_path / "once").iterdir()), sorted((tmp_path / "twice").iterdir())):
        assert a.name == b.name and a.read_bytes() == b.read_bytes(), a.name
    assert once.notes == twice.notes
    calls.clear()
    run(video, SaliencyOptions(), Outputs(maps=tmp_path / "alone.npy"))  # the maps alone: the flow's decode only
    assert len(calls) == 1 and (tmp_path / "alone.npy").read_bytes() == (tmp_path / "once" / "m.npy").read_bytes()
