"""Which TensorRT and GPU are here, and whether an engine built elsewhere may run on them.

Shared by the builder (records the environment in the sidecar) and the runtime (compares it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .base import EngineError

INSTALL_HINT = "install the TensorRT Python package that matches your CUDA (pip install tensorrt) on a machine with an NVIDIA GPU"


def require_tensorrt() -> str:
    """TensorRT's version, or EngineError('TensorRT is not installed: ...').

    An importable `tensorrt` without `__version__`/`Builder` is an empty namespace (e.g. left by a stubs
    package), not TensorRT.
    """
    try:
        import tensorrt
    except ImportError as e:
        raise EngineError(f"TensorRT is not installed: {e}; {INSTALL_HINT}") from None
    version = getattr(tensorrt, "__version__", None)
    if not isinstance(version, str) or not hasattr(tensorrt, "Builder"):
        where = getattr(tensorrt, "__path__", None) or getattr(tensorrt, "__file__", "?")
        raise EngineError(f"TensorRT is not installed: 'import tensorrt' found an empty package at {where}; {INSTALL_HINT}")
    return version


def major_version(version: str) -> int:
    return int(version.split(".")[0])


@dataclass(frozen=True)
class TrtTarget:
    """What a serialized engine is tied to."""

    tensorrt_version: str
    gpu: str
    compute_capability: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def describe(self) -> str:
        return f"TensorRT {self.tensorrt_version} on {self.gpu} (compute capability {self.compute_capability})"


def current_target(version: str, device: torch.device) -> TrtTarget:
    major, minor = torch.cuda.get_device_capability(device)
    return TrtTarget(version, torch.cuda.get_device_name(device), f"{major}.{minor}")


def check_target(engine: str, built: dict[str, str], here: TrtTarget) -> None:
    """Refuse an engine built for another TensorRT version, GPU model or compute capability."""
    try:
        then = TrtTarget(**built)
    except TypeError:
        raise EngineError(f"{engine}: its sidecar does not say which TensorRT and GPU it was built for; re-export it") from None
    if then != here:
        raise EngineError(
            f"{engine}: built for {then.describe()}, but this machine has {here.describe()}; "
            f"TensorRT engines only run where they were built: re-export it here with mosi-tool export --trt"
        )
