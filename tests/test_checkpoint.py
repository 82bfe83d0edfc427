import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from mosi_tool.checkpoint import CheckpointError, load_checkpoint, read_meta, save_checkpoint
from mosi_tool.metadata import FORMAT_VERSION, METADATA_KEY, ModelMeta, label_pool
from mosi_tool.models.backbones import build_backbone

from .conftest import micro_checkpoint


def test_round_trip_rebuilds_model_from_metadata(tmp_path):
    path = micro_checkpoint(tmp_path / "m.safetensors", arch="r2d3d_18")
    model, meta = load_checkpoint(path)
    assert meta.arch == "r2d3d_18" and meta.width == 8 and meta.frames == 4
    assert meta.model_id.startswith("r2d3d_18-") and len(meta.weights_sha256) == 64
    assert meta.format_version == FORMAT_VERSION
    saved = load_file(str(path))
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k])
    assert not model.training


def test_fp16_checkpoint_loads_as_fp32(tmp_path):
    model = build_backbone("r2plus1d_10", 9, width=8)
    meta = save_checkpoint(tmp_path / "h.safetensors", model, ModelMeta(width=8), dtype=torch.float16)
    loaded, meta2 = load_checkpoint(tmp_path / "h.safetensors")
    assert meta2.model_id == meta.model_id
    w = loaded.fc.weight
    assert w.dtype == torch.float32
    torch.testing.assert_close(w, model.fc.weight.half().float())


def _rewrite(path, state=None, meta=None):
    raw = load_file(str(path))
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        md = f.metadata()
    if state:
        state(raw)
    if meta:
        md = {METADATA_KEY: meta(md[METADATA_KEY])} if md else {}
    save_file(raw, str(path), metadata=md)


def test_tampered_weights_are_refused(tmp_path):
    path = micro_checkpoint(tmp_path / "t.safetensors")

    def poke(raw):
        raw["fc.weight"][0, 0] += 1

    from mosi_tool.loader import load_engine

    load_engine(path, device="cpu", runtime="onnx")  # the good file's export lands in the cache
    _rewrite(path, state=poke)
    with pytest.raises(CheckpointError, match="altered or damaged"):
        load_checkpoint(path)
    # The cached export (same model id: the metadata is unchanged) must not stand in for the damaged file.
    with pytest.raises(CheckpointError, match="altered or damaged"):
        load_engine(path, device="cpu", runtime="onnx")
    # `info` shows the metadata and says the weights are damaged (exit code 2)
    from typer.testing import CliRunner

    from mosi_tool.cli import app

    result = CliRunner().invoke(app, ["info", str(path)])
    assert result.exit_code == 2 and "r2plus1d_10" in result.stdout
    assert result.stderr.strip() == f"error: {path}: weights do not match the digest in its metadata; the file was altered or damaged"


def test_missing_and_extra_keys_are_named(tmp_path):
    path = micro_checkpoint(tmp_path / "k.safetensors")

    def edit(raw):
        raw.pop("fc.bias")
        raw["head.extra"] = torch.zeros(1)

    def drop_digest(text):
        d = json.loads(text)
        d["weights_sha256"] = ""
        return json.dumps(d)

    _rewrite(path, state=edit, meta=drop_digest)
    with pytest.raises(CheckpointError, match=r"missing keys \[fc.bias\].*unexpected keys \[head.extra\]"):
        load_checkpoint(path)


def test_newer_format_is_refused(tmp_path):
    path = micro_checkpoint(tmp_path / "n.safetensors")

    def bump(text):
        d = json.loads(text)
        d["format_version"] = FORMAT_VERSION + 1
        return json.dumps(d)

    _rewrite(path, meta=bump)
    with pytest.raises(CheckpointError, match="newer than this mosi-tool"):
        read_meta(path)


def test_camera_pan_is_recorded_and_format_1_files_still_load(tmp_path):
    from mosi_tool.evaluation.pretext import motion_config

    path = tmp_path / "c.safetensors"
    save_checkpoint(path, build_backbone("r2plus1d_10", 9, width=8), ModelMeta(width=8, frames=4, crop=32, source_size=64, camera=12))
    meta = read_meta(path)
    assert meta.camera == 12 and meta.format_version == FORMAT_VERSION
    assert motion_config(meta, mask=True).camera == 12  # pretext evaluation rebuilds the training's generator
    from typer.testing import CliRunner

    from mosi_tool.cli import app

    assert "mask True, camera pan 12 px:" in CliRunner().invoke(app, ["info", str(path)]).output

    def as_format_1(text):  # a file written before the field existed
        d = json.loads(text)
        del d["camera"]
        d["format_version"] = 1
        return json.dumps(d)

    _rewrite(path, meta=as_format_1)
    assert read_meta(path).camera == 0


def test_not_a_checkpoint(tmp_path):
    pickle_file = tmp_path / "model.safetensors"
    torch.save({"a": torch.zeros(2)}, pickle_file)  # a pickle renamed: must not be unpickled
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(pickle_file)
    plain = tmp_path / "plain.safetensors"
    save_file({"a": torch.zeros(2)}, str(plain))
    with pytest.raises(CheckpointError, match="not a mosi-tool checkpoint"):
        load_checkpoint(plain)
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty file"):
        load_checkpoint(empty)
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "absent.safetensors")


def test_metadata_json_round_trip_and_class_table():
    meta = ModelMeta(arch="r2d3d_18", mask_ratio=(0.2, 0.4), training={"epochs": 3})
    again = ModelMeta.from_json(meta.to_json())
    assert again == meta
    assert meta.speed_table() == label_pool(5) and meta.static_class == 8
    assert label_pool(5) == [(-2, 0), (-1, 0), (1, 0), (2, 0), (0, -2), (0, -1), (0, 1), (0, 2), (0, 0)]


def test_checkpoint_has_the_usual_file_permissions(tmp_path):
    """safetensors writes its file 0600; a checkpoint is readable as any other output is (0666 less the umask)."""
    import os
    import stat

    path = micro_checkpoint(tmp_path / "m.safetensors")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
