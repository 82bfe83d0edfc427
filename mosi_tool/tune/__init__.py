"""`mosi-tool tune` (and `--runtime auto`): the fastest path for a checkpoint on this CPU, by measurement.

An explicit step, apart from opening a model (`runtimes.open_engine` opens exactly the file it is given).

Candidates:
  torch fp32   eager PyTorch, channels-last 3D (the reference every other path is compared with)
  onnx fp32    ONNX Runtime on the checkpoint's cached ONNX export
  torch bf16   PyTorch bf16 autocast, channels-last 3D; only on CPUs with AMX or AVX512-BF16
  onnx int8    ONNX Runtime on the cached int8 (QDQ) export, calibrated as `export --int8` calibrates by default
Each runs real clips at the caller's batch size and thread count: centre clips of the bundled sample video at
the model's size, none of them a clip the int8 export was calibrated on (`export.int8`). One warm-up call,
then `ROUNDS` timed calls round-robin, so load from other processes slows every path alike. Each path's
features and CAMs are compared with torch fp32 on the same clips.

Selection (`choose`), within the documented precision:
  - fp32 paths are always eligible;
  - bf16 only if features and CAMs stay at cosine >= 0.9999 of fp32 on every clip;
  - int8 only if its features stay at cosine >= 0.99 and it is >= 1.5x the best fp32/bf16 path.
The fastest eligible path wins. The choice is cached in <cache>/auto/ per (model id, CPU, batch size,
threads) and re-measured when mosi-tool, torch or onnxruntime change; it is reported in one line, once per process.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..artifact import ModelFile
from ..metadata import ModelMeta
from ..runtimes.base import Engine

BF16_MIN_COSINE = 0.9999
INT8_MIN_COSINE = 0.99
INT8_MIN_SPEEDUP = 1.5
ROUNDS = 3
FORMAT = 1


@dataclass(frozen=True)
class Candidate:
    runtime: str  # "torch" or "onnx"
    precision: str  # "fp32", "bf16" or "int8"

    @property
    def label(self) -> str:
        return f"{self.runtime} {self.precision}"


@dataclass
class Measured:
    runtime: str
    precision: str
    ms: float  # median milliseconds per batch
    feature_cosine: float = 1.0  # worst clip, vs torch fp32
    cam_cosine: float = 1.0
    error: str = ""  # the path could not be opened or run here

    @property
    def label(self) -> str:
        return f"{self.runtime} {self.precision}"


@dataclass
class Choice:
    runtime: str
    precision: str
    reason: str
    measured: list[Measured] = field(default_factory=list)
    key: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.runtime} {self.precision}"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Choice:
        raw = json.loads(text)
        raw["measured"] = [Measured(**m) for m in raw.get("measured", [])]
        return cls(**raw)


def candidates(has_bf16: bool, has_onnx: bool, has_int8: bool) -> list[Candidate]:
    """The paths worth timing here; torch fp32 (the reference) first."""
    out = [Candidate("torch", "fp32")]
    if has_onnx:
        out.append(Candidate("onnx", "fp32"))
    if has_bf16:
        out.append(Candidate("torch", "bf16"))
    if has_onnx and has_int8:
        out.append(Candidate("onnx", "int8"))
    return out


def eligible_float(m: Measured) -> bool:
    if m.error:
        return False
    return m.precision == "fp32" or (m.precision == "bf16" and min(m.feature_cosine, m.cam_cosine) >= BF16_MIN_COSINE)


def choose(measured: list[Measured]) -> tuple[Measured, str]:
    """The winner among measured paths, and why (every path's time and, where one was left out, the reason)."""
    floats = [m for m in measured if eligible_float(m)]
    if not floats:
        raise ValueError("no fp32 path could be measured")
    best = min(floats, key=lambda m: m.ms)
    winner = best
    notes = []
    for m in measured:
        if m.error:
            notes.append(f"{m.label} unavailable ({m.error})")
            continue
        note = f"{m.label} {m.ms:.1f} ms"
        if m.precision == "bf16" and not eligible_float(m):
            note += f" (not used: cosine {min(m.feature_cosine, m.cam_cosine):.6f} < {BF16_MIN_COSINE})"
        elif m.precision == "bf16":
            note += f" (cosine {min(m.feature_cosine, m.cam_cosine):.6f} >= {BF16_MIN_COSINE})"
        elif m.precision == "int8":
            speedup = best.ms / m.ms
            if m.feature_cosine < INT8_MIN_COSINE:
                note += f" (not used: features cosine {m.feature_cosine:.4f} < {INT8_MIN_COSINE})"
            elif speedup < INT8_MIN_SPEEDUP:
                note += f" (not used: {speedup:.2f}x {best.label} < {INT8_MIN_SPEEDUP}x)"
            else:
                note += f" ({speedup:.2f}x {best.label}, features cosine {m.feature_cosine:.4f})"
                winner = m if m.ms < winner.ms else winner
        notes.append(note)
    return winner, f"fastest per batch of: {', '.join(notes)}"


def cache_key(model_id: str, batch_size: int, threads: int) -> dict[str, Any]:
    from ..version import __version__
    from ..runtimes.cpu import cpu_info

    ort = "none"
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        ort = onnxruntime.__version__
    return {"format": FORMAT, "model_id": model_id, "cpu": cpu_info().key(), "batch_size": batch_size, "threads": threads,
            "mosi_tool": __version__, "torch": torch.__version__, "onnxruntime": ort}  # fmt: skip


def choice_path(key: dict[str, Any]) -> Path:
    from ..cache import cache_root

    return cache_root() / "auto" / f"{key['model_id']}-cpu{key['cpu']}-b{key['batch_size']}-t{key['threads']}.json"


_PRINTED: set[str] = set()


_MEASURING = [0.0]  # seconds this process has spent timing the candidates


def measuring_seconds() -> float:
    """Seconds this process has spent timing candidate paths (0 while every choice came from the cache)."""
    return _MEASURING[0]


def tune(checkpoint: str | Path | ModelFile, batch_size: int = 8, threads: int | None = None, log: Callable[[str], None] | None = None, again: bool = False) -> Choice:
    """The cached choice for this checkpoint, batch size and thread count (torch.get_num_threads() when None)
    on this CPU, measured now if missing, made by other versions, or `again`. Reports it in one line, once per
    process, to `log` (default: the `mosi_tool.tune` logger at INFO, which the CLI prints and a Python call
    does not). Raises EngineError or CheckpointError naming an unreadable file, ValueError for another kind."""
    from ..atomic import atomic_write_text, check_writable
    from ..progress import counted
    from ..runtimes import open_model

    log = log or logging.getLogger(__name__).info
    model = open_model(checkpoint)
    if model.kind.name != "checkpoint":
        raise ValueError(f"{model.path}: tune measures checkpoints (.safetensors); a {model.kind.suffix} file runs in {model.kind.runtime} as it is")
    threads = threads or torch.get_num_threads()
    key = cache_key(model.meta.model_id, batch_size, threads)
    path = choice_path(key)
    choice = None if again else _read(path, key)
    fresh = choice is None
    if choice is None:
        check_writable(path)  # before the minutes of timing, not after them
        t0 = time.perf_counter()
        measured = measure(model, batch_size, threads)
        _MEASURING[0] += time.perf_counter() - t0
        winner, reason = choose(measured)
        choice = Choice(winner.runtime, winner.precision, reason, measured, key)
        atomic_write_text(path, choice.to_json() + "\n")
    if fresh or str(path) not in _PRINTED:
        _PRINTED.add(str(path))
        head = f"runtime auto: {choice.label} for {model.path.name} at batch {batch_size}, {counted(threads, 'thread')}"
        log(f"{head}; {choice.reason} (cached in {path})" if fresh else f"{head} (measured earlier; why: {path})")
    return choice


def _read(path: Path, key: dict[str, Any]) -> Choice | None:
    try:
        choice = Choice.from_json(path.read_text())
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return choice if choice.key == key else None


def measure(model: ModelFile, batch_size: int, threads: int) -> list[Measured]:
    """Time every candidate on real clips and compare its outputs with torch fp32's."""
    from ..checkpoint import CheckpointError
    from ..runtimes.cpu import cpu_info, intra_op_threads
    from ..runtimes.onnx_runtime import quantization_available

    clips = torch.from_numpy(check_clips(model.meta, batch_size))  # (B, T, H, W, 3)
    has_onnx = importlib.util.find_spec("onnxruntime") is not None
    todo = candidates(cpu_info().has_bf16, has_onnx, has_onnx and quantization_available())
    results: dict[Candidate, Measured] = {}
    engines: dict[Candidate, Engine] = {}
    with intra_op_threads(threads):
        reference = None
        for c in todo:
            try:
                engines[c] = open_candidate(model, c)
                out = engines[c](clips)  # warm-up, and the outputs compared with torch fp32
            except CheckpointError:  # the file itself is damaged: no path can run it, and the user needs to know why
                raise
            except Exception as e:  # noqa: BLE001 - a path that fails here is only left out
                results[c] = Measured(c.runtime, c.precision, float("inf"), error=" ".join(str(e).split())[:200])
                engines.pop(c, None)
                continue
            reference = reference or out
            results[c] = Measured(c.runtime, c.precision, 0.0, _cosine(reference.features, out.features), _cosine(reference.cam, out.cam))
        times: dict[Candidate, list[float]] = {c: [] for c in engines}
        for _ in range(ROUNDS):
            for c, engine in engines.items():
                start = time.perf_counter()
                engine(clips)
                times[c].append((time.perf_counter() - start) * 1000)
    for c, t in times.items():
        results[c].ms = statistics.median(t)
    return [results[c] for c in todo]


def check_clips(meta: ModelMeta, batch_size: int) -> np.ndarray:
    """`batch_size` uint8 centre clips (B, T, crop, crop, 3) of the bundled sample video, from the half of its
    clips that int8 calibration leaves out (`video.samples.spread_clips(part=1)`), repeated to fill the batch."""
    from ..default_model import SAMPLE_VIDEO
    from ..video.samples import spread_clips

    clips = spread_clips(SAMPLE_VIDEO, meta.frames, meta.crop, n=batch_size, part=1)
    return np.ascontiguousarray(np.resize(clips, (batch_size, *clips.shape[1:])))


def open_candidate(model: ModelFile, c: Candidate) -> Engine:
    from ..runtimes import open_engine
    from .exported import cached_onnx

    cpu = torch.device("cpu")
    if c.runtime == "onnx":
        return open_engine(cached_onnx(model, c.precision), cpu)
    return open_engine(model, cpu, precision=c.precision)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Worst per-clip cosine similarity of two (B, ...) tensors."""
    x, y = a.detach().flatten(1).double(), b.detach().flatten(1).double()
    return float(torch.nn.functional.cosine_similarity(x, y, dim=1, eps=1e-12).min())
