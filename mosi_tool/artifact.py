"""The artifact contract: what every model file mosi-tool writes holds, and how to read it without running it.

One table of artifact kinds (suffix, runtime, precisions), the input and output names of every exported
graph, `ExportInfo` (how an artifact was built) and a reader per kind. `export/` writes these files; the
runtimes and `mosi-tool info` read them through this module only.

Where the metadata lives:
- checkpoint `.safetensors`: the header's `mosi_tool` entry (ModelMeta JSON; `checkpoint.read_meta`).
- ONNX: `metadata_props` entries `mosi_tool` (ModelMeta JSON) and `mosi_tool.export` (ExportInfo JSON).
- TensorRT: a JSON sidecar `X.engine.json` (an engine file has no room for metadata).
- AOTInductor `.pt2`: the same two entries passed as `aot_inductor.metadata`; the loader's `get_metadata()`
  returns them, and the package also stores them as JSON, which `read_pt2` reads without loading code.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from .checkpoint import check_file, read_meta
from .metadata import METADATA_KEY, MetadataError, ModelMeta
from .version import __version__

EXPORT_KEY = f"{METADATA_KEY}.export"
INPUT_NAME = "clips"
OUTPUT_NAMES = ("logits", "features", "cam")
PRECISIONS = ("fp32", "fp16", "bf16", "int8")  # every arithmetic an artifact or a runtime may use
FLOAT_PRECISIONS = PRECISIONS[:3]


@dataclass(frozen=True)
class Kind:
    """One kind of model file: its suffix, the runtime that opens it and the precisions it can hold."""

    name: str
    suffix: str
    runtime: str
    precisions: tuple[str, ...]


KINDS: dict[str, Kind] = {
    k.suffix: k
    for k in (
        Kind("checkpoint", ".safetensors", "torch", FLOAT_PRECISIONS),  # run at fp32, or fp16/bf16 by autocast
        Kind("onnx", ".onnx", "onnx", PRECISIONS),  # int8: static quantization for CPUs
        Kind("tensorrt", ".engine", "tensorrt", FLOAT_PRECISIONS),
        Kind("aoti", ".pt2", "aoti", FLOAT_PRECISIONS),
    )
}


def kind_of(path: Path) -> Kind:
    """The kind a file's suffix names; MetadataError naming the file for any other suffix."""
    try:
        return KINDS[path.suffix.lower()]
    except KeyError:
        raise MetadataError(f"{path}: unknown model file type {path.suffix!r}; expected one of {', '.join(KINDS)}") from None


@dataclass
class ExportInfo:
    """How an artifact was built: what it accepts and what it was compiled for."""

    format: str
    precision: str = "fp32"
    input_name: str = INPUT_NAME
    input_dtype: str = "uint8"
    input_layout: str = "B,T,H,W,3 RGB"
    outputs: list[str] = field(default_factory=lambda: list(OUTPUT_NAMES))
    batch: list[int] | None = None  # [min, opt, max]; None: any
    hw: list[int] | None = None  # [min, opt, max] of H and W; None: any
    opset: int | None = None
    device: str = "cpu"  # what it runs on: cpu or cuda (onnx: either)
    target: dict[str, str] = field(default_factory=dict)  # TensorRT version, GPU, compute capability, ...
    exporter_version: str = __version__
    torch_version: str = ""
    weights_sha256: str = ""  # ONNX: `onnx_weights_digest` of the graph's initializers ("" where not recorded)
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, raw: Any, source: str) -> ExportInfo:
        if not isinstance(raw, dict) or "format" not in raw:
            raise MetadataError(f"{source}: export metadata is not a JSON object with a format")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise MetadataError(f"{source}: unknown export metadata fields {unknown}; upgrade mosi-tool")
        return cls(**raw)

    @property
    def max_batch(self) -> int | None:
        return self.batch[2] if self.batch else None

    @property
    def hw_range(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """((min H, min W), (max H, max W)) the artifact was built for; None: any size."""
        return ((self.hw[0],) * 2, (self.hw[2],) * 2) if self.hw else None


def to_props(meta: ModelMeta, info: ExportInfo) -> dict[str, str]:
    """The two string entries every exported artifact carries."""
    return {METADATA_KEY: meta.to_json(), EXPORT_KEY: info.to_json()}


def from_props(props: Mapping[str, str], source: str) -> tuple[ModelMeta, ExportInfo]:
    """Parse the two entries written by `to_props` (ONNX metadata_props, AOTI metadata, sidecar)."""
    raw = props.get(METADATA_KEY)
    if raw is None:
        raise MetadataError(f"{source}: has no '{METADATA_KEY}' metadata; not exported by mosi-tool (re-export it)")
    meta = ModelMeta.from_json(raw, source=source)
    extra = props.get(EXPORT_KEY)
    if extra is None:
        raise MetadataError(f"{source}: has no '{EXPORT_KEY}' metadata; not exported by mosi-tool (re-export it)")
    try:
        raw_info = json.loads(extra)
    except ValueError as e:  # JSONDecodeError, or UnicodeDecodeError for bytes that are not UTF-8 (a damaged file)
        raise MetadataError(f"{source}: export metadata is not valid JSON ({e})") from None
    return meta, ExportInfo.from_dict(raw_info, source)


# --- ONNX ---------------------------------------------------------------------------------------------
def onnx_weights_digest(model: Any) -> str:
    """SHA-256 over every initializer of an onnx.ModelProto (name, type, shape, values), in graph order; ""
    when some live in external data files, which are not read."""
    import hashlib

    from onnx import TensorProto, numpy_helper

    h = hashlib.sha256()
    for t in model.graph.initializer:
        if t.data_location == TensorProto.EXTERNAL:
            return ""
        h.update(f"{t.name}|{t.data_type}|{list(t.dims)}|".encode())
        h.update(numpy_helper.to_array(t).tobytes())
    return h.hexdigest()


def read_onnx(path: Path, verify: bool = True) -> tuple[ModelMeta, ExportInfo]:
    """The metadata of an ONNX artifact, after checking (with `verify`) its weights against the digest it
    records and its clip length against the graph's input.

    Raises MetadataError naming the file: not ONNX, not exported by mosi-tool, or altered or damaged."""
    import onnx

    _check_file(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # noqa: BLE001 - protobuf raises several types for a file that is not ONNX
        raise MetadataError(f"{path}: not a valid ONNX file ({first_line(e)})") from None
    if not model.graph.node:
        raise MetadataError(f"{path}: not a valid ONNX file (no graph)")
    meta, info = from_props({p.key: p.value for p in model.metadata_props}, str(path))
    if not verify:
        return meta, info
    if info.weights_sha256 and onnx_weights_digest(model) != info.weights_sha256:
        raise MetadataError(f"{path}: weights do not match the digest in its metadata; the file was altered or damaged")
    inputs = [i for i in model.graph.input if i.name == info.input_name]
    dims = inputs[0].type.tensor_type.shape.dim if inputs else []
    if len(dims) == 5 and dims[1].dim_value and dims[1].dim_value != meta.frames:  # dim_value 0: a dynamic axis
        raise MetadataError(f"{path}: its metadata says {meta.frames} frames per clip but the graph takes "
                            f"{dims[1].dim_value}; the metadata was edited or belongs to another model")  # fmt: skip
    return meta, info


# --- TensorRT sidecar ----------------------------------------------------------------------------------
def sidecar_path(engine: Path) -> Path:
    return engine.with_name(engine.name + ".json")


def sidecar_document(meta: ModelMeta, info: ExportInfo) -> str:
    """The sidecar's JSON text (written by the TensorRT exporter)."""
    doc = {METADATA_KEY: json.loads(meta.to_json()), "export": dataclasses.asdict(info)}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def read_sidecar(engine: Path) -> tuple[ModelMeta, ExportInfo]:
    _check_file(engine)
    path = sidecar_path(engine)
    if not path.exists():
        raise MetadataError(f"{engine}: no metadata sidecar {path.name} beside it; re-export with mosi-tool export --trt")
    try:
        doc = json.loads(path.read_text())
        props = {METADATA_KEY: json.dumps(doc[METADATA_KEY]), EXPORT_KEY: json.dumps(doc["export"])}
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise MetadataError(f"{path}: not a mosi-tool engine sidecar ({first_line(e)})") from None
    return from_props(props, str(path))


# --- AOTInductor ----------------------------------------------------------------------------------------
def read_pt2_props(path: Path) -> dict[str, str]:
    """All metadata entries of a .pt2 package (ours and AOTInductor's AOTI_*), from its JSON; no code is loaded."""
    _check_file(path)
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if "/aotinductor/" in name and name.endswith("_metadata.json"):
                    props = json.loads(z.read(name))
                    if isinstance(props, dict) and METADATA_KEY in props:
                        return {str(k): str(v) for k, v in props.items()}
    except (zipfile.BadZipFile, OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise MetadataError(f"{path}: not a .pt2 package ({first_line(e)})") from None
    raise MetadataError(f"{path}: .pt2 package has no '{METADATA_KEY}' metadata; not exported by mosi-tool (re-export it)")


def check_pt2_members(path: Path) -> None:
    """Check every member of a .pt2 package against the CRC-32 its zip records (AOTInductor's loader does
    not, so a damaged package would run). Raises MetadataError naming the file."""
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as e:  # a damaged member header
        raise MetadataError(f"{path}: the package was altered or damaged ({first_line(e)})") from None
    if bad is not None:
        raise MetadataError(f"{path}: the package was altered or damaged ({bad} fails its CRC check)")


def read_pt2(path: Path, verify: bool = True) -> tuple[ModelMeta, ExportInfo]:
    """The metadata of a .pt2 package, after `check_pt2_members` (with `verify`). Raises MetadataError."""
    meta, info = from_props(read_pt2_props(path), str(path))
    if verify:
        check_pt2_members(path)
    return meta, info


# --- any artifact ---------------------------------------------------------------------------------------
def read_artifact(path: Path, verify: bool = True) -> tuple[ModelMeta, ExportInfo | None]:
    """Metadata of a checkpoint (no ExportInfo) or of any exported artifact, by suffix; MetadataError if
    unreadable. `verify`: also check an ONNX file's weight digest and a .pt2 package's CRCs (reads it all)."""
    kind = kind_of(path)
    if kind.name == "checkpoint":
        return read_meta(path), None
    if kind.name == "tensorrt":
        return read_sidecar(path)
    return (read_onnx if kind.name == "onnx" else read_pt2)(path, verify)


@dataclass(frozen=True)
class ModelFile:
    """One model file, resolved: its path, kind and metadata, read once per process (`open_model_file`) and
    handed down whole to the runtime that opens it."""

    path: Path  # as the caller named it
    kind: Kind
    meta: ModelMeta
    export: ExportInfo | None  # how it was built; None for a checkpoint
    props: Mapping[str, str] = field(default_factory=dict)  # .pt2: every metadata entry (AOTInductor's target)


def open_model_file(path: str | Path) -> ModelFile:
    """Read a model file's header once per process: kind by suffix, metadata, and (ONNX, .pt2) the check of its
    weights against their digest or CRCs. A file changed on disk since (size or modification time) is read
    again. Raises MetadataError (CheckpointError for a checkpoint) naming the file."""
    path = Path(path)
    kind = kind_of(path)
    _check_file(path)
    st = path.stat()
    return _read_model_file(path, kind, (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))


@functools.lru_cache(maxsize=64)
def _read_model_file(path: Path, kind: Kind, version: tuple[int, ...]) -> ModelFile:
    """`version`: the file's inode, size and times, so that a file replaced or rewritten is read again."""
    if kind.name == "aoti":
        props = read_pt2_props(path)
        check_pt2_members(path)
        return ModelFile(path, kind, *from_props(props, str(path)), props=props)
    meta, info = read_artifact(path, verify=True)  # a checkpoint's weights are checked when they are loaded
    return ModelFile(path, kind, meta, info)


def _check_file(path: Path) -> None:
    check_file(path, MetadataError)


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name if it has none)."""
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]
