"""What every child process of the local pipeline shares: its set-up, and how its death is named."""

from __future__ import annotations

import ctypes
import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any, Callable, Iterator

_MAIN_LOCK = threading.Lock()


def child_setup() -> None:
    """In every child: get SIGKILLed when the parent dies (Linux), so a killed run leaves no stray workers;
    ignore Ctrl-C, which the parent handles by stopping the children."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def signal_name(exitcode: int | None) -> str:
    """'SIGKILL' for a process killed by that signal, else 'exit code N'."""
    if exitcode is not None and exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            pass
    return f"exit code {exitcode}"


@contextmanager
def main_hidden() -> Iterator[None]:
    """While a spawned child starts, hide the parent's `__main__` from multiprocessing, which would otherwise
    run it again in the child (`multiprocessing.spawn.get_preparation_data`).

    Every target started here lives in this package and is found by its module name, so the child does not
    need the parent's main module. That module is often a script that imports torch (a user's script calling
    `extract`, a bench script): 1.4 CPU-seconds per child on the 2-core development VM, paid again by every
    decode process (`python bench/spawn.py`). The `mosi-tool` entry script imports lazily and costs 0.08 s.
    Hold it only around `Process.start()`: a spawn started meanwhile by another thread outside this module
    would skip the main module too.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    with _MAIN_LOCK:
        saved: dict[str, Any] = {k: main.__dict__[k] for k in ("__spec__", "__file__") if k in main.__dict__}
        try:
            main.__spec__ = None
            main.__dict__.pop("__file__", None)
            yield
        finally:  # restored even when Ctrl-C lands between the two lines above
            main.__dict__.update(saved)
            if "__spec__" not in saved:
                del main.__spec__


@dataclass(eq=False)
class ChildLink:
    """A child process and this side of its own pipe. Sends are thread-safe; a dead child reads as False."""

    proc: Any
    conn: Any
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, ctx: Any, target: Callable[..., None], args: tuple, **fields: Any) -> Any:
        """Start `target(their_end_of_the_pipe, *args)` in a daemon process."""
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=target, args=(theirs, *args), daemon=True)
        with main_hidden():
            proc.start()
        theirs.close()  # so that the child's death closes the pipe for us
        return cls(proc, mine, **fields)

    def send(self, msg: Any) -> bool:
        with self.lock:
            try:
                self.conn.send(msg)
                return True
            except (OSError, ValueError):  # the child died; its pipe is closed
                return False

    def close(self) -> None:
        with self.lock:
            self.conn.close()


WATCH_S = 0.5  # how often the readers of the children's pipes look up (to notice a stop or a death)


def child_messages(live: dict[Any, Any], timeout: float = WATCH_S) -> Iterator[tuple[Any, Any]]:
    """One wait on the pipes of `live` ({conn: ChildLink}): (child, message) for each that has one, and
    (child, None) for each whose pipe closed (the child ended or died), which is dropped from `live`."""
    for conn in wait(list(live), timeout=timeout):
        child = live[conn]
        try:
            msg = child.conn.recv()
        except (EOFError, OSError):
            del live[conn]
            msg = None
        yield child, msg
