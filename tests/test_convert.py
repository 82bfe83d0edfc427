"""`mosi-tool convert` on synthetic checkpoints in the official (TAdaConv) layout.

The layout below is written from the official code's structure and configs (configs/pool/backbone/r2p1d.yaml,
r2d3ds.yaml; models/base/base_blocks.py; the R(2+1)D and R2D3D branches and stems), independently of
mosi_tool.models.official: names and shapes come from the official NUM_FILTERS, KERNEL_SIZE and
DOWNSAMPLING lists, and the expected official -> ours names from a table per layer. A reference forward
pass over the official names checks that the converted network computes what the official one does.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from typer.testing import CliRunner

from mosi_tool.checkpoint import CheckpointError, load_checkpoint
from mosi_tool.cli import app
from mosi_tool.convert import convert, dataset_class_names
from mosi_tool.models.backbones import count_parameters

from .conftest import write_video

# --- the official layout, from the official configs --------------------------------------------------
OFFICIAL = {
    "r2plus1d_10": {
        "filters": [64, 64, 128, 256, 512],
        "kernels": [(3, 7, 7), (3, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3)],
        "down": [True, False, True, True, True],
        "down_t": [False, False, True, True, True],
        "blocks": (1, 1, 1, 1),
        "branch": "R2Plus1DBranch",
        "depth": 10,
    },
    "r2d3d_18": {
        "filters": [64, 64, 128, 256, 256],
        "kernels": [(1, 7, 7), (1, 3, 3), (1, 3, 3), (3, 3, 3), (3, 3, 3)],
        "down": [True, False, True, True, True],
        "down_t": [False, False, False, True, True],
        "blocks": (2, 2, 2, 2),
        "branch": "R2D3DBranch",
        "depth": 18,
    },
}
BN_LEAVES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
# Our module for each official layer: R(2+1)D splits each 3x3x3 conv into our Conv2Plus1D (0: spatial,
# 1: its BN, 3: temporal) followed by the block's bn1/bn2.
R21D_BRANCH = {"a1": "conv1.0", "a1_bn": "conv1.1", "a2": "conv1.3", "a2_bn": "bn1",
               "b1": "conv2.0", "b1_bn": "conv2.1", "b2": "conv2.3", "b2_bn": "bn2"}  # fmt: skip
R2D3D_BRANCH = {"a": "conv1", "a_bn": "bn1", "b": "conv2", "b_bn": "bn2"}
R21D_STEM = {"a1": "stem.0.0", "a1_bn": "stem.0.1", "a2": "stem.0.3", "a2_bn": "stem.1"}
R2D3D_STEM = {"a": "stem.0", "a_bn": "stem.1"}


def mid_dim(k: tuple[int, int, int], cin: int, cout: int) -> int:
    """The official R(2+1)D middle width: floor(t*h*w*Cin*Cout / (h*w*Cin + t*Cout))."""
    return int(math.floor(k[0] * k[1] * k[2] * cin * cout / (k[1] * k[2] * cin + k[0] * cout)))


def official_layout(arch: str, head: str, classes: int) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """(official tensor name -> shape, official tensor name -> our name) for one released network."""
    o = OFFICIAL[arch]
    f, ks = o["filters"], o["kernels"]
    shapes: dict[str, tuple[int, ...]] = {}
    ours: dict[str, str] = {}

    def conv(name: str, our: str, cout: int, cin: int, k: tuple[int, int, int]) -> None:
        shapes[f"{name}.weight"] = (cout, cin, *k)
        ours[f"{name}.weight"] = f"{our}.weight"

    def bn(name: str, our: str, c: int) -> None:
        for leaf in BN_LEAVES:
            shapes[f"{name}.{leaf}"] = () if leaf == "num_batches_tracked" else (c,)
            ours[f"{name}.{leaf}"] = f"{our}.{leaf}"

    k0 = ks[0]
    if arch == "r2plus1d_10":
        m = mid_dim(k0, 3, f[0])
        conv("backbone.conv1.a1", R21D_STEM["a1"], m, 3, (1, k0[1], k0[2]))
        bn("backbone.conv1.a1_bn", R21D_STEM["a1_bn"], m)
        conv("backbone.conv1.a2", R21D_STEM["a2"], f[0], m, (k0[0], 1, 1))
        bn("backbone.conv1.a2_bn", R21D_STEM["a2_bn"], f[0])
    else:
        conv("backbone.conv1.a", R2D3D_STEM["a"], f[0], 3, (1, k0[1], k0[2]))
        bn("backbone.conv1.a_bn", R2D3D_STEM["a_bn"], f[0])
    for s in range(1, 5):
        for b in range(o["blocks"][s - 1]):
            cin = f[s - 1] if b == 0 else f[s]
            cout, k = f[s], ks[s]
            name, our = f"backbone.conv{s + 1}.res_{b + 1}", f"conv{s + 1}.{b}"
            if b == 0 and (cin != cout or o["down"][s]):
                conv(f"{name}.short_cut", f"{our}.shortcut.0", cout, cin, (1, 1, 1))
                bn(f"{name}.short_cut_bn", f"{our}.shortcut.1", cout)
            br = f"{name}.conv_branch"
            if arch == "r2plus1d_10":
                ma, mb = mid_dim(k, cin, cout), mid_dim(k, cout, cout)
                conv(f"{br}.a1", f"{our}.{R21D_BRANCH['a1']}", ma, cin, (1, k[1], k[2]))
                bn(f"{br}.a1_bn", f"{our}.{R21D_BRANCH['a1_bn']}", ma)
                conv(f"{br}.a2", f"{our}.{R21D_BRANCH['a2']}", cout, ma, (k[0], 1, 1))
                bn(f"{br}.a2_bn", f"{our}.{R21D_BRANCH['a2_bn']}", cout)
                conv(f"{br}.b1", f"{our}.{R21D_BRANCH['b1']}", mb, cout, (1, k[1], k[2]))
                bn(f"{br}.b1_bn", f"{our}.{R21D_BRANCH['b1_bn']}", mb)
                conv(f"{br}.b2", f"{our}.{R21D_BRANCH['b2']}", cout, mb, (k[0], 1, 1))
                bn(f"{br}.b2_bn", f"{our}.{R21D_BRANCH['b2_bn']}", cout)
            else:
                conv(f"{br}.a", f"{our}.{R2D3D_BRANCH['a']}", cout, cin, k)
                bn(f"{br}.a_bn", f"{our}.{R2D3D_BRANCH['a_bn']}", cout)
                conv(f"{br}.b", f"{our}.{R2D3D_BRANCH['b']}", cout, cout, k)
                bn(f"{br}.b_bn", f"{our}.{R2D3D_BRANCH['b_bn']}", cout)
    shapes[f"head.{head}.weight"], ours[f"head.{head}.weight"] = (classes, f[4]), "fc.weight"
    shapes[f"head.{head}.bias"], ours[f"head.{head}.bias"] = (classes,), "fc.bias"
    return shapes, ours


def random_state(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    """Distinct random values in every tensor; positive running variances; distinct batch counts."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for i, (name, shape) in enumerate(shapes.items()):
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(1000 + i, dtype=torch.long)
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=g) + 0.5
        elif name.endswith(("a_bn.weight", "b_bn.weight", "1_bn.weight", "2_bn.weight", "short_cut_bn.weight")):
            state[name] = torch.rand(shape, generator=g) * 0.4 + 0.8  # keep activations in range through the net
        elif len(shape) == 5:
            fan_in = shape[1] * shape[2] * shape[3] * shape[4]
            state[name] = torch.randn(shape, generator=g) * math.sqrt(2.0 / fan_in)
        else:
            state[name] = torch.randn(shape, generator=g) * 0.1
    return state


def official_cfg(arch: str, task: str, dataset: str, classes: int) -> str:
    """The parts of an official run config the converter reads, dumped as the official code does (JSON)."""
    o = OFFICIAL[arch]
    cfg = {
        "MODEL": {"NAME": "MoSINet" if task == "mosi" else "R2Plus1D"},
        "VIDEO": {"BACKBONE": {"DEPTH": o["depth"], "BRANCH": {"NAME": o["branch"]}},
                  "HEAD": {"NUM_CLASSES": 5 if task == "mosi" else classes}},
        "TRAIN": {"DATASET": dataset},
        "DATA": {"MEAN": [0.44, 0.45, 0.46], "STD": [0.22, 0.225, 0.23], "TRAIN_CROP_SIZE": 112, "NUM_INPUT_FRAMES": 1 if task == "mosi" else 16},
        "PRETRAIN": {"NUM_FRAMES": 16, "DATA_MODE": "xy", "STATIC_MASK": True, "MASK_SIZE_RATIO": [0.3, 0.5], "STANDARD_SIZE": 320},
    }  # fmt: skip
    return json.dumps(cfg, indent=2)


KINDS = {  # name: (arch, head, classes, dataset)
    "r2p1d_pt_ucf_mosi_public.pyth": ("r2plus1d_10", "out_joint", 9, "UCF101"),
    "r2d3ds_pt_hmdb_mosi_public.pyth": ("r2d3d_18", "out_joint", 9, "HMDB51"),
    "r2p1d_pt_ucf_ft_ucf_8279_public.pyth": ("r2plus1d_10", "out", 101, "UCF101"),
    "r2d3ds_pt_hmdb_ft_hmdb_4693_public.pyth": ("r2d3d_18", "out", 51, "HMDB51"),
}


def write_official(path: Path, arch: str, head: str, classes: int, seed: int = 0, ddp: bool = False,
                   cfg: str | None = None, extra: dict | None = None) -> tuple[dict[str, torch.Tensor], dict[str, str]]:  # fmt: skip
    shapes, ours = official_layout(arch, head, classes)
    state = random_state(shapes, seed)
    saved = {f"module.{k}" if ddp else k: v for k, v in state.items()}
    obj: dict = {"epoch": 99, "model_state": saved, "optimizer_state": {"state": {}, "param_groups": [{"lr": 0.001}]}}
    if cfg is not None:
        obj["cfg"] = cfg
    obj.update(extra or {})
    torch.save(obj, path)
    return state, ours


# --- the reference forward pass over official names ---------------------------------------------------
def _bn(x: torch.Tensor, s: dict[str, torch.Tensor], name: str, relu: bool = True) -> torch.Tensor:
    x = F.batch_norm(x, s[f"{name}.running_mean"], s[f"{name}.running_var"], s[f"{name}.weight"], s[f"{name}.bias"], False, 0.0, 1e-3)
    return F.relu(x) if relu else x


def official_forward(s: dict[str, torch.Tensor], arch: str, head: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, pooled features) of the official network, written from its modules' forward order."""
    o = OFFICIAL[arch]
    k0 = o["kernels"][0]
    if arch == "r2plus1d_10":
        x = _bn(F.conv3d(x, s["backbone.conv1.a1.weight"], stride=(1, 2, 2), padding=(0, k0[1] // 2, k0[2] // 2)), s, "backbone.conv1.a1_bn")
        x = _bn(F.conv3d(x, s["backbone.conv1.a2.weight"], stride=1, padding=(k0[0] // 2, 0, 0)), s, "backbone.conv1.a2_bn")
    else:
        x = _bn(F.conv3d(x, s["backbone.conv1.a.weight"], stride=(1, 2, 2), padding=(0, 3, 3)), s, "backbone.conv1.a_bn")
        x = F.max_pool3d(x, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
    for st in range(1, 5):
        for b in range(o["blocks"][st - 1]):
            down = b == 0 and o["down"][st]
            stride = ((2 if o["down_t"][st] else 1), 2, 2) if down else (1, 1, 1)
            k = o["kernels"][st]
            name = f"backbone.conv{st + 1}.res_{b + 1}"
            br = f"{name}.conv_branch"
            short = x
            if f"{name}.short_cut.weight" in s:
                short = _bn(F.conv3d(x, s[f"{name}.short_cut.weight"], stride=stride), s, f"{name}.short_cut_bn", relu=False)
            if arch == "r2plus1d_10":
                y = _bn(F.conv3d(x, s[f"{br}.a1.weight"], stride=(1, stride[1], stride[2]), padding=(0, 1, 1)), s, f"{br}.a1_bn")
                y = _bn(F.conv3d(y, s[f"{br}.a2.weight"], stride=(stride[0], 1, 1), padding=(1, 0, 0)), s, f"{br}.a2_bn")
                y = _bn(F.conv3d(y, s[f"{br}.b1.weight"], padding=(0, 1, 1)), s, f"{br}.b1_bn")
                y = _bn(F.conv3d(y, s[f"{br}.b2.weight"], padding=(1, 0, 0)), s, f"{br}.b2_bn", relu=False)
            else:
                pad = tuple(kk // 2 for kk in k)
                y = _bn(F.conv3d(x, s[f"{br}.a.weight"], stride=stride, padding=pad), s, f"{br}.a_bn")
                y = _bn(F.conv3d(y, s[f"{br}.b.weight"], padding=pad), s, f"{br}.b_bn", relu=False)
            x = F.relu(short + y)
    feats = x.mean(dim=(2, 3, 4))
    return F.linear(feats, s[f"head.{head}.weight"], s[f"head.{head}.bias"]), feats


# --- tests ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(KINDS))
@pytest.mark.parametrize("ddp", [False, True], ids=["plain", "module-prefix"])
def test_every_official_tensor_lands_in_its_place(tmp_path, name, ddp):
    arch, head, classes, dataset = KINDS[name]
    src = tmp_path / name
    state, ours = write_official(src, arch, head, classes, seed=len(name) + ddp, ddp=ddp)
    out = tmp_path / "model.safetensors"
    done = convert(src, out)
    saved = load_file(str(out))
    assert set(saved) == set(ours.values()) and len(saved) == len(state)
    for official, tensor in state.items():
        assert torch.equal(saved[ours[official]], tensor), official
    assert done.mapping.names == ours
    meta = done.meta
    assert (meta.arch, meta.num_classes, meta.width, meta.frames, meta.crop) == (arch, classes, 64, 16, 112)
    assert meta.training["source_file"] == name and len(meta.training["source_sha256"]) == 64
    assert meta.training["dataset"] == dataset  # from the file name: no cfg in this file
    assert meta.mean == (0.45, 0.45, 0.45) and meta.std == (0.225, 0.225, 0.225)  # the official configs' values
    if head == "out_joint":
        assert meta.task == "mosi" and meta.class_names == ["(-2,0)", "(-1,0)", "(1,0)", "(2,0)", "(0,-2)", "(0,-1)", "(0,1)", "(0,2)", "(0,0)"]
        assert meta.static_class == 8
    else:
        assert meta.task == "action" and meta.class_names == dataset_class_names(dataset)
        assert "reported_top1" in meta.training
    model, loaded = load_checkpoint(out)
    assert loaded.model_id == meta.model_id
    if classes == 9:
        assert (count_parameters(model), len(model.state_dict())) == {"r2plus1d_10": (14_370_094, 128), "r2d3d_18": (14_059_849, 122)}[arch]


@pytest.mark.parametrize("arch", list(OFFICIAL))
def test_converted_network_computes_the_official_forward_pass(tmp_path, arch):
    src = tmp_path / "x.pyth"
    state, _ = write_official(src, arch, "out_joint", 9, seed=3)
    convert(src, tmp_path / "x.safetensors")
    model, _ = load_checkpoint(tmp_path / "x.safetensors")
    x = torch.randn(1, 3, 8, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(x)
        logits, feats = official_forward(state, arch, "out_joint", x)
    assert feats.abs().mean() > 1e-3  # the comparison is not between two near-zero tensors
    torch.testing.assert_close(out.features, feats, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.logits, logits, rtol=1e-4, atol=1e-5)


def test_bare_state_dict_is_accepted(tmp_path):
    src = tmp_path / "r2d3ds_pt_ucf_mosi_public.pyth"
    state, ours = write_official(src, "r2d3d_18", "out_joint", 9, seed=9)
    torch.save(state, src)
    done = convert(src, tmp_path / "m.safetensors")
    assert done.mapping.names == ours and done.meta.training["dataset"] == "UCF101"


def test_cfg_supplies_normalisation_and_dataset(tmp_path):
    src = tmp_path / "checkpoint_epoch_00100.pyth"  # a name that says nothing
    write_official(src, "r2plus1d_10", "out_joint", 9, cfg=official_cfg("r2plus1d_10", "mosi", "HMDB51", 9))
    meta = convert(src, tmp_path / "m.safetensors").meta
    assert meta.mean == (0.44, 0.45, 0.46) and meta.std == (0.22, 0.225, 0.23)
    assert meta.training["dataset"] == "HMDB51" and meta.training["config_from"] == "file cfg"
    assert meta.training["official_config"] == "configs/projects/mosi/pt-hmdb/r2p1d.yaml" and meta.training["epoch"] == 99


def test_cfg_that_contradicts_the_tensors_is_refused(tmp_path):
    src = tmp_path / "x.pyth"
    write_official(src, "r2d3d_18", "out_joint", 9, cfg=official_cfg("r2plus1d_10", "mosi", "UCF101", 9))
    with pytest.raises(CheckpointError, match=r"cfg describes r2plus1d_10 but its tensors are r2d3d_18"):
        convert(src, tmp_path / "m.safetensors")


def test_unknown_action_head_gets_numbered_names_and_says_so(tmp_path):
    src = tmp_path / "mine.pyth"
    write_official(src, "r2plus1d_10", "out", 7)
    done = convert(src, tmp_path / "m.safetensors")
    assert done.meta.class_names == [f"class_{i}" for i in range(7)]
    assert any("class names unknown" in n for n in done.notes)
    named = convert(src, tmp_path / "n.safetensors", class_names=list("abcdefg")).meta
    assert named.class_names == list("abcdefg")


def test_class_lists_are_complete():
    ucf, hmdb = dataset_class_names("UCF101"), dataset_class_names("HMDB51")
    assert len(ucf) == len(set(ucf)) == 101 and ucf[0] == "ApplyEyeMakeup" and ucf[-1] == "YoYo"
    assert len(hmdb) == len(set(hmdb)) == 51 and hmdb == sorted(hmdb)


def _one_line_error(src: Path, out: Path, match: str) -> str:
    with pytest.raises(CheckpointError, match=match) as err:
        convert(src, out)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(src))
    assert not out.exists()
    return msg


class _WritesMarker:
    """Unpickling this would create `path` (through builtins.open)."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):  # noqa: ANN204
        return (open, (self.path, "w"))


def test_pickle_that_carries_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "marker"
    src = tmp_path / "evil.pyth"
    write_official(src, "r2plus1d_10", "out_joint", 9, extra={"payload": _WritesMarker(marker)})
    assert not marker.exists()
    msg = _one_line_error(src, tmp_path / "m.safetensors", "never unpickles untrusted code")
    assert "open" in msg  # names what it asked for
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["shape", "extra", "missing", "truncated", "not-a-dict", "text"])
def test_damaged_files_are_refused_with_one_line(tmp_path, damage):
    src = tmp_path / "x.pyth"
    write_official(src, "r2d3d_18", "out_joint", 9)
    obj = torch.load(src, weights_only=True)
    s = obj["model_state"]
    if damage == "shape":
        s["backbone.conv4.res_1.conv_branch.a.weight"] = torch.zeros(256, 128, 1, 3, 3)
        match = r"shapes that differ .*backbone.conv4.res_1.conv_branch.a.weight \(\(256, 128, 1, 3, 3\) vs \(256, 128, 3, 3, 3\)\)"
    elif damage == "extra":
        s["backbone.conv5.res_3.conv_branch.a.weight"] = torch.zeros(1)
        match = r"keys that map to nothing \[backbone.conv5.res_3.conv_branch.a.weight\] \(1\)"
    elif damage == "missing":
        del s["backbone.conv2.res_2.conv_branch.b_bn.running_var"]
        match = r"model tensors left unfilled \[conv2.1.bn2.running_var\] \(1\)"
    if damage == "truncated":
        data = src.read_bytes()
        src.write_bytes(data[: len(data) // 2])
        match = r"not a readable PyTorch checkpoint, truncated or damaged \(PytorchStreamReader failed reading zip archive: failed finding central directory\)$"
    elif damage == "text":
        src.write_text("notes about the model\n" * 20)
        match = r"not a PyTorch checkpoint \(neither a torch.save zip archive nor a pickle\)"
    elif damage == "not-a-dict":
        torch.save([1, 2, 3], src)
        match = "expected a dict with 'model_state'"
    else:
        torch.save(obj, src)
    _one_line_error(src, tmp_path / "m.safetensors", match)


def test_both_heads_in_one_file_is_refused(tmp_path):
    src = tmp_path / "x.pyth"
    write_official(src, "r2plus1d_10", "out_joint", 9)
    obj = torch.load(src, weights_only=True)
    obj["model_state"]["head.out.weight"] = torch.zeros(101, 512)
    obj["model_state"]["head.out.bias"] = torch.zeros(101)
    torch.save(obj, src)
    _one_line_error(src, tmp_path / "m.safetensors", r"keys that map to nothing \[head.out")


E2E = [pytest.param(name, marks=() if i == 0 else pytest.mark.slow) for i, name in enumerate(sorted(KINDS, key=lambda n: "ft_ucf" not in n))]


@pytest.mark.parametrize("name", E2E)
def test_cli_convert_then_info_saliency_and_features(tmp_path, name):
    import numpy as np

    arch, head, classes, dataset = KINDS[name]
    src = tmp_path / name
    write_official(src, arch, head, classes, seed=5, ddp=head == "out")
    runner = CliRunner()
    out = tmp_path / "converted.safetensors"
    r = runner.invoke(app, ["convert", str(src), "--out", str(out)])
    assert r.exit_code == 0, r.output
    kind = "MoSI pretext" if head == "out_joint" else "action"
    assert f"{arch}, {classes} {kind} classes, {len(official_layout(arch, head, classes)[0])} tensors mapped" in r.output
    if dataset == "UCF101" and head == "out":
        assert "classInd.txt order" in r.output  # the class-order caveat is printed

    r = runner.invoke(app, ["info", str(out)])
    assert r.exit_code == 0, r.output
    assert f"{arch} width 64, {classes} classes ({'mosi' if head == 'out_joint' else 'action'})" in r.output
    assert "16 frames x 112x112" in r.output
    r = runner.invoke(app, ["info", str(out), "--json"])
    assert json.loads(r.output)["mosi_tool"]["training"]["source_file"] == name

    # One 16-frame clip, batch 1: the full-size network is slow on CPU.
    video = write_video(tmp_path / "clip.mp4", n=16, size=(96, 72))
    maps = tmp_path / "maps.npy"
    r = runner.invoke(app, ["saliency", str(video), "--model", str(out), "--out", str(tmp_path / "s.mp4"),
                            "--maps", str(maps), "--device", "cpu", "--runtime", "torch"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert np.load(maps).shape == (16, 112, 144)  # the whole frame at the model's 112-pixel input scale

    r = runner.invoke(app, ["features", str(video), "--model", str(out), "--out-dir", str(tmp_path / "f"),
                            "--workers", "0", "--batch-size", "1", "--device", "cpu", "--runtime", "torch"])  # fmt: skip
    assert r.exit_code == 0, r.output
    f = np.load(tmp_path / "f" / "clip.mp4.npz")
    assert f["features"].shape == (1, {"r2plus1d_10": 512, "r2d3d_18": 256}[arch])
    assert str(f["model_id"]).startswith(f"{arch}-")


def test_cli_refusal_is_one_error_line(tmp_path):
    src = tmp_path / "evil.pyth"
    write_official(src, "r2d3d_18", "out_joint", 9, extra={"payload": _WritesMarker(tmp_path / "marker")})
    r = CliRunner().invoke(app, ["convert", str(src)])
    assert r.exit_code == 2
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "never unpickles untrusted code" in lines[0]
    assert not (tmp_path / "marker").exists() and not (tmp_path / "evil.safetensors").exists()


def test_converted_checkpoint_initialises_finetuning(tmp_path):
    from mosi_tool.training.finetune import FinetuneConfig, build_model

    src = tmp_path / "r2d3ds_pt_hmdb_mosi_public.pyth"
    state, ours = write_official(src, "r2d3d_18", "out_joint", 9, seed=7)
    done = convert(src, tmp_path / "pt.safetensors")
    model, meta = build_model(FinetuneConfig(model=str(tmp_path / "pt.safetensors")), ["a", "b", "c"])
    assert meta.task == "action" and meta.num_classes == 3 and meta.training["init_model_id"] == done.meta.model_id
    backbone = model.backbone.state_dict()
    for official, tensor in state.items():
        if not official.startswith("head."):
            assert torch.equal(backbone[ours[official]], tensor), official
    assert backbone["fc.weight"].shape == (3, 256)


def test_dataset_that_contradicts_the_head_is_refused(tmp_path):
    src = tmp_path / "renamed_ft.pyth"
    write_official(src, "r2d3d_18", "out", 51)
    with pytest.raises(ValueError, match="--dataset UCF101 has 101 classes but this file's head has 51"):
        convert(src, tmp_path / "m.safetensors", dataset="ucf101")
    assert not (tmp_path / "m.safetensors").exists()
    assert convert(src, tmp_path / "m.safetensors", dataset="hmdb51").meta.class_names[0] != "class_0"


@pytest.mark.parametrize("name", ["model.onnx", "model.pt2", "model"])
def test_output_that_is_not_safetensors_is_refused(tmp_path, name):
    """`convert -o model.onnx` wrote a safetensors file under an ONNX name, which every reader then refused."""
    src = tmp_path / "mosi.pyth"
    write_official(src, "r2plus1d_10", "out_joint", 9)
    r = CliRunner().invoke(app, ["convert", str(src), "--out", str(tmp_path / name)])
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines() == [f"error: {tmp_path / name}: a converted checkpoint is a .safetensors file; name it so"]
    assert not (tmp_path / name).exists()


def test_sigterm_while_writing_leaves_no_temporary_file(tmp_path):
    """A command without a SIGTERM handler of its own died at once: convert left its temporary file and
    safetensors' own (the whole checkpoint) in the output folder, where nothing removed them."""
    import os
    import signal
    import subprocess
    import sys

    src, out = tmp_path / "mosi.pyth", tmp_path / "out" / "m.safetensors"
    write_official(src, "r2plus1d_10", "out_joint", 9)
    code = (
        "import signal, sys\n"
        "import mosi_tool.checkpoint as c\n"
        "real = c.save_file\n"
        "def stopped(*a, **k):\n"
        "    real(*a, **k)\n"
        "    signal.raise_signal(signal.SIGTERM)\n"  # stopped while its output is being written
        "c.save_file = stopped\n"
        "from mosi_tool.cli import main\n"
        f"sys.argv = ['mosi-tool', 'convert', {str(src)!r}, '--out', {str(out)!r}]\n"
        "main()\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == []
