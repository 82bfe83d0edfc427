"""Shared fixtures: the shared data folder (skipped when absent), synthetic videos and tiny models."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MOSI_SHARED_DATA", ROOT.parent / "shared" / "data"))


BUGCASES = Path(os.environ.get("MOSI_BUGCASES", SHARED.parent / "bugcases"))


def shared(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path} (set MOSI_SHARED_DATA or clone beside ../shared)")
    return path


def bugcase(*parts: str) -> Path:
    """A path under ../shared/bugcases (input faults users report; see make_cases.sh there), or skip."""
    path = BUGCASES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"bug cases not available: {path} (set MOSI_BUGCASES or clone beside ../shared)")
    return path


def texture(h: int, w: int, seed: int, scale: int = 4) -> np.ndarray:
    """Smooth random colour texture (H, W, 3) uint8: blocky noise upsampled, so motion is measurable."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // scale + 2, w // scale + 2, 3), dtype=np.uint8)
    big = small.repeat(scale, 0).repeat(scale, 1)
    return np.ascontiguousarray(big[:h, :w])


def encode_frames(path: Path, frames: Iterable[np.ndarray], rate: int = 24, codec: str = "libx264", pix_fmt: str = "yuv420p",
                  options: dict[str, str] | None = None) -> Path:  # fmt: skip
    """Encode uint8 RGB frames (H, W, 3), all of one size, into `path` with PyAV; returns `path`."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.pix_fmt = pix_fmt
        if options:
            stream.options = options
        for i, img in enumerate(frames):
            if i == 0:
                stream.height, stream.width = img.shape[:2]
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def join_videos(parts: list[Path], out: Path) -> Path:
    """The videos one after another without re-encoding (their packets, timestamps shifted): each part's frames
    decode exactly as the part alone does. The parts must share their codec settings (the same stream header,
    as `encode_frames` gives frames of one size). Returns `out`."""
    import av

    inputs = [av.open(str(p)) for p in parts]
    try:
        headers = {bytes(i.streams.video[0].codec_context.extradata or b"") for i in inputs}
        assert len(headers) == 1, "the parts' stream headers differ"
        with av.open(str(out), "w") as dst:
            stream = dst.add_stream_from_template(inputs[0].streams.video[0])
            shift = 0
            for i in inputs:
                end = shift
                for packet in i.demux(i.streams.video[0]):
                    if packet.size == 0:  # the demuxer's flush packet
                        continue
                    packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
                    end = max(end, packet.pts + packet.duration)
                    packet.stream = stream
                    dst.mux(packet)
                shift = end
    finally:
        for i in inputs:
            i.close()
    return out


def write_image_folder(root: Path, classes: int, per_class: int, size: Callable[[int], tuple[int, int]], seed: int) -> Path:
    """An ImageNet-layout folder root/train/<wnid>/img_<i>.JPEG of textures, (H, W) = size(i); returns `root`."""
    from PIL import Image

    for c in range(classes):
        folder = root / "train" / f"n0000000{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(texture(*size(i), seed=seed * c + i)).save(folder / f"img_{i}.JPEG", quality=95)
    return root


def write_video(
    path: Path, n: int = 40, size: tuple[int, int] = (96, 72), fps: int = 12, square: int = 24, speed: int = 2,
    codec: str = "libx264", pts: list[int] | None = None, time_base: tuple[int, int] | None = None,
) -> Path:  # fmt: skip
    """A textured square moving right over a static textured background; returns `path`.

    pts/time_base: give explicit timestamps (variable frame rate).
    """
    import av
    from fractions import Fraction

    w, h = size
    bg = texture(h, w, seed=1)
    fg = texture(square, square, seed=2, scale=3)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "12", "g": "8"}
        if time_base:
            stream.codec_context.time_base = Fraction(*time_base)
        for i in range(n):
            img = bg.copy()
            x = (4 + i * speed) % (w - square)
            y = (h - square) // 2
            img[y : y + square, x : x + square] = fg
            frame = __import__("av").VideoFrame.from_ndarray(img, format="rgb24")
            if pts is not None:
                frame.pts = pts[i]
                frame.time_base = Fraction(*time_base) if time_base else Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="session")
def moving_square_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("videos") / "square.mp4")


MICRO = {"frames": 4, "crop": 32, "source_size": 64}


def micro_checkpoint(path: Path, arch: str = "r2plus1d_10", width: int = 8, frames: int = 4, crop: int = 32, seed: int = 0) -> Path:
    """A randomly initialised, tiny checkpoint (fast on CPU) with realistic metadata."""
    from mosi_tool.checkpoint import save_checkpoint
    from mosi_tool.metadata import ModelMeta
    from mosi_tool.models.backbones import build_backbone

    torch.manual_seed(seed)
    model = build_backbone(arch, 9, width=width)
    # Non-trivial BN statistics, so eval-mode parity tests exercise them.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    meta = ModelMeta(arch=arch, width=width, frames=frames, crop=crop, source_size=2 * crop, feature_dim=model.feature_dim)
    save_checkpoint(path, model, meta)
    return path


@pytest.fixture(scope="session")
def micro_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return micro_checkpoint(tmp_path_factory.mktemp("ckpt") / "micro.safetensors")


def motion_energy_checkpoint(path: Path, frames: int = 8, crop: int = 64) -> Path:
    """A hand-built R(2+1)D-10 whose class maps are the clip's temporal luminance change.

    Stem: luminance (+3, so ReLU keeps it), then a temporal conv computing x[t] - x[t+1] into two
    channels (positive and negative parts). Every residual branch is zeroed and every shortcut passes
    those channels on, so conv5 holds sub-sampled |frame difference| and every class weighs it equally.
    The saliency plumbing (clips, geometry, upsampling, overlays) must then put the heat where things move.
    """
    from mosi_tool.checkpoint import save_checkpoint
    from mosi_tool.metadata import ModelMeta
    from mosi_tool.models.backbones import build_backbone

    model = build_backbone("r2plus1d_10", 9, width=8)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.weight.fill_(1.0)
                m.running_var.fill_(1.0)
                m.running_mean.zero_()
        spatial, bn_mid, _, temporal = model.stem[0]
        spatial.weight[0, :, 0, 3, 3] = 1 / 3
        bn_mid.bias[0] = 3.0
        temporal.weight[0, 0, :, 0, 0] = torch.tensor([0.0, 1.0, -1.0])
        temporal.weight[1, 0, :, 0, 0] = torch.tensor([0.0, -1.0, 1.0])
        for stage in (model.conv3, model.conv4, model.conv5):
            conv = stage[0].shortcut[0]
            conv.weight[0, 0], conv.weight[1, 1] = 1.0, 1.0
        model.fc.weight[:, :2] = 1.0
    meta = ModelMeta(arch="r2plus1d_10", width=8, frames=frames, crop=crop, source_size=2 * crop, feature_dim=model.feature_dim)
    save_checkpoint(path, model, meta)
    return path


@pytest.fixture(scope="session")
def energy_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return motion_energy_checkpoint(tmp_path_factory.mktemp("energy") / "energy.safetensors")


@pytest.fixture(autouse=True, scope="session")
def _private_engine_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Engines exported on demand (CPU checkpoints run through cached ONNX) go to a per-session folder."""
    os.environ["MOSI_TOOL_CACHE"] = str(tmp_path_factory.mktemp("mosi-cache"))


@pytest.fixture(scope="session")
def micro_onnx(micro_ckpt: Path, tmp_path_factory: pytest.TempPathFactory):
    """micro_onnx(precision) -> path of the micro checkpoint exported to ONNX (once per precision)."""
    from mosi_tool.export.onnx import build
    from mosi_tool.export.options import ExportOptions

    folder = tmp_path_factory.mktemp("onnx")
    made: dict[str, Path] = {}

    def get(precision: str = "fp32") -> Path:
        if precision not in made:
            made[precision] = folder / f"micro-{precision}.onnx"
            build(micro_ckpt, made[precision], ExportOptions(precision=precision, verify=False))
        return made[precision]

    return get
