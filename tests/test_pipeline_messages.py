"""The pipeline's typed messages and options, and `DecodeSpec`'s rule for --fps (frame folders vs videos)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from mosi_tool.pipeline.dataset import decode_messages
from mosi_tool.pipeline.messages import ClipMessage, DoneMessage, ErrorMessage, FeatureMessage
from mosi_tool.pipeline.options import DecodeOptions, EngineOptions, RunOptions
from mosi_tool.pipeline.ray_backend import from_rows, to_rows
from mosi_tool.video.clips import Sampling
from mosi_tool.video.decode import DEFAULT_FOLDER_FPS, VideoReader
from mosi_tool.video.spec import DecodeSpec

SAMPLING = Sampling(stack=4, size=32)


def frame_folder(video: Path, folder: Path) -> Path:
    """The frames of `video` as numbered PNGs."""
    folder.mkdir()
    for f in VideoReader(video).frames():
        Image.fromarray(f.image).save(folder / f"{f.index:05d}.png")
    return folder


def test_a_frame_folder_takes_fps_as_its_rate_and_is_not_resampled(moving_square_video, tmp_path):
    folder = frame_folder(moving_square_video, tmp_path / "frames")  # 40 frames
    spec = DecodeSpec(folder, fps=8.0)
    assert spec.is_folder and spec.folder_fps == 8.0 and spec.resample_fps is None
    reader, clips = spec.clips(Sampling(stack=4, size=32, fps=8.0))
    got = list(clips)
    assert reader.info.fps == 8.0
    assert [c.start for c in got] == list(range(0, 40, 4))  # every frame kept
    assert [float(c.times[0]) for c in got[:3]] == [0.0, 0.5, 1.0]  # 4 frames at 8 fps
    assert DecodeSpec(folder).open().info.fps == DEFAULT_FOLDER_FPS


def test_a_video_keeps_its_rate_and_fps_resamples_its_clips(moving_square_video):
    spec = DecodeSpec(moving_square_video, fps=6.0)  # the file is 40 frames at 12 fps
    assert not spec.is_folder and spec.folder_fps is None and spec.resample_fps == 6.0
    assert spec.sampling(SAMPLING).fps == 6.0
    reader, clips = spec.clips(SAMPLING)
    got = list(clips)
    assert reader.info.fps == 12.0
    assert len(got) == 5  # 20 frames after resampling to 6 fps
    assert list(got[0].indices) == [0, 2, 4, 6]
    plain = list(DecodeSpec(moving_square_video).clips(Sampling(stack=4, size=32, fps=6.0))[1])
    assert len(plain) == 10  # no --fps in the spec: the sampling's rate is dropped with it


def test_decode_messages_are_read_by_name_and_keep_their_positions(moving_square_video, tmp_path):
    msgs = list(decode_messages(7, str(moving_square_video), DecodeOptions(SAMPLING)))
    clips, done = msgs[:-1], msgs[-1]
    assert all(isinstance(m, ClipMessage) for m in clips) and isinstance(done, DoneMessage)
    assert [m.clip_no for m in clips] == list(range(10)) and {m.job for m in clips} == {7}
    first = clips[0]
    assert first.frames is not None and first.frames.shape == (4, 32, 32, 3)
    assert first[0] == first.kind == "clip"
    assert done.clips == 10 and done.info["decoded_frames"] == 40 and done.decode_s > 0
    (bad,) = decode_messages(3, str(tmp_path / "missing.mp4"), DecodeOptions(SAMPLING))
    assert isinstance(bad, ErrorMessage) and bad.job == 3 and bad.message.endswith("missing.mp4: no such file or folder")


def test_messages_and_options_survive_pickling():
    """What crosses process pipes and goes to Ray must come back as the same typed object."""
    clip = ClipMessage("clip", 1, 2, np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3), (0, 3), (0.0, 0.25), 1)
    feat = clip.feature(np.ones(5, np.float32))
    assert (feat.job, feat.clip_no, feat.frame_range, feat.time_range, feat.padded) == (1, 2, (0, 3), (0.0, 0.25), 1)
    back = pickle.loads(pickle.dumps(feat))
    assert type(back) is FeatureMessage and np.array_equal(back.vector, feat.vector)
    run = RunOptions(DecodeOptions(SAMPLING, None, 6.0, "cpu"), EngineOptions("m.safetensors", "torch", batch_size=4), ("cpu",), 2)
    assert pickle.loads(pickle.dumps(run)) == run
    assert DecodeOptions(*(SAMPLING, None, 6.0, "cpu")) == run.decode  # the four values as a plain tuple
    assert run.decode.spec("a.mp4") == DecodeSpec("a.mp4", None, 6.0, "cpu")


def test_ray_rows_carry_every_message_unchanged():
    msgs = [
        ClipMessage("clip", 4, 0, np.arange(4 * 32 * 32 * 3, dtype=np.uint8).reshape(4, 32, 32, 3), (0, 3), (0.0, 0.25), 0),
        FeatureMessage("feat", 4, 0, np.linspace(0, 1, 6, dtype=np.float32), (0, 3), (0.0, 0.25), 2),
        DoneMessage("done", 4, 1, {"fps": 12.0, "warnings": []}, 0.5),
        ErrorMessage("error", 5, "x.mp4: broken"),
    ]
    back = list(from_rows(to_rows(msgs)))
    assert [type(m) for m in back] == [type(m) for m in msgs]
    for a, b in zip(back, msgs):
        for name in type(b)._fields:
            x, y = getattr(a, name), getattr(b, name)
            assert np.array_equal(x, y) if isinstance(y, np.ndarray) else x == y, name


def test_decode_plan_shares_the_cpus_among_the_decoders_busy_at_once():
    from mosi_tool.pipeline.dataset import decode_plan

    assert decode_plan(None, 20, cpus=2) == (2, 1)  # two one-thread decoders keep both cores busy
    assert decode_plan(None, 1, cpus=2) == (1, 0)  # one video: one decoder, with FFmpeg's threads
    assert decode_plan(None, 20, cpus=1) == (1, 0)
    assert decode_plan(None, 20, cpus=4) == (3, 1)  # one CPU left for the engine
    assert decode_plan(None, 20, cpus=64) == (8, 8)
    assert decode_plan(None, 3, cpus=16) == (3, 5)  # 3 videos: no more decoders than videos
    assert decode_plan(0, 20, cpus=2) == (0, 0)  # decoding in this process
    assert decode_plan(4, 20, cpus=2) == (4, 1)
    assert decode_plan(4, 2, cpus=2) == (2, 1)


def test_the_decoder_thread_count_does_not_change_a_pixel(moving_square_video):
    one = [f.image for f in DecodeSpec(moving_square_video, threads=1).open().frames((32, 32))]
    auto = [f.image for f in DecodeSpec(moving_square_video).open().frames((32, 32))]
    assert len(one) == len(auto) == 40 and all(np.array_equal(a, b) for a, b in zip(one, auto))
    assert DecodeOptions(SAMPLING, None, None, "cpu", 1).spec("a.mp4").threads == 1


def test_extract_hands_each_backend_its_decode_plan(monkeypatch, micro_ckpt, moving_square_video, tmp_path):
    from mosi_tool.pipeline import extract as extract_module
    from mosi_tool.pipeline import ray_backend
    from mosi_tool.pipeline.messages import StageTimes

    seen = []

    def backend(jobs, writer, run):
        seen.append((run.workers, run.decode.threads))
        return StageTimes()

    monkeypatch.setattr(extract_module, "run_local", backend)
    monkeypatch.setattr(ray_backend, "run_ray", backend)
    monkeypatch.setattr("mosi_tool.pipeline.dataset.available_cpus", lambda: 2)
    videos = [moving_square_video]
    common = dict(model=str(micro_ckpt), devices=["cpu"], runtime="torch", progress=False, overwrite=True)
    extract_module.extract(videos, extract_module.ExtractOptions(out_dir=tmp_path / "a", **common))
    extract_module.extract(videos, extract_module.ExtractOptions(out_dir=tmp_path / "b", backend="ray", **common))
    extract_module.extract(videos, extract_module.ExtractOptions(out_dir=tmp_path / "c", workers=2, decode_threads=3, **common))
    assert seen == [(1, 0), (1, 1), (1, 3)]  # one video, one decoder: FFmpeg's threads; Ray: one CPU per task; as asked
