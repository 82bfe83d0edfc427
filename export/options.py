"""What to build: one plain dataclass shared by every exporter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mosi_tool.artifact import PRECISIONS


@dataclass(frozen=True)
class ExportOptions:
    precision: str = "fp32"
    min_batch: int = 1
    opt_batch: int = 8
    max_batch: int = 32
    max_size: int | None = None  # largest H or W an engine with a fixed range accepts; None: 2.5 x crop
    device: str = "auto"  # where AOTInductor compiles for / TensorRT builds on
    verify: bool = True  # compare the artifact with PyTorch on real clips after writing it
    input_dtype: str = "uint8"  # "float32" only for the benchmark's input comparison
    timing_cache: Path | None = None  # TensorRT; None: one per TensorRT version and GPU in the cache folder
    onnx_source: Path | None = None  # an ONNX of the same checkpoint that TensorRT may build from
    workspace_gib: float = 8.0  # TensorRT builder workspace
    calibration: Path | None = None  # int8: a video or folder of videos to calibrate on; None: synthetic textures and noise (`int8.default_calibration_clips`)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ValueError(
                f"need 1 <= min batch <= opt batch <= max batch, got {self.min_batch}, {self.opt_batch}, {self.max_batch}"
            )
        if self.input_dtype not in ("uint8", "float32"):
            raise ValueError(f"input dtype must be uint8 or float32, got {self.input_dtype!r}")

    def hw_range(self, crop: int) -> tuple[int, int, int]:
        """(min, opt, max) of H and W: min and opt are the model's crop (centre clips, and the short side of
        saliency's full frames); max covers full frames up to 2.5:1."""
        largest = self.max_size or -(-crop * 5 // 2 // 16) * 16
        if largest < crop:
            raise ValueError(f"--max-size {largest} is below the model's crop {crop}")
        return crop, crop, largest
