"""`--decode nvdec` (experimental): a clear error without a GPU; on a GPU, features close to CPU decoding."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mosi_tool.cli import app
from mosi_tool.pipeline.extract import ExtractOptions, extract

from .conftest import write_video


def test_nvdec_without_gpu_is_a_clear_error(tmp_path, micro_ckpt):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    video = write_video(tmp_path / "v.mp4", n=8)
    opts = ExtractOptions(model=str(micro_ckpt), out_dir=tmp_path / "o", runtime="torch", decode="nvdec", progress=False)
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        extract([video], opts)
    assert not list((tmp_path / "o").rglob("*.npz"))
    # the command: one line and exit code 2, not a traceback
    result = CliRunner().invoke(app, ["features", str(video), "--model", str(micro_ckpt), "--out-dir", str(tmp_path / "o"), "--decode", "nvdec"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.output.strip().splitlines()[-1].startswith("error: --decode nvdec needs a CUDA GPU")


@pytest.mark.gpu
def test_nvdec_features_close_to_cpu_decoding(tmp_path, micro_ckpt):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    pytest.importorskip("torchcodec", reason="needs torchcodec with CUDA")
    video = write_video(tmp_path / "v.mp4", n=40, size=(320, 240))
    common = dict(model=str(micro_ckpt), runtime="torch", batch_size=4, workers=1, progress=False)
    cpu = extract([video], ExtractOptions(out_dir=tmp_path / "cpu", **common))
    gpu = extract([video], ExtractOptions(out_dir=tmp_path / "gpu", decode="nvdec", **common))
    assert cpu.ok == gpu.ok == 1
    a, b = np.load(tmp_path / "cpu" / "v.mp4.npz"), np.load(tmp_path / "gpu" / "v.mp4.npz")
    assert a["frame_range"].tolist() == b["frame_range"].tolist()
    np.testing.assert_allclose(a["time_range"], b["time_range"], atol=1e-3)
    cos = (a["features"] * b["features"]).sum(1) / np.linalg.norm(a["features"], axis=1) / np.linalg.norm(b["features"], axis=1)
    assert cos.min() > 0.98  # different resizers (swscale vs PyTorch), same content
