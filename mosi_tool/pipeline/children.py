"""What every child process of the local pipeline shares: its set-up, and how its death is named."""

from __future__ import annotations

import ctypes
import signal


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
