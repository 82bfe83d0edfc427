"""mypy over the TensorRT code against the TensorRT stubs, so API names are checked without TensorRT.

Stubs: $TRT_STUBS, else .venv/trt-stubs in the repo root (pip install --target .venv/trt-stubs tensorrt-stubs;
never into the venv itself: that makes an importable, empty `tensorrt`). The generated stubs have a few
lines that are not valid Python (a parameter named `in`, a required parameter after defaults); the test
type-checks against a copy with only those lines repaired.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = ["export/tensorrt.py", "mosi_tool/runtimes/tensorrt_env.py", "mosi_tool/runtimes/tensorrt_runtime.py"]


def stubs_dir() -> Path:
    return Path(os.environ.get("TRT_STUBS") or ROOT / ".venv" / "trt-stubs")


def repair_line(line: str) -> str:
    """Make one generated `def` line valid: rename keyword parameters, give defaults after a default."""
    m = re.match(r"^(\s*def \w+\()(.*)(\)(?: -> .*)?:.*)$", line)
    if not m:
        return line
    params, depth, cur = [], 0, ""
    for ch in m.group(2):
        depth += ch in "[(" and 1 or 0
        depth -= ch in "])" and 1 or 0
        if ch == "," and depth == 0:
            params.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        params.append(cur.strip())
    fixed, defaults = [], False
    for p in params:
        p = re.sub(r"^(in|is|from|lambda|def|class|global|pass)\b", r"\1_", p)
        if "=" in p:
            defaults = True
        elif defaults and not p.startswith("*") and p != "/":
            p += " = ..."
        fixed.append(p)
    return m.group(1) + ", ".join(fixed) + m.group(3)


def repaired_stubs(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.dist-info", "__pycache__"))
    for pyi in dst.rglob("*.pyi"):
        lines = pyi.read_text().splitlines()
        pyi.write_text("\n".join(repair_line(line) for line in lines) + "\n")
    return dst


def test_repair_line():
    assert repair_line("    def f(self: X, in: list[int], out: list[int]) -> None:") == (
        "    def f(self: X, in_: list[int], out: list[int]) -> None:"
    )
    assert repair_line("    def g(self, a: W = None, b: dict[str, int] = ..., c: int) -> L:") == (
        "    def g(self, a: W = None, b: dict[str, int] = ..., c: int = ...) -> L:"
    )
    assert repair_line("x: int = 3") == "x: int = 3"


def test_tensorrt_code_typechecks(tmp_path):
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install 'mosi-tool[dev]')")
    src = stubs_dir()
    if not (src / "tensorrt_bindings" / "tensorrt.pyi").exists():
        pytest.skip(f"TensorRT stubs not found at {src} (set TRT_STUBS or pip install --target .venv/trt-stubs tensorrt-stubs)")
    stubs = repaired_stubs(src, tmp_path / "stubs")
    env = {**os.environ, "MYPYPATH": str(stubs)}
    cmd = [sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent", *FILES]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
