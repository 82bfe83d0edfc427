"""The local pipeline under failure: a killed decode process, a killed engine process, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mosi_tool.pipeline.extract import ExtractOptions, extract

from .conftest import ROOT, write_video
from .test_features import outputs


@pytest.fixture(scope="module")
def longish(tmp_path_factory):
    root = tmp_path_factory.mktemp("longish")
    for i in range(6):
        write_video(root / f"v{i}.mp4", n=100, speed=1 + i % 3)
    return root


def spawned_children() -> list[int]:
    """PIDs of this process's multiprocessing children (spawned workers, not the resource tracker), oldest first."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"spawn_main" in cmd:
            found.append(int(entry.name))
    return sorted(found)


def kill_child_later(pick, count: int) -> threading.Thread:
    """SIGKILL the child `pick(children)` once `count` children are up and have worked for a moment."""

    def go():
        deadline = time.time() + 60
        while len(kids := spawned_children()) < count and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)
        os.kill(pick(spawned_children()), signal.SIGKILL)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def failures(out: Path) -> list[dict]:
    path = out / "failures.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_killed_decoder_is_reported_and_replaced(longish, tmp_path, micro_ckpt):
    common = dict(model=str(micro_ckpt), devices=["cpu"], runtime="torch", batch_size=4, queue_clips=8, progress=False)
    clean = extract([longish], ExtractOptions(out_dir=tmp_path / "clean", workers=0, **common))
    assert clean.ok == 6
    killer = kill_child_later(lambda kids: kids[0], count=2)
    report = extract([longish], ExtractOptions(out_dir=tmp_path / "chaos", workers=2, **common))
    killer.join()
    assert report.ok + report.failed == 6 and report.ok >= 4  # it went on with a replacement worker
    assert all("the decode process died (SIGKILL)" in f["error"] or "no result" in f["error"] for f in failures(tmp_path / "chaos"))
    assert len(failures(tmp_path / "chaos")) == report.failed
    again = extract([longish], ExtractOptions(out_dir=tmp_path / "chaos", workers=2, **common))
    assert again.failed == 0 and outputs(tmp_path / "chaos") == outputs(tmp_path / "clean")


def test_killed_engine_process_others_go_on(longish, tmp_path, micro_ckpt):
    common = dict(model=str(micro_ckpt), runtime="torch", batch_size=4, queue_clips=8, workers=1, progress=False)
    # children start in order: one decoder, then the two engine processes; kill the last engine
    killer = kill_child_later(lambda kids: kids[-1], count=3)
    report = extract([longish], ExtractOptions(out_dir=tmp_path / "chaos", devices=["cpu", "cpu"], **common))
    killer.join()
    assert report.ok + report.failed == 6 and report.ok >= 1
    again = extract([longish], ExtractOptions(out_dir=tmp_path / "chaos", devices=["cpu", "cpu"], **common))
    assert again.failed == 0 and again.skipped + again.ok == 6
    assert not failures(tmp_path / "chaos")


def test_ctrl_c_stops_quickly_and_cleanly(longish, tmp_path, micro_ckpt):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mosi_tool", "features", str(longish), "--model", str(micro_ckpt), "--out-dir", str(out),
           "--workers", "2", "--batch-size", "4", "--runtime", "torch"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    deadline = time.time() + 120
    while not list(out.rglob("*.npz")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends: the whole process group
    t0 = time.time()
    text = proc.communicate(timeout=30)[0].decode()
    assert time.time() - t0 < 15, text
    assert proc.returncode != 0
    assert "Traceback" not in text.replace("KeyboardInterrupt", ""), text  # one clean message, not a trace per child
    deadline = time.time() + 5  # no stray children (the resource tracker takes a moment to notice)
    while (left := [p for p in Path("/proc").iterdir() if p.name.isdigit() and _in_group(p, proc.pid)]) and time.time() < deadline:
        time.sleep(0.1)
    assert not left
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    rerun = subprocess.run(cmd, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, timeout=300)
    assert rerun.returncode == 0 and len(list(out.rglob("*.npz"))) == 6


def _in_group(proc_dir: Path, pgid: int) -> bool:
    try:
        return int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid
    except (OSError, IndexError, ValueError):
        return False
