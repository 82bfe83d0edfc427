"""The layers of docs/ARCHITECTURE.md, checked on the import graph (every import, lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# folder -> the package it installs as (pyproject.toml's package-dir): one name in site-packages
PACKAGES = {"mosi_tool": "mosi_tool", "training": "mosi_tool.training", "export": "mosi_tool.export"}
EXPORT, TRAINING = PACKAGES["export"], PACKAGES["training"]


def module_files() -> dict[str, Path]:
    files = {}
    for folder, package in PACKAGES.items():
        for f in (ROOT / folder).rglob("*.py"):
            name = ".".join((package, *f.relative_to(ROOT / folder).with_suffix("").parts))
            files[name.removesuffix(".__init__")] = f
    return files


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Project modules `name` imports anywhere in its body (module names resolved to the longest known prefix)."""
    targets: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            targets += [base] + [f"{base}.{a.name}" for a in node.names]
    found = set()
    for t in targets:
        while t and t not in known:
            t = t.rpartition(".")[0]
        if t and t != name:
            found.add(t)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = module_files()
    return {name: imported(name, path, known) for name, path in known.items()}


def test_import_graph_has_no_circle(graph):
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_library_reaches_export_only_through_the_on_demand_export(graph):
    # The CLI is the composition root (its `export` command drives the exporters); below it, only the on-demand
    # ONNX export (a checkpoint run with --runtime onnx, tune's ONNX candidates) may call export/.
    allowed = ("mosi_tool.tune.exported", "mosi_tool.cli")
    users = {n for n, deps in graph.items() if not n.startswith((EXPORT, TRAINING)) and any(d.startswith(EXPORT) for d in deps)}
    assert {n for n in users if not n.startswith(allowed)} == set()


def test_runtimes_and_the_contract_sit_below_policy(graph):
    low = [n for n in graph if n.startswith(("mosi_tool.runtimes", "mosi_tool.artifact"))]
    above = ("mosi_tool.loader", "mosi_tool.tune", "mosi_tool.pipeline", "mosi_tool.saliency", "mosi_tool.cli", EXPORT, TRAINING)
    bad = {n: sorted(d for d in graph[n] if d.startswith(above)) for n in low}
    assert {n: d for n, d in bad.items() if d} == {}


def test_library_code_never_imports_the_cli(graph):
    entry = ("mosi_tool.cli", "mosi_tool.__main__")  # the CLI itself and `python -m mosi_tool`
    bad = {n for n, deps in graph.items() if not n.startswith(entry) and any(d.startswith("mosi_tool.cli") for d in deps)}
    assert bad == set()


def test_opening_a_model_imports_no_policy():
    """`load_model` opens the file: it imports nothing above runtimes/ and artifact.py (no loader, tune,
    pipeline, saliency, CLI, export or training), in a fresh interpreter."""
    import subprocess
    import sys

    code = (
        "import sys, mosi_tool; mosi_tool.load_model(device='cpu'); "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('mosi_tool', 'export', 'training'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stderr == ""  # no line on stderr
    loaded = out.stdout.split()
    assert "mosi_tool.runtimes.torch_runtime" in loaded
    above = ("mosi_tool.loader", "mosi_tool.tune", "mosi_tool.pipeline", "mosi_tool.saliency", "mosi_tool.cli", EXPORT, TRAINING)
    assert [m for m in loaded if m.startswith(above)] == []


def test_only_mosi_tool_is_installed():
    """pyproject.toml installs one top-level name: every package folder under mosi_tool/, training/ and
    export/ is listed, under mosi_tool, and nothing else (no top-level training, export or tests)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    assert all(p == "mosi_tool" or p.startswith("mosi_tool.") for p in listed)
    assert conf["package-dir"] == {TRAINING: "training", EXPORT: "export"}
    folders = {".".join((PACKAGES[f.relative_to(ROOT).parts[0]], *f.parent.relative_to(ROOT).parts[1:]))
               for folder in PACKAGES for f in (ROOT / folder).rglob("__init__.py")}  # fmt: skip
    assert folders <= listed, f"package folders missing from pyproject.toml: {sorted(folders - listed)}"
    assert not any(module.split(".")[0] in ("training", "export") for module in module_files()), "a top-level name"


def test_nothing_imports_the_old_top_level_names():
    """Code imports mosi_tool.training / mosi_tool.export, never `training` or `export` as top-level modules
    (importing both spellings would load each module twice)."""
    bad = []
    scripts = {str(f.relative_to(ROOT)): f for folder in ("tests", "bench", "tools") for f in (ROOT / folder).rglob("*.py")}
    for name, path in {**module_files(), **scripts}.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] in ("training", "export"):
                bad.append(f"{name}: from {node.module}")
            elif isinstance(node, ast.Import) and any(a.name.split(".")[0] in ("training", "export") for a in node.names):
                bad.append(f"{name}: import {node.names[0].name}")
    assert bad == []


def test_the_command_line_holds_numpys_blas_to_one_thread_before_numpy_loads():
    """`import mosi_tool` loads no numpy, so the CLI's package sets OPENBLAS_NUM_THREADS=1 before numpy's
    OpenBLAS starts: its worker threads busy-waited about 0.1 CPU-s each at start-up in every process of a
    batch (perf, `targets` on a minute of 854x480). A value the user set is kept."""
    import os
    import subprocess
    import sys

    code = (
        "import os, sys, mosi_tool; numpy_first = 'numpy' in sys.modules; import mosi_tool.cli, numpy; "
        "print(numpy_first, os.environ['OPENBLAS_NUM_THREADS'], callable(mosi_tool.features))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True, env=env)
    assert out.stdout.split() == ["False", "1", "True"], out.stderr
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True, env=dict(env, OPENBLAS_NUM_THREADS="4"))
    assert out.stdout.split() == ["False", "4", "True"], out.stderr
