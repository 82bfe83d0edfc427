"""TensorRT for `.engine` files: torch CUDA tensors bound by address, run with execute_async_v3 on torch's stream.

The engine's metadata is its JSON sidecar; an engine built for another TensorRT version or GPU is refused
with a message to re-export (TensorRT engines are not portable).
"""

from __future__ import annotations

import torch

from ..artifact import INPUT_NAME, OUTPUT_NAMES, ModelFile
from ..models.clip_model import ClipOutput
from .base import Engine, EngineError
from .tensorrt_env import check_target, current_target, require_tensorrt


class TensorRTEngine(Engine):
    name = "tensorrt"

    def __init__(self, model: ModelFile, device: torch.device):
        version = require_tensorrt()
        path, export_info = model.path, model.export
        assert export_info is not None  # a sidecar always holds one
        super().__init__(model, device)
        if device.type != "cuda":
            raise EngineError(f"{path}: TensorRT engines run on a CUDA GPU; got --device {device}")
        check_target(str(path), export_info.target, current_target(version, device))

        import tensorrt as trt

        self._dtypes = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16, trt.DataType.BF16: torch.bfloat16}
        with torch.cuda.device(device):
            self._logger = trt.Logger(trt.Logger.WARNING)
            self._runtime = trt.Runtime(self._logger)
            engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
            if engine is None:
                raise EngineError(f"{path}: TensorRT cannot deserialize it (damaged or not an engine); re-export it")
            self._engine = engine
            self._context = engine.create_execution_context()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        if sorted(names) != sorted((INPUT_NAME, *OUTPUT_NAMES)):
            raise EngineError(f"{path}: unexpected engine tensors {names}; re-export it")

    def run(self, clips: torch.Tensor) -> ClipOutput:
        ctx = self._context
        if not ctx.set_input_shape(INPUT_NAME, tuple(clips.shape)):
            raise ValueError(f"{self.path.name}: input shape {tuple(clips.shape)} is outside the engine's profile")
        ctx.set_tensor_address(INPUT_NAME, clips.data_ptr())
        outs = []
        for name in OUTPUT_NAMES:
            dtype = self._dtypes.get(self._engine.get_tensor_dtype(name), torch.float32)
            dims = ctx.get_tensor_shape(name)
            out = torch.empty([dims[i] for i in range(len(dims))], dtype=dtype, device=self.device)
            ctx.set_tensor_address(name, out.data_ptr())
            outs.append(out)
        stream = torch.cuda.current_stream(self.device)
        if not ctx.execute_async_v3(stream.cuda_stream):
            raise EngineError(f"{self.path}: TensorRT execution failed")
        return ClipOutput(*(o.float() for o in outs))
