"""The per-video batch machinery (`batch.per_video`): a worker process that dies, inputs without videos."""

import os
import signal
from pathlib import Path

import pytest

from mosi_tool.batch.jobs import VideoJob
from mosi_tool.batch.failures import FailureLog
from mosi_tool.batch.per_video import run_jobs


def _work(job: VideoJob) -> list[str]:
    """Kills its own process on the video named "crash"; the others take a moment (so several are in flight)."""
    import time

    if Path(job.path).stem == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.3)
    return []


def test_a_video_that_kills_its_worker_fails_alone(tmp_path):
    """When a worker dies the pool breaks and every video in flight with it looks failed: they are run again
    alone, so only the video that kills its process fails, the others succeed."""
    names = ["a", "b", "crash", "c", "d", "e"]
    todo = [VideoJob(i, str(tmp_path / f"{n}.mp4"), str(tmp_path / "out" / f"{n}.npz")) for i, n in enumerate(names)]
    (tmp_path / "out").mkdir()
    outcomes = run_jobs(todo, _work, FailureLog(tmp_path / "out"), workers=2)
    failed = sorted(Path(o.job.path).stem for o in outcomes if o.error)
    ok = sorted(Path(o.job.path).stem for o in outcomes if not o.error)
    assert failed == ["crash"] and ok == ["a", "b", "c", "d", "e"], outcomes
    assert "worker process stopped" in next(o.error for o in outcomes if o.error)


def test_an_input_without_videos_says_so(tmp_path):
    """An empty or mistyped folder ran as "0 written ... of 0 videos" and exit 0, with no word about why; then
    with a warning, and still exit 0: it is an error, as a missing input is."""
    from mosi_tool.batch.per_video import plan_jobs

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=f"^no videos found in {tmp_path / 'in'} "):
        plan_jobs([tmp_path / "in"], None, tmp_path / "out", None)


def test_an_input_folder_inside_the_out_dir_is_said_with_the_reason(tmp_path, capsys):
    """What a folder search finds inside --out-dir is taken for a run's own outputs; with the out-dir the input
    folder itself or above it (`targets videos/ -o videos/`) every video was skipped, and the run said only
    "no videos found in videos/ (videos are found by their suffix ...)"."""
    from mosi_tool.batch.per_video import plan_jobs

    (tmp_path / "in" / "sub").mkdir(parents=True)
    for name in ("a.mp4", "sub/b.mp4"):
        (tmp_path / "in" / name).write_bytes(b"x")
    for out in (tmp_path / "in", tmp_path):
        with pytest.raises(FileNotFoundError, match=f"^no videos to process: those found lie inside --out-dir {out}$"):
            plan_jobs([tmp_path / "in"], None, out, None)
        err = capsys.readouterr().err
        assert f"warning: {tmp_path / 'in'}: 2 videos skipped: the folder lies inside --out-dir {out}" in err, err
        assert "no videos found" not in err
    # an out-dir inside the input folder: its own files are skipped without a word, the other videos kept
    planned = plan_jobs([tmp_path / "in"], None, tmp_path / "in" / "sub", None)
    assert [Path(j.path).name for j in planned.jobs] == ["a.mp4"] and "skipped" not in capsys.readouterr().err


def test_workers_exit_when_the_run_is_killed(tmp_path):
    """A batch run killed with SIGKILL cannot stop its worker processes: they notice the parent is gone and
    exit, rather than finishing their videos for nobody and then waiting for ever."""
    import subprocess
    import sys
    import time

    code = (
        "import sys, time\nfrom pathlib import Path\nfrom mosi_tool.batch.jobs import VideoJob\n"
        "from mosi_tool.batch.failures import FailureLog\nfrom mosi_tool.batch.per_video import run_jobs\n"
        "from tests.test_per_video_pool import _slow\n"
        "d = Path(sys.argv[1])\n"
        "todo = [VideoJob(i, str(d / f'{i}.mp4'), str(d / f'{i}.npz')) for i in range(8)]\n"
        "run_jobs(todo, _slow, FailureLog(d), workers=2)\n"
    )
    root = Path(__file__).resolve().parents[1]
    main = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=root)

    def children() -> list[int]:
        kids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == main.pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes():  # not the resource tracker
                kids.append(int(stat.parent.name))
        return kids

    deadline = time.monotonic() + 120
    while len(workers := [k for k in children() if (tmp_path / "started").exists()]) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(workers) >= 2, "the workers did not start"
    main.kill()
    main.wait()
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{w}").exists() and "Z" not in (Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1].split()[0]) for w in workers):
        assert time.monotonic() < deadline, "workers still running after their parent was killed"
        time.sleep(0.2)


def _slow(job: VideoJob) -> list[str]:
    """Marks that a job started, then takes long (the run is killed meanwhile)."""
    import time

    (Path(job.out).parent / "started").touch()
    time.sleep(60)
    return []


def test_an_interrupted_pool_cancels_its_queue_and_stops_its_workers_at_once():
    """Ctrl-C in a `-j N` run: no queued video starts after it, and the videos in flight stop (before, the run
    waited for them and for the queue's next ones)."""
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    import pytest

    from mosi_tool.batch.per_video import _stopped_at_once

    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with _stopped_at_once(ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))) as pool:
            running, _, queued = (pool.submit(time.sleep, 60) for _ in range(3))  # the 2nd is already handed over
            while not running.running():
                time.sleep(0.05)
            workers = list(pool._processes.values())
            raise KeyboardInterrupt
    from concurrent.futures import wait

    wait([queued], timeout=10)  # the pool's manager thread settles it: cancelled, or failed with the pool
    assert queued.cancelled() or queued.exception(0) is not None
    for process in workers:
        process.join(10)
        assert not process.is_alive()
    assert time.monotonic() - t0 < 30


def test_a_ray_session_keeps_the_runs_sigterm_handler_and_exit_status(monkeypatch):
    """`ray.init` installs its own SIGTERM handler in the driver (a stack dump and exit status 1), and a
    handler's exception inside a blocking Ray call comes out as Ray's SystemExit(1): within a session the
    run's handler (`terminate_as_exit`) still runs, and the run still ends with status 143."""
    import types

    from mosi_tool.batch import ray_session
    from mosi_tool.cli.signals import terminate_as_exit

    def init(**kwargs):
        signal.signal(signal.SIGTERM, lambda *a: None)  # what Ray does
        fake.up = True

    def wait():  # Ray's blocking call: the handler's exception comes out as SystemExit(1)
        try:
            signal.raise_signal(signal.SIGTERM)
        except SystemExit:
            raise SystemExit(1) from None

    fake = types.SimpleNamespace(up=False, is_initialized=lambda: fake.up, init=init, shutdown=lambda: None)
    monkeypatch.setattr(ray_session, "import_ray", lambda: fake)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with terminate_as_exit():
        ours = signal.getsignal(signal.SIGTERM)
        with pytest.raises(SystemExit) as stopped:
            with ray_session.ray_session(1):
                wait()
        assert stopped.value.code == 143 and signal.getsignal(signal.SIGTERM) is ours
        fake.up = False
        with pytest.raises(SystemExit) as other:  # Ray's own exit, with no signal, is left as it is
            with ray_session.ray_session(1):
                raise SystemExit(1)
        assert other.value.code == 1


@pytest.mark.parametrize("stop", [SystemExit(143), KeyboardInterrupt()])
def test_a_stop_reported_as_a_system_error_stops_the_run(tmp_path, stop):
    """A SIGTERM or Ctrl-C whose handler raises while compiled code runs (targets' numba tracker) comes out
    as "SystemError: ... returned a result with an exception set", caused by the interruption: the run
    recorded the video as failed and went on to the next one, instead of stopping (exit 143 / 130)."""
    done: list[str] = []

    def work(job: VideoJob) -> list[str]:
        done.append(job.path)
        try:
            raise stop
        except BaseException as e:
            raise SystemError("<function _track> returned a result with an exception set") from e

    todo = [VideoJob(i, str(tmp_path / f"{i}.mp4"), str(tmp_path / f"{i}.npz")) for i in range(2)]
    with pytest.raises(type(stop)):
        run_jobs(todo, work, FailureLog(tmp_path), workers=0)
    assert len(done) == 1 and not (tmp_path / "failures.jsonl").exists()


def _spill_and_crash(job: VideoJob) -> list[str]:
    """Makes a temporary file beside its output, as `targets` spills its rows; kills its process on "crash"."""
    from mosi_tool.atomic import create_temp

    create_temp(job.out)
    if Path(job.path).stem == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    for tmp in Path(job.out).parent.glob(f".{Path(job.out).name}.*"):
        tmp.unlink()
    return []


def test_a_killed_worker_leaves_no_temporary_file_once_the_run_ends(tmp_path):
    """A worker killed by the OOM killer left the rows it had spilled (GBs for a long video) beside the outputs
    until the next run into that folder, although this run saw it die and ran its video again."""
    todo = [VideoJob(i, str(tmp_path / f"{n}.mp4"), str(tmp_path / "out" / f"{n}.npz")) for i, n in enumerate(["a", "crash", "b"])]
    (tmp_path / "out").mkdir()
    outcomes = run_jobs(todo, _spill_and_crash, FailureLog(tmp_path / "out"), workers=2)
    assert sorted(Path(o.job.path).stem for o in outcomes if o.error) == ["crash"]
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")] == []
