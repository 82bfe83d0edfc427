"""The per-video batch machinery (`batch.per_video`): a worker process that dies, inputs without videos."""

import os
import signal
from pathlib import Path

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


def test_an_input_without_videos_says_so(tmp_path, capsys):
    """An empty or mistyped folder ran as "0 written ... of 0 videos" and exit 0, with no word about why."""
    from mosi_tool.batch.per_video import plan_jobs

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("x")
    planned = plan_jobs([tmp_path / "in"], None, tmp_path / "out", None)
    assert planned.jobs == [] and f"warning: no videos found in {tmp_path / 'in'}" in capsys.readouterr().err
