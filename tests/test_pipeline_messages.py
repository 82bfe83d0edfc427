"""The pipeline's typed messages and options, and `ClipSpec`: its rule for --fps (frame folders vs videos),
its checks, and that it travels and is stored whole."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from mosi_tool.pipeline.dataset import decode_messages
from mosi_tool.pipeline.messages import ClipMessage, DecodePlan, DoneMessage, ErrorMessage, ExtractOptions
from mosi_tool.pipeline.ray_backend import from_rows, to_rows
from mosi_tool.video.clips import ClipSpec
from mosi_tool.video.decode import DEFAULT_FOLDER_FPS, VideoReader

SPEC = ClipSpec(stack=4, size=32)


def frame_folder(video: Path, folder: Path) -> Path:
    """The frames of `video` as numbered PNGs."""
    folder.mkdir()
    for f in VideoReader(video).frames():
        Image.fromarray(f.image).save(folder / f"{f.index:05d}.png")
    return folder


def test_a_frame_folder_takes_fps_as_its_rate_and_is_not_resampled(moving_square_video, tmp_path):
    folder = frame_folder(moving_square_video, tmp_path / "frames")  # 40 frames
    reader, clips = ClipSpec(stack=4, size=32, fps=8.0).clips(folder)
    got = list(clips)
    assert reader.is_folder and reader.info.fps == 8.0
    assert [c.start for c in got] == list(range(0, 40, 4))  # every frame kept
    assert [float(c.times[0]) for c in got[:3]] == [0.0, 0.5, 1.0]  # 4 frames at 8 fps
    assert SPEC.open(folder).info.fps == DEFAULT_FOLDER_FPS


def test_a_video_keeps_its_rate_and_fps_resamples_its_clips(moving_square_video):
    reader, clips = ClipSpec(stack=4, size=32, fps=6.0).clips(moving_square_video)  # 40 frames at 12 fps
    got = list(clips)
    assert not reader.is_folder and reader.info.fps == 12.0
    assert len(got) == 5  # 20 frames after resampling to 6 fps
    assert list(got[0].indices) == [0, 2, 4, 6]
    assert len(list(SPEC.clips(moving_square_video)[1])) == 10  # no --fps: every frame


def test_decode_messages_are_read_by_name_and_keep_their_positions(moving_square_video, tmp_path):
    msgs = list(decode_messages(7, str(moving_square_video), SPEC))
    clips, done = msgs[:-1], msgs[-1]
    assert all(isinstance(m, ClipMessage) for m in clips) and isinstance(done, DoneMessage)
    assert [m.clip_no for m in clips] == list(range(10)) and {m.job for m in clips} == {7}
    first = clips[0]
    assert first.data is not None and first.data.shape == (4, 32, 32, 3) and first.data.dtype == np.uint8
    assert done.clips == 10 and done.info["decoded_frames"] == 40 and done.decode_s > 0
    (bad,) = decode_messages(3, str(tmp_path / "missing.mp4"), SPEC)
    assert isinstance(bad, ErrorMessage) and bad.job == 3 and bad.message.endswith("missing.mp4: no such file or folder")


def test_messages_and_options_survive_pickling():
    """What crosses process pipes and goes to Ray must come back as the same typed object."""
    clip = ClipMessage(1, 2, np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3), (0, 3), (0.0, 0.25), 1)
    feat = clip._replace(data=np.ones(5, np.float32))  # what the engine stage sends on
    back = pickle.loads(pickle.dumps(feat))
    assert type(back) is ClipMessage and np.array_equal(back.data, feat.data) and back.data.dtype == np.float32
    assert (back.job, back.clip_no, back.frame_range, back.time_range, back.padded) == (1, 2, (0, 3), (0.0, 0.25), 1)
    spec = ClipSpec(4, 2, 6.0, "full", 32, True, 1, "nvdec")
    plan = pickle.loads(pickle.dumps(DecodePlan(spec, 2, 1)))
    assert plan == (spec, 2, 1) and type(plan) is DecodePlan and plan.clips.to_dict() == spec.to_dict()
    run = ExtractOptions("m.safetensors", devices=["cpu"], runtime="torch", batch_size=4, stream=1)
    assert pickle.loads(pickle.dumps(run)) == run


def test_a_clip_spec_reaches_dataloader_workers_whole(moving_square_video, tmp_path):
    """The dataset pickles its spec to spawned workers: every field arrives, and the clips follow it."""
    import multiprocessing as mp

    from torch.utils.data import DataLoader

    from mosi_tool.pipeline.dataset import VideoDataset
    from mosi_tool.batch.jobs import VideoJob

    spec = ClipSpec(stack=4, step=8, fps=6.0, mode="full", size=32, stream=0)
    ctx = mp.get_context("spawn")  # spawn pickles the dataset itself (fork would copy the memory)
    dataset = VideoDataset([VideoJob(0, str(moving_square_video), str(tmp_path / "a.npz"))], spec, 1, 1, ctx)
    loader = DataLoader(dataset, batch_size=None, num_workers=1, multiprocessing_context=ctx)
    clips = [m for m in loader if isinstance(m, ClipMessage)]
    assert [list(m.frame_range) for m in clips] == [[0, 6], [16, 22], [32, 38]]  # 20 frames at 6 fps, 4 every 8
    assert tuple(clips[0].data.shape) == (4, 32, 48, 3)  # full mode: 96x72 at short side 32, long side 48


def test_clip_spec_refuses_impossible_values_in_one_line():
    import pytest

    for fields, says in (
        (dict(step=0), "--step must be at least 1, got 0"),
        (dict(stack=0), "--stack must be at least 1, got 0"),
        (dict(fps=0.0), "--fps must be above 0, got 0"),
        (dict(fps=float("nan")), "--fps must be above 0, got nan"),
        (dict(fps=float("inf")), "--fps must be a finite number, got inf"),
        (dict(mode="zoom"), "--mode must be one of center, full, got 'zoom'"),
        (dict(size=8), "--size must be at least 16, got 8"),
        (dict(stream=-1), "--stream must be at least 0, got -1"),
        (dict(decoder="gpu"), "--decode must be one of cpu, nvdec, got 'gpu'"),
    ):
        with pytest.raises(ValueError) as e:
            ClipSpec(**fields)
        assert str(e.value) == says and "\n" not in str(e.value)
    with pytest.raises(ValueError, match="unknown clip settings: zoom"):
        ClipSpec.from_dict({"zoom": 2})


def test_clip_spec_round_trips_through_json_and_names_its_stride():
    import json

    spec = ClipSpec(stack=4, fps=12.5, mode="full", size=48, cover_tail=True, stream=1)
    assert spec.step == spec.stride == 4  # step None: clips that touch, stored as such
    assert ClipSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec == ClipSpec(4, 4, 12.5, "full", 48, True, 1)


def test_ray_rows_carry_every_message_unchanged():
    msgs = [
        ClipMessage(4, 0, np.arange(4 * 32 * 32 * 3, dtype=np.uint8).reshape(4, 32, 32, 3), (0, 3), (0.0, 0.25), 0),
        ClipMessage(4, 0, np.linspace(0, 1, 6, dtype=np.float32), (0, 3), (0.0, 0.25), 2),
        DoneMessage(4, 1, {"fps": 12.0, "warnings": []}, 0.5),
        ErrorMessage(5, "x.mp4: broken"),
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
    one = [f.image for f in SPEC.open(moving_square_video, threads=1).frames((32, 32))]
    auto = [f.image for f in SPEC.open(moving_square_video).frames((32, 32))]
    assert len(one) == len(auto) == 40 and all(np.array_equal(a, b) for a, b in zip(one, auto))
    assert SPEC.open(moving_square_video, threads=1).threads == 1


def test_extract_hands_each_backend_its_decode_plan(monkeypatch, micro_ckpt, moving_square_video, tmp_path):
    from mosi_tool.pipeline import extract as extract_module
    from mosi_tool.pipeline import ray_backend
    from mosi_tool.pipeline.messages import StageTimes

    seen = []

    def backend(jobs, writer, opts, plan):
        seen.append((plan.workers, plan.threads))
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


def test_the_engine_stage_batches_by_shape_pads_with_zeros_and_passes_ends_on():
    """Fixed-size batches per clip shape, partial ones zero-padded even in a reused buffer, each feature sent on
    in its clip's record, done and error records untouched; `drop` forgets the clips not computed."""
    import torch

    from mosi_tool.pipeline.engine_stage import EngineStage

    class SumEngine:  # a clip's feature: the sum of its pixels; a padding row's: 0
        device = torch.device("cpu")
        rows: list[list[float]] = []

        def __call__(self, clips):
            self.rows.append(clips.double().sum(dim=(1, 2, 3, 4)).tolist())
            return type("Out", (), {"features": clips.double().sum(dim=(1, 2, 3, 4))[:, None]})

    rng = np.random.default_rng(0)
    a = [rng.integers(0, 256, (2, 4, 4, 3), dtype=np.uint8) for _ in range(3)]
    b = rng.integers(0, 256, (2, 4, 6, 3), dtype=np.uint8)
    sent: list = []
    engine = SumEngine()
    stage = EngineStage(engine, 2, sent.append)  # type: ignore[arg-type]
    done, error = DoneMessage(0, 3, {}, 0.1), ErrorMessage(2, "x.mp4: broken")
    for msg in (ClipMessage(0, 0, a[0], (0, 1), (0.0, 0.1), 0), ClipMessage(1, 0, torch.from_numpy(b), (0, 1), (0.0, 0.1), 1), done,
                ClipMessage(0, 1, a[1], (2, 3), (0.2, 0.3), 0), error, ClipMessage(0, 2, a[2], (4, 5), (0.4, 0.5), 0)):  # fmt: skip
        stage.feed(msg)
    stage.flush()
    assert [m for m in sent if not isinstance(m, ClipMessage)] == [done, error]
    feats = {(m.job, m.clip_no): m for m in sent if isinstance(m, ClipMessage)}
    assert sorted(feats) == [(0, 0), (0, 1), (0, 2), (1, 0)] and feats[(1, 0)].padded == 1 and feats[(0, 2)].frame_range == (4, 5)
    for (job, k), clip in zip(((0, 0), (0, 1), (0, 2), (1, 0)), (*a, b)):
        assert feats[(job, k)].data.tolist() == [float(clip.astype(np.float64).sum())]
    assert engine.rows[1][1] == engine.rows[2][1] == 0.0 and len(engine.rows) == 3 and all(len(r) == 2 for r in engine.rows)  # the reused buffer's row 1 zeroed
    assert (stage.times.clips, stage.times.batches, stage.times.padding) == (4, 3, 2)
    sent.clear()
    stage.feed(ClipMessage(3, 0, a[0], (0, 1), (0.0, 0.1), 0))
    stage.drop()
    stage.flush()
    assert sent == [] and len(engine.rows) == 3
