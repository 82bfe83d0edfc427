"""The one small interface every runtime implements, whatever artifact it runs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np
import torch

from ..artifact import KINDS, ExportInfo, ModelFile
from ..metadata import MetadataError, ModelMeta
from ..models.clip_model import ClipModel, ClipOutput


class EngineError(RuntimeError):
    """An engine that cannot be loaded or run here; the message names the file and the reason."""


T = TypeVar("T")


def read_contract(reader: Callable[..., T], *args: Any) -> T:
    """Call an `artifact` reader; its MetadataError (which names the file) becomes an EngineError."""
    try:
        return reader(*args)
    except MetadataError as e:
        raise EngineError(str(e)) from None


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda:1', 'cpu', ... as given."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:  # torch's message lists every device type it knows, not what this tool runs on
        raise EngineError(f"device {device!r}: use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EngineError(f"device {device!r} requested but CUDA is not available on this machine")
    return dev


MIN_SIDE = 16  # smallest clip height and width: the backbones' total spatial stride (one conv5 cell)


def clip_problem(shape: tuple[int, ...], dtype: str, frames: int) -> str | None:
    """Why an array of `shape` and `dtype` is not a batch of uint8 RGB clips (B, frames, H, W, 3); None if it is."""
    hints = []
    if len(shape) == 4 and shape[-1] == 3:
        hints.append("one clip needs a batch axis: clips[None]")
    elif len(shape) != 5:
        hints.append(f"{len(shape)} axes instead of 5")
    elif shape[-1] != 3:
        where = next((i for i in (1, 2) if shape[i] == 3), None)
        hints.append(f"channels first (axis {where}): move them last, e.g. np.moveaxis(clips, {where}, -1)" if where else f"{shape[-1]} channels")
    elif shape[1] != frames:
        hints.append(f"{shape[1]} frames per clip")
    elif min(shape[2:4]) < MIN_SIDE:
        hints.append(f"{shape[2]}x{shape[3]} pixels: below {MIN_SIDE}, the network's total stride, its last map has no cell of its own")
    if dtype != "uint8":
        hints.append(f"dtype {dtype}: pass 0..255 pixel values as uint8 (normalisation happens inside)")
    return "; ".join(hints) or None


class Engine(ABC):
    """Runs uint8 RGB clips (B, T, H, W, 3) and returns logits, features and CAMs.

    `clips` may be a torch tensor (on any device; the engine moves it) or a numpy array. Outputs are float32:
    torch tensors on `self.device` for a tensor, numpy arrays for a numpy array.
    """

    name: str = "engine"
    dynamic_width: bool = True  # accepts any H, W (fully convolutional); False: only `input_hw`
    input_hw: tuple[int, int] | None = None
    max_batch: int | None = None
    hw_range: tuple[tuple[int, int], tuple[int, int]] | None = None  # ((min H, min W), (max H, max W)) if bounded
    precision: str = "fp32"  # the arithmetic it runs: fp32, bf16, fp16 or int8
    module: ClipModel | None = None  # the PyTorch module it runs, where gradients can flow (Grad-CAM)
    preprocess: str | None = None  # "center" or "full": raw frames are resized and cropped first (`mosi_tool.load_model`)

    def __init__(self, model: ModelFile | ModelMeta, device: torch.device, export: ExportInfo | None = None):
        """`model`: the file's resolved handle (its metadata and build record), or bare metadata for an engine
        with no file. The build record's precision and batch/size limits become the engine's."""
        if isinstance(model, ModelMeta):
            model = ModelFile(Path("none"), KINDS[".safetensors"], model, None)
        self.path = model.path
        self.source = model.path  # the file the user named (`loader.load_engine` sets the checkpoint behind a cached export)
        self.meta = model.meta
        self.device = device
        export = export or model.export
        if export is not None:
            self.precision = export.precision
            self.max_batch = export.max_batch
            self.hw_range = export.hw_range

    @abstractmethod
    def run(self, clips: torch.Tensor) -> ClipOutput:
        """One batch; `clips` already on `self.device`, uint8, contiguous, batch <= max_batch."""

    def __call__(self, clips: torch.Tensor | np.ndarray) -> ClipOutput:
        """(B, frames, H, W, 3) uint8 RGB -> `ClipOutput`, of the input's kind (numpy in, numpy out). With
        `preprocess` set, clips of any size are first resized and cropped as `features --mode` does.

        Raises ValueError naming what the model needs (frames, channels, dtype) and what it got."""
        if not isinstance(clips, (np.ndarray, torch.Tensor)):
            raise TypeError(f"{self.source.name}: clips must be a numpy array or a torch tensor, got {type(clips).__name__}")
        dtype = str(clips.dtype).removeprefix("torch.")
        if self.preprocess and isinstance(clips, torch.Tensor) and clips.ndim == 5 and clips.shape[-1] == 3 and dtype == "uint8":
            from ..video.clips import prepare

            clips = prepare(clips, self.preprocess, self.meta.crop)  # (B, T, h, w, 3) as `features --mode` makes them
        problem = clip_problem(tuple(clips.shape), dtype, self.meta.frames)
        if problem:
            kind = "numpy" if isinstance(clips, np.ndarray) else "torch"
            raise ValueError(
                f"{self.source.name}: the model needs uint8 RGB clips (batch, {self.meta.frames} frames, height, width, "
                f"3 channels); got {kind} {dtype} {tuple(clips.shape)}: {problem}"
            )
        if isinstance(clips, np.ndarray):
            # the same named tuple, holding numpy arrays
            return ClipOutput(*(_to_numpy(t) for t in self(torch.from_numpy(np.ascontiguousarray(clips)))))  # type: ignore[arg-type]
        if not self.dynamic_width and self.input_hw and tuple(clips.shape[2:4]) != self.input_hw:
            raise ValueError(
                f"{self.path.name}: engine was built for {self.input_hw[0]}x{self.input_hw[1]} input, "
                f"got {clips.shape[2]}x{clips.shape[3]}; re-export with a dynamic width"
            )
        if self.hw_range and not all(lo <= n <= hi for lo, n, hi in zip(self.hw_range[0], clips.shape[2:4], self.hw_range[1])):
            (h0, w0), (h1, w1) = self.hw_range
            raise ValueError(
                f"{self.path.name}: engine accepts {h0}x{w0} to {h1}x{w1} input, got {clips.shape[2]}x{clips.shape[3]}; "
                f"re-export with a larger --max-size"
            )
        clips = clips.to(self.device, non_blocking=True).contiguous()
        step = self.max_batch or clips.shape[0]
        if clips.shape[0] <= step:
            return self.run(clips)
        parts = [self.run(clips[i : i + step]) for i in range(0, clips.shape[0], step)]
        return ClipOutput(*(torch.cat(p) for p in zip(*parts)))

    def describe(self) -> str:
        return f"{self.name} {self.precision} on {self.device} ({self.path.name}, {self.meta.model_id})"


def _to_numpy(t: Any) -> np.ndarray:
    t = t.detach()
    return (t.float() if t.dtype in (torch.bfloat16, torch.float16) else t).cpu().numpy()
