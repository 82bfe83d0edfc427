"""The Ray backend: the same stages as `local`, scheduled by Ray Data on a cluster (or a local one).

    from_items(videos) -> map_batches(decode_rows, CPU tasks) -> map_batches(EngineActor, actor pool) -> writer

Decode tasks stream each video's records (`dataset.decode_messages`) as rows; engine actors feed them to an
`EngineStage` (the same fixed batch size and zero padding as the local backend) and send on its records and
a row of their timings per call. The driver hands them to the same `FeatureWriter`: the files, resume and
`failures.jsonl` are identical. `--out-dir` only has to be reachable from the driver; videos and the model
must be readable from every worker.

Ray stays an optional extra: it is imported only through `batch.ray_session`.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from ..batch.jobs import VideoJob
from ..batch.ray_session import ray_session
from ..video.clips import ClipSpec
from .dataset import decode_messages
from .engine_stage import EngineStage
from .messages import DecodePlan, ExtractOptions, Message, StageTimes
from .output import FeatureWriter

DECODE_TASK_MEMORY = 512 * 2**20  # bytes reserved per decode task: demuxer, decoder threads, a chunk of clips
MAX_BLOCKS = 4096  # input blocks: one video each up to this many (load balance), then several per block
# Engine batches per actor call. Each call ends with its partial batch padded (the actor cannot know which
# call is the last), and done and error rows take places in Ray's batches: several batches per call waste less.
BATCHES_PER_CALL = 4


def to_rows(records: Sequence[Any]) -> dict[str, np.ndarray]:
    """Records as a Ray Data batch: one row each, the record pickled whole (our own records in transit,
    which Ray pickles in any case; never a user's file)."""
    return {"record": np.array([pickle.dumps(r) for r in records], dtype=object)}


def from_rows(batch: dict[str, np.ndarray]) -> Iterator[Any]:
    """The records of a batch of rows (inverse of `to_rows`)."""
    return (pickle.loads(data) for data in batch["record"])


def decode_rows(batch: dict[str, np.ndarray], spec: ClipSpec, threads: int, chunk: int) -> Iterator[dict[str, np.ndarray]]:
    """Ray Data task: videos -> their records as rows, yielded in blocks of `chunk` rows (flat memory)."""
    rows: list[Message] = []
    for job, path in zip(batch["job"], batch["path"]):
        for msg in decode_messages(int(job), str(path), spec, threads):
            rows.append(msg)
            if len(rows) >= chunk:
                yield to_rows(rows)
                rows = []
    if rows:
        yield to_rows(rows)


class EngineActor:
    """Ray Data actor: an `EngineStage` over each batch of rows."""

    def __init__(self, opts: ExtractOptions, gpu: bool, threads: int):
        if not gpu:
            torch.set_num_threads(threads)
        self.out: list[Message] = []
        self.stage = EngineStage(opts.load_engine("cuda" if gpu else "cpu"), opts.batch_size, self.out.append)  # kept: its buffers are reused

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Feature, done and error rows, then one row with this call's `StageTimes`."""
        self.out.clear()
        self.stage.times = StageTimes()
        for msg in from_rows(batch):
            self.stage.feed(msg)
        self.stage.flush()  # partial batches are zero-padded to `batch_size`, exactly as in the local backend
        return to_rows([*self.out, self.stage.times])


def run_ray(todo: list[VideoJob], writer: FeatureWriter, opts: ExtractOptions, plan: DecodePlan) -> StageTimes:
    """Process `todo` as `extract` resolved `opts` and `plan` on Ray Data, feeding every result to `writer`
    here on the driver. Stage sizes: `plan.workers` decode tasks (1 CPU each), `opts.ray_actors` engine actors
    (default: one per GPU, else 1)."""
    gpu = any(d.startswith("cuda") for d in opts.devices) or (list(opts.devices) == ["auto"] and torch.cuda.is_available())
    actors = opts.ray_actors or (max(1, torch.cuda.device_count()) if gpu else 1)
    threads = opts.threads or torch.get_num_threads()  # fixed: thread count can change the last bits on CPU
    decoders = max(1, plan.workers)
    times = StageTimes()
    with ray_session(decoders + (0 if gpu else actors * threads), actors if gpu else 0) as ray:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        ctx.max_errored_blocks = -1  # a decode task that dies (crashed decoder) loses its videos, not the run
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        items = [{"job": j.index, "path": j.path} for j in todo]
        ds = ray.data.from_items(items, override_num_blocks=min(len(items), MAX_BLOCKS)).map_batches(
            decode_rows,
            fn_kwargs=dict(spec=plan.clips, threads=plan.threads, chunk=opts.batch_size),
            batch_size=1,
            batch_format="numpy",
            concurrency=decoders,
            num_cpus=1,
            # Reserving memory caps decode tasks per node by RAM, and (remote args differing from the actors')
            # keeps Ray Data from fusing decode into the engine actors, where each actor would decode and
            # compute in turn instead of the two stages overlapping.
            memory=DECODE_TASK_MEMORY,
        )
        ds = ds.map_batches(
            EngineActor,
            fn_constructor_kwargs=dict(opts=opts, gpu=gpu, threads=threads),
            batch_size=opts.batch_size * BATCHES_PER_CALL,
            batch_format="numpy",
            concurrency=actors,
            **({"num_gpus": 1} if gpu else {"num_cpus": threads}),
        )
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2):
            for msg in from_rows(batch):
                if isinstance(msg, StageTimes):
                    times.add(msg)
                else:
                    writer.handle(msg)
    return times
