"""SIGTERM as a clean exit (a command being stopped removes its temporary files as an error would), and disk
errors as one line."""

from __future__ import annotations

import contextlib
import signal
import tempfile
import threading
from typing import Any, Iterator

from .options import error_line


@contextlib.contextmanager
def terminate_as_exit() -> Iterator[None]:
    """Within the block, SIGTERM raises SystemExit(143) in the main thread (Python's default is to die at
    once), so `except BaseException` / `finally` clean-ups run: outputs being written are abandoned and
    their temporary files removed. The previous handler comes back after the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def disk_errors() -> Iterator[None]:
    """An OSError escaping the block (a full disk under the temporary maps, a folder gone read-only) becomes a
    ValueError worded as the other commands word it (`options.error_line`: "PATH: cannot write (REASON)" for an
    output), which `options.handle_errors` prints as one `error:` line, not a traceback."""
    try:
        yield
    except OSError as e:
        if e.errno is None:  # raised with a message of its own (a missing input, named), not by the system
            raise ValueError(str(e)) from None
        if e.filename is None:
            raise ValueError(f"a temporary file in {tempfile.gettempdir()}: {e.strerror or e}") from None
        raise ValueError(error_line(e)) from None
