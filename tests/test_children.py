"""Child processes of the local pipeline start without running the parent's main module again."""

from __future__ import annotations

import multiprocessing as mp
import sys
import types
from pathlib import Path

import pytest

from mosi_tool.pipeline.children import ChildLink, main_hidden


def _report(conn) -> None:  # noqa: ANN001 - the child's end of the pipe
    conn.send(sys.modules["__main__"].__name__ == "__mp_main__")  # spawn re-ran the parent's main module


def test_spawned_child_skips_the_parents_main_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a main module run from a file: a user's script that imports torch
    script = tmp_path / "entry.py"
    script.write_text("import torch\n")
    entry = types.ModuleType("__main__")
    entry.__file__ = str(script)
    entry.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", entry)
    child = ChildLink.start(mp.get_context("spawn"), _report, ())
    try:
        assert child.conn.poll(60), "the child sent nothing"
        assert child.conn.recv() is False
    finally:
        child.proc.join(10)
        child.close()
    assert child.proc.exitcode == 0


def test_main_hidden_restores_the_main_module() -> None:
    main = sys.modules["__main__"]
    before = (main.__dict__.get("__spec__"), main.__dict__.get("__file__"), "__file__" in main.__dict__)
    with main_hidden():
        assert main.__spec__ is None and not hasattr(main, "__file__")
    assert (main.__dict__.get("__spec__"), main.__dict__.get("__file__"), "__file__" in main.__dict__) == before
