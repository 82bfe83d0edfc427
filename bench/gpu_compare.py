"""The same videos through the CPU and a GPU: clip features (cosine) and saliency maps (correlation).

    python bench/gpu_compare.py --device cuda --videos a.mp4 b.avi --out compare.json

For each model (`--models`: the default model and the paper's network), extracts features with
`extract()` (what `mosi-tool features` runs) on the CPU in fp32 and on `--device` in fp32 and bf16, and
saliency maps with `compute_saliency` + `render` (what `mosi-tool saliency` runs) on both devices in fp32.
Writes one JSON file: per model and video, the worst and mean clip cosine, the map correlation, the
seconds each device took, and the failures against `THRESHOLDS`. Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# A device computes the same function as the CPU when these hold. fp32 on CUDA convolves in TF32 by
# default (10-bit mantissa), bf16 has an 8-bit mantissa: the parity tolerances of export/parity.py, per clip.
FEATURE_COSINE = {"fp32": 0.999, "bf16": 0.99}
MAP_CORRELATION = 0.99
THRESHOLDS = {"feature_cosine": FEATURE_COSINE, "map_correlation": MAP_CORRELATION}
MODELS = ("default", "paper")


def clip_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, D), (N, D) -> (N,) cosine similarity of each clip's two feature vectors."""
    if a.shape != b.shape:
        raise ValueError(f"feature shapes differ: {a.shape} vs {b.shape}")
    a, b = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return (a * b).sum(1) / np.maximum(norms, 1e-12)


def map_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two map stacks (F, H, W) over every pixel of every frame."""
    if a.shape != b.shape:
        raise ValueError(f"map shapes differ: {a.shape} vs {b.shape}")
    x, y = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    x, y = x - x.mean(), y - y.mean()
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 0 else float(np.array_equal(a, b))


def model_checkpoint(name: str, folder: Path, bundled: Path | None = None) -> tuple[Path, str]:
    """(checkpoint, description) of `name`: 'default' is `bundled` when given (a trained model), else a
    seeded random-init model of the default (tiny preset) geometry; 'paper' is a seeded random-init
    R(2+1)D-10 at the paper's 16x112x112. Random weights test the arithmetic as well as trained ones."""
    from mosi_tool.evaluation.random_init import random_init_checkpoint
    from mosi_tool.metadata import ModelMeta
    from mosi_tool.training.config import TINY

    if name == "default" and bundled is not None:
        return bundled, f"bundled default model {bundled.name}"
    if name == "default":
        tiny: dict[str, Any] = TINY  # the default model's geometry: the preset `mosi-tool demo` trains
        meta = ModelMeta(width=tiny["width"], **tiny["motion"])
    elif name == "paper":
        meta = ModelMeta()
    else:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    path = random_init_checkpoint(meta, folder / f"{name}-random.safetensors")
    return path, f"random-init {meta.arch} width {meta.width}, {meta.frames}x{meta.crop}x{meta.crop} (seed 0)"


def extract_features(checkpoint: Path, videos: list[Path], device: str, precision: str, out: Path) -> tuple[dict[str, np.ndarray], float]:
    """{video name: (clips, 512) features} from `extract()` in centre mode, and the seconds it took."""
    from mosi_tool.pipeline.extract import ExtractOptions, extract

    t0 = time.perf_counter()
    opts = ExtractOptions(model=str(checkpoint), out_dir=out, devices=[device], runtime="torch", precision=precision, progress=False)
    report = extract(videos, opts)
    if report.failed:
        raise RuntimeError(f"features on {device} {precision}: {report.failed} video(s) failed ({out / 'failures.jsonl'})")
    feats = {v.name: np.load(next(out.rglob(f"{v.name}.npz")))["features"] for v in videos}
    return feats, time.perf_counter() - t0


def saliency_maps(checkpoint: Path, video: Path, device: str, out: Path) -> tuple[np.ndarray, float]:
    """(frames, H, W) float16 maps at the video's resolution, as `mosi-tool saliency --maps` writes them."""
    from mosi_tool import load_model
    from mosi_tool.saliency.compute import compute_saliency
    from mosi_tool.saliency.render import render

    t0 = time.perf_counter()
    engine = load_model(checkpoint, device=device)
    result = compute_saliency(engine, video, "motion")
    render(video, result, maps=out)
    return np.load(out), time.perf_counter() - t0


def compare_model(name: str, checkpoint: Path, videos: list[Path], device: str, work: Path) -> dict[str, Any]:
    """Every figure for one model; a part that raises is recorded in 'failures' and the rest goes on."""
    rec: dict[str, Any] = {"checkpoint": str(checkpoint), "features": {}, "saliency": {}, "seconds": {}, "failures": []}
    try:
        cpu, rec["seconds"]["features cpu reference fp32"] = extract_features(checkpoint, videos, "cpu", "fp32", work / f"{name}-cpu")
        for precision in ("fp32", "bf16"):
            on_device, secs = extract_features(checkpoint, videos, device, precision, work / f"{name}-{device}-{precision}")
            rec["seconds"][f"features {device} {precision}"] = secs
            for title, reference in cpu.items():
                cos = clip_cosine(reference, on_device[title])
                rec["features"].setdefault(title, {"clips": len(reference)})[precision] = {"min": float(cos.min()), "mean": float(cos.mean())}
                if cos.min() < FEATURE_COSINE[precision]:
                    rec["failures"].append(f"{name} {title} features {precision}: worst clip cosine {cos.min():.5f}")
    except Exception as e:  # noqa: BLE001 - record and go on to the maps
        rec["failures"].append(f"{name} features: {type(e).__name__}: {e}")
        rec["traceback"] = traceback.format_exc(limit=6)
    for video in videos:
        try:
            ref, t_cpu = saliency_maps(checkpoint, video, "cpu", work / f"{name}-{video.name}-cpu.npy")
            dev, t_dev = saliency_maps(checkpoint, video, device, work / f"{name}-{video.name}-{device}.npy")
            corr = map_correlation(ref, dev)
            rec["saliency"][video.name] = {"frames": int(ref.shape[0]), "size": list(ref.shape[1:]), "correlation": corr,
                                           "max_abs": float(np.abs(ref.astype(np.float32) - dev.astype(np.float32)).max())}  # fmt: skip
            rec["seconds"][f"saliency {video.name} cpu reference"], rec["seconds"][f"saliency {video.name} {device}"] = t_cpu, t_dev
            if corr < MAP_CORRELATION:
                rec["failures"].append(f"{name} {video.name} saliency: map correlation {corr:.5f}")
        except Exception as e:  # noqa: BLE001
            rec["failures"].append(f"{name} {video.name} saliency: {type(e).__name__}: {e}")
    return rec


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", type=Path, nargs="+", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated from {', '.join(MODELS)}")
    p.add_argument("--default-model", type=Path, help="a trained default checkpoint (else random init of its geometry)")
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    a = p.parse_args(argv)
    from mosi_tool.atomic import atomic_write_text

    missing = [str(v) for v in a.videos if not v.is_file()]
    if missing:
        print(f"error: no such video: {', '.join(missing)}", file=sys.stderr)
        return 2
    result: dict[str, Any] = {"device": a.device, "videos": [v.name for v in a.videos], "thresholds": THRESHOLDS, "models": {}}
    with tempfile.TemporaryDirectory(prefix="mosi-compare-") as tmp:
        for name in a.models.split(","):
            folder = Path(tmp) / name
            folder.mkdir()
            checkpoint, about = model_checkpoint(name, folder, a.default_model)
            print(f"{name}: {about}", flush=True)
            result["models"][name] = {"about": about, **compare_model(name, checkpoint, a.videos, a.device, folder)}
            for line in result["models"][name]["failures"]:
                print(f"FAIL {line}", flush=True)
    result["failures"] = [f for m in result["models"].values() for f in m["failures"]]
    result["ok"] = not result["failures"]
    atomic_write_text(a.out, json.dumps(result, indent=2))
    print(f"{'ok' if result['ok'] else 'FAILED'}: wrote {a.out}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
