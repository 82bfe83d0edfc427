"""onnxruntime for `.onnx` engines: CUDA execution provider with IO binding on torch CUDA tensors when the
device is CUDA, the CPU provider otherwise (inputs and outputs bound to torch CPU tensors, no copies)."""

from __future__ import annotations

import numpy as np
import torch

from ..artifact import INPUT_NAME, OUTPUT_NAMES, ModelFile
from ..models.clip_model import ClipOutput
from ..progress import info
from .base import Engine, EngineError


class OnnxEngine(Engine):
    name = "onnxruntime"

    def __init__(self, model: ModelFile, device: torch.device):
        path = model.path
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise EngineError(f"{path}: onnxruntime is not installed ({e}); pip install 'mosi-tool[cpu]' or '[gpu]'") from None
        # The handle was read (and its weights checked against their digest) from the file, not a session's
        # copy, so a file this runtime cannot run is named as such before ONNX Runtime fails on it.
        if model.export is not None and model.export.precision == "bf16" and not runs_bf16(device):
            raise EngineError(f"{path}: a bf16 ONNX, and ONNX Runtime's CPU provider has no bf16 kernels; run it with "
                              "TensorRT or ONNX Runtime on CUDA, or export --precision fp32 for CPUs")  # fmt: skip
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        # No CPU memory arena: it keeps the largest batch's activations for the process's life (about 65 MB of
        # peak RSS for `saliency --method cam` on 640x360, docs/BENCHMARKS.md), at no measured speed cost.
        options.enable_cpu_mem_arena = False
        # The process's intra-op thread setting (`--threads`, `runtimes.cpu.intra_op_threads`), which ONNX Runtime
        # would otherwise ignore: a session's thread pool is fixed when it is created.
        options.intra_op_num_threads = torch.get_num_threads()
        try:
            self.session = ort.InferenceSession(str(path), options, providers=_providers(device))
        except Exception as e:  # noqa: BLE001 - ORT raises its own exception types per failure
            raise EngineError(f"{path}: onnxruntime cannot load it ({_one_line(e)})") from None
        super().__init__(model, device)
        inputs = self.session.get_inputs()
        if [i.name for i in inputs] != [INPUT_NAME] or inputs[0].type != "tensor(uint8)":
            raise EngineError(f"{path}: expected one uint8 input '{INPUT_NAME}', found {[(i.name, i.type) for i in inputs]}")
        on_cuda = "CUDAExecutionProvider" in self.session.get_providers()
        if device.type == "cuda" and not on_cuda:
            info(f"warning: {path.name}: CUDA requested but onnxruntime has no working CUDA provider here; running on CPU")
        self.io_device = device if on_cuda else torch.device("cpu")
        self.name = f"onnxruntime-{'cuda' if on_cuda else 'cpu'}"
        self._shapes: dict[tuple[int, ...], list[tuple[int, ...]]] = {}  # output shapes per input shape

    def run(self, clips: torch.Tensor) -> ClipOutput:
        x = clips.to(self.io_device).contiguous()
        shapes = self._shapes.get(tuple(x.shape))
        kind, index = self.io_device.type, self.io_device.index or 0
        binding = self.session.io_binding()
        binding.bind_input(INPUT_NAME, kind, index, np.uint8, tuple(x.shape), x.data_ptr())
        # Outputs go straight into torch tensors; the first batch of a shape lets ORT allocate them, which
        # tells us their shapes (cheaper than asking the model: a meta-device pass imports ~1.5 s of torch).
        outs = [torch.empty(s, dtype=torch.float32, device=self.io_device) for s in shapes] if shapes else []
        for i, name in enumerate(OUTPUT_NAMES):
            if outs:
                binding.bind_output(name, kind, index, np.float32, tuple(outs[i].shape), outs[i].data_ptr())
            else:
                binding.bind_output(name, kind, index)
        if kind == "cuda":
            # ORT runs on its own stream: torch's writes to `x` must be done before it reads them.
            torch.cuda.current_stream(self.io_device).synchronize()
        self.session.run_with_iobinding(binding)
        if kind == "cuda":
            binding.synchronize_outputs()  # and ORT's writes to the outputs before torch reads them
        if not outs:
            outs = [torch.from_numpy(a) for a in binding.copy_outputs_to_cpu()]
            self._shapes[tuple(x.shape)] = [tuple(o.shape) for o in outs]
        return ClipOutput(*(o.to(self.device) for o in outs))


def quantization_available() -> bool:
    """Whether this onnxruntime ships the quantization tools (int8 export and the int8 candidate of `auto`)."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnxruntime.quantization") is not None


def runs_bf16(device: torch.device) -> bool:
    """Whether ONNX Runtime here can run a bf16 graph on `device`: only through its CUDA provider (the CPU
    provider has no bf16 kernels)."""
    return _providers(device) != ["CPUExecutionProvider"]


def _providers(device: torch.device) -> list[str | tuple[str, dict[str, str]]]:
    import onnxruntime as ort

    if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        return [("CUDAExecutionProvider", {"device_id": str(device.index or 0)}), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:300] + ("..." if len(text) > 300 else "")
