"""ONNX export: graph, parity with PyTorch, metadata, dynamic shapes, bad files."""

from __future__ import annotations

import json

import pytest
import torch

from mosi_tool.artifact import read_onnx
from mosi_tool.export.parity import TOLERANCES, compare, reference_outputs, sample_clips, synthetic_clips
from mosi_tool.checkpoint import read_meta
from mosi_tool.metadata import FORMAT_VERSION
from mosi_tool.loader import load_engine
from mosi_tool.runtimes import EngineError, open_engine


def test_graph_is_valid_with_dynamic_batch_height_width(micro_onnx):
    import onnx

    model = onnx.load(str(micro_onnx("fp32")))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 18
    (clips,) = model.graph.input
    assert clips.name == "clips" and clips.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = clips.type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "", "height", "width", ""]
    assert [d.dim_value for d in dims][1::3] == [4, 3]
    assert [o.name for o in model.graph.output] == ["logits", "features", "cam"]


def test_fp32_parity_on_real_or_synthetic_clips(micro_ckpt, micro_onnx):
    clips, _ = sample_clips(read_meta(micro_ckpt), 8)
    parity = compare(reference_outputs(micro_ckpt, clips), load_engine(micro_onnx("fp32"), device="cpu")(clips))
    assert parity.stat("logits").max_abs < 1e-3
    for name in ("features", "cam", "logits"):
        assert parity.stat(name).min_cosine > 0.9999, name
    assert parity.top1 == 1.0
    assert parity.failures("fp32") == []


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_reduced_precision_parity(micro_ckpt, micro_onnx, precision):
    path = micro_onnx(precision)
    try:
        engine = load_engine(path, device="cpu")
    except EngineError as e:
        if "NOT_IMPLEMENTED" in str(e) or "no bf16 kernels" in str(e):
            pytest.skip(f"onnxruntime's CPU provider cannot run {precision} graphs: {e}")
        raise
    assert engine.precision == precision
    clips = torch.cat([sample_clips(read_meta(micro_ckpt), 8)[0], synthetic_clips(24, 4, 32, 32, seed=3)])
    parity = compare(reference_outputs(micro_ckpt, clips), engine(clips))
    assert parity.stat("features").min_cosine > 0.999
    assert parity.stat("cam").min_cosine > 0.999
    assert parity.top1 >= 0.99
    assert parity.failures(precision) == []
    assert TOLERANCES[precision].min_cosine == 0.999


def test_bf16_onnx_on_cpu_is_refused_by_name(micro_onnx):
    with pytest.raises(EngineError, match="a bf16 ONNX, and ONNX Runtime's CPU provider has no bf16 kernels"):
        load_engine(micro_onnx("bf16"), device="cpu")


def test_bf16_graph_is_valid_onnx(micro_onnx):
    import onnx

    model = onnx.load(str(micro_onnx("bf16")))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 22  # Conv takes bfloat16 from opset 22
    weights = {init.data_type for init in model.graph.initializer if len(init.dims) == 5}
    assert weights == {onnx.TensorProto.BFLOAT16}


def test_metadata_round_trip(micro_ckpt, micro_onnx):
    for precision in ("fp32", "fp16"):
        meta, info = read_onnx(micro_onnx(precision))
        assert meta == read_meta(micro_ckpt)
        assert info.format == "onnx" and info.precision == precision and info.input_dtype == "uint8"
        engine = load_engine(micro_onnx(precision), device="cpu")
        assert engine.meta == meta


@pytest.mark.parametrize("batch", [1, 3, 5])
def test_dynamic_batch(micro_ckpt, micro_onnx, batch):
    clips = synthetic_clips(batch, 4, 32, 32, seed=batch)
    parity = compare(reference_outputs(micro_ckpt, clips), load_engine(micro_onnx(), device="cpu")(clips))
    assert parity.clips == batch and parity.failures("fp32") == []


@pytest.mark.parametrize("hw", [(32, 48), (48, 80), (64, 32)])
def test_dynamic_height_and_width(micro_ckpt, micro_onnx, hw):
    clips = synthetic_clips(2, 4, *hw, seed=7)
    out = load_engine(micro_onnx(), device="cpu")(clips)
    assert out.cam.shape[-2:] == (-(-hw[0] // 16), -(-hw[1] // 16))
    assert compare(reference_outputs(micro_ckpt, clips), out).failures("fp32") == []


def test_text_file_renamed_onnx_is_one_line_error(tmp_path):
    bad = tmp_path / "notes.onnx"
    bad.write_text("this is not a model\n")
    with pytest.raises(EngineError) as e:
        load_engine(bad, device="cpu")
    msg = str(e.value)
    assert msg.startswith(str(bad)) and "\n" not in msg


def test_onnx_without_our_metadata_is_refused(tmp_path, micro_onnx):
    import onnx

    model = onnx.load(str(micro_onnx()))
    del model.metadata_props[:]
    stripped = tmp_path / "foreign.onnx"
    onnx.save(model, str(stripped))
    with pytest.raises(EngineError, match=r"foreign\.onnx: has no 'mosi_tool' metadata; not exported by mosi-tool"):
        open_engine(stripped, torch.device("cpu"))


def test_tampered_metadata_is_refused(tmp_path, micro_onnx):
    import onnx

    model = onnx.load(str(micro_onnx()))
    for p in model.metadata_props:
        if p.key == "mosi_tool":
            p.value = p.value.replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 99')
    path = tmp_path / "newer.onnx"
    onnx.save(model, str(path))
    with pytest.raises(EngineError, match="newer.onnx: metadata format 99 is newer"):
        load_engine(path, device="cpu")


def test_damaged_weights_and_edited_frames_are_refused(tmp_path, micro_onnx):
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(micro_onnx()))
    good = model.SerializeToString()
    init = max(model.graph.initializer, key=lambda t: len(t.raw_data))  # a weight tensor
    array = numpy_helper.to_array(init).copy()
    array.flat[0] += 1.0
    init.CopyFrom(numpy_helper.from_array(array, init.name))
    path = tmp_path / "damaged.onnx"
    onnx.save(model, str(path))
    with pytest.raises(EngineError, match="damaged.onnx: weights do not match the digest"):
        load_engine(path, device="cpu")
    model = onnx.load_from_string(good)
    for p in model.metadata_props:
        if p.key == "mosi_tool":
            meta = json.loads(p.value)
            meta["frames"] = 2 * meta["frames"]
            p.value = json.dumps(meta)
    path = tmp_path / "edited.onnx"
    onnx.save(model, str(path))
    with pytest.raises(EngineError, match=r"edited.onnx: its metadata says \d+ frames per clip but the graph takes"):
        load_engine(path, device="cpu")


def test_artifact_has_the_usual_file_permissions(micro_onnx):
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(micro_onnx().stat().st_mode) == 0o666 & ~mask


@pytest.mark.parametrize("key", ["mosi_tool", "mosi_tool.export"])
def test_metadata_with_a_flipped_byte_is_one_line_error(tmp_path, micro_onnx, key):
    """A byte of the file flipped inside a metadata entry (no longer UTF-8) names the file, as other damage does."""
    data = bytearray(micro_onnx().read_bytes())
    entry = data.index(b'"format', data.index(key.encode() + b"\x12"))  # the entry's value follows its key
    data[entry] ^= 0xCB  # '"' -> 0xE9, a UTF-8 lead byte without its continuation
    path = tmp_path / "flipped.onnx"
    path.write_bytes(bytes(data))
    with pytest.raises(EngineError) as e:
        load_engine(path, device="cpu")
    assert str(e.value).startswith(f"{path}: ") and "\n" not in str(e.value)
