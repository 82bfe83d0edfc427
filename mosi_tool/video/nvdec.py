"""Experimental GPU decoding (`--decode nvdec`): NVDEC through torchcodec, frames resized on the GPU.

Same interface as `VideoReader` (frame folders still read on the CPU). Frames come back to the host as
uint8, so the rest of the pipeline is unchanged; what it saves is CPU decode time. Resizing is bilinear
with antialiasing in PyTorch, not swscale's, so features differ slightly from CPU decoding (the
`decoder` of the clip spec is stored in each file, so the two never mix). Not verified on a GPU yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from .decode import Frame, VideoError, VideoReader
from .orientation import Orientation


def check_nvdec() -> None:
    """Raise a clear error unless torchcodec and a CUDA device are here."""
    if not torch.cuda.is_available():
        raise ValueError("--decode nvdec needs a CUDA GPU; none is available here")
    try:
        import torchcodec.decoders  # noqa: F401
    except ImportError as e:
        raise ValueError(f"--decode nvdec needs torchcodec built with CUDA (pip install torchcodec): {e}") from None


def orient_chw(chw: torch.Tensor, orientation: Orientation) -> torch.Tensor:
    """(3, H, W) stored -> (3, H', W') upright: `Orientation.apply` on a channels-first tensor."""
    if orientation.transpose:
        chw = chw.transpose(1, 2)
    if orientation.flip_rows:
        chw = chw.flip(1)
    if orientation.flip_cols:
        chw = chw.flip(2)
    return chw


def resize_gpu(chw: torch.Tensor, size: tuple[int, int] | None) -> np.ndarray:
    """(3, H, W) uint8 on the GPU -> (h, w, 3) uint8 host array at `size` = (width, height)."""
    x = chw
    if size and (x.shape[2], x.shape[1]) != tuple(size):
        x = torch.nn.functional.interpolate(x[None].float(), size=(size[1], size[0]), mode="bilinear", antialias=True, align_corners=False)[0]
        x = x.round_().clamp_(0, 255).to(torch.uint8)
    return x.permute(1, 2, 0).contiguous().cpu().numpy()


class NvdecReader(VideoReader):
    def frames(self, size: tuple[int, int] | None = None) -> Iterator[Frame]:
        if self._files:
            yield from super().frames(size)
            return
        from torchcodec.decoders import VideoDecoder

        import av

        with av.open(str(self.path), metadata_errors="ignore") as container:
            index = container.streams.video[self.info.stream].index  # torchcodec counts every stream
        self.decoded = 0
        try:
            decoder: Any = VideoDecoder(str(self.path), stream_index=index, device="cuda")
        except Exception as e:  # noqa: BLE001 - torchcodec raises RuntimeError/ValueError by cause
            raise VideoError(self.path, f"NVDEC cannot open it ({e})") from None
        t0: float | None = None
        stored_hw = self.pixels.stored[::-1]
        if size is None and self.pixels.square != self.pixels.stored:
            size = (self.info.width, self.info.height)  # non-square pixels: to the displayed size, as the CPU reader
        try:
            for frame in decoder:
                t0 = frame.pts_seconds if t0 is None else t0
                self.start_time = float(t0)
                data = frame.data
                if tuple(data.shape[1:]) == stored_hw:  # stored, not yet upright: turn it like the CPU reader does
                    data = orient_chw(data, self.orientation)
                yield Frame(self.decoded, float(frame.pts_seconds - t0), resize_gpu(data, size))
                self.decoded += 1
        except RuntimeError as e:
            self._warn(f"NVDEC stopped after {self.decoded} frames ({e}); the file is truncated or damaged")
        if self.decoded == 0:
            raise VideoError(Path(self.path), "no frames could be decoded")
