"""`mosi-tool saliency` as a command: options validated whatever the method, outputs checked before any work,
one failed output costing no other, temporary files never left behind, small frames."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mosi_tool.cli import app

from .conftest import encode_frames, texture, write_video

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str):
    return CliRunner().invoke(app, ["saliency", *args])


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("v") / "square.mp4", n=24, size=(96, 72))


def no_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any computing of maps fail loudly: the checks under test must stop the run before it."""
    from mosi_tool.saliency import compute, motion

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("maps were computed")

    monkeypatch.setattr(motion, "compute_motion_saliency", boom)
    monkeypatch.setattr(compute, "compute_saliency", boom)


def refuse_writes_in(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`os.open` of a file in `folder` fails as on a read-only file system (EROFS)."""
    real = os.open

    def refusing_open(path, *a, **k):
        if Path(path).parent == folder:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(os, "open", refusing_open)


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


# Outputs are checked before any work -------------------------------------------------------------------


def test_sheet_into_an_existing_folder_fails_before_any_work(tmp_path, video, monkeypatch):
    no_compute(monkeypatch)
    folder = tmp_path / "sheets"
    folder.mkdir()
    out, maps = tmp_path / "o.mp4", tmp_path / "m.npy"
    result = cli(str(video), "--out", str(out), "--maps", str(maps), "--sheet", str(folder))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {folder}: is a folder")
    assert not out.exists() and not maps.exists() and not temporaries(tmp_path)


@pytest.mark.parametrize("option,name,why", [
    ("--maps", "m.txt", "--maps must end in .npy"),
    ("--masks", "k.png", "--masks must end in .npy"),
    ("--boxes", "b.json", "--boxes must end in .jsonl"),
    ("--sheet", "s.jpg", "--sheet must end in .png"),
    ("--out", "o.gif", "--out must end in"),
])  # fmt: skip
def test_output_suffixes_are_checked_first(tmp_path, video, monkeypatch, option, name, why):
    no_compute(monkeypatch)
    result = cli(str(video), "--out", str(tmp_path / "o.mp4"), option, str(tmp_path / name))
    assert result.exit_code == 2 and why in result.output, result.output
    assert not (tmp_path / "o.mp4").exists()


def test_output_under_a_file_or_given_twice_is_refused(tmp_path, video, monkeypatch):
    no_compute(monkeypatch)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli(str(video), "--out", str(tmp_path / "o.mp4"), "--maps", str(blocker / "m.npy"))
    assert result.exit_code == 2 and "a file is in the way of its folder" in result.output
    result = cli(str(video), "--out", str(tmp_path / "o.mp4"), "--maps", str(tmp_path / "x.npy"), "--masks", str(tmp_path / "x.npy"))
    assert result.exit_code == 2 and "given to both --maps and --masks" in result.output


def test_unwritable_output_folder_fails_before_computing(tmp_path, video, monkeypatch):
    """A folder that refuses files (read-only file system, no permission): one error line, nothing computed."""
    no_compute(monkeypatch)
    locked = tmp_path / "locked"
    locked.mkdir()
    refuse_writes_in(locked, monkeypatch)
    result = cli(str(video), "--out", str(locked / "o.mp4"))
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {locked / 'o.mp4'}: cannot write (Read-only file system)"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_for_real(tmp_path, video):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = cli(str(video), "--out", str(locked / "o.mp4"))
    finally:
        locked.chmod(0o755)
    assert result.exit_code == 2 and "cannot write into" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("case", ["a file", "log a folder", "read-only"])
def test_an_unwritable_out_dir_is_worded_as_targets_words_it(tmp_path, video, monkeypatch, case):
    """`saliency --out-dir` said "error: OUT: Read-only file system" (and "OUT/failures.jsonl: Is a
    directory") where `targets` and `features` say "OUT: cannot write (REASON)": now one wording for all."""
    no_compute(monkeypatch)
    out = tmp_path / "out"
    if case == "a file":
        out.write_text("x")
    elif case == "log a folder":
        (out / "failures.jsonl").mkdir(parents=True)
    else:
        refuse_writes_in(out, monkeypatch)
    said = {"saliency": cli(str(video), "--out-dir", str(out), "--outputs", "masks"),
            "targets": CliRunner().invoke(app, ["targets", str(video), "-o", str(out)])}  # fmt: skip
    assert [r.exit_code for r in said.values()] == [2, 2]
    assert said["saliency"].stderr == said["targets"].stderr and said["saliency"].stderr.count("\n") == 1
    assert re.fullmatch(rf"error: {re.escape(str(out))}(/failures\.jsonl)?: cannot write \(.+\)\n", said["saliency"].stderr)


def test_a_missing_input_to_a_batch_is_named_not_taken_for_a_disk_error(tmp_path, video):
    """A missing input is named as such; it is not a full disk under the temporary folder."""
    r = CliRunner().invoke(app, ["saliency", str(tmp_path / "nope.mp4"), str(video), "--out-dir", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    assert f"error: {tmp_path / 'nope.mp4'}: no such file or folder" in r.output and "temporary" not in r.output


def test_a_failed_output_costs_no_other(tmp_path, video, monkeypatch):
    """The disk fills while the maps are written: the overlay, masks and boxes are still written, the maps'
    temporary file is gone, and the one error names the maps."""
    from mosi_tool.saliency.maps_file import MapsFile

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(MapsFile, "add", full)
    out, maps, masks, boxes = tmp_path / "o.mp4", tmp_path / "m.npy", tmp_path / "k.npy", tmp_path / "b.jsonl"
    result = cli(str(video), "--out", str(out), "--maps", str(maps), "--masks", str(masks), "--boxes", str(boxes))
    assert result.exit_code == 1
    assert f"error: {maps}: cannot write (No space left on device)" in result.output
    assert "Traceback" not in result.output
    assert out.exists() and masks.exists() and boxes.exists() and not maps.exists()
    assert np.load(masks).shape[0] == 24 and len(boxes.read_text().splitlines()) == 25  # 24 frames, then the union
    assert not temporaries(tmp_path)


def test_overlay_failing_to_close_keeps_the_others(tmp_path, video, monkeypatch):
    from mosi_tool.saliency.render import OverlayVideo

    def full(self):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(OverlayVideo, "close", full)
    out, maps = tmp_path / "o.mp4", tmp_path / "m.npy"
    result = cli(str(video), "--out", str(out), "--maps", str(maps))
    assert result.exit_code == 1 and f"error: {out}: cannot write" in result.output
    assert maps.exists() and not out.exists() and not temporaries(tmp_path)


# Temporary files: SIGTERM, and what a killed run left ----------------------------------------------------


def test_sigterm_removes_temporary_files(tmp_path):
    video = encode_frames(tmp_path / "long.mp4", (np.roll(texture(240, 320, 1), 3 * i, axis=1) for i in range(400)))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "mosi_tool", "saliency", str(video), "--out", str(out_dir / "o.mp4"), "--maps", str(out_dir / "m.npy")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not temporaries(out_dir) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert temporaries(out_dir), "the run ended before its outputs were begun"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 128 + signal.SIGTERM
    assert not temporaries(out_dir) and not (out_dir / "o.mp4").exists() and not (out_dir / "m.npy").exists()


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_stopping_a_batch_with_workers_removes_their_temporary_files(tmp_path, how):
    """`-j 2`: the run stops its workers with SIGTERM, which killed them at once and left the outputs they
    were writing as temporary files; now they abandon them as the run does, and exit. Ctrl-C (SIGINT to the
    terminal's whole group) left them too: the workers' own KeyboardInterrupt clean-up was cut short by the
    run's SIGTERM."""
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    video = encode_frames(folder / "a.mp4", (np.roll(texture(240, 320, 1), 3 * i, axis=1) for i in range(400)))
    for name in "bcd":  # more videos than workers: a worker that starts late still overlaps another's video
        shutil.copy(video, folder / f"{name}.mp4")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "mosi_tool", "saliency", str(folder), "--out-dir", str(out_dir), "--outputs", "overlay,maps", "-j", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    begun: set[str] = set()
    while len(begun) < 2 and proc.poll() is None and time.monotonic() < deadline:
        begun = {p.name.split(".")[1] for p in temporaries(out_dir)}
        time.sleep(0.02)
    assert len(begun) == 2, "the run ended before two videos' outputs were begun at once"
    # the signal at once (a worker near the end of its video, on a loaded machine, could finish it while the
    # workers were looked for first), then the workers that are still there
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] == str(proc.pid):
                workers.append(int(stat.parent.name))
        except OSError:  # a process that ended meanwhile
            continue
    assert proc.wait(60) == 128 + (signal.SIGTERM if how == "sigterm" else signal.SIGINT)
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not temporaries(out_dir)
    assert not [p for p in out_dir.glob("*.saliency.mp4") if p.name.split(".")[0] in begun]


def test_an_overlay_stopped_while_it_is_being_set_up_leaves_no_temporary_file(tmp_path, monkeypatch):
    """SIGTERM (SystemExit) or an error after the overlay's file was created but before its constructor
    returned left the temporary file until the half-made object was collected (never, in a worker that
    exits with the exception in hand): the renderer only abandons outputs it holds."""
    from mosi_tool.saliency import render

    def stopped(*a: object, **k: object) -> None:
        raise SystemExit(143)

    monkeypatch.setattr(render.viz, "colorbar_stamp", stopped)
    try:
        render.OverlayVideo(tmp_path / "o.mp4", 64, 48, 12.0)
    except SystemExit:  # checked while the exception (and so the half-made object) is alive, as a worker exits
        assert not temporaries(tmp_path) and not (tmp_path / "o.mp4").exists()
    else:
        raise AssertionError("the constructor did not stop")


def test_next_run_removes_only_a_dead_runs_temporary_files(tmp_path, video):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    from mosi_tool.atomic import temp_path

    leftover = temp_path(tmp_path / "o.mp4").with_name(temp_path(tmp_path / "o.mp4").name.replace(f"-{os.getpid()}-", f"-{dead.pid}-"))
    live = temp_path(tmp_path / "m.npy")  # this process is alive: another run writing
    mine = tmp_path / ".session.tmp"  # not a name this tool makes
    for p in (leftover, live, mine):
        p.write_bytes(b"x" * 100)
    result = cli(str(video), "--out", str(tmp_path / "o.mp4"))
    assert result.exit_code == 0, result.output
    assert not leftover.exists() and live.exists() and mine.exists()


# Small frames -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(16, 16), (32, 32), (1920, 8)])
def test_small_frames_get_an_overlay_without_a_colour_bar(tmp_path, size):
    w, h = size
    frames = [np.roll(texture(max(h, 16), max(w, 16), 2)[:h, :w], i, axis=1) for i in range(12)]
    video = encode_frames(tmp_path / "small.mp4", frames)
    out = tmp_path / "o.mp4"
    result = cli(str(video), "--out", str(out), "--sheet", str(tmp_path / "s.png"))
    assert result.exit_code == 0, result.output
    assert out.exists() and "without a colour bar" in result.output


def test_colour_bar_only_where_it_fits():
    from mosi_tool import viz

    for h, w in ((16, 16), (32, 32), (8, 1920)):
        frame = np.zeros((h, w, 3), np.uint8)
        assert not viz.draw_colorbar(frame).any()
    frame = np.zeros((64, 64, 3), np.uint8)
    assert viz.draw_colorbar(frame).any()


# A named model is checked, and options are validated, whatever the method --------------------------------


def test_a_broken_model_is_refused_with_method_mv(tmp_path, video, micro_ckpt, monkeypatch):
    no_compute(monkeypatch)
    data = micro_ckpt.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) - 1000])
    result = cli(str(video), "--method", "mv", "--model", str(cut), "--out", str(tmp_path / "o.mp4"))
    assert result.exit_code == 2 and result.output.startswith(f"error: {cut}"), result.output
    flipped = bytearray(data)
    flipped[-10] ^= 0xFF  # the header reads, the weights no longer match their digest
    bad = tmp_path / "flipped.safetensors"
    bad.write_bytes(bytes(flipped))
    result = cli(str(video), "--model", str(bad), "--out", str(tmp_path / "o.mp4"))
    assert result.exit_code == 2 and "digest" in result.output, result.output
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("args,why", [
    (["--mode", "foo"], "--mode"),
    (["--target", "foo"], "--target"),
    (["--target", "12"], "out of range"),
    (["--fps", "-5"], "--fps"),
    (["--fps", "0"], "--fps"),
    (["--norm", "peak"], "--norm"),
    (["--method", "flow"], "--method"),
    (["--stabilize", "yes"], "--stabilize"),
    (["--device", "gpu"], "--device"),
])  # fmt: skip
def test_bad_option_values_are_refused_with_method_mv(tmp_path, video, monkeypatch, args, why):
    no_compute(monkeypatch)
    result = cli(str(video), "--method", "mv", "--out", str(tmp_path / "o.mp4"), *args)
    assert result.exit_code == 2 and why in result.output, result.output
    assert "Traceback" not in result.output


def test_cuda_without_a_gpu_is_refused_with_method_mv(tmp_path, video, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    no_compute(monkeypatch)
    result = cli(str(video), "--method", "mv", "--device", "cuda", "--out", str(tmp_path / "o.mp4"))
    assert result.exit_code == 2 and "--device cuda" in result.output


def test_options_that_do_not_apply_are_named_in_one_note(tmp_path, video):
    result = cli(str(video), "--method", "mv", "--step", "4", "--mode", "center", "--layer", "conv4", "--out", str(tmp_path / "o.mp4"))
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if "does not apply" in line or "do not apply" in line]
    assert notes == ["note: --step, --mode, --layer do not apply to --method mv (ignored)"]


def test_options_dataclass_validates_for_python_callers():
    from mosi_tool.saliency.run import SaliencyOptions

    with pytest.raises(ValueError, match="--fps"):
        SaliencyOptions(fps=0)
    with pytest.raises(ValueError, match="--mode"):
        SaliencyOptions(mode="foo")
    with pytest.raises(ValueError, match="--step"):
        SaliencyOptions(step=0)
    assert SaliencyOptions(method="cam", layer="conv4").unused() == ["--layer"]


# The Python API -------------------------------------------------------------------------------------------


def test_python_api_returns_what_the_command_writes(tmp_path, video):
    import json

    import mosi_tool

    got = mosi_tool.saliency(video, masks=True, boxes=True)
    maps, masks, boxes = tmp_path / "m.npy", tmp_path / "k.npy", tmp_path / "b.jsonl"
    result = cli(str(video), "--out", str(tmp_path / "o.mp4"), "--maps", str(maps), "--masks", str(masks), "--boxes", str(boxes))
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(got.maps, np.load(maps))
    np.testing.assert_array_equal(got.masks, np.load(masks))
    assert got.boxes == [json.loads(line) for line in boxes.read_text().splitlines()]
    assert got.maps.dtype == np.float16 and len(got.times) == len(got.maps) == 24 and got.masks.dtype == bool
    assert mosi_tool.saliency(video, maps_size=(20, 10)).maps.shape == (24, 10, 20)
    # the options of outputs not asked for are noted as the command notes them (it named only small_movers)
    notes = mosi_tool.saliency(video, masks_size=(32, 24), max_boxes=1, masks=True).notes
    assert "max_boxes applies to the boxes output, which was not asked for (ignored)" in notes
    assert not any("masks_size" in note for note in notes)
    with pytest.raises(ValueError, match="--norm"):
        mosi_tool.saliency(video, norm="peak")


# Many videos: files, folders and --list into --out-dir -------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    write_video(root / "a.mp4", n=12, size=(64, 48))
    write_video(root / "sub" / "b.mp4", n=12, size=(64, 48), speed=3)
    (root / "bad.mp4").write_text("not a video")
    return root


def test_an_out_dir_inside_the_input_folder_is_not_read_as_input(tree):
    """The overlays written into an --out-dir inside the searched folder are not videos to process next time."""
    (tree / "bad.mp4").unlink()
    out = tree / "sal"
    for _ in range(2):
        result = cli(str(tree), "--out-dir", str(out), "--outputs", "overlay")
        assert result.exit_code == 0 and "of 2 videos" in result.output, result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mp4")) == ["a.mp4.saliency.mp4", "sub/b.mp4.saliency.mp4"]


def test_folder_into_out_dir_names_resumes_and_logs_failures(tmp_path, tree):
    import json

    from mosi_tool.batch.jobs import find_inputs, plan

    out = tmp_path / "out"
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "overlay,maps,masks,boxes,sheet")
    assert result.exit_code == 1, result.output
    assert "2 written, 0 already done, 1 failed of 3 videos" in result.output
    # the names `features` gives the same videos, less its .npz
    stems = {j.out[: -len(".npz")] for j in plan(find_inputs([tree]), out)}
    assert stems == {str(out / "a.mp4"), str(out / "sub" / "b.mp4"), str(out / "bad.mp4")}
    for stem in (out / "a.mp4", out / "sub" / "b.mp4"):
        for suffix in (".saliency.mp4", ".maps.npy", ".masks.npy", ".boxes.jsonl", ".sheet.png", ".saliency.json"):
            assert Path(str(stem) + suffix).is_file()
    assert np.load(str(out / "a.mp4") + ".maps.npy").shape[0] == 12
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert [f["path"] for f in failures] == [str(tree / "bad.mp4")] and "not a video" in failures[0]["error"]
    # a rerun skips what is done, and drops the failure of a video that is gone
    (tree / "bad.mp4").unlink()
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "overlay,maps,masks,boxes,sheet")
    assert result.exit_code == 0 and "0 written, 2 already done, 0 failed of 2 videos" in result.output, result.output
    assert not (out / "failures.jsonl").exists()
    # a replaced video, a changed option and a lost output are made again
    os.utime(tree / "a.mp4", ns=(1, 1))
    (out / "sub" / "b.mp4.maps.npy").unlink()
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "overlay,maps,masks,boxes,sheet")
    assert "2 written, 0 already done" in result.output, result.output
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "overlay,maps,masks,boxes,sheet", "--norm", "frame")
    assert "2 written, 0 already done" in result.output, result.output


@pytest.mark.parametrize("key, other", [("camera_model", "similarity"), ("motion_revision", 1), ("revision", 2)])
def test_outputs_made_with_another_camera_model_field_or_rule_are_made_again(tmp_path, tree, monkeypatch, key, other):
    """The camera model, the motion field's revision and the rules' (`saliency.defaults.REVISION`) are no options,
    but they change the maps, masks and boxes: a record made with another one (or before the record named it)
    does not count as done."""
    import json

    from mosi_tool.saliency import batch

    attribute = {"camera_model": "CAMERA_MODEL", "motion_revision": "MOTION_REVISION", "revision": "REVISION"}[key]
    (tree / "bad.mp4").unlink()
    out = tmp_path / "out"
    assert "2 written" in cli(str(tree), "--out-dir", str(out), "--outputs", "masks").output
    record = out / "a.mp4.saliency.json"
    saved = json.loads(record.read_text())
    assert saved[key] == getattr(batch, attribute)
    del saved[key]  # as written before it was recorded
    record.write_text(json.dumps(saved, sort_keys=True) + "\n")
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "masks")
    assert "1 written, 1 already done" in result.output, result.output
    monkeypatch.setattr(batch, attribute, other)
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "masks")
    assert "2 written, 0 already done" in result.output, result.output


def test_asking_for_fewer_outputs_than_were_made_makes_nothing_again(tmp_path, tree):
    """A batch made with overlay,maps,masks,boxes,sheet is done for --outputs masks (the record listed its
    outputs, and any other list made every video again, then recorded only the masks)."""
    (tree / "bad.mp4").unlink()
    out = tmp_path / "out"
    assert "2 written" in cli(str(tree), "--out-dir", str(out), "--outputs", "overlay,maps,masks,boxes,sheet").output
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "masks,maps")
    assert "0 written, 2 already done" in result.output, result.output
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "overlay,maps,masks,boxes,sheet")
    assert "0 written, 2 already done" in result.output, result.output
    (out / "a.mp4.masks.npy").unlink()
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "masks")
    assert "1 written, 1 already done" in result.output, result.output
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "masks,sheet")  # the record of a.mp4 kept the others
    assert "0 written, 2 already done" in result.output, result.output


def test_options_that_change_no_output_asked_for_make_nothing_again(tmp_path, tree):
    """Options the command names as ignored (the network's with --method mv; --max-boxes without boxes,
    --masks-size without masks, --maps-size without maps, --small-movers or --primary without either) were recorded, so changing them made every video
    again."""
    (tree / "bad.mp4").unlink()
    out = tmp_path / "out"
    assert "2 written" in cli(str(tree), "--out-dir", str(out), "--outputs", "maps,boxes").output
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "maps,boxes", "--target", "pred", "--batch-size", "4", "--masks-size", "32x24")
    assert "ignored" in result.output and "0 written, 2 already done" in result.output, result.output
    # --maps-size without maps was recorded although the command called it ignored
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "boxes", "--maps-size", "32x24")
    assert "ignored" in result.output and "0 written, 2 already done" in result.output, result.output
    # --small-movers changes masks and boxes: nothing when only maps are asked for, the boxes when they are
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "maps", "--small-movers")
    assert "ignored" in result.output and "0 written, 2 already done" in result.output, result.output
    # --primary likewise; a record without a "primary" key (made before it existed) matches a run without it
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "maps", "--primary")
    assert "ignored" in result.output and "0 written, 2 already done" in result.output, result.output
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "maps,boxes", "--max-boxes", "1")
    assert "2 written, 0 already done" in result.output, result.output
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "maps,boxes", "--max-boxes", "1", "--small-movers")
    assert "ignored" not in result.output and "2 written, 0 already done" in result.output, result.output
    record = json.loads((out / "a.mp4.saliency.json").read_text())
    assert "primary" not in record["options"] and record["options"]["small_movers"] is True
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "maps,boxes", "--max-boxes", "1", "--small-movers", "--primary")
    assert "2 written, 0 already done" in result.output, result.output
    assert json.loads((out / "a.mp4.saliency.json").read_text())["options"]["primary"] is True


def test_a_batch_made_with_options_of_other_outputs_is_done_for_fewer_outputs(tmp_path, tree):
    """A batch made with --outputs masks,boxes --max-boxes 2 was made again for --outputs masks (--max-boxes
    cannot change the masks), and that run's record then listed the masks alone, so the boxes were made again
    too; --max-boxes under --primary (one box a frame) changed nothing but made every video again."""
    (tree / "bad.mp4").unlink()
    out = tmp_path / "out"
    assert "2 written" in cli(str(tree), "--out-dir", str(out), "--outputs", "masks,boxes", "--max-boxes", "2").output
    for kinds in ("masks", "masks,boxes"):
        result = cli(str(tree), "--out-dir", str(out), "--outputs", kinds, "--max-boxes", "2")
        assert "0 written, 2 already done" in result.output, result.output
    assert "2 written" in cli(str(tree), "--out-dir", str(out), "--outputs", "masks,boxes", "--primary").output
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "masks,boxes", "--primary", "--max-boxes", "2")
    assert "--max-boxes: --primary writes one box a frame (ignored)" in result.output
    assert "0 written, 2 already done" in result.output, result.output


def test_outputs_of_an_earlier_run_that_a_rerun_does_not_make_are_removed(tmp_path, tree):
    """A rerun that makes a video again with fewer outputs (the video replaced, or --small-movers dropped) left
    the earlier run's boxes beside the new masks, although the new record listed the masks alone; a file the
    tool did not record writing stays."""
    (tree / "bad.mp4").unlink()
    out = tmp_path / "out"
    assert "2 written" in cli(str(tree), "--out-dir", str(out), "--outputs", "masks,boxes,sheet", "--small-movers").output
    (out / "a.mp4.maps.npy").write_bytes(b"the user's")  # not listed by the record
    write_video(tree / "a.mp4", n=10, size=(64, 48), speed=4)  # another video under the same name
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "masks", "--small-movers")
    assert "1 written, 1 already done" in result.output, result.output
    assert "a.mp4: removed the boxes and sheet an earlier run made" in result.output, result.output
    assert not (out / "a.mp4.boxes.jsonl").exists() and not (out / "a.mp4.sheet.png").exists()
    assert (out / "a.mp4.maps.npy").read_bytes() == b"the user's" and (out / "a.mp4.masks.npy").is_file()
    assert json.loads((out / "a.mp4.saliency.json").read_text())["outputs"] == ["masks"]
    # the same video, --small-movers dropped: its boxes go too; its sheet, which --small-movers does not change, stays
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "masks")
    assert "2 written" in result.output and "b.mp4: removed the boxes an" in result.output, result.output
    assert result.output.count("removed") == 1, result.output
    assert sorted(p.name for p in out.glob("sub/b.mp4.*")) == ["b.mp4.masks.npy", "b.mp4.saliency.json", "b.mp4.sheet.png"]
    assert json.loads((out / "sub" / "b.mp4.saliency.json").read_text())["outputs"] == ["masks", "sheet"]


def test_a_rerun_makes_again_only_the_outputs_whose_options_changed(tmp_path, tree):
    """--norm (the overlay's, the maps' and the sheet's scale) made every video again under --outputs masks,boxes,
    whose bytes it cannot change; a rerun now compares the record output by output, makes what changed and keeps
    the rest, never an output whose options changed."""
    (tree / "bad.mp4").unlink()
    out = tmp_path / "out"
    assert "2 written" in cli(str(tree), "--out-dir", str(out), "--outputs", "masks,boxes").output
    masks, boxes, overlay = (out / f"a.mp4{s}" for s in (".masks.npy", ".boxes.jsonl", ".saliency.mp4"))
    made = {p: p.stat().st_mtime_ns for p in (masks, boxes)}
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "masks,boxes", "--norm", "frame")
    assert "--norm applies to the overlay, maps and sheet outputs, none of which was asked for" in result.output
    assert "0 written, 2 already done" in result.output, result.output
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "overlay,masks", "--norm", "frame")
    assert "2 written" in result.output and "a.mp4: kept the masks:" in result.output, result.output
    overlay_made = overlay.stat().st_mtime_ns
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "overlay,masks,boxes")  # --norm back to bounded
    assert "2 written" in result.output and "a.mp4: kept the masks and boxes:" in result.output, result.output
    assert {p: p.stat().st_mtime_ns for p in (masks, boxes)} == made and overlay.stat().st_mtime_ns != overlay_made
    record = json.loads((out / "a.mp4.saliency.json").read_text())
    assert record["outputs"] == ["boxes", "masks", "overlay"] and record["options"]["norm"] == "bounded"
    # an option of the masks makes them again, and only them
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "overlay,masks,boxes", "--masks-size", "32x24")
    assert "2 written" in result.output and "a.mp4: kept the overlay and boxes:" in result.output, result.output
    assert np.load(masks).shape[1:] == (24, 32) and boxes.stat().st_mtime_ns == made[boxes]
    result = cli(str(tree), "--out-dir", str(out), "--outputs", "overlay,masks,boxes", "--masks-size", "32x24")
    assert "0 written, 2 already done" in result.output, result.output


def test_norm_changes_the_masks_and_boxes_of_fused_maps_only():
    """--norm scales the fused maps (`compute_saliency`), which the masks and boxes read; the motion maps' not."""
    from mosi_tool.saliency.run import NORM_OUTPUTS, SaliencyOptions

    assert SaliencyOptions(norm="frame").idle_for(("masks", "boxes")) == [("norm", NORM_OUTPUTS)]
    assert SaliencyOptions(method="fused", norm="frame").idle_for(("masks", "boxes")) == []


def test_list_and_files_into_out_dir(tmp_path, tree):
    listing = tmp_path / "videos.txt"
    listing.write_text("in/sub/b.mp4\n# a comment\n")
    out = tmp_path / "out"
    result = cli(str(tree / "a.mp4"), "--list", str(listing), "--out-dir", str(out), "--outputs", "maps")
    assert result.exit_code == 0, result.output
    assert (out / "a.mp4.maps.npy").is_file() and (out / "in" / "sub" / "b.mp4.maps.npy").is_file()
    assert not list(out.rglob("*.saliency.mp4"))


def test_workers_and_shards_write_the_same_bytes(tmp_path, tree):
    """`--workers`, `--shard` and this process make the same files; the frame count and the failure survive
    the worker processes."""
    kinds = "overlay,maps,masks,boxes,sheet"
    alone = cli(str(tree), "--out-dir", str(tmp_path / "alone"), "--outputs", kinds, "-j", "0")
    pool = cli(str(tree), "--out-dir", str(tmp_path / "pool"), "--outputs", kinds, "-j", "2")
    for result in (alone, pool):
        assert result.exit_code == 1 and "2 written, 0 already done, 1 failed of 3 videos; 24 frames" in result.output, result.output
    files = sorted(p.relative_to(tmp_path / "alone") for p in (tmp_path / "alone").rglob("*") if p.is_file() and "failures" not in p.name)
    assert len(files) == 12
    for f in files:
        assert (tmp_path / "pool" / f).read_bytes() == (tmp_path / "alone" / f).read_bytes(), f
    for part in ("0/2", "1/2"):
        result = cli(str(tree), "--out-dir", str(tmp_path / "parts"), "--outputs", kinds, "--shard", part)
        assert result.exit_code in (0, 1) and "of 3 videos" not in result.output, result.output
    for f in files:
        assert (tmp_path / "parts" / f).read_bytes() == (tmp_path / "alone" / f).read_bytes(), f
    result = cli(str(tree / "a.mp4"), "--out", str(tmp_path / "one.mp4"), "-j", "2")
    assert result.exit_code == 2 and "apply with --out-dir" in result.output, result.output
    result = cli(str(tree), "--out-dir", str(tmp_path / "x"), "--backend", "spark")
    assert result.exit_code == 2 and "--backend must be one of local, ray, got 'spark'" in result.output, result.output


def test_a_network_method_opens_its_engine_once_in_this_process(tmp_path, tree, monkeypatch):
    """A network method's batch runs in this process by default, with one engine for every video."""
    from mosi_tool.saliency import batch

    opened = []

    def counted(options):
        opened.append(options)
        return real(options)

    real = batch.open_engine
    monkeypatch.setattr(batch, "open_engine", counted)
    result = cli(str(tree), "--out-dir", str(tmp_path / "o"), "--outputs", "maps", "--method", "cam")
    assert result.exit_code == 1 and "2 written, 0 already done, 1 failed of 3 videos" in result.output, result.output
    assert len(opened) == 1 and not batch._ENGINES  # and not kept after the run


def test_python_batch_refuses_bad_arguments_before_any_work(tmp_path, tree, monkeypatch):
    """`run_batch` from Python: a negative worker count failed inside the pool after the out-dir was made,
    a shard out of range ran nothing (2/2) or divided by zero (0/0), and outputs given as one string failed
    with KeyError 'm'; each is now one ValueError (TypeError for the string), before the out-dir is made."""
    from mosi_tool.saliency.batch import run_batch
    from mosi_tool.saliency.run import SaliencyOptions

    no_compute(monkeypatch)
    out = tmp_path / "out"
    for kwargs, error, words in ((dict(workers=-1), ValueError, "workers must be 0"), (dict(shard=(2, 2)), ValueError, "0 <= i < n"),
                                 (dict(shard=(0, 0)), ValueError, "0 <= i < n"), (dict(kinds="maps"), TypeError, "kinds=('maps',)"),
                                 (dict(kinds=("maps", "heat")), ValueError, "got 'maps,heat'"), (dict(backend="spark"), ValueError, "spark")):  # fmt: skip
        with pytest.raises(error, match=re.escape(words)):
            run_batch([tree], out, SaliencyOptions(), **{"kinds": ("maps",), **kwargs})
        assert not out.exists(), kwargs
    from mosi_tool.batch.per_video import plan_jobs

    assert len(plan_jobs([tree], None, out, (np.int64(1), np.int64(3))).jobs) == 1  # numpy integers are whole numbers


def test_a_network_batch_in_workers_keeps_no_engine_in_this_process(tmp_path, tree, monkeypatch):
    """With -j 2 the engine opened here to check it stayed open, unused, for the whole run, beside one per
    worker; it is checked, then let go before the workers start."""
    from mosi_tool.batch import per_video
    from mosi_tool.saliency import batch

    held = []
    real = per_video.run_jobs

    def run_jobs(todo, work, failures, workers=None, backend="local", on_video=None):
        held.append((workers, dict(batch._ENGINES)))
        return real(todo, work, failures, workers, backend, on_video)

    monkeypatch.setattr(per_video, "run_jobs", run_jobs)
    for j in ("2", "0"):
        result = cli(str(tree), "--out-dir", str(tmp_path / j), "--outputs", "maps", "--method", "cam", "-j", j)
        assert result.exit_code == 1 and "2 written, 0 already done, 1 failed of 3 videos" in result.output, result.output
    assert [(w, len(e)) for w, e in held] == [(2, 0), (0, 1)]


@pytest.mark.slow  # a local Ray cluster starts and stops: 15-30 s on 2 shared cores
def test_ray_backend_writes_the_same_bytes_and_failures(tmp_path, tree):
    pytest.importorskip("ray", reason="ray is not installed (pip install mosi-tool[ray])")
    local = cli(str(tree), "--out-dir", str(tmp_path / "local"), "--outputs", "maps,masks,boxes", "-j", "0")
    ray = cli(str(tree), "--out-dir", str(tmp_path / "ray"), "--outputs", "maps,masks,boxes", "-j", "2", "--backend", "ray")
    for result in (local, ray):
        assert result.exit_code == 1 and "2 written, 0 already done, 1 failed of 3 videos; 24 frames" in result.output, result.output
    files = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*") if p.is_file() and "failures" not in p.name)
    assert len(files) == 8 and all((tmp_path / "ray" / f).read_bytes() == (tmp_path / "local" / f).read_bytes() for f in files)
    assert (tmp_path / "ray" / "failures.jsonl").read_text() == (tmp_path / "local" / "failures.jsonl").read_text()


def test_out_dir_refuses_single_file_options(tmp_path, tree, monkeypatch):
    no_compute(monkeypatch)
    result = cli(str(tree), "--out-dir", str(tmp_path / "o"), "--maps", str(tmp_path / "m.npy"))
    assert result.exit_code == 2 and "--outputs" in result.output
    result = cli(str(tree / "a.mp4"), str(tree / "sub" / "b.mp4"))
    assert result.exit_code == 2 and "--out-dir" in result.output
    result = cli(str(tree), "--out-dir", str(tmp_path / "o"), "--outputs", "overlay,heat")
    assert result.exit_code == 2 and "--outputs" in result.output


def test_a_folder_of_videos_without_out_dir_says_what_to_do(tmp_path, tree, monkeypatch):
    no_compute(monkeypatch)
    result = cli(str(tree))
    assert result.exit_code == 2 and "give --out-dir DIR" in result.output, result.output


def test_method_mv_imports_no_torch(tmp_path, video):
    """--method mv runs no network: a run, the bundled model's header included, must not pay torch's import
    (about 1.4 CPU-s, a tenth of FFmpeg transcoding a minute of 854x480: bench/saliency_vs_ffmpeg.py)."""
    code = ("import sys; from pathlib import Path; from mosi_tool.saliency.run import Outputs, run; "
            f"run({str(video)!r}, outputs=Outputs(overlay=Path({str(tmp_path / 'o.mp4')!r}))); "
            "sys.exit(11 if 'torch' in sys.modules else 0)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "o.mp4").exists()


def test_full_disk_under_the_temporary_maps_is_one_error_line(tmp_path, video, monkeypatch):
    """The motion maps wait in an anonymous temporary file (`MapStore`); a full disk there is one line."""
    from mosi_tool.saliency import map_store

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(map_store.os, "pwrite", full)
    result = cli(str(video), "--out", str(tmp_path / "o.mp4"))
    import tempfile

    expected = f"error: a temporary file in {tempfile.gettempdir()}: No space left on device"
    assert result.exit_code == 2 and result.output.strip() == expected, result.output
    assert not (tmp_path / "o.mp4").exists() and not temporaries(tmp_path)


def test_python_options_take_plain_values(video):
    import mosi_tool

    got = mosi_tool.saliency(str(video), maps_size=[16, 8], model=str(Path(mosi_tool.default_model_path())))
    assert got.maps.shape == (24, 8, 16)


def test_a_folder_run_prints_each_videos_notes(tmp_path):
    """With --out-dir each video's notes (here its mended timestamps) were dropped: only its summary line
    was printed."""
    import shutil

    from .conftest import shared

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(shared("videos", "eye_makeup.avi"), folder)
    result = cli(str(folder), "--out-dir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "note: " in result.output and "eye_makeup.avi: presentation timestamps are in decode order" in result.output


def test_one_frame_is_counted_in_the_singular(tmp_path):
    """A 1-frame video's lines say "1 frame" (the batch's per-video line, targets' warnings), not "1 frames"."""
    video = write_video(tmp_path / "still.mp4", n=1, size=(64, 48))
    r = CliRunner().invoke(app, ["saliency", str(video), "--out-dir", str(tmp_path / "s"), "--outputs", "maps"])
    assert r.exit_code == 0 and f"{video}: 1 frame in " in r.output, r.output
    r = CliRunner().invoke(app, ["targets", str(video), "-o", str(tmp_path / "t"), "-j", "0"])
    assert r.exit_code == 0 and "1 frame: too few for trajectories" in r.output, r.output
    r = CliRunner().invoke(app, ["targets", str(video), "-o", str(tmp_path / "m"), "-j", "0", "--format", "mme"])
    assert r.exit_code == 1 and "1 frame: too few for MME's trajectories" in r.output, r.output


def test_a_list_without_out_dir_asks_for_out_dir_whatever_files_are_named(tmp_path, tree, monkeypatch):
    """`--list L --out o.mp4` (or two videos and --masks) lacks --out-dir: the error said only that --out names
    one video's files and described what --out-dir does, without saying to give it."""
    no_compute(monkeypatch)
    listed = tmp_path / "list.txt"
    listed.write_text(f"{tree / 'a.mp4'}\n")
    result = cli(str(tree / "a.mp4"), "--list", str(listed), "--out", str(tmp_path / "o.mp4"))
    assert result.exit_code == 2 and "give --out-dir DIR" in result.output and "instead of --out" in result.output, result.output
    result = cli(str(tree / "a.mp4"), str(tree / "sub" / "b.mp4"), "--masks", str(tmp_path / "m.npy"), "--boxes", str(tmp_path / "b.jsonl"))
    assert result.exit_code == 2 and "give --out-dir DIR" in result.output and "instead of --masks, --boxes" in result.output, result.output


@pytest.mark.parametrize("suffix", [".avi", ".webm", ".mkv"])
def test_every_overlay_type_the_command_accepts_is_written(tmp_path, video, suffix):
    """Each --out suffix the check lets through is written, with every frame at its time (.avi's MPEG-4 Part 2
    encoder refused the 1/90000 time base: 'avcodec_open2("mpeg4", {})' returned 22, after the decoding)."""
    import av

    out = tmp_path / f"o{suffix}"
    result = cli(str(video), "--method", "mv", "--out", str(out))
    assert result.exit_code == 0, result.output
    with av.open(str(video)) as c:
        want = [float(f.time) for f in c.decode(video=0)]
    with av.open(str(out)) as c:
        got = [float(f.time) for f in c.decode(video=0)]
    assert len(got) == len(want) and np.allclose(got, want, atol=1e-3), (got, want)


def test_ctrl_c_in_a_batch_says_what_is_kept(tmp_path, video, monkeypatch):
    """Ctrl-C during `saliency --out-dir` ends as `targets` and `features` end: exit code 130 and one line saying
    that the finished videos are kept and a rerun resumes (it ended with no word at all)."""
    from mosi_tool.saliency import batch

    def interrupted(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "run_batch", interrupted)
    result = cli(str(video), "--out-dir", str(tmp_path / "out"), "--outputs", "masks")
    assert result.exit_code == 130, result.output
    assert "interrupted: the finished files in" in result.output and "run the same command again to resume" in result.output


def test_two_videos_of_one_name_are_refused_naming_their_outputs(tmp_path, video):
    """`saliency cam1/ cam2/ --out-dir D` with cam1/GX.mp4 and cam2/GX.mp4: refused before any work, naming the
    files both would write (D/GX.mp4.*; it named D/GX.mp4, a file no run makes)."""
    for cam in ("cam1", "cam2"):
        (tmp_path / cam).mkdir()
        (tmp_path / cam / "GX.mp4").write_bytes(video.read_bytes())
    result = cli(str(tmp_path / "cam1"), str(tmp_path / "cam2"), "--out-dir", str(tmp_path / "out"), "--outputs", "boxes")
    assert result.exit_code == 2 and f"would both write {tmp_path / 'out' / 'GX.mp4'}.*:" in result.output, result.output


def test_python_batch_takes_its_folders_as_strings(tmp_path, video):
    """`run_batch(["videos/"], "out/", ...)`, paths as strings as `make_targets` takes them: it failed with
    TypeError "unsupported operand type(s) for /: 'str' and 'str'"."""
    from mosi_tool.saliency.batch import run_batch
    from mosi_tool.saliency.run import SaliencyOptions

    listed = tmp_path / "list.txt"
    listed.write_text(f"{video}\n")
    report = run_batch([str(video)], str(tmp_path / "out"), SaliencyOptions(), ("boxes",), list_file=str(listed), workers=0)
    assert (report.ok, report.failed) == (1, 0) and len(list((tmp_path / "out").rglob("square.mp4.boxes.jsonl"))) == 1


def test_python_batch_options_from_numpy_numbers_are_recorded(tmp_path, video):
    """SaliencyOptions from a numpy config (np.int64 max_boxes, np.float32 fps): the batch records them as
    plain numbers (every video failed: 'Object of type int64 is not JSON serializable'), so a rerun with plain
    ones finds the videos done."""
    from mosi_tool.saliency.batch import run_batch
    from mosi_tool.saliency.run import SaliencyOptions

    out = tmp_path / "out"
    first = run_batch([video], out, SaliencyOptions(max_boxes=np.int64(3), batch_size=np.int32(4)), ("boxes",), workers=0)
    again = run_batch([video], out, SaliencyOptions(max_boxes=3, batch_size=4), ("boxes",), workers=0)
    assert (first.ok, first.failed, again.skipped) == (1, 0, 1), first.errors
    with pytest.raises(ValueError, match="--max-boxes must be a whole number, got 2.5"):
        SaliencyOptions(max_boxes=2.5)


def test_an_avi_overlay_of_a_high_frame_rate_video(tmp_path):
    """A phone's slow-motion video at 120000/1001 fps: one frame period, 1001/120000 s, is no MPEG-4 Part 2
    time base either (its denominator is over 65535); the .avi overlay is written with every frame."""
    from fractions import Fraction

    import av

    video = encode_frames(tmp_path / "hfr.mp4", [texture(48, 64, seed=i) for i in range(12)], rate=Fraction(120000, 1001))
    out = tmp_path / "o.avi"
    result = cli(str(video), "--method", "mv", "--out", str(out))
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as c:
        assert len(list(c.decode(video=0))) == 12


def test_a_webm_overlay_is_encoded_at_a_realtime_speed(tmp_path, video):
    """libvpx's default VP9 settings took 7x the rest of the run for a .webm overlay (10.2 s against 1.4 s
    for 90 frames of DAVIS camel, 854x480); the overlay is encoded at realtime speed 8, every frame kept."""
    import av

    from mosi_tool.saliency import render

    overlay = render.OverlayVideo(tmp_path / "o.webm", 96, 72, 12.0)
    try:
        assert overlay.stream.options == {"deadline": "realtime", "cpu-used": "8"}
    finally:
        overlay.abort()
    out = tmp_path / "full.webm"
    assert cli(str(video), "--method", "mv", "--out", str(out)).exit_code == 0
    with av.open(str(out)) as c, av.open(str(video)) as v:
        assert len(list(c.decode(video=0))) == len(list(v.decode(video=0)))
