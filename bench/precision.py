"""How far reduced-precision features lie from fp32 ones, per clip, on real videos and a given model.

    python bench/precision.py                                   # the bundled model, ../shared/data/videos
    python bench/precision.py --model full.safetensors --videos a.mp4 b.mp4

Every video is extracted once per path (`mosi-tool features`' defaults otherwise: centre crop, step = stack)
with PyTorch fp32 as the reference, then PyTorch bf16 and ONNX Runtime fp32 and int8. Per path: the worst
and median per-clip cosine similarity, the worst and median per-clip relative L2 error |x - y| / |x|, and the
share of clips whose relative error passes 1%. Records the run with bench/report.py (docs/benchmarks/, docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.agreement import clip_agreement, matched_features  # noqa: E402
from bench.report import cpu_section, publish  # noqa: E402
from mosi_tool.default_model import default_model_path  # noqa: E402
from mosi_tool.hardware import cpu_has_fast_bf16  # noqa: E402
from mosi_tool.pipeline.extract import ExtractOptions, extract  # noqa: E402
from mosi_tool.batch.jobs import find_inputs  # noqa: E402

PATHS = {"torch bf16": ("torch", "bf16"), "onnx fp32": ("onnx", "fp32"), "onnx int8": ("onnx", "int8")}


def run(videos: list[Path], model: str, out: Path, runtime: str, precision: str, batch_size: int) -> None:
    opts = ExtractOptions(model=model, out_dir=out, devices=["cpu"], runtime=runtime, precision=precision,
                          batch_size=batch_size, overwrite=True, progress=False)  # fmt: skip
    report = extract(videos, opts)
    if report.failed:
        raise SystemExit(f"{report.failed} video(s) failed with --runtime {runtime} ({out / 'failures.jsonl'})")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(default_model_path()))
    p.add_argument("--videos", type=Path, nargs="+", default=[ROOT.parent / "shared" / "data" / "videos"])
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--report", type=Path, default=ROOT / "docs" / "BENCHMARKS.md", help="summary to record the run in ('-': print only)")
    args = p.parse_args(argv)
    videos = find_inputs([v for v in args.videos if v.exists()]).videos
    if not videos:
        raise SystemExit(f"no videos in {', '.join(map(str, args.videos))}")
    rows, lines = [], []
    with tempfile.TemporaryDirectory(prefix="mosi-precision-") as tmp:
        ref = Path(tmp) / "fp32"
        run(videos, args.model, ref, "torch", "fp32", args.batch_size)
        for name, (runtime, precision) in PATHS.items():
            out = Path(tmp) / name.replace(" ", "-")
            run(videos, args.model, out, runtime, precision, args.batch_size)
            cos, rel = (np.concatenate(a) for a in zip(*(clip_agreement(x, y) for _, x, y in matched_features(ref, out))))
            rows.append(f"| {name} | {len(cos)} | {cos.min():.6f} | {np.median(cos):.6f} | {rel.max():.4f} | "
                        f"{np.median(rel):.4f} | {(rel > 0.01).mean():.0%} |")  # fmt: skip
            lines.append(f"{name}: worst clip cosine {cos.min():.6f}, relative error up to {rel.max():.1%} (median {np.median(rel):.2%})")
    table = ["| path vs PyTorch fp32 | clips | worst cosine | median cosine | worst rel. error | median rel. error | clips > 1% |",
             "|---|---:|---:|---:|---:|---:|---:|", *rows]  # fmt: skip
    facts = [f"model {Path(args.model).name}; {len(videos)} videos: {', '.join(v.name for v in videos)}",
             f"batch size {args.batch_size}; CPU with fast bf16 (AMX or AVX512-BF16): {cpu_has_fast_bf16()}"]  # fmt: skip
    publish(cpu_section("Feature agreement with fp32", "bench/precision.py", argv, facts, table, lines), args.report)


if __name__ == "__main__":
    main()
