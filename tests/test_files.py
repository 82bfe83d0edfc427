"""Files on disk: temporary files (only ours, only of dead runs, removed), disk errors (read-only, full) as one
line with nothing half-written, changed inputs re-extracted, precision in the settings, inputs checked first.

The full and read-only disks are real tmpfs mounts where this process may mount (root in a container);
elsewhere those tests skip, and the same errors are raised by stand-ins for the OS calls in the unit tests.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mosi_tool import atomic
from mosi_tool.atomic import OutputError, atomic_path, atomic_write_bytes, clean_partial, temp_path
from mosi_tool.cli import app

from .conftest import ROOT, write_video


def run(args: list[str], code: int = 0) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error: ")]


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def tmpfs(tmp_path):
    """mount(name, size="200k") -> a fresh tmpfs folder, unmounted after the test; skips where mounting is not
    allowed (not root, no CAP_SYS_ADMIN)."""
    mounted: list[Path] = []

    def mount(name: str, size: str = "200k") -> Path:
        point = tmp_path / name
        point.mkdir()
        try:
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True)
        except OSError as e:  # no mount command
            pytest.skip(f"cannot mount a tmpfs here ({e})")
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or done.returncode})")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def remount_read_only(point: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    for i in range(3):
        write_video(folder / f"v{i}.mp4", n=24, speed=1 + i)
    return folder


def features_args(inputs: list[Path], out: Path, ckpt: Path) -> list[str]:
    return ["features", *map(str, inputs), "--model", str(ckpt), "--out-dir", str(out), "--workers", "0", "--runtime", "torch"]


# --- 1. temporary files: only ours, only of dead runs -------------------------------------------------


def test_clean_partial_removes_only_this_tools_files_of_dead_processes(tmp_path):
    (tmp_path / "notes").mkdir()
    user = [tmp_path / ".session.tmp", tmp_path / "notes" / ".draft.tmp", tmp_path / ".v.npz.abc123.tmp"]
    for p in user:
        p.write_text("mine")
    live_here = temp_path(tmp_path / "a.npz")  # this process: a run still writing
    live_other = temp_path(tmp_path / "b.npz").name.replace(f"-{os.getpid()}-", f"-{os.getppid()}-")
    dead = temp_path(tmp_path / "c.npz").name.replace(f"-{os.getpid()}-", f"-{dead_pid()}-")
    other_host = dead.replace(atomic._HOST, "0badbeef" if atomic._HOST != "0badbeef" else "1badbeef")
    dead_deep = tmp_path / "notes" / dead
    for p in (live_here, tmp_path / live_other, tmp_path / dead, tmp_path / other_host, dead_deep):
        p.write_text("partial")
    assert clean_partial(tmp_path) == 1  # only the dead run's file, and not below the folder
    assert not (tmp_path / dead).exists() and dead_deep.exists()
    assert all(p.exists() for p in [*user, live_here, tmp_path / live_other, tmp_path / other_host])
    assert clean_partial(tmp_path, recursive=True) == 1 and not dead_deep.exists()


def test_features_keeps_user_files_and_a_live_runs_temporary_files(tmp_path, videos, micro_ckpt):
    out = tmp_path / "out"
    (out / "notes").mkdir(parents=True)
    user = [out / ".session.tmp", out / "notes" / ".draft.tmp"]
    for p in user:
        p.write_text("mine")
    with atomic_path(out / "v0.mp4.npz") as live:  # another run writing into the folder right now (this process)
        live.write_bytes(b"half")
        cmd = [sys.executable, "-m", "mosi_tool", *features_args([videos / "v1.mp4"], out, micro_ckpt)]
        done = subprocess.run(cmd, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert live.read_bytes() == b"half"  # the other run's temporary file is still there
    assert all(p.read_text() == "mine" for p in user)
    assert (out / "v1.mp4.npz").exists() and (out / "v0.mp4.npz").read_bytes() == b"half"  # renamed in place when done


def test_two_runs_into_one_folder_both_succeed(tmp_path, micro_ckpt):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(8):
        write_video(src / f"v{i:02d}.mp4", n=16, speed=1 + i % 3)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmds = [[sys.executable, "-m", "mosi_tool", *features_args(sorted(src.glob("*.mp4"))[k::2], out, micro_ckpt), "--batch-size", "2"]
            for k in (0, 1)]  # fmt: skip
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    results = [p.communicate(timeout=600) for p in procs]
    for proc, (stdout, stderr) in zip(procs, results):
        assert proc.returncode == 0, stderr
        assert "4 written" in stdout
    assert len(list(out.glob("*.npz"))) == 8 and not leftovers(out)


@pytest.mark.parametrize("command", ["features", "targets", "saliency"])
def test_a_clean_batch_run_leaves_only_its_outputs(tmp_path, videos, micro_ckpt, command):
    out = tmp_path / "out"
    args = {
        "features": features_args([videos], out, micro_ckpt),
        "targets": ["targets", str(videos), "--out-dir", str(out), "-j", "0"],
        "saliency": ["saliency", str(videos), "--out-dir", str(out), "--outputs", "maps"],
    }[command]
    run(args)
    suffixes = {"features": [".npz"], "targets": [".npz"], "saliency": [".maps.npy", ".saliency.json"]}[command]
    expected = sorted(f"v{i}.mp4{s}" for i in range(3) for s in suffixes)
    assert sorted(os.listdir(out)) == expected  # no failures.jsonl (nothing failed) and no failures.jsonl.lock


def test_a_failure_log_without_failures_takes_no_lock(tmp_path):
    """Clearing entries when there is no failures.jsonl needs no lock (nothing to remove): a clean run leaves no
    failures.jsonl.lock behind. A failure makes both files; clearing it removes the log."""
    from mosi_tool.batch.failures import FailureLog

    log = FailureLog(tmp_path)
    log.clear(str(tmp_path / "a.mp4"))
    log.forget_missing()
    assert os.listdir(tmp_path) == []
    log.record(str(tmp_path / "a.mp4"), "a.mp4: not a video")
    assert (tmp_path / "failures.jsonl").exists()
    log.clear(str(tmp_path / "a.mp4"))
    assert not (tmp_path / "failures.jsonl").exists()


# --- 5. disk errors -----------------------------------------------------------------------------------


def test_a_full_disk_while_writing_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "x.bin"
    target.write_bytes(b"old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(OutputError) as caught:
        atomic_write_bytes(target, b"new")
    assert str(caught.value) == f"{target}: cannot write (No space left on device)"
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["x.bin"]


def test_clean_up_that_fails_too_does_not_hide_the_first_error(tmp_path, monkeypatch):
    target = tmp_path / "x.bin"

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    with pytest.raises(OutputError, match="cannot write .No space left on device"):
        with atomic_path(target) as tmp:
            monkeypatch.setattr(Path, "unlink", refuse)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
    monkeypatch.undo()
    assert not target.exists()


def test_a_streamed_output_whose_last_flush_fails_is_removed(tmp_path):
    class Failing:
        def close(self) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    class Out(atomic.AtomicOutput):
        def __init__(self, path: Path):
            self._begin(path)
            self._file = Failing()  # type: ignore[assignment]

    with pytest.raises(OutputError, match="out.bin: cannot write"):
        Out(tmp_path / "out.bin").close()
    assert os.listdir(tmp_path) == []
    Out(tmp_path / "out.bin").abort()  # abort never raises for a disk error
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("target", ["folder", "file-in-the-way"])
def test_a_folder_or_a_file_in_the_way_is_named(tmp_path, target):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("")
    path = tmp_path / "d" if target == "folder" else tmp_path / "f" / "x.npz"
    with pytest.raises(OutputError, match=f"{path}: cannot write"):
        atomic.check_writable(path)
    with pytest.raises(OutputError, match=f"{path}: cannot write"):
        atomic_write_bytes(path, b"x")
    assert sorted(os.listdir(tmp_path)) == ["d", "f"] and os.listdir(tmp_path / "d") == []


def test_read_only_folder_without_a_mount(tmp_path, videos, micro_ckpt, monkeypatch):
    real_open = os.open

    def read_only(path, flags, mode=0o777, **kw):  # type: ignore[no-untyped-def]
        if str(path).startswith(str(tmp_path / "ro")) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(atomic.os, "open", read_only)
    output = run(features_args([videos], tmp_path / "ro" / "out", micro_ckpt), code=2)
    assert error_lines(output) == [f"error: {tmp_path / 'ro' / 'out'}: cannot write (Read-only file system)"]


def test_features_into_a_read_only_folder_is_one_line_and_keeps_what_is_there(tmpfs, videos, micro_ckpt):
    disk = tmpfs("disk", "2m")
    run(features_args([videos / "v0.mp4"], disk, micro_ckpt))
    before, names = (disk / "v0.mp4.npz").read_bytes(), sorted(os.listdir(disk))
    remount_read_only(disk)
    output = run(features_args([videos], disk, micro_ckpt), code=2)
    assert error_lines(output) == [f"error: {disk}: cannot write (Read-only file system)"]
    assert (disk / "v0.mp4.npz").read_bytes() == before and sorted(os.listdir(disk)) == names
    # Every other command: one line naming the path, no traceback, before the work where it can.
    output = run(["export", str(micro_ckpt), "--onnx", str(disk / "m.onnx"), "--no-verify"], code=2)
    assert error_lines(output) == [f"error: {disk / 'm.onnx'}: cannot write (Read-only file system)"]
    output = run(["eval", "probe", "--videos", str(videos), "--json", str(disk / "probe.json")], code=2)
    assert error_lines(output) == [f"error: {disk / 'probe.png'}: cannot write (Read-only file system)"]
    output = run(["train", "--data", "videos", "--root", str(videos), "--preset", "tiny", "--out", str(disk / "run")], code=2)
    assert error_lines(output) == [f"error: {disk / 'run'}: cannot write (Read-only file system)"]
    output = run(["saliency", str(videos / "v0.mp4"), "--out", str(disk / "o.mp4")], code=2)
    assert len(error_lines(output)) == 1 and f"{disk / 'o.mp4'}: cannot write (Read-only file system)" in output
    assert sorted(os.listdir(disk)) == names


def test_features_on_a_full_disk_fails_each_video_in_one_line_and_keeps_earlier_files(tmpfs, videos, micro_ckpt):
    disk = tmpfs("disk", "256k")
    run(features_args([videos / "v0.mp4"], disk, micro_ckpt))
    before = (disk / "v0.mp4.npz").read_bytes()
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:  # fill the disk to the last block
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC
    output = run([*features_args([videos], disk, micro_ckpt), "--overwrite"], code=1)
    errors = error_lines(output)
    assert len(errors) == 3 and all(e.endswith(": cannot write (No space left on device)") for e in errors), output
    assert {e.split(": ")[1] for e in errors} == {str(disk / f"v{i}.mp4.npz") for i in range(3)}
    assert "failures.jsonl: cannot write (No space left on device)" in output  # said once, as a warning
    assert "failures: " not in output  # no pointer to a log that could not be written
    assert (disk / "v0.mp4.npz").read_bytes() == before and not leftovers(disk)
    filler.unlink()
    assert "3 written" in run([*features_args([videos], disk, micro_ckpt), "--overwrite"])


@pytest.mark.parametrize("option", ["--out", "--maps", "--masks", "--boxes", "--sheet"])
def test_saliency_outputs_on_a_full_disk_are_one_line_and_leave_nothing(tmpfs, videos, tmp_path, option):
    disk = tmpfs("disk", "64k")
    with open(disk / "filler", "wb", buffering=0) as f:
        with pytest.raises(OSError):
            while True:
                f.write(b"\0" * 4096)
    target = disk / {"--out": "o.mp4", "--maps": "m.npy", "--masks": "k.npy", "--boxes": "b.jsonl", "--sheet": "s.png"}[option]
    args = ["saliency", str(videos / "v0.mp4"), option, str(target), "--maps-size", "128x128"]
    if option != "--out":
        args += ["--out", str(tmp_path / "o.mp4")]
    output = run(args, code=1)  # 1: this output failed while written; the others were written
    assert error_lines(output) == [f"error: {target}: cannot write (No space left on device)"]
    assert os.listdir(disk) == ["filler"]


def test_a_checkpoint_on_a_full_disk_is_an_output_error(tmpfs):
    from .conftest import micro_checkpoint

    disk = tmpfs("disk", "300k")  # less than the checkpoint (about 0.9 MB)
    with pytest.raises(OutputError, match=f"{disk / 'c.safetensors'}: cannot write .No space left on device"):
        micro_checkpoint(disk / "c.safetensors")
    assert os.listdir(disk) == []


def test_training_state_on_a_full_disk_is_an_output_error(tmpfs):
    import torch

    from mosi_tool.training.loop import RESUME_FILE, _save_resume

    disk = tmpfs("disk", "200k")
    weight = torch.nn.Parameter(torch.zeros(100_000))
    optimizer = torch.optim.Adam([weight])
    weight.sum().backward()
    optimizer.step()  # about 0.8 MB of state
    with pytest.raises(OutputError, match=f"{disk / RESUME_FILE}: cannot write .No space left on device"):
        _save_resume(disk, optimizer, 1, 0.5, 1.0)
    assert os.listdir(disk) == []


# --- 2. a video that changed since, or while, it was read -------------------------------------------


def test_a_replaced_or_touched_video_is_extracted_again(tmp_path, micro_ckpt):
    video = write_video(tmp_path / "v.mp4", n=16)
    out = tmp_path / "out"
    args = features_args([video], out, micro_ckpt)
    assert "1 written" in run(args)
    info = json.loads(str(np.load(out / "v.mp4.npz")["info"]))
    st = video.stat()
    assert info["file"] == {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    assert "1 already done" in run(args)
    write_video(video, n=32)  # re-encoded under the same name
    assert "1 written" in run(args)
    assert np.load(out / "v.mp4.npz")["features"].shape[0] == 8
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same bytes, other time: cannot be sure
    assert "1 written" in run(args)


def test_a_frame_folder_whose_frames_change_is_extracted_again(tmp_path, micro_ckpt):
    from PIL import Image

    from .conftest import texture

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(8):
        Image.fromarray(texture(40, 48, i)).save(frames / f"{i:03d}.png")
    out = tmp_path / "out"
    args = features_args([frames], out, micro_ckpt)
    assert "1 written" in run(args)
    assert json.loads(str(np.load(out / "frames.npz")["info"]))["file"]["files"] == 8
    assert "1 already done" in run(args)
    Image.fromarray(texture(40, 48, 99)).save(frames / "003.png")  # one frame replaced in place
    assert "1 written" in run(args)


def test_a_video_growing_while_it_is_read_is_warned_about_and_read_again(tmp_path, micro_ckpt, monkeypatch):
    from mosi_tool.pipeline import output as writer_module
    from mosi_tool.pipeline.extract import ExtractOptions, extract

    whole = write_video(tmp_path / "whole.ts", n=48).read_bytes()
    video = tmp_path / "growing.ts"
    video.write_bytes(whole[: len(whole) // 2 // 188 * 188])  # the first half: a recording still being written
    handle = writer_module.FeatureWriter.handle

    def grow_then_handle(self, msg):  # type: ignore[no-untyped-def]
        with open(video, "ab") as f:  # the recorder writes on while the video is being read
            f.write(whole[video.stat().st_size :])
        return handle(self, msg)

    monkeypatch.setattr(writer_module.FeatureWriter, "handle", grow_then_handle)
    opts = ExtractOptions(model=str(micro_ckpt), out_dir=tmp_path / "out", devices=["cpu"], runtime="torch", workers=0, progress=False)
    report = extract([video], opts)
    assert report.ok == 1 and any("changed while it was read (size" in w for w in report.warnings), report.warnings
    saved = np.load(tmp_path / "out" / "growing.ts.npz")
    info = json.loads(str(saved["info"]))
    assert info["file"]["size"] < len(whole) and any("changed while it was read" in w for w in info["warnings"])
    monkeypatch.undo()
    again = extract([video], opts)  # the whole file now: read again, not "already done"
    assert again.ok == 1 and again.skipped == 0 and not any("changed while" in w for w in again.warnings)
    assert np.load(tmp_path / "out" / "growing.ts.npz")["features"].shape[0] > saved["features"].shape[0]


# --- 3. int8 and fp32 engines are different settings --------------------------------------------------


def test_int8_and_fp32_onnx_features_are_not_mixed(tmp_path, micro_onnx):
    from mosi_tool.pipeline.extract import engine_precision

    video = write_video(tmp_path / "v.mp4", n=16)
    int8, fp32 = micro_onnx("int8"), micro_onnx("fp32")
    precision, calibration = engine_precision(int8, "fp32")
    assert precision == "int8" and calibration and calibration.startswith("weights sha256 ")
    assert engine_precision(fp32, "fp32") == ("fp32", None)
    out = tmp_path / "out"
    common = ["features", str(video), "--out-dir", str(out), "--workers", "0"]
    assert "1 written" in run([*common, "--model", str(int8)])
    settings = json.loads(str(np.load(out / "v.mp4.npz")["settings"]))
    assert settings["precision"] == "int8" and settings["calibration"] == calibration
    assert "1 already done" in run([*common, "--model", str(int8)])
    assert "1 written" in run([*common, "--model", str(fp32)])  # not "already done"
    settings = json.loads(str(np.load(out / "v.mp4.npz")["settings"]))
    assert settings["precision"] == "fp32" and settings["calibration"] is None


# --- 18. inputs first ---------------------------------------------------------------------------------


def test_features_with_a_missing_input_fails_before_any_work(tmp_path, videos, micro_ckpt, monkeypatch):
    from mosi_tool.pipeline import extract as extract_module

    def never(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("runtimes measured before the inputs were checked")

    monkeypatch.setattr(extract_module, "resolve_runtime", never)
    out = tmp_path / "out"
    output = run(features_args([videos, tmp_path / "nope.mp4", tmp_path / "gone"], out, micro_ckpt), code=2)
    assert error_lines(output) == [f"error: {tmp_path / 'nope.mp4'}: no such file or folder (and 1 more input(s) missing)"]
    assert not out.exists()
    output = run(["features", str(videos), "--out-dir", str(out), "--model", str(tmp_path / "m.safetensors")], code=2)
    assert "m.safetensors: no such file" in output and not out.exists()


def test_eval_checks_its_inputs_and_outputs_before_loading_a_model(tmp_path, monkeypatch):
    import mosi_tool

    def never(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("model loaded before the inputs were checked")

    monkeypatch.setattr(mosi_tool, "load_model", never)
    output = run(["eval", "probe", "--videos", str(tmp_path / "nope")], code=2)
    assert error_lines(output) == [f"error: {tmp_path / 'nope'}: no such file or folder"]
    (tmp_path / "v").mkdir()
    (tmp_path / "j").mkdir()
    output = run(["eval", "probe", "--videos", str(tmp_path / "v"), "--chart", str(tmp_path / "j")], code=2)
    assert error_lines(output) == [f"error: {tmp_path / 'j'}: cannot write (it is a folder)"]


def test_an_os_error_on_a_temporary_file_is_reported_for_its_target(tmp_path):
    from mosi_tool.cli.options import error_line

    tmp = temp_path(tmp_path / "o.mp4")
    assert atomic.target_of(tmp) == tmp_path / "o.mp4" and atomic.target_of(tmp_path / ".x.tmp") is None
    e = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
    assert error_line(e) == f"{tmp_path / 'o.mp4'}: cannot write (No space left on device)"
    assert error_line(OSError(errno.EACCES, "Permission denied", "a.txt")) == "a.txt: Permission denied"


def test_temporary_names_are_short_enough_for_long_targets(tmp_path):
    target = tmp_path / ("x" * 240 + ".npz")
    atomic_write_bytes(target, b"ok")
    assert target.read_bytes() == b"ok" and os.listdir(tmp_path) == [target.name]


def test_map_npz_reads_what_np_load_reads_and_maps_stored_members(tmp_path):
    from mosi_tool.npz import map_npz, save_npz

    arrays = {"big": np.arange(24, dtype=np.float16).reshape(2, 3, 4), "flags": np.array([True, False]),
              "text": np.array('{"a": 1}'), "empty": np.zeros((0, 3), np.int64), "fortran": np.asfortranarray(np.eye(3))}  # fmt: skip
    for compress in (False, True):
        path = tmp_path / f"a{compress}.npz"
        save_npz(path, arrays, compress=compress)
        got = map_npz(path)
        assert list(got) == list(arrays)
        for k, a in arrays.items():
            assert got[k].dtype == a.dtype and got[k].shape == a.shape and np.array_equal(got[k], a), k
        if compress:
            assert not isinstance(got["big"], np.memmap)
        else:
            assert isinstance(got["big"], np.memmap) and not got["big"].flags.writeable
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="never unpickled"):
        map_npz(tmp_path / "objects.npz")


def test_save_npz_members_are_the_bytes_numpy_writes(tmp_path):
    """Arrays written from their own memory (`npz._write_npy`) hold the bytes `np.lib.format.write_array` writes."""
    import io
    import zipfile

    from mosi_tool.npz import save_npz

    big = np.random.default_rng(0).normal(size=(3, 5, 7, 4, 2)).astype(np.float16)
    arrays = {"big": big, "slice": big[:, 1:4], "flags": np.array([True, False]), "scalar": np.float64(2.5),
              "text": np.array('{"a": 1}'), "empty": np.zeros((0, 3), np.int64), "fortran": np.asfortranarray(np.eye(3)),
              "swapped": np.arange(6, dtype=">i4").reshape(2, 3), "complex": np.array([1 + 2j], np.complex64),
              "record": np.zeros(2, [("a", "<i2"), ("b", "<f4")])}  # fmt: skip
    save_npz(tmp_path / "a.npz", arrays)
    with zipfile.ZipFile(tmp_path / "a.npz") as zf:
        for name, value in arrays.items():
            want = io.BytesIO()
            np.lib.format.write_array(want, np.asanyarray(value), allow_pickle=False)
            assert zf.read(f"{name}.npy") == want.getvalue(), name
