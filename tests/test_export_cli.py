"""`mosi-tool export` and `mosi-tool info`: options, checks from the format table, readable metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mosi_tool.export.formats import FORMATS, check_request, default_output, format_of
from mosi_tool.cli import app

runner = CliRunner()


def test_format_table_drives_checks_and_names():
    assert {f.suffix for f in FORMATS.values()} == {".onnx", ".engine", ".pt2"}
    assert [f.name for f in FORMATS.values() if f.needs_gpu] == ["tensorrt"]
    trt = FORMATS["tensorrt"]
    assert default_output(Path("runs/best.safetensors"), trt, "fp16") == Path("runs/best-fp16.engine")
    assert default_output(Path("runs/best.safetensors"), trt, "fp32") == Path("runs/best.engine")
    assert format_of(Path("x.PT2")) is FORMATS["aoti"] and format_of(Path("x.safetensors")) is None
    with pytest.raises(ValueError, match="--onnx out.pt2: the output of --onnx must end in .onnx"):
        check_request(FORMATS["onnx"], Path("out.pt2"), "fp32")
    with pytest.raises(ValueError, match="precision 'int8' is not supported"):
        check_request(FORMATS["aoti"], Path("m.pt2"), "int8")


def test_export_needs_a_target(micro_ckpt):
    result = runner.invoke(app, ["export", str(micro_ckpt)])
    assert result.exit_code == 2 and "error: nothing to export" in result.stderr


def test_export_rejects_bad_precision_before_building(micro_ckpt, tmp_path):
    result = runner.invoke(app, ["export", str(micro_ckpt), "--onnx", str(tmp_path / "m.onnx"), "--precision", "fp8"])
    assert result.exit_code == 2 and "precision must be one of fp32, fp16, bf16" in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_export_bad_checkpoint_is_one_line(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_text("nope")
    result = runner.invoke(app, ["export", str(bad), "--onnx", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and str(bad) in result.stderr


def test_info_reads_every_artifact(micro_ckpt, micro_onnx):
    text = runner.invoke(app, ["info", str(micro_onnx("fp16"))])
    assert text.exit_code == 0, text.output
    assert "precision  fp16" in text.stdout and "r2plus1d_10 width 8" in text.stdout and "(0,0)" in text.stdout
    raw = runner.invoke(app, ["info", str(micro_onnx("fp16")), "--json"])
    doc = json.loads(raw.stdout)
    assert doc["export"]["precision"] == "fp16" and doc["mosi_tool"]["frames"] == 4
    ckpt = runner.invoke(app, ["info", str(micro_ckpt)])
    assert ckpt.exit_code == 0 and "(checkpoint" in ckpt.stdout and "weights    match the digest" in ckpt.stdout


def test_info_on_a_wrong_file_is_one_line(tmp_path):
    bad = tmp_path / "notes.onnx"
    bad.write_text("hello\n")
    result = runner.invoke(app, ["info", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {bad}: ") and result.stderr.strip().count("\n") == 0
    missing = runner.invoke(app, ["info", str(tmp_path / "m.engine")])
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def test_a_failed_parity_check_leaves_nothing_under_the_name_asked_for(micro_ckpt, tmp_path, monkeypatch):
    import mosi_tool.export.pipeline as pipeline

    class Bad:
        def lines(self):
            return ["features cosine 0.5"]

        def failures(self, precision):
            return ["features cosine 0.500000 < 0.99"]

    monkeypatch.setattr(pipeline, "verify", lambda *a, **k: (Bad(), "test clips"))
    out = tmp_path / "m.onnx"
    result = runner.invoke(app, ["export", str(micro_ckpt), "--onnx", str(out)])
    assert result.exit_code == 2 and "parity check failed" in result.stderr and "kept as m.parity-failed.onnx" in result.stderr
    assert not out.exists() and (tmp_path / "m.parity-failed.onnx").exists()


def test_a_failed_tensorrt_engine_takes_its_sidecar_along(micro_ckpt, tmp_path, monkeypatch):
    """No TensorRT here: a stand-in builder writes an engine and its sidecar, and the check fails."""
    import types

    import mosi_tool.export.pipeline as pipeline
    from mosi_tool.export.options import ExportOptions
    from mosi_tool.artifact import sidecar_path

    def build(checkpoint, out, options, log):
        out.write_bytes(b"engine")
        sidecar_path(out).write_text("{}")

    class Bad:
        def lines(self):
            return []

        def failures(self, precision):
            return ["logits error 1.0 >= 0.001"]

    monkeypatch.setattr(pipeline, "builder", lambda fmt: types.SimpleNamespace(build=build))
    monkeypatch.setattr(pipeline, "verify", lambda *a, **k: (Bad(), "test clips"))
    out = tmp_path / "m.engine"
    [outcome] = pipeline.export_artifacts(micro_ckpt, [pipeline.Target(FORMATS["tensorrt"], out)], ExportOptions(), log=lambda _: None)
    kept = tmp_path / "m.parity-failed.engine"
    assert "parity check failed" in outcome.error and kept.exists() and sidecar_path(kept).exists()
    assert not out.exists() and not sidecar_path(out).exists()


def test_calibration_help_names_the_default_it_uses():
    """--int8 without --calibration calibrates on `int8.DEFAULT_SOURCE`'s clips, not on the bundled sample video."""
    from mosi_tool.export import int8

    result = runner.invoke(app, ["export", "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    assert "bundled sample video" not in result.output
    assert f"Default: {int8.DEFAULT_TEXTURES} moving textures and {int8.DEFAULT_NOISE} noise clips" in result.output
