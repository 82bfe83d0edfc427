"""The Ray backend: the same stages as `local`, scheduled by Ray Data on a cluster (or a local one).

    from_items(videos) -> map_batches(decode, CPU tasks) -> map_batches(engine, actor pool) -> writer

Decode tasks stream each video's records (`dataset.decode_messages`) as rows: one per clip, and one
marker row per video (a `DoneMessage` with its info, or an `ErrorMessage` with the reason); engine actors
send feature rows, the markers, and a row of their timings per call. Engine actors feed those rows
to an `EngineStage`, so clips are batched at the same fixed batch size with the same zero padding as
the local backend, and the driver hands the results to the same `FeatureWriter`: the files, resume and
`failures.jsonl` are identical. Files are written by the driver, so `--out-dir` only has to be
reachable from it; videos and the model must be readable from every worker.

Ray stays an optional extra: it is imported only here.
"""

from __future__ import annotations

import logging
import os
import pickle
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from ..video.clips import ClipSpec
from .dataset import decode_messages
from .engine_stage import EngineStage
from .jobs import VideoJob
from .messages import DecoderMessage, StageTimes, WriterMessage
from .options import EngineOptions, RunOptions
from .writer import FeatureWriter

DECODE_TASK_MEMORY = 512 * 2**20  # bytes reserved per decode task: demuxer, decoder threads, a chunk of clips
MAX_BLOCKS = 4096
# Engine batches per actor call. Each call ends with its partial batch padded (the actor cannot know which
# call is the last), and marker rows take places in Ray's batches: several batches per call waste less.
BATCHES_PER_CALL = 4  # input blocks: one video each up to this many (load balance), then several per block


@dataclass(frozen=True)
class RayPlan:
    """Resources of each stage, from `RunOptions` and the cluster."""

    decode_tasks: int  # concurrent decode tasks (1 CPU each)
    actors: int  # engine actors
    gpu: bool  # one GPU per actor, else CPU actors
    threads: int  # intra-op threads of a CPU engine (fixed: thread count can change the last bits on CPU)


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise RuntimeError("Ray is not installed: pip install mosi-tool[ray]") from None
    return ray


# -- rows <-> pipeline records ---------------------------------------------------------------------------


def to_rows(records: Sequence[Any]) -> dict[str, np.ndarray]:
    """Records as a Ray Data batch: one row each, the record pickled whole (our own records in transit,
    which Ray pickles in any case; never a user's file)."""
    return {"record": np.array([pickle.dumps(r) for r in records], dtype=object)}


def from_rows(batch: dict[str, np.ndarray]) -> Iterator[Any]:
    """The records of a batch of rows (inverse of `to_rows`)."""
    for data in batch["record"]:
        yield pickle.loads(data)


# -- the two stages ------------------------------------------------------------------------------------


def decode_rows(batch: dict[str, np.ndarray], spec: ClipSpec, threads: int, chunk: int) -> Iterator[dict[str, np.ndarray]]:
    """Ray Data task: videos -> clip and marker rows, yielded in blocks of `chunk` rows (flat memory)."""
    rows: list[DecoderMessage] = []
    for job, path in zip(batch["job"], batch["path"]):
        for msg in decode_messages(int(job), str(path), spec, threads):
            rows.append(msg)
            if len(rows) >= chunk:
                yield to_rows(rows)
                rows = []
    if rows:
        yield to_rows(rows)


class EngineActor:
    """Ray Data actor: an `EngineStage` over each batch of rows; clips -> feature rows, markers passed on."""

    def __init__(self, opts: EngineOptions, gpu: bool, threads: int):
        if not gpu:
            torch.set_num_threads(threads)
        self.engine = opts.load("cuda" if gpu else "cpu")
        self.out: list[WriterMessage] = []
        self.stage = EngineStage(self.engine, opts.batch_size, self.out.append)  # kept: its batch buffers are reused

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Feature, done and error rows, then one row with this call's `StageTimes`."""
        self.out.clear()
        self.stage.times = StageTimes()
        for msg in from_rows(batch):
            self.stage.feed(msg)
        self.stage.flush()  # partial batches are zero-padded to `batch_size`, exactly as in the local backend
        return to_rows([*self.out, self.stage.times])


# -- driver ------------------------------------------------------------------------------------------


def _connect(ray: Any, plan: RayPlan) -> bool:
    """Join the cluster at RAY_ADDRESS (or an already initialised one), else start a local one.
    Returns True if this call started Ray (and so should stop it)."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    if os.environ.get("RAY_ADDRESS"):
        ray.init(**kwargs)
    else:
        cpus = plan.decode_tasks + (0 if plan.gpu else plan.actors * plan.threads)
        gpus = plan.actors if plan.gpu else 0
        ray.init(num_cpus=cpus, num_gpus=gpus, **kwargs)
    return True


def make_plan(opts: RunOptions) -> RayPlan:
    """Stage sizes: `workers` decode tasks; `ray_actors` engine actors (default: one per GPU, else 1)."""
    devices = list(opts.devices)
    gpu = any(d.startswith("cuda") for d in devices) or (devices == ["auto"] and torch.cuda.is_available())
    actors = opts.ray_actors or (max(1, torch.cuda.device_count()) if gpu else 1)
    threads = opts.engine.threads or torch.get_num_threads()
    return RayPlan(max(1, opts.workers), actors, gpu, threads)


def build_dataset(ray: Any, todo: list[VideoJob], plan: RayPlan, opts: RunOptions) -> Any:
    items = [{"job": j.index, "path": j.path} for j in todo]
    ds = ray.data.from_items(items, override_num_blocks=min(len(items), MAX_BLOCKS))
    ds = ds.map_batches(
        decode_rows,
        fn_kwargs=dict(spec=opts.clips, threads=opts.decode_threads, chunk=opts.engine.batch_size),
        batch_size=1,
        batch_format="numpy",
        concurrency=plan.decode_tasks,
        num_cpus=1,
        # Reserving memory caps decode tasks per node by RAM, and (remote args differing from the actors')
        # keeps Ray Data from fusing decode into the engine actors, where each actor would decode and
        # compute in turn instead of the two stages overlapping.
        memory=DECODE_TASK_MEMORY,
    )
    engine_res = {"num_gpus": 1} if plan.gpu else {"num_cpus": plan.threads}
    return ds.map_batches(
        EngineActor,
        fn_constructor_kwargs=dict(opts=opts.engine, gpu=plan.gpu, threads=plan.threads),
        batch_size=opts.engine.batch_size * BATCHES_PER_CALL,
        batch_format="numpy",
        concurrency=plan.actors,
        **engine_res,
    )


def run_ray(todo: list[VideoJob], writer: FeatureWriter, opts: RunOptions) -> StageTimes:
    """Process `todo` on Ray Data, feeding every result to `writer` here on the driver."""
    ray = import_ray()
    plan = make_plan(opts)
    started = _connect(ray, plan)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.max_errored_blocks = -1  # a decode task that dies (crashed decoder) loses its videos, not the run
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    times = StageTimes()
    try:
        ds = build_dataset(ray, todo, plan, opts)
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2):
            for msg in from_rows(batch):
                if isinstance(msg, StageTimes):
                    times.add(msg)
                else:
                    writer.handle(msg)
    finally:
        if started:
            ray.shutdown()
    return times
