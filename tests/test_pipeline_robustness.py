"""The local pipeline under failure: a killed decode process (also while it waits for a slot), a killed
engine process, Ctrl-C."""

import json
import multiprocessing as mp
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mosi_tool.pipeline.decoders import DecoderPool
from mosi_tool.pipeline.extract import ExtractOptions, extract
from mosi_tool.pipeline.jobs import find_inputs, plan
from mosi_tool.pipeline.slots import SlotLedger, SlotPool
from mosi_tool.video.clips import Sampling

from .conftest import ROOT, write_video
from .test_features import outputs


@pytest.fixture(scope="module")
def longish(tmp_path_factory):
    root = tmp_path_factory.mktemp("longish")
    for i in range(8):
        write_video(root / f"v{i}.mp4", n=160, speed=1 + i % 3)
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


class KillWhenBusy(threading.Thread):
    """SIGKILL the child `pick(children)` as soon as the run has written its first output (so the run is
    in full flight); `.killed` tells whether it happened."""

    def __init__(self, pick, out: Path):
        super().__init__(daemon=True)
        self.pick, self.out, self.killed = pick, out, False
        self.start()

    def run(self):
        deadline = time.time() + 120
        while not list(self.out.rglob("*.npz")) and time.time() < deadline:
            time.sleep(0.02)
        if kids := spawned_children():
            os.kill(self.pick(kids), signal.SIGKILL)
            self.killed = True


def failures(out: Path) -> list[dict]:
    path = out / "failures.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_killed_decoder_is_reported_and_replaced(longish, tmp_path, micro_ckpt):
    common = dict(model=str(micro_ckpt), devices=["cpu"], runtime="torch", batch_size=4, queue_clips=8, progress=False)
    clean = extract([longish], ExtractOptions(out_dir=tmp_path / "clean", workers=0, **common))
    assert clean.ok == 8
    killer = KillWhenBusy(lambda kids: kids[0], tmp_path / "chaos")
    report = extract([longish], ExtractOptions(out_dir=tmp_path / "chaos", workers=2, **common))
    killer.join()
    assert killer.killed
    assert report.ok + report.failed == 8 and report.ok >= 6  # it went on with a replacement worker
    assert all("the decode process died (SIGKILL)" in f["error"] or "no result" in f["error"] for f in failures(tmp_path / "chaos"))
    assert len(failures(tmp_path / "chaos")) == report.failed
    again = extract([longish], ExtractOptions(out_dir=tmp_path / "chaos", workers=2, **common))
    assert again.failed == 0 and outputs(tmp_path / "chaos") == outputs(tmp_path / "clean")


def test_killed_engine_process_others_go_on(longish, tmp_path, micro_ckpt):
    common = dict(model=str(micro_ckpt), runtime="torch", batch_size=4, queue_clips=8, workers=1, progress=False)
    # children start in order: one decoder, then the two engine processes; kill the last engine
    killer = KillWhenBusy(lambda kids: kids[-1], tmp_path / "chaos")
    report = extract([longish], ExtractOptions(out_dir=tmp_path / "chaos", devices=["cpu", "cpu"], **common))
    killer.join()
    assert killer.killed
    assert report.ok + report.failed == 8 and report.ok >= 1
    assert all("the engine process on cpu died (SIGKILL)" in f["error"] for f in failures(tmp_path / "chaos"))
    again = extract([longish], ExtractOptions(out_dir=tmp_path / "chaos", devices=["cpu", "cpu"], **common))
    assert again.failed == 0 and again.skipped + again.ok == 8
    assert not failures(tmp_path / "chaos")


def test_ctrl_c_stops_quickly_and_cleanly(longish, tmp_path, micro_ckpt):
    for attempt in range(3):  # on a fast machine the job can finish before the signal lands: that run tests nothing
        out = tmp_path / f"out{attempt}"
        cmd = [sys.executable, "-m", "mosi_tool", "features", str(longish), "--model", str(micro_ckpt), "--out-dir", str(out),
               "--workers", "2", "--batch-size", "4", "--runtime", "torch", "--step", "1"]  # dense clips: work left after the first file
        # SIGINT back to its default in the job: a shell runs background commands (`make test &`) with it ignored,
        # and an ignored signal is inherited, so Ctrl-C would never land
        proc = subprocess.Popen(cmd, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
        deadline = time.time() + 120
        while not list(out.rglob("*.npz")) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends: the whole process group
        t0 = time.time()
        text = proc.communicate(timeout=30)[0].decode()
        if not (proc.returncode == 0 and len(list(out.rglob("*.npz"))) == 8):
            break
    else:
        pytest.skip("the job finished before Ctrl-C could land, 3 times: all files are written together at the end here")
    assert time.time() - t0 < 15, text
    assert proc.returncode != 0, (len(list(out.rglob("*.npz"))), text)
    assert "Traceback" not in text.replace("KeyboardInterrupt", ""), text  # one clean message, not a trace per child
    assert proc.returncode == 130 and "interrupted: the finished files" in text and "run the same command again" in text, text
    deadline = time.time() + 5  # no stray children (the resource tracker takes a moment to notice)
    while (left := [p for p in Path("/proc").iterdir() if p.name.isdigit() and _in_group(p, proc.pid)]) and time.time() < deadline:
        time.sleep(0.1)
    assert not left
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    rerun = subprocess.run(cmd, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, timeout=300)
    assert rerun.returncode == 0 and len(list(out.rglob("*.npz"))) == 8


def _in_group(proc_dir: Path, pgid: int) -> bool:
    try:
        return int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid
    except (OSError, IndexError, ValueError):
        return False


def test_decoder_killed_while_waiting_for_a_slot_harms_only_its_video(longish, tmp_path):
    """The jam that shared queues allow: a decoder dies while it waits for a free shared-memory slot."""
    sampling = Sampling(stack=8, size=32)
    jobs = plan(find_inputs([longish]), tmp_path)
    slots, ledger = SlotPool(2, (8, 32, 32, 3)), SlotLedger(2)
    got: queue.Queue = queue.Queue()
    pool = DecoderPool(mp.get_context("spawn"), 2, jobs, got.put, (sampling, None, None, "cpu"), slots.spec(), ledger)
    try:
        held = [got.get(timeout=60) for _ in range(2)]  # both slots are out and nobody frees them...
        assert [m[0] for m in held] == ["clip", "clip"] and ledger.free == 0
        time.sleep(1.0)  # ...so both decoders now wait for a slot
        victim = pool.decoders[0]
        os.kill(victim.proc.pid, signal.SIGKILL)
        for m in held:
            ledger.release(m[3])
        ended: dict[int, str] = {}
        while (msg := got.get(timeout=60))[0] != "stop":
            if msg[0] == "clip":
                ledger.release(msg[3])
            else:
                ended[msg[1]] = msg[0] if msg[0] == "done" else msg[2]
    finally:
        pool.stop()
        slots.close()
    assert sorted(ended) == [j.index for j in jobs]
    assert {k: v for k, v in ended.items() if v != "done"} == {victim.job.index: f"{victim.job.path}: the decode process died (SIGKILL)"}
    assert ledger.free == 2  # the slot the dead decoder may have been granted came back
