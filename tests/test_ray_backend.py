"""The Ray Data backend: byte-identical files to the local backend, the same failures, resume."""

import json
import sys
from pathlib import Path

import pytest

from mosi_tool.pipeline.extract import ExtractOptions, extract

from .conftest import write_video
from .test_features import outputs

ray = pytest.importorskip("ray", reason="ray is not installed (pip install mosi-tool[ray])")


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Videos of several lengths (one shorter than a clip), a frame-rate variant, and two bad files."""
    root = tmp_path_factory.mktemp("ray_videos")
    for i, n in enumerate((40, 28, 3, 33, 17)):
        write_video(root / f"v{i}.mp4", n=n, speed=1 + i % 3)
    (root / "sub").mkdir()
    write_video(root / "sub" / "v0.mp4", n=21, speed=2)  # same name in another folder
    (root / "text.mp4").write_text("not a video\n" * 10)
    (root / "zero.mp4").write_bytes(b"")
    return root


def failures(out: Path) -> dict[str, str]:
    return {Path(e["path"]).name: e["error"] for e in map(json.loads, (out / "failures.jsonl").read_text().splitlines())}


@pytest.mark.slow  # two local Ray clusters start and stop: 25-45 s on 2 shared cores
def test_ray_matches_local_and_resumes(videos, tmp_path, micro_ckpt):
    common = dict(model=str(micro_ckpt), devices=["cpu"], runtime="torch", batch_size=4, progress=False)
    local = extract([videos], ExtractOptions(out_dir=tmp_path / "local", workers=2, **common))
    assert (local.ok, local.failed) == (6, 2)

    opts = ExtractOptions(out_dir=tmp_path / "ray", workers=2, backend="ray", **common)
    report = extract([videos], opts)
    assert (report.ok, report.failed, report.clips) == (local.ok, local.failed, local.clips)
    assert report.times.clips == local.clips and report.times.batches >= -(-local.clips // 4)
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")  # byte for byte
    assert failures(tmp_path / "ray") == failures(tmp_path / "local")
    assert sorted(failures(tmp_path / "ray")) == ["text.mp4", "zero.mp4"]

    # Resume: a finished file is skipped, a deleted one redone identically; failures retried, listed once.
    first = outputs(tmp_path / "ray")
    (tmp_path / "ray" / "v1.mp4.npz").unlink()
    again = extract([videos], opts)
    assert (again.skipped, again.ok, again.failed) == (5, 1, 2)
    assert outputs(tmp_path / "ray") == first
    assert len((tmp_path / "ray" / "failures.jsonl").read_text().splitlines()) == 2


def test_missing_ray_is_a_clear_error(monkeypatch):
    from mosi_tool.batch.ray_session import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(RuntimeError, match=r"Ray is not installed: pip install mosi-tool\[ray\]"):
        import_ray()
