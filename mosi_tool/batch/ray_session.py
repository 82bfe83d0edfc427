"""Ray, joined or started for a run: shared by the feature pipeline's Ray backend and `per_video`'s Ray tasks.
Ray stays an optional extra (`pip install mosi-tool[ray]`): it is imported only through `import_ray`."""

from __future__ import annotations

import logging
import os
import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise RuntimeError("Ray is not installed: pip install mosi-tool[ray]") from None
    return ray


@contextmanager
def ray_session(cpus: int, gpus: int | None = None) -> Iterator[Any]:
    """Ray, joined to the cluster at RAY_ADDRESS (or one already initialised), else to a local one started
    with these resources and stopped at the end. Shared with `per_video`'s Ray tasks.

    A stopped run ends as it does without Ray (`cli.signals.terminate_as_exit`: exit status 143, clean-ups
    run). `ray.init` installs a SIGTERM handler of its own in the driver (a stack dump, exit status 1), so the
    one before it comes back; and a signal whose handler raises inside a blocking Ray call (`ray.wait`,
    `ray.get`) reaches the caller as Ray's SystemExit(1), so the status is put back to 128 + the signal's."""
    ray = import_ray()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    started = not ray.is_initialized()
    if started:
        kwargs: dict[str, Any] = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        if os.environ.get("RAY_ADDRESS"):
            ray.init(**kwargs)  # the cluster there
        else:
            ray.init(num_cpus=cpus, num_gpus=gpus, **kwargs)
    noted: list[int] = []
    if callable(previous):
        handler = previous

        def note(signum: int, frame: Any) -> None:
            noted.append(signum)
            handler(signum, frame)

        signal.signal(signal.SIGTERM, note)
    elif main and previous is not None:
        signal.signal(signal.SIGTERM, previous)
    try:
        yield ray
    except SystemExit as e:
        if noted and e.code != 128 + noted[0]:
            raise SystemExit(128 + noted[0]) from None
        raise
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if started:
            ray.shutdown()
