"""Writing the artifact contract (`mosi_tool.artifact`) into what the exporters produce.

The readers, the key names and `ExportInfo` live in `mosi_tool.artifact`, beside the runtimes that read them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mosi_tool.artifact import ExportInfo, onnx_weights_digest, sidecar_document, sidecar_path, to_props
from mosi_tool.atomic import atomic_write_text
from mosi_tool.metadata import ModelMeta


def embed_onnx(model: Any, meta: ModelMeta, info: ExportInfo) -> None:
    """Set our entries in an onnx.ModelProto's metadata_props (replacing old ones), with the digest of its
    weights in `info` (`artifact.onnx_weights_digest`) so that readers can tell a damaged file."""
    info.weights_sha256 = onnx_weights_digest(model)
    props = to_props(meta, info)
    keep = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def write_sidecar(engine: Path, meta: ModelMeta, info: ExportInfo) -> Path:
    """Write the TensorRT engine's metadata sidecar `X.engine.json` atomically; returns its path."""
    path = sidecar_path(engine)
    atomic_write_text(path, sidecar_document(meta, info))
    return path
