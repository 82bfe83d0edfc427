"""bench/gpu_check.py without a GPU: the dry run CI runs, the time limits, failures recorded while the run
goes on, the report, and the helpers (bundle, table parsing, CPU-vs-device metrics)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import gpu_bundle  # noqa: E402
import gpu_check  # noqa: E402
import gpu_compare  # noqa: E402
from gpu_check import Context, Folders, Need, Step, StepResult  # noqa: E402


def test_dry_run_passes_on_a_fresh_clone(tmp_path):
    """No wheels, no bundle, no ../shared: reported, not fatal; every step listed with its time."""
    env = {k: v for k, v in __import__("os").environ.items() if k != "MOSI_SHARED_DATA"}
    argv = [sys.executable, "bench/gpu_check.py", "--dry-run", "--wheels", str(tmp_path / "w"), "--bundle", str(tmp_path / "b")]
    run = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    for step in gpu_check.STEPS:
        assert step.name in run.stdout
    assert "run `make gpu-wheels`" in run.stdout and "run `make gpu-bundle`" in run.stdout
    assert "tests/test_cuda.py" in run.stdout  # what pytest -m gpu collects
    strict = subprocess.run(argv + ["--strict"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert strict.returncode == 1 and "dry run: FAILED" in strict.stdout


def test_dry_run_fails_on_a_missing_repo_file_or_flag(tmp_path, capsys):
    def noop(ctx):  # pragma: no cover - a dry run runs nothing
        raise AssertionError

    folders = Folders(tmp_path, tmp_path)
    good = Step("a", "something", 1, 2, [Need("bench/runtimes.py")], noop, {"bench/runtimes.py": ("--device",)})
    assert gpu_check.dry_run([good], folders) == 0
    gone = Step("b", "something", 1, 2, [Need("bench/no_such_script.py")], noop)
    assert gpu_check.dry_run([good, gone], folders) == 1
    assert "missing from the repository: bench/no_such_script.py (for b)" in capsys.readouterr().out
    renamed = Step("c", "something", 1, 2, [], noop, {"bench/runtimes.py": ("--no-such-flag",)})
    assert gpu_check.dry_run([renamed], folders) == 1
    assert "bench/runtimes.py no longer takes --no-such-flag" in capsys.readouterr().out
    slow = Step("d", "something", 1, gpu_check.DEADLINE_S + 1, [], noop)
    assert gpu_check.dry_run([slow], folders) == 1


def test_every_step_fits_the_deadline_and_the_deadline_fits_8_minutes():
    assert sum(s.budget_s for s in gpu_check.STEPS) <= gpu_check.DEADLINE_S < 8 * 60 - 10
    assert all(s.expected_s <= s.budget_s for s in gpu_check.STEPS)


def test_saved_time_rolls_forward_but_later_budgets_are_kept():
    steps = [Step(n, "", 1, b, [], lambda ctx: None) for n, b in (("a", 10), ("b", 20), ("c", 30))]  # type: ignore[arg-type, return-value]
    assert gpu_check.limit_for(0, steps, 60) == 10
    assert gpu_check.limit_for(1, steps, 55) == 25  # a took 5 of its 10 s
    assert gpu_check.limit_for(2, steps, 20) == 20  # b overran nothing, c gets what is left


def _ctx(tmp_path, device="cpu") -> Context:
    work = tmp_path / "work"
    work.mkdir()
    folders = Folders(tmp_path / "wheels", tmp_path / "bundle")
    return Context(device, folders, work, tmp_path / "log.txt", gpu_check.child_env(folders.data(), work))


def test_failures_and_timeouts_are_recorded_and_the_run_goes_on(tmp_path):
    def ok(ctx):
        return gpu_check._result("ok", ctx.call([sys.executable, "-c", "print('fine')"], "ok"), True, "fine")

    def raises(ctx):
        raise RuntimeError("broken step")

    def hangs(ctx):
        call = ctx.call([sys.executable, "-c", "import time; time.sleep(60)"], "hangs")
        return gpu_check._result("hangs", call, call.rc == 0, "slept")

    steps = [Step("raises", "", 1, 2, [], raises), Step("hangs", "", 1, 2, [], hangs),
             Step("missing", "", 1, 2, [Need("no/such/file")], ok), Step("ok", "", 1, 30, [], ok)]  # fmt: skip
    ctx = _ctx(tmp_path)
    ctx.log.write_text("")
    t0 = time.monotonic()
    results = gpu_check.run_steps(steps, ctx, deadline_s=36)
    assert time.monotonic() - t0 < 36
    assert [(r.name, r.status) for r in results] == [("raises", "failed"), ("hangs", "timed out"), ("missing", "failed"), ("ok", "ok")]
    assert "RuntimeError: broken step" in results[0].summary
    assert results[1].summary.startswith("killed at its") and results[1].seconds < 10
    assert "no/such/file" in results[2].summary
    assert "fine" in ctx.log.read_text()

    out = tmp_path / "report"
    out.mkdir()
    bench = tmp_path / "BENCHMARKS.md"
    bench.write_text("# Benchmarks\n\nolder sections\n")
    md = gpu_check.write_report(out, results, {"torch": "2.x", "gpu": "Some GPU", "compute_capability": "9.0", "gpu_memory_gib": 139.8},
                                "python bench/gpu_check.py", 12.0, bench)  # fmt: skip
    doc = json.loads((out / "gpu_check.json").read_text())
    assert doc["ok"] is False and [s["status"] for s in doc["steps"]] == ["failed", "timed out", "failed", "ok"]
    assert (out / "gpu_check.md").read_text() == md and md.startswith("## GPU check: Some GPU")
    assert "| hangs | timed out |" in md
    summary = bench.read_text()
    assert summary.startswith("# Benchmarks\n\nolder sections\n\n<!-- area: bench/gpu_check.py -->\n## GPU check") and "| hangs | timed out |" in summary
    assert [f.read_text() for f in (tmp_path / "benchmarks").iterdir()] == [md]


def test_no_cuda_skips_everything_after_env(tmp_path):
    def env(ctx):
        ctx.facts["cuda_available"] = False
        return StepResult("env", "failed", summary="missing: CUDA")

    steps = [Step("env", "", 1, 2, [], env), Step("next", "", 1, 2, [], env)]
    results = gpu_check.run_steps(steps, _ctx(tmp_path, device="cuda"), deadline_s=4)
    assert [(r.name, r.status, r.summary) for r in results] == [("env", "failed", "missing: CUDA"), ("next", "skipped", "no CUDA device")]


def test_tables_of_runtimes_and_train_reports_parse():
    text = "## CPU\n\n- threads: 2\n\n| runtime | precision | batch | clips/s | vs eager fp32 |\n|---|---|---:|---:|---:|\n" \
           "| torch | fp32 | 1 | 1.80 | 1.00x |\n| onnx | fp32 | 8 | 2.23 | 1.16x |\n\n| other | table |\n|---|---|\n| x | y |\n"  # fmt: skip
    rows = gpu_check.parse_table(text)
    assert rows == [
        {"runtime": "torch", "precision": "fp32", "batch": 1.0, "clips/s": 1.8, "vs eager fp32": "1.00x"},
        {"runtime": "onnx", "precision": "fp32", "batch": 8.0, "clips/s": 2.23, "vs eager fp32": "1.16x"},
    ]
    assert gpu_check.parse_table("no table here") == []


def test_cosine_and_correlation():
    a = np.random.default_rng(0).normal(size=(4, 512)).astype(np.float32)
    np.testing.assert_allclose(gpu_compare.clip_cosine(a, a), 1.0, atol=1e-6)
    np.testing.assert_allclose(gpu_compare.clip_cosine(a, -a), -1.0, atol=1e-6)
    np.testing.assert_allclose(gpu_compare.clip_cosine(np.eye(2), np.eye(2)[::-1]), 0.0, atol=1e-12)
    maps = np.random.default_rng(1).random((3, 8, 10)).astype(np.float16)
    assert gpu_compare.map_correlation(maps, maps) == pytest.approx(1.0)
    assert gpu_compare.map_correlation(maps, 1 - maps) == pytest.approx(-1.0, abs=1e-3)
    assert gpu_compare.map_correlation(np.zeros((2, 2, 2)), np.zeros((2, 2, 2))) == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        gpu_compare.map_correlation(maps, maps[:2])


def test_compare_on_cpu_runs_end_to_end(moving_square_video, tmp_path):
    out = tmp_path / "compare.json"
    argv = [sys.executable, "bench/gpu_compare.py", "--device", "cpu", "--models", "default", "--videos", str(moving_square_video), "--out", str(out)]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads(out.read_text())
    model = data["models"]["default"]
    assert data["ok"] and "random-init" in model["about"]
    feats, maps = model["features"]["square.mp4"], model["saliency"]["square.mp4"]
    assert feats["clips"] >= 1 and feats["fp32"]["min"] > 0.9999 and feats["bf16"]["min"] > 0.99
    assert maps["frames"] == 40 and maps["size"] == [64, 80] and maps["correlation"] > 0.9999  # the model's input size
    assert "| default | square.mp4 |" in gpu_check.compare_markdown(data)


def test_bundle_copies_videos_images_and_a_manifest(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    for v in gpu_bundle.VIDEOS:
        (shared / "videos").mkdir(parents=True, exist_ok=True)
        (shared / "videos" / v).write_bytes(b"v" * 10)
    for c in ("n2", "n1", "n3"):
        folder = shared / gpu_bundle.IMAGES / c
        folder.mkdir(parents=True)
        for name in ("b.JPEG", "a.JPEG"):
            (folder / name).write_bytes(b"i" * 5)
    monkeypatch.setattr(gpu_bundle, "_default_model", lambda: None)
    files = gpu_bundle.build(shared, tmp_path / "bundle", images=2)
    images = sorted(f for f in files if f.startswith("data/images"))
    assert images == [f"data/{gpu_bundle.IMAGES}/n1/a.JPEG", f"data/{gpu_bundle.IMAGES}/n2/a.JPEG"]
    assert all(f"data/videos/{v}" in files for v in gpu_bundle.VIDEOS)
    assert json.loads((tmp_path / "bundle" / "manifest.json").read_text())["files"] == files
    (shared / "videos" / gpu_bundle.VIDEOS[0]).unlink()
    with pytest.raises(FileNotFoundError, match=gpu_bundle.VIDEOS[0]):
        gpu_bundle.build(shared, tmp_path / "bundle", images=2)
