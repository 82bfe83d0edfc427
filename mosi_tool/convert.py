"""Convert the authors' released MoSI checkpoints (`.pyth`) into mosi-tool checkpoints.

The released files are `torch.save` pickles: a dict whose `model_state` holds the model's tensors, often
with `cfg` (the run's config as a JSON string), `epoch` and `optimizer_state`. They are read with
`torch.load(weights_only=True)` only, which accepts tensors and plain containers and refuses anything that
would run code; there is no fallback. The tensor names are mapped by `models.official`; the metadata comes
from the file's `cfg` where present, otherwise from the official configs' values (listed below).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from .checkpoint import CheckpointError, check_file, load_state, save_checkpoint
from .metadata import ModelMeta, label_pool
from .models.backbones import build_backbone
from .models.official import Mapping, detect, strip_ddp_prefix

REPO = "https://github.com/alibaba-mmai-research/TAdaConv"

# Values of the official MoSI configs (configs/pool/run/training/mosi.yaml and finetune.yaml), used when a
# file carries no cfg: 16-frame 112x112 clips, mean 0.45 / std 0.225, 320 px sources, static masks of side
# U(0.3, 0.5) x L, both axes, and a 5-speed head per axis with one shared static class.
OFFICIAL_DEFAULTS: dict[str, Any] = {
    "frames": 16, "crop": 112, "mean": (0.45, 0.45, 0.45), "std": (0.225, 0.225, 0.225),
    "source_size": 320, "mask": True, "mask_ratio": (0.3, 0.5), "axes": "xy",
}  # fmt: skip

DATASETS = {"ucf101": "UCF101", "hmdb51": "HMDB51"}  # lower-case key -> official spelling (cfg TRAIN.DATASET)
DATASET_CLASSES = {"UCF101": 101, "HMDB51": 51}
CLASS_ORDER_NOTE = {
    "UCF101": "UCF101 classInd.txt order, 0-based (the official annotation lists are not published)",
    "HMDB51": "HMDB51 classes in alphabetical order (the official annotation lists are not published)",
}


@dataclass(frozen=True)
class Release:
    """One checkpoint of the MoSI section of the authors' MODEL_ZOO.md."""

    arch: str
    task: str  # "mosi" (pre-trained) or "action" (fine-tuned)
    dataset: str  # pre-training data for "mosi"; fine-tuning (and pre-training) data for "action"
    config: str
    download: str
    top1: float | None = None
    top5: float | None = None


_GD = "https://drive.google.com/file/d/{}/view"
RELEASES = (
    Release("r2d3d_18", "mosi", "HMDB51", "configs/projects/mosi/pt-hmdb/r2d3ds.yaml", _GD.format("18wnkUdekhaHGGghjtd77857RA0Ame4oo")),
    Release("r2plus1d_10", "mosi", "HMDB51", "configs/projects/mosi/pt-hmdb/r2p1d.yaml", _GD.format("1dbBF0cokI_nCnKaImvXurtYuRQt1jkit")),
    Release("r2d3d_18", "mosi", "UCF101", "configs/projects/mosi/pt-ucf/r2d3ds.yaml", _GD.format("1-UVwSM7fsk5zDhc24Iy_WODPo9BafNQw")),
    Release("r2plus1d_10", "mosi", "UCF101", "configs/projects/mosi/pt-ucf/r2p1d.yaml", _GD.format("1DxuNtGSxeuTAygR-eXlAT6JOM-nXZ6dT")),
    Release("r2d3d_18", "action", "HMDB51", "configs/projects/mosi/ft-hmdb/r2d3ds.yaml", _GD.format("1A77b3uwxWwlCj0rm7uQcn6m0-uVCUeWQ"), 46.93, 74.71),
    Release("r2plus1d_10", "action", "HMDB51", "configs/projects/mosi/ft-hmdb/r2p1d.yaml", _GD.format("1OOkooh6_GNsyF_1EolgboN9MFE0O2N2n"), 51.83, 78.63),
    Release("r2d3d_18", "action", "UCF101", "configs/projects/mosi/ft-ucf/r2d3ds.yaml", _GD.format("1cwM4Zi0VUGpaiw3mCQcfe1A1aluIppaq"), 71.75, 89.14),
    Release("r2plus1d_10", "action", "UCF101", "configs/projects/mosi/ft-ucf/r2p1d.yaml", _GD.format("1cz_SMKFqvNyh_uEH8QOyomBf0MhOGN7Y"), 82.79, 95.78),
)  # fmt: skip

# cfg VIDEO.BACKBONE (BRANCH.NAME, DEPTH) -> our arch
CFG_ARCHS = {("R2Plus1DBranch", 10): "r2plus1d_10", ("R2D3DBranch", 18): "r2d3d_18"}


@dataclass
class Converted:
    meta: ModelMeta
    mapping: Mapping
    out: Path
    notes: list[str] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_official(path: Path) -> dict[str, Any]:
    """The released file's top-level dict, loaded with `torch.load(weights_only=True)` and nothing else.

    Raises CheckpointError (one line, naming the file) if the file needs code to load, is not a PyTorch
    file, or is not a dict.
    """
    check_file(path)
    with open(path, "rb") as f:
        head = f.read(4)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):  # torch.save's zip archive, or a legacy pickle
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (neither a torch.save zip archive nor a pickle)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pickle-protocol notices; the refusal below says it all
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL (\S+)", str(e))
        what = f" (it asks for {found.group(1)})" if found else ""
        raise CheckpointError(
            f"{path}: refused: the file holds Python objects beyond tensors and plain containers{what}; "
            "mosi-tool never unpickles untrusted code"
        ) from None
    except Exception as e:  # noqa: BLE001 - torch raises RuntimeError, KeyError, EOFError... on damaged files
        text = str(e).strip()
        first = text.splitlines()[0].split(". ")[0].rstrip(".") if text else type(e).__name__  # its first sentence
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint, truncated or damaged ({first[:200]})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict with 'model_state', found {type(obj).__name__}")
    return obj


def model_state(obj: dict[str, Any], path: Path) -> dict[str, torch.Tensor]:
    """`obj['model_state']`, or `obj` itself when it is already a flat tensor dict; `module.` prefix removed."""
    state = obj.get("model_state", obj)
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: no 'model_state' tensor dict (top-level keys: {sorted(map(str, obj))[:8]})")
    return strip_ddp_prefix({str(k): v for k, v in state.items()})


def parse_cfg(raw: Any) -> dict[str, Any] | None:
    """The official `cfg` entry (a JSON string from `Config.dump()`, or a dict) as a dict; None if unusable."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None
    return None


def cfg_get(cfg: dict[str, Any] | None, dotted: str, default: Any = None) -> Any:
    """cfg["A"]["B"]["C"] for "A.B.C", or `default` when any level is missing."""
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def cfg_arch(cfg: dict[str, Any] | None) -> str | None:
    branch = cfg_get(cfg, "VIDEO.BACKBONE.BRANCH.NAME")
    depth = cfg_get(cfg, "VIDEO.BACKBONE.DEPTH")
    return CFG_ARCHS.get((branch, depth)) if isinstance(branch, str) and isinstance(depth, int) else None


def normalise_dataset(name: str | None) -> str | None:
    """'ucf101', 'UCF101' -> 'UCF101'; None or unknown -> None."""
    return DATASETS.get(name.lower()) if isinstance(name, str) else None


def dataset_from_name(file_name: str, task: str) -> str | None:
    """The dataset a released file was trained on, from names like r2p1d_pt_ucf_ft_ucf_8279_public.pyth."""
    name = file_name.lower()
    stage = "ft" if task == "action" else "pt"
    tagged = re.search(rf"{stage}[_-]?(ucf|hmdb)", name)
    if tagged:
        return "UCF101" if tagged.group(1) == "ucf" else "HMDB51"
    found = [d for key, d in (("ucf", "UCF101"), ("hmdb", "HMDB51")) if key in name]
    return found[0] if len(found) == 1 else None


def dataset_class_names(dataset: str) -> list[str]:
    """The class names of UCF101 or HMDB51 in label order (package data `assets/classes/<name>.txt`)."""
    text = resources.files("mosi_tool").joinpath("assets", "classes", f"{dataset.lower()}.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_class_names(path: Path) -> list[str]:
    """One class name per line, in label order; blank lines ignored."""
    check_file(path, ValueError)
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def mosi_speeds(num_classes: int, axes: str, path: Path) -> int:
    """K from the MoSI head size: (K - 1) moving classes per axis plus one static class."""
    speeds = (num_classes - 1) // len(axes) + 1
    try:
        ok = len(label_pool(speeds, axes)) == num_classes
    except ValueError:
        ok = False
    if not ok:
        raise CheckpointError(f"{path}: MoSI head has {num_classes} classes, which is no MoSI class table for axes {axes!r}")
    return speeds


def find_release(arch: str, task: str, dataset: str | None) -> Release | None:
    return next((r for r in RELEASES if (r.arch, r.task, r.dataset) == (arch, task, dataset)), None)


def convert(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    dataset: str | None = None,
    class_names: list[str] | None = None,
) -> Converted:
    """Convert an official MoSI checkpoint at `path` into a mosi-tool checkpoint at `out` (written atomically).

    `dataset` ('ucf101' / 'hmdb51') names the training data when neither the file's cfg nor its name does;
    `class_names` overrides the action class names. Raises CheckpointError naming the file when the file
    is refused (code in the pickle, unreadable), when its tensors do not map exactly onto one of our
    backbones (the message lists the keys that did not map), or when its cfg contradicts its tensors.
    """
    path, out = Path(path), Path(out)
    if out.suffix.lower() != ".safetensors":  # every reader of checkpoints goes by the suffix
        raise ValueError(f"{out}: a converted checkpoint is a .safetensors file; name it so")
    if dataset is not None and normalise_dataset(dataset) is None:
        raise ValueError(f"--dataset {dataset!r}: choose ucf101 or hmdb51")
    obj = read_official(path)
    state = model_state(obj, path)
    mapping = detect(state)
    if not mapping.ok:
        raise CheckpointError(f"{path}: {_misfit(mapping)}")
    cfg = parse_cfg(obj.get("cfg"))
    notes = []
    if "cfg" in obj and cfg is None:
        notes.append("the file's cfg is not readable JSON; official config values used")
    declared = cfg_arch(cfg)
    if declared is not None and declared != mapping.arch:
        raise CheckpointError(f"{path}: its cfg describes {declared} but its tensors are {mapping.arch}; the file contradicts itself")

    task = mapping.task
    asked = normalise_dataset(dataset)
    if asked is not None and task == "action" and DATASET_CLASSES[asked] != mapping.num_classes:
        raise ValueError(f"{path}: --dataset {asked} has {DATASET_CLASSES[asked]} classes but this file's head has "
                         f"{mapping.num_classes}; check the file, or leave --dataset out")  # fmt: skip
    data = asked or normalise_dataset(cfg_get(cfg, "TRAIN.DATASET")) or dataset_from_name(path.name, task)
    if data is None and task == "action":
        data = next((d for d, n in DATASET_CLASSES.items() if n == mapping.num_classes), None)
    axes = _axes(cfg, task)
    names, names_note = _class_names(mapping, axes, data, class_names, path)
    if names_note:
        notes.append(names_note)
    meta = _meta(mapping, cfg, axes, names, path, data, obj.get("epoch"), names_note)

    model = build_backbone(mapping.arch, mapping.num_classes, width=mapping.width)
    load_state(model, mapping.state, str(path))
    meta = save_checkpoint(out, model, meta)
    return Converted(meta, mapping, out, notes)


def _misfit(m: Mapping, n: int = 8) -> str:
    def listed(keys: list[str]) -> str:
        return f"[{', '.join(keys[:n])}{', ...' if len(keys) > n else ''}] ({len(keys)})"

    parts = []
    if m.unmapped:
        parts.append(f"keys that map to nothing {listed(m.unmapped)}")
    if m.mismatched:
        parts.append(f"shapes that differ (file vs model) {listed(m.mismatched)}")
    if m.unfilled:
        parts.append(f"model tensors left unfilled {listed(m.unfilled)}")
    return f"not an official MoSI checkpoint of a known backbone (closest: {m.arch}): " + "; ".join(parts)


def _axes(cfg: dict[str, Any] | None, task: str) -> str:
    """The MoSI axes of the pretext task (cfg PRETRAIN.DATA_MODE for MoSI files; 'xy' otherwise)."""
    axes = cfg_get(cfg, "PRETRAIN.DATA_MODE") if task == "mosi" else None
    return axes if axes in ("xy", "x", "y") else OFFICIAL_DEFAULTS["axes"]


def _class_names(m: Mapping, axes: str, dataset: str | None, given: list[str] | None, path: Path) -> tuple[list[str], str]:
    """Class names for the converted model and a note on where they came from ('' when nothing to say)."""
    if m.task == "mosi":
        return [f"({x},{y})" for x, y in label_pool(mosi_speeds(m.num_classes, axes, path), axes)], ""
    if given is not None:
        if len(given) != m.num_classes:
            raise ValueError(f"{path}: the head has {m.num_classes} classes but {len(given)} class names were given")
        return list(given), "class names: given with --class-names"
    if dataset is not None and DATASET_CLASSES[dataset] == m.num_classes:
        return dataset_class_names(dataset), f"class names: {CLASS_ORDER_NOTE[dataset]}"
    return [f"class_{i}" for i in range(m.num_classes)], f"class names unknown for {m.num_classes} classes: class_0 .. class_{m.num_classes - 1}"


def _meta(
    m: Mapping, cfg: dict[str, Any] | None, axes: str, names: list[str], path: Path, dataset: str | None, epoch: Any,
    names_note: str,
) -> ModelMeta:  # fmt: skip
    d = OFFICIAL_DEFAULTS

    def floats3(key: str, default: tuple[float, ...]) -> tuple[float, float, float]:
        v = cfg_get(cfg, key)
        ok = isinstance(v, list) and len(v) == 3 and all(isinstance(x, (int, float)) for x in v)
        return tuple(float(x) for x in v) if ok else default  # type: ignore[return-value]

    def value(key: str, kind: type, default: Any) -> Any:
        v = cfg_get(cfg, key)
        return v if isinstance(v, kind) and not (kind is int and isinstance(v, bool)) else default

    frames_key = "PRETRAIN.NUM_FRAMES" if m.task == "mosi" else "DATA.NUM_INPUT_FRAMES"
    ratio = cfg_get(cfg, "PRETRAIN.MASK_SIZE_RATIO")
    mask_ratio = tuple(float(x) for x in ratio) if isinstance(ratio, list) and len(ratio) == 2 else d["mask_ratio"]
    release = find_release(m.arch, m.task, dataset)
    training: dict[str, Any] = {
        "origin": f"official MoSI release ({REPO}, MODEL_ZOO.md)",
        "source_file": path.name,
        "source_sha256": file_sha256(path),
        "converted_by": "mosi-tool convert",
        "config_from": "file cfg" if cfg is not None else "official config values",
    }
    if dataset:
        training["dataset"] = dataset
        if m.task == "action":
            training["pretrained_on"] = f"MoSI on {dataset}"  # the official fine-tuning configs start from the same dataset
    if isinstance(epoch, int):
        training["epoch"] = epoch
    if names_note:
        training["class_names"] = names_note
    if release is not None:
        training["official_config"] = release.config
        training["download"] = release.download
        if release.top1 is not None:
            training["reported_top1"], training["reported_top5"] = release.top1, release.top5
    speeds = mosi_speeds(m.num_classes, axes, path) if m.task == "mosi" else 5
    return ModelMeta(
        arch=m.arch, width=m.width, num_classes=m.num_classes, task=m.task, class_names=names,
        frames=value(frames_key, int, d["frames"]), crop=value("DATA.TRAIN_CROP_SIZE", int, d["crop"]),
        source_size=value("PRETRAIN.STANDARD_SIZE", int, d["source_size"]), speeds=speeds, axes=axes,
        mask=value("PRETRAIN.STATIC_MASK", bool, d["mask"]), mask_ratio=mask_ratio,  # type: ignore[arg-type]
        mean=floats3("DATA.MEAN", d["mean"]), std=floats3("DATA.STD", d["std"]),
        feature_dim=int(m.state["fc.weight"].shape[1]), training=training,
    )  # fmt: skip

