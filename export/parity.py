"""Does an engine compute what PyTorch computes? Compare every output on the same clips."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mosi_tool.artifact import OUTPUT_NAMES
from mosi_tool.metadata import ModelMeta
from mosi_tool.models.clip_model import ClipOutput



@dataclass(frozen=True)
class Tolerance:
    max_logit_error: float | None  # fp32 only: absolute
    min_cosine: float  # every clip, for each output in `outputs`
    min_top1: float  # fraction of clips with the same arg-max class
    outputs: tuple[str, ...] = OUTPUT_NAMES  # the outputs held to min_cosine


TOLERANCES = {
    "fp32": Tolerance(1e-3, 0.9999, 1.0),
    "fp16": Tolerance(None, 0.999, 0.99),
    "bf16": Tolerance(None, 0.999, 0.99),
    # int8 is held to its features (what `features` stores) and the same top-1 on 75% of clips; the CAM correlation is reported.
    "int8": Tolerance(None, 0.99, 0.75, ("features",)),
}


@dataclass(frozen=True)
class OutputStat:
    name: str
    max_abs: float
    min_cosine: float  # worst clip


@dataclass(frozen=True)
class Parity:
    stats: tuple[OutputStat, ...]
    top1: float  # fraction of clips whose top class agrees
    clips: int
    cam_correlation: float = 1.0  # worst clip: Pearson correlation of the CAMs (all classes), engine vs PyTorch

    def stat(self, name: str) -> OutputStat:
        return next(s for s in self.stats if s.name == name)

    def failures(self, precision: str) -> list[str]:
        """What is out of tolerance for `precision` (empty: all good)."""
        tol = TOLERANCES[precision]
        bad = [f"{s.name} cosine {s.min_cosine:.6f} < {tol.min_cosine}" for s in self.stats if s.name in tol.outputs and s.min_cosine < tol.min_cosine]
        logits = self.stat("logits").max_abs
        if tol.max_logit_error is not None and logits > tol.max_logit_error:
            bad.append(f"logits max abs error {logits:.2e} > {tol.max_logit_error:g}")
        if self.top1 < tol.min_top1:
            bad.append(f"top-1 agrees on {self.top1:.1%} of clips < {tol.min_top1:.0%}")
        return bad

    def lines(self) -> list[str]:
        rows = [f"  {s.name:<9} max abs error {s.max_abs:.3e}  cosine {s.min_cosine:.7f}" for s in self.stats]
        return rows + [f"  CAM correlation {self.cam_correlation:.5f} (worst clip)", f"  top-1 agreement {self.top1:.1%} over {self.clips} clips"]


def compare(reference: ClipOutput, got: ClipOutput) -> Parity:
    stats = []
    for name, ref, out in zip(OUTPUT_NAMES, reference, got):
        ref, out = ref.detach().float().cpu(), out.detach().float().cpu()
        if ref.shape != out.shape:
            raise ValueError(f"{name}: shape {tuple(out.shape)} differs from PyTorch's {tuple(ref.shape)}")
        a, b = ref.flatten(1).double(), out.flatten(1).double()
        cos = torch.nn.functional.cosine_similarity(a, b, dim=1, eps=1e-12)
        stats.append(OutputStat(name, float((a - b).abs().max()), float(cos.min())))
    top1 = float((reference.logits.cpu().argmax(1) == got.logits.cpu().argmax(1)).float().mean())
    return Parity(tuple(stats), top1, int(reference.logits.shape[0]), cam_correlation(reference.cam, got.cam))


def cam_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Worst per-clip Pearson correlation between two CAM batches (B, classes, t, h, w); 1.0 where both are flat."""
    x, y = a.detach().cpu().flatten(1).double(), b.detach().cpu().flatten(1).double()
    x, y = x - x.mean(1, keepdim=True), y - y.mean(1, keepdim=True)
    norm = x.norm(dim=1) * y.norm(dim=1)
    corr = torch.where(norm > 0, (x * y).sum(1) / norm.clamp_min(1e-30), torch.ones_like(norm))
    return float(corr.min())


def shared_videos() -> list[Path]:
    """Videos under $MOSI_SHARED_DATA/videos or the ../shared/data/videos beside a checkout."""
    root = Path(os.environ.get("MOSI_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    folder = root / "videos"
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in (".mp4", ".avi", ".mkv")) if folder.is_dir() else []


def sample_clips(meta: ModelMeta, n: int = 8, hw: tuple[int, int] | None = None) -> tuple[torch.Tensor, str]:
    """`n` uint8 clips (n, T, H, W, 3) and where they came from: a real video when one is available (centre
    crops), else a synthetic moving texture. `hw` other than the crop always gives synthetic clips."""
    if hw is None:
        for video in shared_videos():
            clips = _video_clips(video, meta, n)
            if clips is not None:
                return clips, f"{video.name} (real video)"
    h, w = hw or (meta.crop, meta.crop)
    return synthetic_clips(n, meta.frames, h, w), "synthetic clips"


def synthetic_clips(n: int, frames: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Smooth random textures, each shifted a few pixels per frame in its own direction."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, frames, h, w, 3), dtype=np.uint8)
    for i in range(n):
        small = rng.integers(0, 256, (h // 4 + 2 * frames, w // 4 + 2 * frames, 3), dtype=np.uint8)
        big = small.repeat(4, 0).repeat(4, 1)
        dy, dx = rng.integers(-2, 3, size=2)
        for t in range(frames):
            y0, x0 = 4 * frames + dy * t, 4 * frames + dx * t
            out[i, t] = big[y0 : y0 + h, x0 : x0 + w]
    return torch.from_numpy(out)


def _video_clips(video: Path, meta: ModelMeta, n: int) -> torch.Tensor | None:
    from mosi_tool.video.clips import ClipSpec, iter_clips
    from mosi_tool.video.decode import VideoError, VideoReader

    try:
        reader = VideoReader(video)
        clips = []
        for clip in iter_clips(reader, ClipSpec(stack=meta.frames, size=meta.crop)):
            clips.append(torch.from_numpy(clip.frames))
            if len(clips) == n:
                break
    except VideoError:
        return None
    return torch.stack(clips) if len(clips) == n else None


@torch.no_grad()
def reference_outputs(checkpoint: Path, clips: torch.Tensor) -> ClipOutput:
    """PyTorch eager fp32 on CPU: the ground truth every engine is compared with."""
    from mosi_tool.checkpoint import load_checkpoint
    from mosi_tool.models.clip_model import ClipModel

    backbone, meta = load_checkpoint(checkpoint)
    return ClipModel(backbone, meta).eval()(clips)


def verify(artifact: Path, checkpoint: Path, precision: str, device: str = "auto", n: int = 8) -> tuple[Parity, str]:
    """Run `artifact` through its runtime and PyTorch on the same clips; return the comparison and the clips' source."""
    from mosi_tool.checkpoint import read_meta
    from mosi_tool.runtimes import open_engine, resolve_device

    clips, source = sample_clips(read_meta(checkpoint), n)
    engine = open_engine(artifact, resolve_device(device))
    return compare(reference_outputs(checkpoint, clips), engine(clips)), source
