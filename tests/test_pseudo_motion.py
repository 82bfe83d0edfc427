"""Property tests of the pseudo-motion generator: what the clips show, not only their shapes."""

import math

import numpy as np
import pytest
import torch

from mosi_tool.metadata import label_pool
from mosi_tool.training.pseudo_motion import MotionConfig, PseudoMotion

from .conftest import texture

SMALL = dict(frames=8, crop=32, source_size=64)


def sources(b: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.stack([torch.from_numpy(texture(size, size, seed + i, scale=2)).permute(2, 0, 1) for i in range(b)])


def spec_positions(speed: int, start: int, cfg: MotionConfig) -> list[int]:
    """Window positions straight from the spec's formula (independent of the generator's code)."""
    room = cfg.source_size - cfg.crop
    d = room * speed / (cfg.speeds // 2)
    return [min(max(int(start + d * t / (cfg.frames - 1)), 0), room) for t in range(cfg.frames)]


def measure_shift(a: np.ndarray, b: np.ndarray, reach: int) -> tuple[int, int]:
    """The integer (dx, dy) window motion that best explains frame b from frame a: b[i, j] = a[i + dy, j + dx]."""
    best, arg = math.inf, (0, 0)
    h, w = a.shape[:2]
    a, b = a.astype(np.int32), b.astype(np.int32)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            ys, xs = slice(max(0, -dy), h - max(0, dy)), slice(max(0, -dx), w - max(0, dx))
            ya, xa = slice(max(0, dy), h - max(0, -dy)), slice(max(0, dx), w - max(0, -dx))
            err = np.abs(b[ys, xs] - a[ya, xa]).mean()
            if err < best:
                best, arg = err, (dx, dy)
    return arg


@pytest.mark.parametrize("train", [False, True])
def test_content_shift_equals_label_direction_and_speed(train):
    cfg = MotionConfig(mask=False, jitter=False, flip=False, **SMALL)
    gen = PseudoMotion(cfg)
    batch = gen(sources(2, cfg.source_size), train=train, generator=torch.Generator().manual_seed(3), raw=True)
    clips = batch.clips.numpy()
    pool = label_pool(cfg.speeds)
    room = cfg.source_size - cfg.crop
    for k in range(clips.shape[0]):
        sx, sy = pool[int(batch.labels[k])]
        xs = batch.x[k].tolist()
        ys = batch.y[k].tolist()
        # the trajectory follows the spec from its start
        assert xs == spec_positions(sx, xs[0], cfg) and ys == spec_positions(sy, ys[0], cfg)
        if not train:
            assert xs[0] == (room - room * sx // 2) // 2 or sx == 0
        for t in range(cfg.frames - 1):
            dx, dy = measure_shift(clips[k, t], clips[k, t + 1], reach=12)
            assert (dx, dy) == (xs[t + 1] - xs[t], ys[t + 1] - ys[t])
            # the measured motion points the label's way, on the label's axis only
            assert np.sign(dx) == np.sign(sx) and np.sign(dy) == np.sign(sy)
        total = room * max(abs(sx), abs(sy)) / (cfg.speeds // 2)
        assert abs(abs(xs[-1] - xs[0]) + abs(ys[-1] - ys[0]) - total) <= 1


def test_flip_swaps_x_label():
    """A flipped clip must still show the motion its label names (our fix to the official code)."""
    cfg = MotionConfig(mask=False, jitter=False, flip=True, **SMALL)
    batch = PseudoMotion(cfg)(sources(4, cfg.source_size), generator=torch.Generator().manual_seed(0), raw=True)
    assert batch.flipped.any() and not batch.flipped.all()
    pool = label_pool(cfg.speeds)
    clips = batch.clips.numpy()
    checked = 0
    for k in np.flatnonzero(batch.flipped.numpy()):
        sx, _ = pool[int(batch.labels[k])]
        if sx == 0:
            continue
        dx, _ = measure_shift(clips[k, 0], clips[k, 1], reach=12)
        assert np.sign(dx) == np.sign(sx)
        checked += 1
    assert checked


@pytest.mark.parametrize("train", [False, True])
def test_masked_clip_is_static_outside_the_square(train):
    cfg = MotionConfig(jitter=False, **SMALL)
    batch = PseudoMotion(cfg)(sources(3, cfg.source_size), train=train, generator=torch.Generator().manual_seed(1), raw=True)
    clips = batch.clips.numpy().astype(np.int32)  # (N, T, L, L, 3)
    moving = (np.abs(np.diff(clips, axis=1)).sum(axis=(1, 4)) > 0)  # (N, L, L) pixels that ever change
    lo, hi = cfg.mask_ratio
    for k in range(clips.shape[0]):
        x0, y0, side = batch.mask_box[k].tolist()
        assert int(cfg.crop * lo) <= side <= int(cfg.crop * hi)
        outside = np.ones((cfg.crop, cfg.crop), bool)
        outside[y0 : y0 + side, x0 : x0 + side] = False
        assert not moving[k][outside].any()
        if int(batch.labels[k]) != cfg.num_classes - 1:  # moving classes do move inside the square
            assert moving[k][~outside].any()
        # outside the square every frame shows the background frame q
        q = int(batch.background[k])
        assert (clips[k][:, outside] == clips[k, q][outside][None]).all()


def coordinate_sources(b: int, size: int) -> torch.Tensor:
    """Sources whose pixel (r, c) holds (c, r, 0), so every clip pixel says which source pixel it shows."""
    r, c = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return torch.stack((c, r, torch.zeros_like(r))).to(torch.uint8).expand(b, -1, -1, -1).contiguous()


@pytest.mark.parametrize("train", [False, True])
def test_camera_pans_the_background_and_the_label_is_the_square_s_motion_relative_to_it(train):
    cfg = MotionConfig(jitter=False, flip=False, camera=12, frames=6, crop=32, source_size=80)
    batch = PseudoMotion(cfg)(coordinate_sources(3, cfg.source_size), train=train, generator=torch.Generator().manual_seed(2), raw=True)
    clips = batch.clips.numpy().astype(np.int64)  # (N, T, L, L, 3)
    ii, jj = np.meshgrid(np.arange(cfg.crop), np.arange(cfg.crop), indexing="ij")
    room = cfg.source_size - cfg.crop - cfg.camera  # the class trajectories leave the camera its room
    pool = label_pool(cfg.speeds)
    pans = []
    for k in range(clips.shape[0]):
        x0, y0, side = batch.mask_box[k].tolist()
        inside = np.zeros((cfg.crop, cfg.crop), bool)
        inside[y0 : y0 + side, x0 : x0 + side] = True
        windows = {}
        for name, where in (("square", inside), ("background", ~inside)):
            wx = clips[k, :, :, :, 0] - jj  # (T, L, L) window left edge each pixel implies
            wy = clips[k, :, :, :, 1] - ii
            # every pixel of a region shows one rigid window per frame
            assert all(len(np.unique(wx[t][where])) == 1 and len(np.unique(wy[t][where])) == 1 for t in range(cfg.frames))
            windows[name] = np.array([(wx[t][where][0], wy[t][where][0]) for t in range(cfg.frames)])  # (T, 2)
        pan = windows["background"] - windows["background"][0]
        assert np.abs(pan).max() <= cfg.camera
        pans.append(np.abs(pan).max())
        # relative to the background, the square follows the spec's trajectory in the room left by the camera
        rel = windows["square"] - windows["background"]
        sx, sy = pool[int(batch.labels[k])]
        total = room * np.array([sx, sy]) / (cfg.speeds // 2)
        assert np.all(np.abs((rel[-1] - rel[0]) - total) <= 1), (k, rel, total)
        if (sx, sy) == (0, 0):
            assert (rel == rel[0]).all()  # the static class: the square pans with the background
    assert max(pans) > 0  # the camera does move


def test_without_camera_the_generator_is_unchanged():
    """camera=0 keeps the paper's generator: the same clips as a config without the field."""
    a = PseudoMotion(MotionConfig(jitter=False, **SMALL))(sources(2, 64), generator=torch.Generator().manual_seed(5), raw=True)
    b = PseudoMotion(MotionConfig(jitter=False, camera=0, **SMALL))(sources(2, 64), generator=torch.Generator().manual_seed(5), raw=True)
    assert torch.equal(a.clips, b.clips)
    with pytest.raises(ValueError, match="camera travel"):
        MotionConfig(camera=40, **SMALL)


def test_every_batch_holds_every_label_per_source():
    for axes, speeds in (("xy", 5), ("xy", 3), ("xy", 7), ("xy", 9), ("x", 5), ("y", 5)):
        cfg = MotionConfig(axes=axes, speeds=speeds, **SMALL)
        gen = PseudoMotion(cfg)
        batch = gen(sources(3, cfg.source_size), generator=torch.Generator().manual_seed(0))
        c = len(label_pool(speeds, axes))
        assert batch.clips.shape == (3 * c, 3, cfg.frames, cfg.crop, cfg.crop)
        per_source = batch.labels.view(3, c)
        assert (per_source.sort(dim=1).values == torch.arange(c)).all()


def test_one_axis_ablations_move_one_axis():
    cfg = MotionConfig(axes="x", mask=False, jitter=False, flip=False, **SMALL)
    batch = PseudoMotion(cfg)(sources(1, cfg.source_size), train=False, raw=True)
    assert cfg.num_classes == 5
    assert (batch.y == batch.y[:, :1]).all()  # y never changes
    assert (batch.x[:-1, 0] != batch.x[:-1, -1]).all()


def test_trajectories_stay_inside_the_source():
    cfg = MotionConfig()  # paper geometry: Ls=320, L=112, K=5 -> travel 208 or 104 px
    gen = PseudoMotion(cfg)
    speeds = torch.tensor([-2, -1, 0, 1, 2]).repeat(200)
    pos = gen.trajectory(speeds, torch.rand(len(speeds)))
    assert pos.min() >= 0 and pos.max() <= 208
    travel = (pos[:, -1] - pos[:, 0]).abs()
    assert set(travel.unique().tolist()) == {0, 104, 208}
    val = gen.trajectory(torch.tensor([-2, -1, 0, 1, 2]), None)
    assert val[:, 0].tolist() == [208, 156, 104, 52, 0]


def test_validation_is_deterministic_and_batch_independent():
    cfg = MotionConfig(**SMALL)
    gen = PseudoMotion(cfg)
    src = sources(4, cfg.source_size)
    ids = torch.arange(10, 14)
    full = gen(src, train=False, source_ids=ids)
    halves = [gen(src[i : i + 2], train=False, source_ids=ids[i : i + 2]) for i in (0, 2)]
    torch.testing.assert_close(full.clips, torch.cat([h.clips for h in halves]))
    assert torch.equal(full.mask_box, torch.cat([h.mask_box for h in halves]))
    assert not full.flipped.any()
    again = gen(src, train=False, source_ids=ids)
    assert torch.equal(full.clips, again.clips)


def test_training_draws_vary_and_jitter_is_per_frame():
    cfg = MotionConfig(mask=False, flip=False, **SMALL)
    gen = PseudoMotion(cfg)
    src = sources(2, cfg.source_size)
    a = gen(src, generator=torch.Generator().manual_seed(0))
    b = gen(src, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(a.clips, b.clips)
    # a static, unmasked clip changes over time only through per-frame jitter
    static = a.clips[a.labels == cfg.num_classes - 1][0]  # (3, T, L, L)
    assert not torch.allclose(static[:, 0], static[:, 1])
    plain = PseudoMotion(MotionConfig(mask=False, flip=False, jitter=False, **SMALL))(src, generator=torch.Generator().manual_seed(0))
    still = plain.clips[plain.labels == cfg.num_classes - 1][0]
    torch.testing.assert_close(still[:, 0], still[:, 1])


def test_normalised_output_uses_mean_and_std():
    cfg = MotionConfig(mask=False, jitter=False, flip=False, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), **SMALL)
    gen = PseudoMotion(cfg)
    src = sources(1, cfg.source_size)
    norm = gen(src, train=False)
    raw = gen(src, train=False, raw=True)
    expected = (raw.clips.float() / 255 - 0.5) / 0.25  # (N, T, L, L, 3)
    torch.testing.assert_close(norm.clips, expected.permute(0, 4, 1, 2, 3))


def test_rejects_wrong_source_size():
    gen = PseudoMotion(MotionConfig(**SMALL))
    with pytest.raises(ValueError, match="64x64"):
        gen(torch.zeros(1, 3, 50, 64, dtype=torch.uint8))


def test_motions_cli_shows_the_papers_clips_or_a_models(tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from mosi_tool.cli import app

    from .conftest import micro_checkpoint

    image = tmp_path / "img.png"
    Image.fromarray(texture(360, 400, 1)).save(image)
    out = tmp_path / "m.npz"
    result = CliRunner().invoke(app, ["motions", str(image), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert np.load(out)["clips"].shape == (9, 16, 112, 112, 3)  # the paper's generator
    ckpt = micro_checkpoint(tmp_path / "c.safetensors")  # 4 frames of 32x32
    result = CliRunner().invoke(app, ["motions", str(image), "--out", str(out), "--model", str(ckpt)])
    assert result.exit_code == 0, result.output
    assert np.load(out)["clips"].shape == (9, 4, 32, 32, 3) and "labels: class index" in result.output


def test_16_bit_grey_image_is_scaled_not_clipped_to_white(tmp_path):
    """Pillow's convert("RGB") of a 16-bit grey PNG clips every value above 255: the clips were all white."""
    from PIL import Image

    from mosi_tool.training.images import load_image

    grey = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(grey).save(path)
    rgb = np.asarray(load_image(str(path), 64))
    assert rgb.shape == (64, 64, 3)
    np.testing.assert_allclose(rgb[..., 0].astype(float), grey / 257, atol=1)


@pytest.mark.parametrize("crop, match", [(0, "crop must be >= 1"), (-5, "crop must be >= 1"), (64, "smaller than source size 64")])
def test_crop_without_room_to_move_is_refused_by_name(crop, match):
    """--crop 0 wrote empty 0x0 clips, a negative crop a traceback, and a crop equal to the source size blamed
    the camera travel the user never set."""
    with pytest.raises(ValueError, match=match):
        MotionConfig(frames=8, crop=crop, source_size=64)


def test_ctrl_c_is_one_line_exit_130_and_no_output(tmp_path, monkeypatch):
    """Ctrl-C ended a command silently (exit 130 and no word of what became of its output)."""
    from PIL import Image
    from typer.testing import CliRunner

    import mosi_tool.training.preview as preview
    from mosi_tool.cli import app

    image = tmp_path / "img.png"
    Image.fromarray(texture(96, 96, 1)).save(image)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(preview, "write_motions", stopped)
    result = CliRunner().invoke(app, ["motions", str(image), "--out", str(tmp_path / "m.gif"), "--frames", "2", "--crop", "32", "--source-size", "64"])
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines() == ["interrupted: the output being written was abandoned; finished files are kept"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.png"]
