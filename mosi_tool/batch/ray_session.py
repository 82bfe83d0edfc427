"""Ray, joined or started for a run: shared by the feature pipeline's Ray backend and `per_video`'s Ray tasks.
Ray stays an optional extra (`pip install mosi-tool[ray]`): it is imported only through `import_ray`."""

from __future__ import annotations

import logging
import os
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
    with these resources and stopped at the end. Shared with `per_video`'s Ray tasks."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        kwargs: dict[str, Any] = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        if os.environ.get("RAY_ADDRESS"):
            ray.init(**kwargs)  # the cluster there
        else:
            ray.init(num_cpus=cpus, num_gpus=gpus, **kwargs)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()
