"""The official MoSI checkpoints' tensor names, mapped onto our backbones.

Facts from the authors' code (github.com/alibaba-mmai-research/TAdaConv, `models/base/`, `models/module_zoo/`):
the model is `backbone` + `head`. The backbone's stem is `conv1`, its stages are `conv2`..`conv5`, and stage
blocks are `res_1`, `res_2`, ...; a block holds `conv_branch` and, where channels or stride change,
`short_cut` (1x1x1 conv) + `short_cut_bn`. Layers inside a branch or stem, in forward order:

- R(2+1)D branch: a1 (1xkxk) a1_bn a2 (kx1x1) a2_bn | b1 b1_bn b2 b2_bn; R(2+1)D stem: a1 a1_bn a2 a2_bn.
- R-2D3D branch:  a a_bn | b b_bn; R-2D3D stem: a a_bn (then a max-pool, no weights).
- Heads: `head.out_joint` (MoSI pretext), `head.out` (fine-tuned action classes).

Our `Conv2Plus1D` is (spatial conv, BN, ReLU, temporal conv) and the block's own BN follows it, so the
official a1/a1_bn/a2/a2_bn are our conv1.0/conv1.1/conv1.3/bn1. The architecture is recognised from the
tensor names and shapes alone, since released files may lack a usable config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .backbones import ARCHS, build_backbone

# Official layer name -> our module path, relative to the block / stem.
BRANCH_LAYERS: dict[str, dict[str, str]] = {
    "2plus1d": {
        "a1": "conv1.0", "a1_bn": "conv1.1", "a2": "conv1.3", "a2_bn": "bn1",
        "b1": "conv2.0", "b1_bn": "conv2.1", "b2": "conv2.3", "b2_bn": "bn2",
    },
    "2d": {"a": "conv1", "a_bn": "bn1", "b": "conv2", "b_bn": "bn2"},
    "3d": {"a": "conv1", "a_bn": "bn1", "b": "conv2", "b_bn": "bn2"},
}  # fmt: skip
SHORTCUT_LAYERS = {"short_cut": "shortcut.0", "short_cut_bn": "shortcut.1"}
STEM_LAYERS: dict[str, dict[str, str]] = {
    "2plus1d": {"a1": "stem.0.0", "a1_bn": "stem.0.1", "a2": "stem.0.3", "a2_bn": "stem.1"},
    "2d_pool": {"a": "stem.0", "a_bn": "stem.1"},
}
HEADS = {"out_joint": "mosi", "out": "action"}  # official head layer -> task
STAGE_NAMES = ("conv2", "conv3", "conv4", "conv5")
DDP_PREFIX = "module."


def module_map(arch: str) -> dict[str, str]:
    """Official module path -> our module path for every weighted layer of `arch` (both heads included)."""
    spec = ARCHS[arch]
    out = {f"backbone.conv1.{k}": v for k, v in STEM_LAYERS[spec.stem].items()}
    for stage_name, stage in zip(STAGE_NAMES, spec.stages):
        for b in range(stage.blocks):
            official, ours = f"backbone.{stage_name}.res_{b + 1}", f"{stage_name}.{b}"
            for k, v in BRANCH_LAYERS[stage.conv].items():
                out[f"{official}.conv_branch.{k}"] = f"{ours}.{v}"
            for k, v in SHORTCUT_LAYERS.items():
                out[f"{official}.{k}"] = f"{ours}.{v}"
    for head in HEADS:
        out[f"head.{head}"] = "fc"
    return out


def our_name(official: str, modules: dict[str, str]) -> str | None:
    """Our tensor name for an official one (`module.weight` -> `ours.weight`), or None if unknown."""
    module, _, leaf = official.rpartition(".")
    return f"{modules[module]}.{leaf}" if module in modules else None


def strip_ddp_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the `module.` prefix that DistributedDataParallel adds, when every key has it."""
    if state and all(k.startswith(DDP_PREFIX) for k in state):
        return {k[len(DDP_PREFIX) :]: v for k, v in state.items()}
    return state


@dataclass
class Mapping:
    """The outcome of mapping an official state onto one architecture."""

    arch: str
    width: int
    num_classes: int
    task: str  # "mosi" or "action"
    state: dict[str, torch.Tensor] = field(default_factory=dict)  # our name -> tensor
    names: dict[str, str] = field(default_factory=dict)  # official name -> our name
    unmapped: list[str] = field(default_factory=list)  # official keys with no place in our model
    unfilled: list[str] = field(default_factory=list)  # our keys no official tensor fills
    mismatched: list[str] = field(default_factory=list)  # "name (file shape vs model shape)"

    @property
    def ok(self) -> bool:
        return not (self.unmapped or self.unfilled or self.mismatched)

    @property
    def problems(self) -> int:
        return len(self.unmapped) + len(self.unfilled) + len(self.mismatched)


def map_state(state: dict[str, torch.Tensor], arch: str) -> Mapping:
    """Map an official model state (no `module.` prefix) onto `arch`, recording every key that does not fit.

    Width and class count are read from the stem's last BN and the head, so the model the state is
    checked against is the one it describes; strictness is then exact: every official tensor lands on
    exactly one of ours, every one of ours is filled, shapes match.
    """
    modules = module_map(arch)
    inverse_stem_bn = next(k for k, v in modules.items() if v == "stem.1")
    stem_bn = state.get(f"{inverse_stem_bn}.weight")
    width = int(stem_bn.shape[0]) if stem_bn is not None and stem_bn.ndim == 1 else 64
    heads = [h for h in HEADS if f"head.{h}.weight" in state]
    head = heads[0] if heads else "out_joint"
    head_w = state.get(f"head.{head}.weight")
    num_classes = int(head_w.shape[0]) if head_w is not None and head_w.ndim == 2 else 9
    with torch.device("meta"):
        expected = build_backbone(arch, num_classes, width=width).state_dict()
    m = Mapping(arch=arch, width=width, num_classes=num_classes, task=HEADS[head])
    for official, tensor in state.items():
        ours = our_name(official, modules)
        if ours is None or ours not in expected or ours in m.state:
            m.unmapped.append(official)
            continue
        if tuple(tensor.shape) != tuple(expected[ours].shape):
            m.mismatched.append(f"{official} ({tuple(tensor.shape)} vs {tuple(expected[ours].shape)})")
            continue
        m.state[ours] = tensor
        m.names[official] = ours
    m.unfilled = [k for k in expected if k not in m.state and not _mismatched_target(k, m, modules)]
    return m


def _mismatched_target(ours: str, m: Mapping, modules: dict[str, str]) -> bool:
    """Whether an unfilled key of ours is already reported as a shape mismatch (so it is not listed twice)."""
    return any(our_name(entry.split(" ")[0], modules) == ours for entry in m.mismatched)


def detect(state: dict[str, torch.Tensor]) -> Mapping:
    """The architecture whose mapping fits `state` best (a perfect fit if `.ok`); ties go to the first in ARCHS."""
    state = strip_ddp_prefix(state)
    return min((map_state(state, arch) for arch in ARCHS), key=lambda m: m.problems)
