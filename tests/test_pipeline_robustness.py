"""The local pipeline under failure: a killed decode worker, a killed engine process, Ctrl-C; and the two
pieces that make a restart exact (the dataset's claims, the ledger that sends each record once)."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mosi_tool.pipeline.dataset import VideoDataset
from mosi_tool.pipeline.extract import ExtractOptions, extract
from mosi_tool.batch.jobs import find_inputs, plan
from mosi_tool.pipeline.local import _dead_workers, _Ledger
from mosi_tool.pipeline.local import _exited as local_exited
from mosi_tool.pipeline.messages import ClipMessage, DoneMessage, ErrorMessage
from mosi_tool.video.clips import ClipSpec

from .conftest import ROOT, write_video
from .test_features import outputs


@pytest.fixture(scope="module")
def longish(tmp_path_factory):
    root = tmp_path_factory.mktemp("longish")
    for i in range(8):
        write_video(root / f"v{i}.mp4", n=160, speed=1 + i % 3)
    return root


def children(spawned: bool) -> list[int]:
    """PIDs of this process's children, oldest first: spawned ones (device processes), or forked ones
    (DataLoader workers: the same command line as this process)."""
    found = []
    me = (Path("/proc") / str(os.getpid()) / "cmdline").read_bytes()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and (b"spawn_main" in cmd if spawned else cmd == me):
            found.append(int(entry.name))
    return sorted(found)


class KillWhenBusy(threading.Thread):
    """SIGKILL the child `pick(children)` as soon as the run has written its first output (so the run is
    in full flight); `.killed` tells whether it happened."""

    def __init__(self, pick, out: Path, spawned: bool):
        super().__init__(daemon=True)
        self.pick, self.out, self.spawned, self.killed = pick, out, spawned, False
        self.start()

    def run(self):
        deadline = time.time() + 120
        while not list(self.out.rglob("*.npz")) and time.time() < deadline:
            time.sleep(0.02)
        if kids := children(self.spawned):
            os.kill(self.pick(kids), signal.SIGKILL)
            self.killed = True


def failures(out: Path) -> list[dict]:
    path = out / "failures.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_killed_decoder_fails_its_video_and_the_run_goes_on(longish, tmp_path, micro_ckpt):
    common = dict(model=str(micro_ckpt), devices=["cpu"], runtime="torch", batch_size=4, queue_clips=8, progress=False)
    clean = extract([longish], ExtractOptions(out_dir=tmp_path / "clean", workers=0, **common))
    assert clean.ok == 8
    killer = KillWhenBusy(lambda kids: kids[0], tmp_path / "chaos", spawned=False)
    report = extract([longish], ExtractOptions(out_dir=tmp_path / "chaos", workers=2, **common))
    killer.join()
    assert killer.killed
    assert report.ok + report.failed == 8 and report.failed <= 1 and report.ok >= 7  # only the worker's own video
    # the loader's words: "killed by signal: Killed" (its SIGCHLD handler) or "exited unexpectedly" (its check)
    assert all(re.search(r"the decode worker died \((killed by signal: Killed|exited unexpectedly)\)$", f["error"]) for f in failures(tmp_path / "chaos"))
    assert len(failures(tmp_path / "chaos")) == report.failed
    done = outputs(tmp_path / "chaos")
    assert all(done[k] == v for k, v in outputs(tmp_path / "clean").items() if k in done)  # the restart changed no byte
    again = extract([longish], ExtractOptions(out_dir=tmp_path / "chaos", workers=2, **common))
    assert again.failed == 0 and outputs(tmp_path / "chaos") == outputs(tmp_path / "clean")


def test_killed_engine_process_others_go_on(longish, tmp_path, micro_ckpt):
    common = dict(model=str(micro_ckpt), runtime="torch", batch_size=4, queue_clips=8, workers=1, progress=False)
    # one process per device; kill the second
    killer = KillWhenBusy(lambda kids: kids[-1], tmp_path / "chaos", spawned=True)
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


def test_workers_claim_disjoint_shares_and_name_what_they_held(longish, tmp_path):
    """Each video is decoded by exactly one worker, whatever the number of workers; `claimed` names a
    worker's video by its process id."""
    from torch.utils.data import DataLoader

    jobs = plan(find_inputs([longish]), tmp_path)
    spec = ClipSpec(stack=8, size=32, step=40)
    for workers in (0, 2):
        dataset = VideoDataset(jobs, spec, 0, workers)
        loader = DataLoader(dataset, batch_size=None, num_workers=workers, in_order=False)
        ends = [m.job for m in loader if not isinstance(m, ClipMessage)]
        assert sorted(ends) == [j.index for j in jobs]  # one end record per video: none twice, none lost
    assert dataset.claimed({dataset.pids[0]}) == [jobs[dataset.current[0]].index] and dataset.claimed({-1}) == []


def test_the_dataloader_message_names_the_dead_workers():
    assert _dead_workers("DataLoader worker (pid 1234) is killed by signal: Killed. ") == ({1234}, "killed by signal: Killed")
    assert _dead_workers("DataLoader worker (pid(s) 12, 13) exited unexpectedly") == ({12, 13}, "exited unexpectedly")


def test_after_a_restart_each_record_reaches_the_writer_once():
    got = []
    ledger = _Ledger(got.append)
    feat = [ClipMessage(1, k, None, (0, 0), (0.0, 0.0), 0) for k in range(2)]
    done = DoneMessage(1, 2, {}, 0.1)
    for msg in (feat[0], done, feat[0], done, feat[1], feat[1], ErrorMessage(1, "late")):  # round 1, then 2
        ledger(msg)
    assert got == [feat[0], done, feat[1]] and ledger.ended == {1} and not ledger.sent
    got.clear()
    short, failed = DoneMessage(2, 2, {}, 0.1), ErrorMessage(2, "the decode worker died")  # one clip never came
    for msg in (short, short, failed, failed):
        ledger(msg)
    assert got == [short, failed] and ledger.ended == {1, 2} and not ledger.sent


class ResetAfterAClip:
    """A DataLoader iterator whose first started worker is killed after the third record, which then fails as taking
    in a clip from a dead worker does."""

    def __init__(self, batches, pids):
        self.batches, self.pids, self.n = batches, pids, 0
        self._shutdown_workers = batches._shutdown_workers

    def __iter__(self):
        return self

    def __next__(self):
        self.n += 1
        if self.n == 4:
            os.kill(next(p for p in self.pids if p > 0), signal.SIGKILL)  # a worker that started (0: the group)
            raise ConnectionResetError(104, "Connection reset by peer")
        return next(self.batches)


def test_a_worker_killed_while_its_clip_is_in_flight_fails_only_its_video(longish, tmp_path, micro_ckpt, monkeypatch):
    """A worker killed just after queueing a clip makes taking in the clip's shared memory fail (a reset
    connection), not the loader's own "worker died" error: the same recovery, deterministically staged."""
    from mosi_tool.pipeline import local

    real, calls = local._loader, []

    def staged(*args):
        dataset, loader = real(*args)
        calls.append(1)
        if len(calls) > 1:
            return dataset, loader

        return dataset, ResetAfterAClip(iter(loader), dataset.pids)

    monkeypatch.setattr(local, "_loader", staged)
    common = dict(model=str(micro_ckpt), devices=["cpu"], runtime="torch", batch_size=4, queue_clips=8, progress=False)
    report = extract([longish], ExtractOptions(out_dir=tmp_path / "chaos", workers=2, **common))
    assert len(calls) == 2 and report.failed == 1 and report.ok == 7, failures(tmp_path / "chaos")
    assert [f["error"].endswith("the decode worker died (killed by signal: Killed)") for f in failures(tmp_path / "chaos")] == [True]


def test_exited_reads_a_dead_childs_signal():
    pid = os.fork()
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    os.kill(pid, signal.SIGKILL)
    try:
        assert local_exited([pid]) == {pid: "killed by signal: Killed"}
    finally:
        os.waitpid(pid, 0)
    assert local_exited([pid], wait_s=0) == {pid: "exited unexpectedly"}  # reaped: gone
    assert local_exited([os.getpid()], wait_s=0) == {}
