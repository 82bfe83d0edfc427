"""Checkpoints: safetensors weights plus one JSON metadata entry (`ModelMeta`).

Nothing here unpickles: safetensors holds raw tensors only. The metadata records a SHA-256 of the
weights, so a file whose tensors were altered after saving is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .atomic import atomic_path
from .metadata import FORMAT_VERSION, METADATA_KEY, MetadataError, ModelMeta, read_safetensors_meta
from .models.backbones import VideoResNet, build_backbone


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the reason."""


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of all tensors, in sorted order."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(
    path: str | os.PathLike[str], model: nn.Module, meta: ModelMeta, dtype: torch.dtype | None = None
) -> ModelMeta:
    """Atomically write `model`'s weights and `meta` to `path`; return the meta with its ids filled in.

    `dtype` (e.g. torch.float16) casts floating tensors to shrink the file; loading casts back to fp32.
    """
    module = getattr(model, "module", model)  # unwrap DDP
    state = {}
    for k, v in module.state_dict().items():
        v = v.detach().cpu()
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        state[k] = v.contiguous()
    meta.weights_sha256 = weights_digest(state)
    meta.model_id = f"{meta.arch}-{meta.weights_sha256[:12]}"
    meta.format_version = FORMAT_VERSION  # written by this code, in its format
    with atomic_path(path) as tmp:
        try:
            save_file(state, str(tmp), metadata={METADATA_KEY: meta.to_json()})
        except SafetensorError as e:  # safetensors reports a full disk as "... (os error 28)", not as OSError
            code = re.search(r"os error (\d+)", str(e))
            if code is None:
                raise
            raise OSError(int(code[1]), os.strerror(int(code[1])), str(tmp)) from e  # atomic_path: OutputError
    return meta


def read_meta(path: str | os.PathLike[str]) -> ModelMeta:
    """Read only the metadata of a checkpoint (cheap: the header)."""
    path = Path(path)
    check_file(path)
    try:
        meta = read_safetensors_meta(path)
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    except MetadataError as e:
        raise CheckpointError(str(e)) from None
    if meta is None:
        raise CheckpointError(f"{path}: safetensors file has no '{METADATA_KEY}' metadata; not a mosi-tool checkpoint")
    return meta


def verified_state(path: str | os.PathLike[str], meta: ModelMeta | None = None) -> tuple[dict[str, torch.Tensor], ModelMeta]:
    """The checkpoint's tensors and metadata, after checking the tensors against the digest the metadata
    records (`weights_digest`). `meta`: the header already read (`artifact.open_model_file`), else read here.
    Raises CheckpointError naming the file when it was altered or damaged."""
    path = Path(path)
    meta = meta or read_meta(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: cannot read tensors ({e})") from None
    if meta.weights_sha256 and weights_digest(state) != meta.weights_sha256:
        raise CheckpointError(f"{path}: weights do not match the digest in its metadata; the file was altered or damaged")
    return state, meta


def load_checkpoint(path: str | os.PathLike[str], meta: ModelMeta | None = None) -> tuple[VideoResNet, ModelMeta]:
    """Rebuild the model from a checkpoint's own metadata (`meta` if already read) and load its weights (fp32,
    eval mode)."""
    path = Path(path)
    state, meta = verified_state(path, meta)
    try:
        model = build_backbone(meta.arch, meta.num_classes, width=meta.width)
    except ValueError as e:
        raise CheckpointError(f"{path}: {e}") from None
    load_state(model, state, str(path))
    model.eval()
    return model, meta


def load_state(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Strictly load `state` into `model`, casting dtypes; name missing/extra/mis-shaped keys on failure."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing keys {_abbrev(missing)}")
        if extra:
            parts.append(f"unexpected keys {_abbrev(extra)}")
        raise CheckpointError(f"{source}: weights do not fit the model: {'; '.join(parts)}")
    bad = [k for k in expected if expected[k].shape != state[k].shape]
    if bad:
        k = bad[0]
        raise CheckpointError(
            f"{source}: weight {k} has shape {tuple(state[k].shape)}, model expects {tuple(expected[k].shape)}"
        )
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})


def _abbrev(keys: list[str], n: int = 3) -> str:
    shown = ", ".join(keys[:n])
    return f"[{shown}{', ...' if len(keys) > n else ''}] ({len(keys)})"


def check_file(path: Path, error: type[Exception] = CheckpointError) -> None:
    """Raise `error` naming `path` if it is missing, a folder or empty."""
    if not path.exists():
        raise error(f"{path}: no such file")
    if path.is_dir():
        raise error(f"{path}: is a folder, expected a model file")
    if path.stat().st_size == 0:
        raise error(f"{path}: empty file")
