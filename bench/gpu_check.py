"""One prepared run that proves mosi-tool's CUDA path on a fresh GPU machine and measures it, in under 8 minutes.

    make gpu-wheels gpu-bundle                   # here, once: the av wheel -> .whl/, shared videos and images -> .gpu/
    python bench/gpu_check.py --dry-run          # here, on CPU: every step, its time and the files it needs
    python bench/gpu_check.py --out gpu-report   # on the GPU machine (docs/GPU.md: through the device tool)
    python bench/report.py gpu-report/gpu_check.md   # records it in docs/BENCHMARKS.md (or --append-to where the run is)

The steps (`STEPS`) run in order, each as a child process killed at its time limit; a step that fails or
runs out of time is recorded and the run goes on. A step's limit is its budget plus whatever earlier steps
saved, minus nothing the later steps were promised: the whole run ends within `DEADLINE_S`.
Writes three files to --out: gpu_check.md (a section for docs/BENCHMARKS.md), gpu_check.json (every
figure) and gpu_check.log (every child's output). Exit status: 0 when every step that ran passed.

--dry-run lists the steps and checks their files. It exits 1 when a file that ships with the repository is
missing or a script lost a flag the run passes it; what `make gpu-wheels` and `make gpu-bundle` make is
reported but only fatal with --strict (run that before spending device time). CI runs the plain dry run.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gpu_bundle import BUNDLE, IMAGES, VIDEOS  # noqa: E402
from report import append_report, run_text  # noqa: E402

WHEELS = ROOT / ".whl"  # the folder `make gpu-wheels` fills
DEADLINE_S = 465  # the steps' budgets; start-up and the report stay well inside 8 minutes
TRAVEL_LIMIT_MIB = 64  # what the device tool carries: tracked and untracked files plus carried folders
# The machine's image has these (docs/GPU.md); av comes as a wheel from .whl/.
MODULES = ("torch", "numpy", "av", "typer", "rich", "safetensors", "PIL", "matplotlib", "onnx", "onnxscript", "pytest")
ORT_GPU_NOTE = "onnxruntime-gpu is not installed: its cp312 wheel (244 MiB for 1.31.1) is over what the device tool carries"


@dataclass(frozen=True)
class Folders:
    """Where the prepared pieces are: the wheels (`make gpu-wheels`) and the bundle (`make gpu-bundle`)."""

    wheels: Path = WHEELS
    bundle: Path = BUNDLE

    def data(self) -> Path:
        """Videos and images in ../shared/data's layout: $MOSI_SHARED_DATA, the bundle's, or ../shared/data."""
        if os.environ.get("MOSI_SHARED_DATA"):
            return Path(os.environ["MOSI_SHARED_DATA"])
        bundled = self.bundle / "data"
        return bundled if bundled.is_dir() else ROOT.parent / "shared" / "data"

    def default_model(self) -> Path | None:
        path = self.bundle / "model" / "default.safetensors"
        return path if path.is_file() else None


@dataclass
class Need:
    """A file (glob) a step reads. kind: 'repo' ships with the repository (relative to it); 'wheel' and
    'bundle' (relative to their folders) are made by `make gpu-wheels` / `make gpu-bundle` here and carried
    to the GPU machine."""

    pattern: str
    kind: str = "repo"
    unless_module: str = ""  # not needed when this module is importable (av already installed)

    def path(self, folders: Folders) -> Path:
        return {"repo": ROOT, "wheel": folders.wheels, "bundle": folders.bundle}[self.kind] / self.pattern

    def present(self, folders: Folders, here: bool = True) -> bool:
        """here=False: would it be there on the GPU machine (whose image lacks `unless_module`)?"""
        found = bool(glob.glob(str(self.path(folders))))
        return found or bool(here and self.unless_module and _has(self.unless_module))

    def shown(self, folders: Folders) -> str:
        path = self.path(folders)
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)

    def hint(self) -> str:
        return {"repo": "missing from the repository", "wheel": "run `make gpu-wheels`", "bundle": "run `make gpu-bundle`"}[self.kind]


@dataclass
class StepResult:
    name: str
    status: str  # ok | failed | timed out | skipped
    seconds: float = 0.0
    limit_s: float = 0.0
    summary: str = ""  # one line for the report's table
    data: dict[str, Any] = field(default_factory=dict)
    markdown: str = ""  # the step's own section of the report, if any
    log_tail: str = ""
    commands: list[str] = field(default_factory=list)


@dataclass
class Call:
    rc: int
    seconds: float
    timed_out: bool
    output: str


@dataclass
class Context:
    """What every step gets: the device, folders, the child environment and the time limit of this step."""

    device: str
    folders: Folders
    work: Path
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    limit_s: float = 0.0
    started: float = 0.0  # time.monotonic() when the current step began
    facts: dict[str, Any] = field(default_factory=dict)  # found by earlier steps (versions, providers)
    commands: list[str] = field(default_factory=list)  # the children of the current step, as a reader would type them

    def call(self, argv: list[str], title: str) -> Call:
        """Run a child in its own process group, output appended to the log; killed at `limit_s`."""
        t0 = time.monotonic()
        shown = shlex.join(["python" if a == sys.executable else a for a in argv]).replace(str(self.work), "$TMP")
        self.commands.append(shown.replace(str(self.data), "$DATA"))
        left = self.limit_s - (t0 - self.started)
        with open(self.log, "a") as log:
            log.write(f"\n===== {title}: {shlex.join(argv)}\n")
            log.flush()
            start = log.tell()
            proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                rc, timed_out = proc.wait(timeout=max(left, 1.0)), False
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                rc, timed_out = proc.wait(), True
        with open(self.log) as log:
            log.seek(start)
            output = log.read()
        return Call(rc, time.monotonic() - t0, timed_out, output)

    @property
    def data(self) -> Path:
        return self.folders.data()

    def default_model(self) -> Path | None:
        return self.folders.default_model()


@dataclass
class Step:
    name: str
    what: str
    expected_s: int  # an estimate for an H200 machine until a run measures it
    budget_s: int
    needs: list[Need]
    run: Callable[[Context], StepResult]
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)  # script -> flags this step passes it


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _result(name: str, call: Call, ok: bool, summary: str, **kw: Any) -> StepResult:
    status = "timed out" if call.timed_out else "ok" if ok else "failed"
    if call.timed_out:
        summary = f"killed at its {call.seconds:.0f} s limit; {summary}"
    tail = "" if status == "ok" else _tail(call.output)
    return StepResult(name, status, call.seconds, summary=summary, log_tail=tail, **kw)


# --- the steps -----------------------------------------------------------------------------------


def step_env(ctx: Context) -> StepResult:
    """Python, the modules, CUDA and the GPU; a missing piece is said in one line."""
    t0 = time.monotonic()
    facts: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine()}
    missing = [m for m in MODULES if not _has(m) and not (m == "av" and glob.glob(str(ctx.folders.wheels / "av-*.whl")))]
    import torch

    facts["torch"] = torch.__version__
    facts["cuda_available"] = torch.cuda.is_available()
    if torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
        facts["compute_capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
        facts["cuda"] = torch.version.cuda
        facts["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    for name in ("triton", "onnxruntime", "onnx", "torchvision", "cv2"):
        facts[name] = _version(name)
    if ctx.device.startswith("cuda") and not torch.cuda.is_available():
        missing.append("CUDA (torch.cuda.is_available() is False)")
    if ctx.device.startswith("cuda") and facts["triton"] is None:
        missing.append("triton (torch.compile and AOTInductor on CUDA)")
    if not ctx.data.is_dir():
        missing.append(f"the videos and images ({ctx.data}: run `make gpu-bundle` and carry .gpu)")
    ctx.facts.update(facts)
    device = f"{facts['gpu']}, CUDA {facts['cuda']}" if facts.get("gpu") else "no GPU"
    summary = f"missing: {'; '.join(missing)}" if missing else f"{device}, torch {facts['torch']}, Python {facts['python']}"
    print(summary, flush=True)
    return StepResult("env", "failed" if missing else "ok", time.monotonic() - t0, summary=summary, data=facts)


def step_wheels(ctx: Context) -> StepResult:
    """pip-install every wheel of .whl/ into a temporary folder put first on the children's PYTHONPATH."""
    wheels = sorted(ctx.folders.wheels.glob("*.whl"))
    if not wheels:
        status = "ok" if _has("av") else "failed"
        return StepResult("wheels", status, summary=f"no wheels in {ctx.folders.wheels}; av is {'installed' if _has('av') else 'missing: run `make gpu-wheels`'}")
    site = ctx.work / "site"
    argv = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir",
            "--upgrade", "--target", str(site), *map(str, wheels)]  # fmt: skip
    call = ctx.call(argv, "wheels")
    if call.rc == 0:
        ctx.env["PYTHONPATH"] = os.pathsep.join([str(site), ctx.env["PYTHONPATH"]])
        check = ctx.call([sys.executable, "-c", "import av; print('av', av.__version__)"], "wheels: import av")
        call = Call(check.rc, call.seconds + check.seconds, check.timed_out, call.output + check.output)
    names = ", ".join(w.name.split("-")[0] + " " + w.name.split("-")[1] for w in wheels)
    return _result("wheels", call, call.rc == 0, f"installed {names}", data={"wheels": [w.name for w in wheels]})


def step_compare(ctx: Context) -> StepResult:
    """Features and saliency maps on the CPU and the GPU, for the default model and the paper's network."""
    out = ctx.work / "compare.json"
    argv = [sys.executable, "bench/gpu_compare.py", "--device", ctx.device, "--out", str(out),
            "--videos", *(str(ctx.data / "videos" / v) for v in VIDEOS)]  # fmt: skip
    if ctx.default_model():
        argv += ["--default-model", str(ctx.default_model())]
    call = ctx.call(argv, "compare")
    if not out.is_file():
        return _result("compare", call, False, "no comparison written")
    data = json.loads(out.read_text())
    worst = [
        min(v[p]["min"] for v in m["features"].values() if p in v) for m in data["models"].values() for p in ("fp32", "bf16")
        if any(p in v for v in m["features"].values())
    ]  # fmt: skip
    corr = [s["correlation"] for m in data["models"].values() for s in m["saliency"].values()]
    summary = (f"worst clip feature cosine {min(worst):.5f}, lowest map correlation {min(corr):.5f}" if worst and corr else "incomplete")
    if data["failures"]:
        summary += f"; {len(data['failures'])} below threshold or failed"
    return _result("compare", call, call.rc == 0 and data["ok"], summary, data=data, markdown=compare_markdown(data))


def compare_markdown(data: dict[str, Any]) -> str:
    t = data["thresholds"]
    dev = data["device"]
    lines = [f"CPU fp32 against {dev} (`bench/gpu_compare.py`): worst and mean clip cosine of the features "
             f"(pass: >= {t['feature_cosine']['fp32']} fp32, >= {t['feature_cosine']['bf16']} bf16), Pearson "
             f"correlation of the saliency maps at full resolution (pass: >= {t['map_correlation']}).", "",
             "| model | video | clips | features fp32 min / mean | features bf16 min / mean | frames | map correlation |",
             "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, m in data["models"].items():
        for video in data["videos"]:
            f, s = m["features"].get(video, {}), m["saliency"].get(video, {})
            cells = [f"{f[p]['min']:.5f} / {f[p]['mean']:.5f}" if p in f else "-" for p in ("fp32", "bf16")]
            corr = f"{s['correlation']:.5f}" if s else "-"
            lines.append(f"| {name} | {video} | {f.get('clips', '-')} | {cells[0]} | {cells[1]} | {s.get('frames', '-')} | {corr} |")
    lines += ["", "Models: " + "; ".join(f"{n}: {m['about']}" for n, m in data["models"].items())]
    if data["failures"]:
        lines.append("Failures: " + "; ".join(data["failures"]))
    return "\n".join(lines) + "\n"


def gpu_test_files() -> list[str]:
    """Test files that hold a test marked `gpu`."""
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py") if "mark.gpu" in p.read_text())


def step_pytest(ctx: Context) -> StepResult:
    """`pytest -m gpu` over the files that hold such tests (collecting only those keeps it quick)."""
    argv = [sys.executable, "-m", "pytest", "-m", "gpu", "-v", "-rs", "-p", "no:cacheprovider", *gpu_test_files()]
    call = ctx.call(argv, "pytest -m gpu")
    outcomes: dict[str, str] = {}
    for m in re.finditer(r"^(tests/\S+::\S+) (PASSED|FAILED|SKIPPED|ERROR)", call.output, re.M):
        outcomes[m.group(1)] = m.group(2)
    skips = re.findall(r"^SKIPPED \[\d+\] (.+)$", call.output, re.M)
    counts = {k: sum(1 for v in outcomes.values() if v == k) for k in ("PASSED", "FAILED", "ERROR", "SKIPPED")}
    summary = ", ".join(f"{n} {k.lower()}" for k, n in counts.items() if n) or "no tests ran"
    ok = call.rc == 0 and counts["PASSED"] > 0  # all skipped proves nothing
    md = "\n".join([f"`pytest -m gpu`: {summary}.", *(f"- {t}: {o.lower()}" for t, o in outcomes.items()),
                    *(f"- skipped: {s}" for s in skips)]) + "\n"  # fmt: skip
    return _result("pytest-gpu", call, ok, summary, data={"tests": outcomes, "skipped": skips}, markdown=md)


RUNTIMES_FLAGS = ("--device", "--runtimes", "--precisions", "--batches", "--iters", "--warmup", "--model", "--report", "--no-input-compare")


def runtimes_step(name: str, runtimes: str, precisions: str, batches: str, model: str) -> Callable[[Context], StepResult]:
    """A step running bench/runtimes.py on one model ('paper': its default random-init R(2+1)D-10)."""

    def run(ctx: Context) -> StepResult:
        if runtimes == "onnx" and not ort_cuda(ctx):
            return StepResult(name, "skipped", summary=ORT_GPU_NOTE)
        report = ctx.work / f"{name}.md"
        argv = [sys.executable, "bench/runtimes.py", "--device", ctx.device, "--runtimes", runtimes, "--precisions", precisions,
                "--batches", batches, "--iters", "10", "--warmup", "3", "--no-input-compare", "--report", str(report)]  # fmt: skip
        if model == "default":
            argv += ["--model", str(_default_checkpoint(ctx))]
        call = ctx.call(argv, name)
        text = run_text(report)
        rows = parse_table(text)
        best = max(rows, key=lambda r: r["clips/s"], default=None)
        summary = f"{len(rows)} cells; fastest {best['runtime']} {best['precision']} batch {best['batch']:.0f}: {best['clips/s']:.0f} clips/s ({best['vs eager fp32']} eager fp32)" if best else "no figures"
        skipped = re.findall(r"^Not measured: (.+)$", text, re.M)
        if skipped:
            summary += f"; not measured: {skipped[0]}"
        ok = call.rc == 0 and bool(rows) and not skipped
        return _result(name, call, ok, summary, data={"rows": rows, "model": model}, markdown=_runtimes_markdown(text, model))

    return run


def parse_table(text: str) -> list[dict[str, Any]]:
    """The rows of the first markdown table in `text` as dicts keyed by its header; numbers as floats."""
    lines = []
    for line in text.splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break
    header = [c.strip() for c in lines[0].strip("|").split("|")] if lines else []
    rows = []
    for line in lines[2:]:
        row: dict[str, Any] = {}
        for key, cell in zip(header, (c.strip() for c in line.strip("|").split("|"))):
            try:
                row[key] = float(cell)
            except ValueError:
                row[key] = cell
        rows.append(row)
    return rows


def _runtimes_markdown(text: str, model: str) -> str:
    about = "the default model" if model == "default" else "random-init R(2+1)D-10, the paper network"
    return f"Model: {about}.\n\n{section_body(text)}"


def section_body(text: str) -> str:
    """A section a bench script appended to an empty file, without the file's header, the section's
    heading and its own Command line (the report shows the command it ran)."""
    lines = text.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.startswith("## ")), 0)
    return "\n".join(line for line in lines[start:] if not line.startswith("Command:")).strip() + "\n"


def _default_checkpoint(ctx: Context) -> Path:
    """The bundled default model, else a random-init checkpoint of its geometry (made once per run)."""
    from gpu_compare import model_checkpoint

    bundled = ctx.default_model()
    path = ctx.work / "default-random.safetensors"
    if bundled is None and not path.exists():
        path = model_checkpoint("default", ctx.work)[0]
    return bundled or path


def ort_cuda(ctx: Context) -> bool:
    """Does onnxruntime, as the children import it, have a CUDA provider?"""
    code = "import onnxruntime as o; print('CUDAExecutionProvider' in o.get_available_providers())"
    probe = subprocess.run([sys.executable, "-c", code], env=ctx.env, capture_output=True, text=True, timeout=60)
    return probe.stdout.strip() == "True"


TRAIN_FLAGS = ("--device", "--preset", "--precisions", "--steps", "--report", "--root")


def train_step(name: str, preset: str, steps: int) -> Callable[[Context], StepResult]:
    """A step running bench/train.py: source images/s and clips/s per precision, generator on the device."""

    def run(ctx: Context) -> StepResult:
        report = ctx.work / f"{name}.md"
        argv = [sys.executable, "bench/train.py", "--device", ctx.device, "--preset", preset, "--precisions", "fp32,bf16",
                "--steps", str(steps), "--root", str(ctx.data / IMAGES.parent), "--report", str(report)]  # fmt: skip
        call = ctx.call(argv, name)
        text = run_text(report)
        rows = parse_table(text)
        speedup = re.search(r"bf16/fp32 speed-up:\s*([0-9.]+)x", text or call.output)
        data = {"preset": preset, "steps": steps, "rows": rows, "speedup_bf16": float(speedup.group(1)) if speedup else None}
        rates = [f"{r.get('run')} {r.get('src img/s', 0):.1f} src img/s, {r.get('clips/s', 0):.0f} clips/s" for r in rows]
        summary = "; ".join(([f"bf16/fp32 speed-up {speedup.group(1)}x"] if speedup else []) + rates) or "no figures"
        md = f"Preset `{preset}`, {steps} timed steps per precision.\n\n{section_body(text)}"
        return _result(name, call, call.rc == 0 and bool(rows) and speedup is not None, summary, data=data, markdown=md)

    return run


STEPS = [
    Step("env", "Python, modules, CUDA and the GPU; one line naming what is missing", 8, 15, [], step_env),
    Step("wheels", "pip-install .whl/*.whl into a temporary folder (av; onnxruntime-gpu if present)", 10, 20,
         [Need("av-*.whl", "wheel", unless_module="av")], step_wheels),
    Step("compare", "features (fp32, bf16) and saliency maps on CPU and CUDA, 3 videos, default model and paper network",
         55, 90, [Need("bench/gpu_compare.py")] + [Need(f"data/videos/{v}", "bundle") for v in VIDEOS], step_compare),
    Step("pytest-gpu", "pytest -m gpu", 50, 70, [Need("tests/test_cuda.py")], step_pytest),
    Step("runtimes-paper-eager", "bench/runtimes.py: paper network, eager fp32/bf16/fp16, batch 1 and 32", 20, 35,
         [Need("bench/runtimes.py")], runtimes_step("runtimes-paper-eager", "torch", "fp32,bf16,fp16", "1,32", "paper"),
         {"bench/runtimes.py": RUNTIMES_FLAGS}),
    Step("runtimes-default-eager", "bench/runtimes.py: default model, eager fp32/bf16/fp16, batch 1 and 32", 12, 20,
         [Need("bench/runtimes.py")], runtimes_step("runtimes-default-eager", "torch", "fp32,bf16,fp16", "1,32", "default"),
         {"bench/runtimes.py": RUNTIMES_FLAGS}),
    Step("train-default", "bench/train.py --preset tiny: images/s and clips/s, fp32 and bf16", 20, 30,
         [Need("bench/train.py"), Need(f"data/{IMAGES}/*/*", "bundle")], train_step("train-default", "tiny", 30),
         {"bench/train.py": TRAIN_FLAGS}),
    Step("train-paper", "bench/train.py --preset paper: images/s and clips/s, fp32 and bf16", 35, 45,
         [Need("bench/train.py"), Need(f"data/{IMAGES}/*/*", "bundle")], train_step("train-paper", "paper", 12),
         {"bench/train.py": TRAIN_FLAGS}),
    Step("runtimes-ort", "bench/runtimes.py: ONNX Runtime CUDA fp32/fp16 (only with onnxruntime-gpu)", 25, 30,
         [Need("bench/runtimes.py")], runtimes_step("runtimes-ort", "onnx", "fp32,fp16", "1,32", "paper"),
         {"bench/runtimes.py": RUNTIMES_FLAGS}),
    Step("runtimes-aoti", "bench/runtimes.py: AOTInductor CUDA bf16 package, paper network, batch 1 and 32", 50, 55,
         [Need("bench/runtimes.py")], runtimes_step("runtimes-aoti", "aoti", "bf16", "1,32", "paper"),
         {"bench/runtimes.py": RUNTIMES_FLAGS}),
    Step("runtimes-compile", "bench/runtimes.py: torch.compile (max-autotune) bf16, paper network, batch 32", 50, 55,
         [Need("bench/runtimes.py")], runtimes_step("runtimes-compile", "torch.compile", "bf16", "32", "paper"),
         {"bench/runtimes.py": RUNTIMES_FLAGS}),
]  # fmt: skip


# --- running -------------------------------------------------------------------------------------


def limit_for(index: int, steps: list[Step], remaining: float) -> float:
    """Seconds step `index` may take: what is left minus the budgets the later steps were promised."""
    return remaining - sum(s.budget_s for s in steps[index + 1 :])


def child_env(data: Path, work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["MOSI_SHARED_DATA"] = str(data)
    env["MOSI_TOOL_CACHE"] = str(work / "cache")  # engines exported on demand stay inside this run
    return env


def run_steps(steps: list[Step], ctx: Context, deadline_s: float) -> list[StepResult]:
    """Each step in turn within the deadline; no CUDA at all skips every step after 'env'."""
    t0 = time.monotonic()
    results = []
    for i, step in enumerate(steps):
        remaining = deadline_s - (time.monotonic() - t0)
        ctx.limit_s = limit_for(i, steps, remaining)
        no_device = ctx.device.startswith("cuda") and ctx.facts.get("cuda_available") is False
        if no_device or ctx.limit_s < min(step.budget_s, 5) / 2:  # too short to start a child
            why = "no CUDA device" if no_device else f"no time left ({remaining:.0f} s)"
            results.append(StepResult(step.name, "skipped", summary=why))
            continue
        missing = [n.shown(ctx.folders) for n in step.needs if not n.present(ctx.folders)]
        print(f"[{time.monotonic() - t0:5.0f} s] {step.name} (limit {ctx.limit_s:.0f} s): {step.what}", flush=True)
        if missing:
            result = StepResult(step.name, "failed", summary=f"missing: {', '.join(missing)}")
        else:
            ctx.started, ctx.commands = time.monotonic(), []
            try:
                result = step.run(ctx)
            except Exception as e:  # noqa: BLE001 - a broken step is recorded; the others still run
                result = StepResult(step.name, "failed", summary=f"{type(e).__name__}: {e}")
            result.seconds = time.monotonic() - ctx.started
            result.commands = ctx.commands
        result.limit_s = round(ctx.limit_s)
        print(f"        {result.status}: {result.summary}", flush=True)
        results.append(result)
    return results


# --- the report ----------------------------------------------------------------------------------


def report_markdown(results: list[StepResult], facts: dict[str, Any], command: str, total_s: float, steps: list[Step]) -> str:
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    device = facts.get("gpu") or f"CPU ({facts.get('machine', '?')})"
    out = [f"## GPU check: {device}, {date}", "", f"Command: `{command}` ({total_s:.0f} s in all, deadline {DEADLINE_S} s)", ""]
    versions = ", ".join(f"{k} {facts[k]}" for k in ("torch", "cuda", "triton", "onnxruntime", "python") if facts.get(k))
    out += [f"- {versions}"]
    if facts.get("gpu"):
        out.append(f"- compute capability {facts['compute_capability']}, {facts['gpu_memory_gib']} GiB")
    out.append("")
    out += ["| step | status | seconds (limit) | result |", "|---|---|---:|---|"]
    out += [f"| {r.name} | {r.status} | {r.seconds:.0f} ({r.limit_s:.0f}) | {r.summary.replace('|', '/')} |" for r in results]
    whats = {s.name: s.what for s in steps}
    for r in results:
        if r.markdown:
            out += ["", f"### {r.name}: {whats.get(r.name, '')}", ""]
            out += [f"Command: `{c}`" for c in r.commands] + ["", r.markdown.rstrip()]
        if r.log_tail:
            out += ["", f"<details><summary>{r.name}: end of its output</summary>", "", "```", r.log_tail, "```", "</details>"]
    return "\n".join(out) + "\n"


def write_report(out: Path, results: list[StepResult], facts: dict[str, Any], command: str, total_s: float, append_to: Path | None) -> str:
    from mosi_tool.atomic import atomic_write_text

    md = report_markdown(results, facts, command, total_s, STEPS)
    doc = {"command": command, "total_s": round(total_s, 1), "deadline_s": DEADLINE_S, "facts": facts,
           "ok": all(r.status in ("ok", "skipped") for r in results), "steps": [asdict(r) for r in results]}  # fmt: skip
    atomic_write_text(out / "gpu_check.md", md)
    atomic_write_text(out / "gpu_check.json", json.dumps(doc, indent=2, default=str))
    if append_to is not None:
        append_report(append_to, md)
    return md


# --- the dry run ---------------------------------------------------------------------------------


def missing_flags(script: str, flags: tuple[str, ...]) -> list[str]:
    """The flags this run passes `script` that its source no longer declares."""
    path = ROOT / script
    text = path.read_text() if path.is_file() else ""
    return [f for f in flags if f'"{f}"' not in text] if text else []


def travel_mib(folders: Folders) -> dict[str, float]:
    """MiB that would travel to the device machine: the working tree git would send, .whl and .gpu."""
    sizes: dict[str, float] = {}
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True)
        files = [ROOT / f for f in listed.stdout.decode().split("\0") if f]
        sizes["tree"] = sum(f.stat().st_size for f in files if f.is_file()) / 2**20
    except (OSError, subprocess.CalledProcessError):
        pass
    for name, folder in (("wheels", folders.wheels), ("bundle", folders.bundle)):
        sizes[name] = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20 if folder.is_dir() else 0.0
    return sizes


def dry_run(steps: list[Step], folders: Folders, strict: bool = False) -> int:
    """Print every step with its time and files; 1 when the repository lacks something, or with `strict`
    when anything the GPU run needs is missing."""
    fatal: dict[str, list[str]] = {}  # what is missing -> the steps that need it
    prepared: dict[str, list[str]] = {}
    print(f"{'step':<24}{'expected':>9}{'budget':>8}  needs")
    for step in steps:
        needs = []
        for need in step.needs:
            ok, shown = need.present(folders, here=False), need.shown(folders)
            needs.append(f"{shown}{'' if ok else ' (MISSING)'}")
            if not ok:
                key = shown if need.kind == "repo" else f"{shown} ({need.hint()})"
                (fatal if need.kind == "repo" else prepared).setdefault(key, []).append(step.name)
        for script, flags in step.flags.items():
            lost = missing_flags(script, flags)
            if lost:
                fatal.setdefault(f"{script} no longer takes {', '.join(lost)}", []).append(step.name)
        print(f"{step.name:<24}{step.expected_s:>7} s{step.budget_s:>6} s  {'; '.join(needs) or '-'}")
        print(f"{'':<41}{step.what}")
    total_expected, total_budget = sum(s.expected_s for s in steps), sum(s.budget_s for s in steps)
    print(f"\nexpected {total_expected} s, budgets {total_budget} s (deadline {DEADLINE_S} s; a step may use what earlier ones saved)")
    if total_budget > DEADLINE_S:
        fatal[f"the budgets add up to {total_budget} s, over the {DEADLINE_S} s deadline"] = []
    files = gpu_test_files()
    print(f"pytest -m gpu collects: {', '.join(files) or 'nothing'}")
    if not files:
        fatal["a test marked gpu"] = ["pytest-gpu"]
    sizes = travel_mib(folders)
    total = sum(sizes.values())
    print("travels to the GPU machine: " + " + ".join(f"{k} {v:.1f} MiB" for k, v in sizes.items()) + f" = {total:.1f} MiB of {TRAVEL_LIMIT_MIB}")
    if total > TRAVEL_LIMIT_MIB:
        prepared[f"{total:.1f} MiB would travel, over {TRAVEL_LIMIT_MIB} MiB"] = []
    for module in MODULES:
        if not _has(module):
            print(f"note: {module} is not importable here")
    print(f"note: {ORT_GPU_NOTE}; the runtimes-ort step runs only when a CUDA provider is importable")
    if prepared:
        print(("not prepared (fatal with --strict): " if not strict else "not prepared: ") + _listing(prepared))
    if fatal:
        print("missing from the repository: " + _listing(fatal))
    bad = fatal or (prepared if strict else [])
    print("dry run: " + ("FAILED" if bad else "ok" + (" (the GPU run would lack what is listed above)" if prepared else "")))
    return 1 if bad else 0


def _listing(missing: dict[str, list[str]]) -> str:
    return "; ".join(f"{what} (for {', '.join(steps)})" if steps else what for what, steps in missing.items())


def _version(module: str) -> str | None:
    if not _has(module):
        return None
    try:
        return str(getattr(__import__(module), "__version__", "?"))
    except Exception:  # noqa: BLE001 - a module that fails to import counts as absent
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("gpu-report"), help="folder for gpu_check.md/.json/.log (default: %(default)s)")
    p.add_argument("--dry-run", action="store_true", help="list the steps and check their files; runs nothing")
    p.add_argument("--strict", action="store_true", help="with --dry-run: also fail when the wheels or the bundle are missing")
    p.add_argument("--device", default="cuda", help="cuda (default), or cpu to try the script itself without a GPU")
    p.add_argument("--steps", help="comma-separated step names to run (default: all)")
    p.add_argument("--append-to", type=Path, help="also append the markdown report to this file (e.g. docs/BENCHMARKS.md)")
    p.add_argument("--wheels", type=Path, default=WHEELS, help="wheels to install first (default: %(default)s, `make gpu-wheels`)")
    p.add_argument("--bundle", type=Path, default=BUNDLE, help="videos, images and model (default: %(default)s, `make gpu-bundle`)")
    a = p.parse_args(argv)
    folders = Folders(a.wheels.resolve(), a.bundle.resolve())
    steps = STEPS
    if a.steps:
        names = a.steps.split(",")
        unknown = sorted(set(names) - {s.name for s in STEPS})
        if unknown:
            p.error(f"unknown steps {unknown}; choose from {', '.join(s.name for s in STEPS)}")
        steps = [s for s in STEPS if s.name in names or s.name == "env"]
    if a.dry_run:
        return dry_run(steps, folders, a.strict)
    command = "python bench/gpu_check.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mosi-gpu-check-") as tmp:
        work = Path(tmp)
        ctx = Context(a.device, folders, work, a.out / "gpu_check.log", child_env(folders.data(), work))
        ctx.log.write_text(f"{command}\n")
        results = run_steps(steps, ctx, DEADLINE_S)
        write_report(a.out, results, ctx.facts, command, time.monotonic() - t0, a.append_to)
    failed = [r.name for r in results if r.status in ("failed", "timed out")]
    print(f"\n{'FAILED: ' + ', '.join(failed) if failed else 'all steps passed'}; report in {a.out}/gpu_check.md and .json")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
