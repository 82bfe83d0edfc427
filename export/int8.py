"""fp32 ONNX -> int8 ONNX (QDQ) by ONNX Runtime static quantization, calibrated on real clips.

Convolutions get int8 weights (per output channel, symmetric) and uint8 activations whose ranges come from
running the fp32 graph on calibration clips (min/max). Everything else (normalisation, pooling, the head,
the CAM) stays fp32. Calibration clips: centre clips of the model's size from the videos of a folder
(default: the bundled sample video), spread evenly over each video.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from mosi_tool.artifact import INPUT_NAME
from mosi_tool.default_model import SAMPLE_VIDEO
from mosi_tool.metadata import ModelMeta
from mosi_tool.runtimes.base import EngineError
from mosi_tool.runtimes.onnx_runtime import quantization_available as available
from mosi_tool.video.samples import spread_clips, videos_in

CALIBRATION_CLIPS = 32  # enough for stable min/max ranges; calibration time grows with it
CALIBRATION_BATCH = 4


def default_calibration() -> Path:
    return SAMPLE_VIDEO


def calibration_videos(source: Path) -> list[Path]:
    """The videos of a folder (recursively, sorted) or the one file given; ValueError if none."""
    return videos_in(source, "--calibration ")


def calibration_clips(source: Path, meta: ModelMeta, n: int = CALIBRATION_CLIPS) -> np.ndarray:
    """Up to `n` uint8 centre clips (n, T, crop, crop, 3) from the videos under `source`, spread evenly over
    the videos and over each video's length (`video.samples.spread_clips`)."""
    return spread_clips(source, meta.frames, meta.crop, n, "--calibration ")


def quantize(fp32_onnx: Path, out: Path, clips: np.ndarray, log: Callable[[str], None] = lambda _: None) -> None:
    """Write the static int8 (QDQ) quantization of `fp32_onnx` to `out` (not atomically: give a temp path).

    `clips`: uint8 (N, T, H, W, 3) calibration clips. Raises EngineError if onnxruntime cannot quantize.
    """
    if not available():
        raise EngineError(f"{out}: onnxruntime's quantization tools are not installed (pip install 'mosi-tool[cpu]')")
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches: Iterator[np.ndarray] = (clips[i : i + CALIBRATION_BATCH] for i in range(0, len(clips), CALIBRATION_BATCH))

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    with tempfile.TemporaryDirectory(prefix="mosi-int8-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        try:
            quant_pre_process(str(fp32_onnx), str(prepared), skip_symbolic_shape=True)
            quantize_static(
                str(prepared), str(out), Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["Conv"],
                calibrate_method=CalibrationMethod.MinMax, calibration_providers=["CPUExecutionProvider"],
            )  # fmt: skip
        except Exception as e:  # noqa: BLE001 - the quantizer raises many types; report one line
            raise EngineError(f"{fp32_onnx}: int8 quantization failed ({' '.join(str(e).split())[:300]})") from e
    log(f"int8: calibrated on {len(clips)} clips")
