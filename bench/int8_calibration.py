"""Which default int8 calibration keeps a model's features close to fp32 on videos it was not calibrated on.

    python bench/int8_calibration.py                       # the bundled model, ../shared/data/videos
    python bench/int8_calibration.py --model m.safetensors --variants sample default

The checkpoint is exported to fp32 ONNX once; each variant quantizes it as `export --int8` does (QDQ, int8
per-channel weights, uint8 activations, convolutions only) with other calibration data or settings, and runs
the first 8 centre clips of every video (the clips the export's parity check uses) against PyTorch fp32.
Per variant and video: the worst clip's features cosine and the share of clips whose top-1 class agrees.
Variants:
  sample      the bundled sample video's clips (the default before: fails its own parity check)
  default     export.int8.default_calibration_clips (96 moving textures + 32 noise clips)
  percentile  default's clips, ranges at the 99.999th percentile
  symmetric   default's clips, ranges symmetric around zero
  no-first    default's clips, the first convolution left in fp32
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosi_tool.export import int8  # noqa: E402
from mosi_tool.export.onnx import _export_proto  # noqa: E402
from mosi_tool.export.parity import _video_clips, compare, reference_outputs, shared_videos  # noqa: E402
from mosi_tool.checkpoint import read_meta  # noqa: E402
from mosi_tool.default_model import SAMPLE_VIDEO, default_model_path  # noqa: E402
from mosi_tool.models.clip_model import ClipOutput  # noqa: E402
from mosi_tool.video.samples import spread_clips  # noqa: E402

VARIANTS = ("sample", "default", "percentile", "symmetric", "no-first")


def quantize(prepared: Path, out: Path, clips: np.ndarray, **settings: object) -> None:
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = (clips[i : i + int8.CALIBRATION_BATCH] for i in range(0, len(clips), int8.CALIBRATION_BATCH))

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {"clips": batch}

    args: dict[str, object] = dict(quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                   per_channel=True, op_types_to_quantize=["Conv"], calibrate_method=CalibrationMethod.MinMax,
                                   calibration_providers=["CPUExecutionProvider"])  # fmt: skip
    args.update(settings)
    quantize_static(str(prepared), str(out), Reader(), **args)


def main() -> None:
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.shape_inference import quant_pre_process

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    args = ap.parse_args()
    model = args.model or default_model_path()
    meta = read_meta(model)
    videos = {v.name: c for v in shared_videos() if (c := _video_clips(v, meta, 8)) is not None}
    if not videos:
        raise SystemExit("no videos under ../shared/data/videos (or $MOSI_SHARED_DATA/videos)")
    references = {name: reference_outputs(model, clips) for name, clips in videos.items()}
    default = int8.default_calibration_clips(meta)
    with tempfile.TemporaryDirectory(prefix="mosi-int8-bench-") as tmp:
        plain, prepared = Path(tmp) / "fp32.onnx", Path(tmp) / "prepared.onnx"
        onnx.save(_export_proto(model, "fp32", "uint8"), str(plain))
        quant_pre_process(str(plain), str(prepared), skip_symbolic_shape=True)
        first_conv = next(n.name for n in onnx.load(str(prepared)).graph.node if n.op_type == "Conv")
        plans = {
            "sample": (spread_clips(SAMPLE_VIDEO, meta.frames, meta.crop, int8.CALIBRATION_CLIPS), {}),
            "default": (default, {}),
            "percentile": (default, {"calibrate_method": CalibrationMethod.Percentile, "extra_options": {"CalibPercentile": 99.999}}),
            "symmetric": (default, {"extra_options": {"CalibTensorRangeSymmetric": True}}),
            "no-first": (default, {"nodes_to_exclude": [first_conv]}),
        }
        print(f"{model.name}: features cosine (worst of 8 clips) / top-1 agreement, int8 vs PyTorch fp32")
        print(f"{'variant':<11} {'>=0.99':>6}  " + "  ".join(f"{n[:14]:>14}" for n in videos))
        for name in args.variants:
            clips, settings = plans[name]
            out = Path(tmp) / f"{name}.onnx"
            quantize(prepared, out, clips, **settings)
            session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
            cells, passed = [], 0
            for video, batch in videos.items():
                got = ClipOutput(*(torch.from_numpy(a) for a in session.run(None, {"clips": batch.numpy()})))
                parity = compare(references[video], got)
                cos = parity.stat("features").min_cosine
                passed += cos >= 0.99
                cells.append(f"{cos:.4f}/{parity.top1:.2f}".rjust(14))
            print(f"{name:<11} {passed:>3}/{len(videos):<2}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
