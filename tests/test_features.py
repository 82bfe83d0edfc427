"""Batch feature extraction: outputs, resume, failures, workers/devices/shards, and a killed run."""

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mosi_tool.cli import app
from mosi_tool.pipeline.extract import ExtractOptions, extract
from mosi_tool.batch.jobs import find_inputs, plan, shard

from .conftest import ROOT, shared, texture, write_video


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Good videos (two named clip.mp4), a frame folder, a short video and bad files."""
    root = tmp_path_factory.mktemp("tree")
    for sub, n, speed in (("a", 40, 2), ("b", 28, 3), ("c/deep", 33, 1)):
        (root / sub).mkdir(parents=True)
        write_video(root / sub / "clip.mp4", n=n, speed=speed)
    write_video(root / "c" / "short.mkv", n=3)
    frames = root / "d" / "frames"
    frames.mkdir(parents=True)
    for i in range(20):
        Image.fromarray(texture(72, 96, i)).save(frames / f"{i:05d}.jpg")
    bad = root / "e"
    bad.mkdir()
    (bad / "text.mp4").write_text("definitely not a video\n" * 10)
    (bad / "zero.mp4").write_bytes(b"")
    return root


def run(args, code=0):
    result = CliRunner().invoke(app, ["features", *args])
    assert result.exit_code == code, result.output
    return result


def outputs(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.npz"))}


def test_discover_and_plan(tree):
    videos = find_inputs([tree]).videos
    names = sorted(str(Path(v).relative_to(tree)) for v in videos)
    assert names == ["a/clip.mp4", "b/clip.mp4", "c/deep/clip.mp4", "c/short.mkv", "d/frames", "e/text.mp4", "e/zero.mp4"]
    jobs = plan(find_inputs([tree]), Path("/out"))
    outs = sorted(j.out for j in jobs)
    assert "/out/a/clip.mp4.npz" in outs and "/out/b/clip.mp4.npz" in outs and "/out/d/frames.npz" in outs
    assert len(set(outs)) == len(outs)
    parts = [shard(jobs, (i, 3)) for i in range(3)]
    assert sorted(j.out for p in parts for j in p) == outs and all(parts)


def test_output_names_do_not_depend_on_the_other_inputs(tree, tmp_path):
    def outs(*inputs, list_file=None):
        return {Path(j.path).resolve(): j.out for j in plan(find_inputs(list(inputs), list_file), Path("/out"))}

    alone = outs(tree / "c")  # a folder: paths relative to it
    assert sorted(alone.values()) == ["/out/deep/clip.mp4.npz", "/out/short.mkv.npz"]
    more = outs(tree / "c", tree / "a" / "clip.mp4", tree / "d" / "frames")  # more inputs move nothing
    assert all(more[v] == o for v, o in alone.items())
    assert more[(tree / "a" / "clip.mp4").resolve()] == "/out/clip.mp4.npz" and more[(tree / "d" / "frames").resolve()] == "/out/frames.npz"
    assert outs(tree / "c" / "deep" / "clip.mp4") == {(tree / "c" / "deep" / "clip.mp4").resolve(): "/out/clip.mp4.npz"}
    # A video reached twice is one job, named from the outermost folder, whatever the order.
    for order in ([tree / "c" / "deep", tree / "c"], [tree / "c", tree / "c" / "deep"], [tree / "c" / "deep" / "clip.mp4", tree / "c"]):
        assert outs(*order) == alone
    link = tmp_path / "alias"
    link.symlink_to(tree / "c")
    assert sorted(outs(link, tree / "c").values()) == sorted(alone.values())  # a symlinked alias is the same videos
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "v.mp4").write_bytes(b"")
    (tmp_path / "list2.txt").write_text("x/v.mp4\n")
    assert sorted(outs(list_file=tmp_path / "list2.txt").values()) == ["/out/x/v.mp4.npz"]  # relative to the list's folder
    listed = tmp_path / "list.txt"  # absolute entries outside the list's folder keep their whole path
    listed.write_text(f"{tree / 'a' / 'clip.mp4'}\n{tree / 'b'}\n")
    assert sorted(outs(list_file=listed).values()) == [f"/out{tree.resolve()}/a/clip.mp4.npz", f"/out{tree.resolve()}/b/clip.mp4.npz"]
    # Two clip.mp4 named directly would write one file: refused up front, naming both.
    with pytest.raises(ValueError, match=r"a/clip.mp4 and .*b/clip.mp4 would both write /out/clip.mp4.npz"):
        outs(tree / "a" / "clip.mp4", tree / "b" / "clip.mp4")


def test_a_video_in_a_folder_and_a_list_keeps_the_folder_run_name(tree, tmp_path):
    """`saliency geo/` wrote OUT/base.mp4.*; adding `--list` naming geo/base.mp4 (relative to the list's folder:
    a longer name) renamed it OUT/geo/base.mp4.* and made it again. The broadest input names it: a folder given,
    else the list, else the file itself, in any order."""
    def outs(*inputs, list_file=None):
        return {Path(j.path).resolve(): j.out for j in plan(find_inputs(list(inputs), list_file), Path("/out"))}

    listed = tree / "list.txt"
    listed.write_text("c/deep/clip.mp4\nc/short.mkv\n")
    alone = outs(tree / "c")
    assert outs(tree / "c", list_file=listed) == alone
    video = (tree / "c" / "deep" / "clip.mp4").resolve()
    for order in ([tree / "c" / "deep" / "clip.mp4", tree / "c"], [tree / "c", tree / "c" / "deep" / "clip.mp4"]):
        assert outs(*order, list_file=listed) == alone
        assert len(plan(find_inputs(order, listed), Path("/out"))) == 2  # one job per video
    assert outs(tree / "c" / "deep" / "clip.mp4", list_file=listed)[video] == "/out/c/deep/clip.mp4.npz"  # the list's name


def test_features_outputs_failures_and_resume(tree, tmp_path, micro_ckpt):
    out = tmp_path / "feats"
    common = [str(tree), "--model", str(micro_ckpt), "--out-dir", str(out), "--workers", "0", "--batch-size", "4", "--runtime", "torch"]
    result = run(common, code=1)
    assert "5 written" in result.output and "2 failed" in result.output
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert sorted(Path(f["path"]).name for f in failures) == ["text.mp4", "zero.mp4"]
    assert any("not a video" in f["error"] for f in failures) and any("empty file" in f["error"] for f in failures)
    assert sorted(line for line in result.output.splitlines() if line.startswith("error: ")) == sorted(f"error: {f['error']}" for f in failures)
    data = np.load(out / "a" / "clip.mp4.npz")
    assert data["features"].shape == (10, 64) and data["features"].dtype == np.float32  # 40 frames / 4
    assert data["frame_range"].tolist()[:2] == [[0, 3], [4, 7]]
    np.testing.assert_allclose(data["time_range"][1], [4 / 12, 7 / 12])
    assert str(data["model_id"]).startswith("r2plus1d_10-")
    info = json.loads(str(data["info"]))
    assert info["width"] == 96 and info["decoded_frames"] == 40
    short = np.load(out / "c" / "short.mkv.npz")
    assert short["features"].shape[0] == 1 and short["padded"].tolist() == [1]  # 3 frames, clips of 4
    first = outputs(out)
    # A rerun skips what is done, retries failures without duplicating them, and exits non-zero again.
    result = run(common, code=1)
    assert "0 written, 5 already done, 2 failed" in result.output
    assert len((out / "failures.jsonl").read_text().splitlines()) == 2
    assert outputs(out) == first
    # --overwrite recomputes, byte for byte the same
    run([*common, "--overwrite"], code=1)
    assert outputs(out) == first
    # other settings make existing files stale: they are recomputed, not silently kept
    result = run([*common, "--step", "2", "--dtype", "float16", "--pool", "video"], code=1)
    assert "5 written" in result.output
    data = np.load(out / "a" / "clip.mp4.npz")
    assert data["features"].dtype == np.float16 and data["features"].shape == (19, 64)
    np.testing.assert_allclose(data["video_feature"], data["features"].astype(np.float32).mean(0), atol=1e-3)


def test_bf16_precision_is_recorded_close_to_fp32_and_not_mixed(tree, tmp_path, micro_ckpt):
    out = tmp_path / "feats"
    common = [str(tree / "a"), "--model", str(micro_ckpt), "--out-dir", str(out), "--workers", "0", "--batch-size", "4"]
    run([*common, "--runtime", "torch"])
    fp32 = np.load(out / "clip.mp4.npz")["features"]
    result = run([*common, "--precision", "bf16"])
    assert "1 written" in result.output  # fp32 files are stale for a bf16 run, not kept
    data = np.load(out / "clip.mp4.npz")
    assert json.loads(str(data["settings"]))["precision"] == "bf16"
    bf16 = data["features"]
    cos = (fp32 * bf16).sum(1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(bf16, axis=1)
    assert not np.array_equal(fp32, bf16) and cos.min() > 0.99
    assert "1 written" in run([*common, "--runtime", "torch"]).output  # and back
    result = run([*common, "--precision", "int4"], code=2)
    assert "precision must be one of fp32, fp16, bf16" in result.output


def test_each_output_stores_the_runs_one_clip_spec_whole(tree, tmp_path, micro_ckpt, monkeypatch):
    """`extract` builds one `ClipSpec` from the options and the model; every file stores it whole, it reads
    back equal, and resume compares it."""
    from mosi_tool.video.clips import ClipSpec

    spec = ClipSpec(stack=4, step=2, fps=6.0, mode="full", size=32, stream=0)  # the model: 4 frames of 32
    built = []
    check = ClipSpec.__post_init__
    monkeypatch.setattr(ClipSpec, "__post_init__", lambda self: (built.append(self), check(self)))
    opts = ExtractOptions(model=str(micro_ckpt), out_dir=tmp_path, workers=0, batch_size=4, runtime="torch", progress=False,
                          step=2, fps=6.0, mode="full", stream=0)  # fmt: skip
    report = extract([tree / "a", tree / "d"], opts)
    assert report.ok == 2 and built == [spec]  # once for the run, not per video, worker or stage
    for name in ("clip.mp4.npz", "frames.npz"):
        settings = json.loads(str(np.load(tmp_path / name)["settings"]))
        assert settings["clips"] == spec.to_dict() and ClipSpec.from_dict(settings["clips"]) == spec
    assert extract([tree / "a"], opts).skipped == 1  # the same spec: done
    assert extract([tree / "a"], dataclasses.replace(opts, step=None)).ok == 1  # another: extracted again


def test_list_lines_may_carry_a_label_after_the_path(tmp_path):
    """Training lists ("path label", as VideoMAE, MME and MMAction2 write them; "path,label"; MMAction2's "frame
    folder, frames, label") name the path; a file whose name itself ends in a space and a number is still taken
    whole."""
    (tmp_path / "x").mkdir()
    for name in ("v.mp4", "w 2.mp4", "take 3"):
        (tmp_path / "x" / name).write_bytes(b"")
    (tmp_path / "x" / "frames").mkdir()  # a folder of frames, as MMAction2's rawframe lists name them
    (tmp_path / "x" / "frames" / "img_00001.jpg").write_bytes(b"")
    (tmp_path / "x" / "u.mp4").write_bytes(b"")
    (tmp_path / "train.csv").write_text("x/v.mp4 7\nx/w 2.mp4 0\nx/take 3\nx/missing.mp4 4\nx/frames 120 3\nx/u.mp4,5\n")
    found = find_inputs([], tmp_path / "train.csv")
    assert [p.relative_to(tmp_path).as_posix() for p in found.videos] == ["x/v.mp4", "x/w 2.mp4", "x/take 3", "x/missing.mp4", "x/frames", "x/u.mp4"]


def test_a_list_written_on_windows_or_with_tabs_names_its_paths(tmp_path):
    """A list saved with a BOM and CRLF line ends (Notepad, Excel) and "PATH<tab>LABEL" lines: the BOM was read as
    part of the first path and a tab-separated label as part of the name, so those videos were "missing"."""
    (tmp_path / "x").mkdir()
    for name in ("v.mp4", "w.mp4", "y z.mp4"):
        (tmp_path / "x" / name).write_bytes(b"")
    (tmp_path / "train.csv").write_bytes("\ufeffx/v.mp4 7\r\nx/w.mp4\t3\r\nx/y z.mp4\t-1\r\n".encode())
    found = find_inputs([], tmp_path / "train.csv")
    assert [p.relative_to(tmp_path).as_posix() for p in found.videos] == ["x/v.mp4", "x/w.mp4", "x/y z.mp4"]


def test_a_csv_list_with_quoted_paths_names_them_without_the_quotes(tmp_path):
    """A path holding a comma is quoted in a CSV list (`"a,b.mp4",3`, as spreadsheets and Python's csv write it):
    the quotes were kept as part of the name, so the video was "missing"."""
    (tmp_path / "x").mkdir()
    for name in ("a,b.mp4", 'say "hi".mp4', "c.mp4"):
        (tmp_path / "x" / name).write_bytes(b"")
    (tmp_path / "train.csv").write_text('"x/a,b.mp4",3\n"x/say ""hi"".mp4",1\n"x/c.mp4"\n')
    found = find_inputs([], tmp_path / "train.csv")
    assert [p.relative_to(tmp_path).as_posix() for p in found.videos] == ["x/a,b.mp4", 'x/say "hi".mp4', "x/c.mp4"]


def test_a_list_not_in_utf8_is_one_error_naming_it(tmp_path):
    """A Latin-1 or UTF-16 list gave "error: 'utf-8' codec can't decode byte 0xe9 in position 21", naming neither
    the file nor what to do."""
    for name, data in (("latin.txt", "x/caf\u00e9.mp4 1\n".encode("latin-1")), ("wide.txt", "x/v.mp4 1\n".encode("utf-16"))):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=f"^{tmp_path / name}: not UTF-8 text .*save the list as UTF-8"):
            find_inputs([], tmp_path / name)


def test_list_file_and_success_clears_failure(tree, tmp_path, micro_ckpt):
    out = tmp_path / "feats"
    lst = tmp_path / "list.txt"
    lst.write_text(f"# videos\n{tree / 'a' / 'clip.mp4'}\n{tree / 'e' / 'zero.mp4'}\n")
    common = ["--list", str(lst), "--model", str(micro_ckpt), "--out-dir", str(out), "--workers", "0", "--runtime", "torch"]
    run(common, code=1)
    assert len((out / "failures.jsonl").read_text().splitlines()) == 1
    lst.write_text(f"{tree / 'a' / 'clip.mp4'}\n")
    run(common, code=0)
    # the failure is kept until that video succeeds; it was not re-run here, so it stays listed once
    assert len((out / "failures.jsonl").read_text().splitlines()) == 1


def test_clips_are_batched_across_videos(tree, tmp_path, micro_ckpt):
    opts = ExtractOptions(model=str(micro_ckpt), out_dir=tmp_path / "o", devices=["cpu"], runtime="torch",
                          batch_size=8, workers=0, progress=False)  # fmt: skip
    report = extract([tree], opts)
    assert report.ok == 5 and report.clips == 10 + 7 + 8 + 1 + 5
    assert report.times.batches <= -(-report.clips // 8) + 1  # not one partial batch per video


@pytest.mark.parametrize("variant", [["--workers", "2"], ["--workers", "2", "--devices", "cpu,cpu"]])
def test_workers_and_devices_give_identical_files(tree, tmp_path, micro_ckpt, variant):
    base = ["--model", str(micro_ckpt), "--batch-size", "4", "--runtime", "torch"]
    run([str(tree), *base, "--out-dir", str(tmp_path / "ref"), "--workers", "0"], code=1)
    run([str(tree), *base, "--out-dir", str(tmp_path / "var"), *variant], code=1)
    assert outputs(tmp_path / "ref") == outputs(tmp_path / "var")


def test_shards_together_equal_the_whole(tree, tmp_path, micro_ckpt):
    base = [str(tree), "--model", str(micro_ckpt), "--workers", "0", "--batch-size", "4", "--runtime", "torch"]
    run([*base, "--out-dir", str(tmp_path / "whole")], code=1)
    codes = [CliRunner().invoke(app, ["features", *base, "--out-dir", str(tmp_path / "parts"), "--shard", f"{i}/2"]).exit_code for i in range(2)]
    assert sorted(codes) in ([0, 1], [1, 1])  # the two bad files fail in whichever shard holds them
    assert outputs(tmp_path / "whole") == outputs(tmp_path / "parts")


def test_under_torchrun_each_process_takes_its_shard(tree, tmp_path, micro_ckpt, monkeypatch):
    common = dict(model=str(micro_ckpt), devices=["cpu"], runtime="torch", batch_size=4, workers=0, progress=False)
    part = extract([tree], ExtractOptions(out_dir=tmp_path / "shard", shard=(1, 2), **common))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    report = extract([tree], ExtractOptions(out_dir=tmp_path / "rank", **common))
    assert report.total == part.total < 7 and outputs(tmp_path / "rank") == outputs(tmp_path / "shard")


def test_killed_run_resumes_to_identical_outputs(tmp_path, energy_ckpt):
    """Chaos: SIGKILL a batch at a random point, rerun twice; outputs equal a clean run's, byte for byte."""
    src = tmp_path / "videos"
    src.mkdir()
    for i in range(10):
        write_video(src / f"v{i:02d}.mp4", n=48, speed=1 + i % 3)
    (src / "bad1.mp4").write_text("nope")
    (src / "bad2.avi").write_bytes(b"\x00" * 1000)
    cmd = [sys.executable, "-m", "mosi_tool", "features", str(src), "--model", str(energy_ckpt), "--batch-size", "4",
           "--workers", "2", "--runtime", "torch"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    clean = tmp_path / "clean"
    subprocess.run([*cmd, "--out-dir", str(clean)], env=env, capture_output=True, timeout=300)
    chaos = tmp_path / "chaos"
    proc = subprocess.Popen([*cmd, "--out-dir", str(chaos)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list(chaos.rglob("*.npz")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(random.Random(os.getpid()).uniform(0, 1.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for _ in range(2):
        subprocess.run([*cmd, "--out-dir", str(chaos)], env=env, capture_output=True, timeout=300)
    assert outputs(chaos) == outputs(clean) and len(outputs(clean)) == 10
    assert not [p for p in chaos.rglob("*") if p.name.endswith(".tmp")]
    lines = [json.loads(x)["path"] for x in (chaos / "failures.jsonl").read_text().splitlines()]
    assert sorted(Path(p).name for p in lines) == ["bad1.mp4", "bad2.avi"]


def test_real_videos_end_to_end(tmp_path, micro_ckpt):
    videos = shared("videos")
    out = tmp_path / "real"
    result = run([str(videos), "--model", str(micro_ckpt), "--out-dir", str(out), "--workers", "2", "--runtime", "torch"])
    assert "10 written" in result.output
    assert "truncated" in result.output  # tree.avi
    nasa = json.loads(str(np.load(out / "nasa_13013.mp4.npz")["info"]))
    assert nasa["video_streams"] == 2 and nasa["width"] == 320
    two = np.load(out / "nasa_13013.mp4.npz")["features"]
    run([str(videos / "nasa_13013.mp4"), "--model", str(micro_ckpt), "--out-dir", str(tmp_path / "s1"), "--stream", "1", "--runtime", "torch"])
    assert json.loads(str(np.load(tmp_path / "s1" / "nasa_13013.mp4.npz")["info"]))["width"] == 480
    assert two.shape[1] == 64


def test_python_api_takes_str_paths_and_defaults_to_the_bundled_model(moving_square_video, tmp_path):
    from mosi_tool.default_model import default_model_path
    from mosi_tool.pipeline.extract import ExtractOptions, extract

    opts = ExtractOptions(out_dir=str(tmp_path / "out"), devices=["cpu"], runtime="torch", workers=0, progress=False)  # type: ignore[arg-type]
    assert opts.model == str(default_model_path()) and opts.out_dir == tmp_path / "out"
    report = extract([str(moving_square_video)], opts)
    assert report.ok == 1 and len(list((tmp_path / "out").glob("*.npz"))) == 1


def test_auto_timing_is_counted_apart_from_the_clip_rate(monkeypatch, micro_ckpt, moving_square_video, tmp_path):
    import dataclasses

    from mosi_tool.pipeline.extract import ExtractOptions, extract

    monkeypatch.setenv("MOSI_TOOL_CACHE", str(tmp_path / "cache"))  # nothing measured yet
    opts = ExtractOptions(model=str(micro_ckpt), out_dir=tmp_path / "a", devices=["cpu"], workers=0, progress=False)
    first = extract([moving_square_video], opts)
    again = extract([moving_square_video], dataclasses.replace(opts, out_dir=tmp_path / "b"))
    assert 0 < first.setup_s < first.seconds and again.setup_s < first.setup_s / 5  # cached the second time


def test_on_a_terminal_each_failure_is_shown_when_it_happens(monkeypatch, micro_ckpt, moving_square_video, tmp_path):
    import io

    from rich.console import Console

    from mosi_tool import progress
    from mosi_tool.pipeline.extract import ExtractOptions, extract

    screen = io.StringIO()
    monkeypatch.setattr(progress, "_console", Console(file=screen, force_terminal=True, width=200))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    opts = ExtractOptions(model=str(micro_ckpt), out_dir=tmp_path / "out", devices=["cpu"], runtime="torch", workers=0)
    report = extract([bad, moving_square_video], opts)
    assert report.failed == 1 and report.errors_shown == 1
    assert f"error: {bad}: not a video FFmpeg can read" in screen.getvalue()


def test_extract_refuses_a_single_path_string(tmp_path):
    from mosi_tool.pipeline.extract import ExtractOptions, extract

    with pytest.raises(TypeError, match=r"takes a list of inputs, not one path: extract\(\['clip.mp4'\]"):
        extract("clip.mp4", ExtractOptions(out_dir=tmp_path / "out"))  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def test_failure_log_forgets_deleted_videos_whatever_the_working_directory(tmp_path, monkeypatch):
    from mosi_tool.batch.failures import FailureLog

    (tmp_path / "v").mkdir()
    (tmp_path / "elsewhere").mkdir()
    kept, gone = tmp_path / "v" / "kept.mp4", tmp_path / "v" / "gone.mp4"
    kept.write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    log = FailureLog(tmp_path)
    log.record("v/kept.mp4", "not a video")  # relative, as the user typed it
    log.record(str(gone), "empty file")
    monkeypatch.chdir(tmp_path / "elsewhere")  # the next run, started from another folder
    log = FailureLog(tmp_path)
    log.forget_missing()
    assert [e["path"] for e in log.entries()] == ["v/kept.mp4"]
    log.clear(str(kept))  # the same video, spelled absolutely
    assert not log.path.exists()


def test_failure_logs_of_concurrent_shards_keep_each_others_entries(tmp_path):
    from mosi_tool.batch.failures import FailureLog

    a, b = FailureLog(tmp_path), FailureLog(tmp_path)  # two shards, both started before either failed
    a.record(str(tmp_path / "x.mp4"), "bad")
    b.record(str(tmp_path / "y.mp4"), "bad")
    b.clear(str(tmp_path / "z.mp4"))
    assert [e["path"] for e in FailureLog(tmp_path).entries()] == [str(tmp_path / "x.mp4"), str(tmp_path / "y.mp4")]


@pytest.mark.parametrize(("field", "value", "says"), [
    ("dtype", "float64", "--dtype must be float32 or float16"),
    ("pool", "max", "--pool must be clip or video"),
    ("stack", 0, "--stack must be at least 1"),
    ("step", 0, "--step must be at least 1"),
    ("fps", 0.0, "--fps must be above 0"),
    ("mode", "zoom", "--mode must be one of center, full"),
    ("decode", "gpu", "--decode must be one of cpu, nvdec"),
    ("batch_size", 0, "--batch-size must be at least 1"),
    ("threads", 0, "--threads must be at least 1"),
])  # fmt: skip
def test_python_options_are_checked_as_the_command_checks_them(field, value, says):
    from mosi_tool.pipeline.extract import ExtractOptions

    with pytest.raises(ValueError, match=says):
        ExtractOptions(**{field: value})
    option = f"--{field.replace('_', '-')}"
    result = CliRunner().invoke(app, ["features", "x.mp4", option, str(value)])
    assert result.exit_code == 2 and option in result.output  # the command refuses it too (typer's range check or ours)
