"""`mosi-tool saliency` over many videos: files, folders and `--list`, into `--out-dir`, resumable.

Jobs, resume and failures are those of every batch command (`batch.per_video`: a video found in a folder keeps
its path relative to it, a file its own name), and so is the failure log (`batch.failures.FailureLog`,
`failures.jsonl`). Each video's outputs share its name: `OUT/<name>.saliency.mp4` (overlay),
`.maps.npy`, `.masks.npy`, `.boxes.jsonl`, `.sheet.png`, and `OUT/<name>.saliency.json`, the record of how they
were made (the options, the outputs, the video's size and modification time), written last. A rerun skips a
video whose record vouches for every output asked for: the output is there, and was made from the same video
(version, revisions) with the same options as far as they change that output (`--norm` changes no masks). A
changed video makes every output again; a changed option or a missing output makes again the outputs it
concerns, keeps the others, and the outputs the earlier record lists that are neither made nor kept are
removed (they would no longer match the record). A video that fails is recorded in `failures.jsonl` and the
batch goes on. Videos run in worker processes (`--workers`), in one part of n (`--shard i/n`) or as Ray tasks (`--backend ray`) as `targets`' do,
and the files are the same bytes however the batch is split.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, cast

from ..atomic import OutputError, atomic_write_text
from ..progress import counted
from ..batch.jobs import VideoJob, source_stamp
from ..batch.per_video import BatchReport, Done, JobError, Outcome
from ..version import __version__
from .defaults import MODEL_METHODS, REVISION
from ..video.motion import REVISION as MOTION_REVISION
from .motion import CAMERA_MODEL, MEASURE_REFERENCES
from .run import OPTION_DEFAULTS, BadOutputs, Outputs, SaliencyOptions, check_model, open_engine, output_only, overridden_by, prepare, run

if TYPE_CHECKING:
    from ..runtimes.base import Engine

SUFFIXES = {"overlay": ".saliency.mp4", "maps": ".maps.npy", "masks": ".masks.npy", "boxes": ".boxes.jsonl", "sheet": ".sheet.png"}
RECORD_SUFFIX = ".saliency.json"
KINDS = tuple(SUFFIXES)


@dataclass
class SaliencyReport(BatchReport):
    frames: int = 0  # rendered in this run


def parse_outputs(text: str) -> tuple[str, ...]:
    """'overlay,maps' -> ('overlay', 'maps'); ValueError naming an unknown kind."""
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    bad = [k for k in kinds if k not in SUFFIXES]
    if bad or not kinds:
        raise ValueError(f"--outputs takes a comma-separated list of {', '.join(KINDS)}; got {text!r}")
    return kinds


def outputs_for(stem: str, kinds: tuple[str, ...]) -> Outputs:
    """The outputs of the video whose planned stem (`OUT/<name>`) is `stem`."""
    return Outputs(**{k: Path(stem + SUFFIXES[k]) for k in kinds})


# options that change no output's bytes (memory only): left out of the record, so that changing them, or a
# record written before they existed, does not make every video again
UNRECORDED = ("keep_bytes",)
# options newer than the records: recorded only away from their defaults, so a record written before they
# existed still matches a run that leaves them at their defaults
RECORDED_WHEN_SET = ("primary",)


def _as_made(options: SaliencyOptions, kinds: tuple[str, ...]) -> SaliencyOptions:
    """`options` with those that change none of the outputs `kinds` at their defaults: the ones the method
    does not use (`SaliencyOptions.unused`, which the command names as ignored) and those of an output not
    made (`SaliencyOptions.idle_for`, `run.output_only`), so that changing them makes nothing again."""
    idle = {flag[2:].replace("-", "_") for flag in options.unused()}
    idle |= {name for name, _ in options.idle_for(kinds)} | set(options.overridden())
    return replace(options, **{name: OPTION_DEFAULTS[name] for name in idle})


def _record(video: Path, options: SaliencyOptions, kinds: tuple[str, ...]) -> dict[str, object]:
    """What a video's outputs were made from: the options (those that change none of them at their defaults,
    `_as_made`), the outputs, the camera model of the motion pass
    (`motion.CAMERA_MODEL`: not an option, but it changes the maps, masks and boxes, so outputs made with
    another one are made again), whether the reference distances are measured (`motion.MEASURE_REFERENCES`,
    likewise), the motion field's revision (`video.motion.REVISION`, for the same reason) and the rules' (`defaults.REVISION`),
    and the video's (and a named model's) size and modification time
    (`jobs.source_stamp`: for a frame folder, its frames'), so a replaced file is made again; None for a file
    that cannot be read (it fails, named, when run)."""

    def stamp(path: Path) -> dict[str, int] | None:
        found = source_stamp(path)
        return None if found is None else found.to_dict()

    record: dict[str, object] = {"options": _options(options, kinds), "outputs": sorted(kinds), "camera_model": CAMERA_MODEL,
                                 "measured_references": MEASURE_REFERENCES, "motion_revision": MOTION_REVISION, "revision": REVISION,
                                 "video": stamp(video), "version": __version__}  # fmt: skip
    if options.model is not None:
        record["model"] = stamp(options.model)
    return record


def _options(options: SaliencyOptions, kinds: tuple[str, ...]) -> dict[str, object]:
    """`options` as a record of the outputs `kinds` holds them (`_record`)."""
    return {k: _as_json(v) for k, v in asdict(_as_made(options, kinds)).items()
            if k not in UNRECORDED and not (k in RECORDED_WHEN_SET and v == OPTION_DEFAULTS[k])}  # fmt: skip


def _as_json(value: object) -> object:
    """An option's value as a record holds it (a path as text, a size as a list)."""
    return str(value) if isinstance(value, Path) else list(value) if isinstance(value, tuple) else value


def _for_outputs(opts: object, kinds: list[str]) -> object:
    """A record's options as they bear on the outputs `kinds`: those that change only other outputs
    (`run.output_only`) and those another leaves without effect (`run.overridden_by`: `--max-boxes` under
    `--primary`), at their defaults, as `_as_made` records them."""
    if not isinstance(opts, dict):
        return opts
    only = output_only(str(opts.get("method", OPTION_DEFAULTS["method"])))
    idle = {name for name, changes in only.items() if not set(changes) & set(kinds)} | overridden_by(opts)
    out = {k: (_as_json(OPTION_DEFAULTS[k]) if k in idle and k in OPTION_DEFAULTS else v) for k, v in opts.items()}
    return {k: v for k, v in out.items() if not (k in RECORDED_WHEN_SET and v == _as_json(OPTION_DEFAULTS[k]))}


def _saved(stem: str) -> dict | None:
    """The record an earlier run wrote for the video whose stem is `stem`; None if none can be read."""
    try:
        saved = json.loads(Path(stem + RECORD_SUFFIX).read_text())
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) and isinstance(saved.get("outputs"), list) else None


def _remove_unmade(stem: str, saved: dict | None, kinds: tuple[str, ...]) -> list[str]:
    """Remove the outputs that the earlier record `saved` lists and that this run (`kinds`) does not make
    again: the new record will not list them, so they must not stay beside its outputs as if current. Only
    files this tool recorded writing are removed; returns their kinds."""
    removed = []
    for kind in sorted(set(saved["outputs"] if saved else ()) & set(KINDS) - set(kinds)):
        path = Path(stem + SUFFIXES[kind])
        if path.is_file():
            path.unlink()
            removed.append(kind)
    return removed


def _current(stem: str, saved: dict | None, record: dict[str, object], options: SaliencyOptions) -> set[str]:
    """The outputs the earlier record `saved` vouches for now: those it lists that are there, when it was made
    from the video, version, revisions and model of `record` (this run's), and with `options` as far as they
    change that output (`_for_outputs`: `--norm` not for the masks, `--max-boxes` not for the maps)."""
    if saved is None or _made_from(saved) != _made_from(record):
        return set()
    return {kind for kind in saved["outputs"] if kind in SUFFIXES and Path(stem + SUFFIXES[kind]).is_file()
            and _for_outputs(saved.get("options"), [kind]) == _options(options, (kind,))}  # fmt: skip


def _made_from(record: dict[str, object]) -> dict[str, object]:
    """What a record says all its outputs were made from: all but its options and list of outputs."""
    return {k: v for k, v in record.items() if k not in ("options", "outputs")}


def run_batch(inputs: list[str | Path], out_dir: str | Path, options: SaliencyOptions, kinds: tuple[str, ...] = ("overlay",),
              list_file: str | Path | None = None, overwrite: bool = False,
              progress: Callable[[str], None] | None = None, workers: int | None = None,
              shard: tuple[int, int] | None = None, backend: str = "local") -> SaliencyReport:  # fmt: skip
    """Saliency of every video of `inputs` (and `list_file`) into `out_dir` (module docstring).

    Checked once before any video: the inputs (FileNotFoundError for a missing one, or none with a video), the
    options (built already), a named model (whole), that no two videos would write the same file, and that
    `out_dir` can be written. Jobs, shards, resume, failures, worker processes and Ray tasks are
    `batch.per_video`'s, as for `features` and `targets`. workers: processes (0: this process); None: one per CPU, at most one per video, for `--method mv` (each video runs on one
    core), and this process for a network method (its engine uses every core, or the GPU). A network method's
    engine is opened once per process (in this one first, so that an engine that cannot run fails before
    any video); worker processes are started with `spawn`, so a script calling this with workers needs the
    `if __name__ == "__main__":` guard. shard: (i, n), part i of n. progress: called with one line per
    video. Raises for those checks, and before them ValueError for an unknown output kind, a negative
    `workers`, an unknown backend or a shard out of range, TypeError for `kinds` given as one string; a
    video's own failure is counted, recorded and passed over.
    """
    from ..batch.per_video import check_backend, check_workers, plan_jobs, resume, run_jobs, runs_here

    if isinstance(kinds, str):
        raise TypeError(f"run_batch() takes the outputs as a tuple, not one string: kinds={tuple(parse_outputs(kinds))!r}")
    parse_outputs(",".join(kinds))  # ValueError naming an unknown kind
    check_workers(workers)
    check_backend(backend)
    t0 = time.perf_counter()
    out_dir = Path(out_dir)  # a str too, as make_targets and features take it
    list_file = Path(list_file) if list_file is not None else None
    planned = plan_jobs(inputs, list_file, out_dir, shard, suffix="", caller="run_batch")  # inputs and clashes first
    if options.model is not None:
        check_model(options.model)

    def is_done(job: VideoJob) -> bool:
        return set(kinds) <= _current(job.out, _saved(job.out), _record(Path(job.path), options, kinds), options)

    failures = resume(planned, is_done, overwrite)
    report = SaliencyReport(total=planned.total, hidden=planned.hidden, skipped=planned.skipped)
    network = options.method in MODEL_METHODS
    if workers is None and network:
        workers = 0
    if network and planned.todo:
        _engine(options)  # here first: an engine that cannot be opened is one error, before any video
        if not runs_here(len(planned.todo), workers, backend):
            _ENGINES.clear()  # each worker opens its own: this one would only hold memory (a GPU's too)
    work = _VideoSaliency(options, kinds, overwrite)

    def on_video(outcome: Outcome) -> None:
        if outcome.error is not None:
            report.failed += 1
            report.errors.append(outcome.error)
            if progress:
                progress(f"error: {outcome.error}")
        else:
            report.ok += 1
            report.frames += outcome.frames
            for line in outcome.warnings if progress else ():  # the video's notes, then its summary
                progress(line)

    try:
        run_jobs(planned.todo, work, failures, workers, backend, on_video)
    finally:
        _ENGINES.clear()  # this process's engine, not kept past the run
    report.seconds = time.perf_counter() - t0
    return report


_ENGINES: dict[str, Engine] = {}  # per process: the engine of a network method, by its options


def _engine(options: SaliencyOptions) -> Engine:
    """This process's engine for `options` (`run.open_engine`), opened on first use: once per worker."""
    key = repr(options)
    if key not in _ENGINES:
        _ENGINES.clear()
        _ENGINES[key] = open_engine(options)
    return _ENGINES[key]


@dataclass(frozen=True)
class _VideoSaliency:
    """One video's outputs and record (`run_jobs`' per-video function; picklable, for worker processes): the
    outputs asked for that its earlier record does not vouch for (`_current`; all with overwrite) are made, the
    others kept and recorded again, and those it listed that are neither are removed (`_remove_unmade`)."""

    options: SaliencyOptions
    kinds: tuple[str, ...]
    overwrite: bool = False

    def __call__(self, job: VideoJob) -> Done:
        from ..runtimes.base import EngineError

        video = Path(job.path)
        try:
            record, earlier = _record(video, self.options, self.kinds), _saved(job.out)
            current = _current(job.out, earlier, record, self.options)
            make = self.kinds if self.overwrite else tuple(k for k in self.kinds if k not in current) or self.kinds
            kept = tuple(k for k in KINDS if k in current and k not in make)
            outputs = outputs_for(job.out, make)
            reader = prepare(video, self.options, outputs, model_checked=True)  # the model was checked once
            engine = _engine(self.options) if self.options.method in MODEL_METHODS else None
            done = run(video, self.options, outputs, reader=reader, engine=engine)
            if done.failed:
                raise BadOutputs("; ".join(f"{p}: {why}" for p, why in done.failed.items()))
            # before the new record: a run killed between the two leaves the old record, which no longer matches
            removed = _remove_unmade(job.out, earlier, make + kept)
            made = tuple(k for k in KINDS if k in make + kept)
            record |= {"options": _options(self.options, made), "outputs": sorted(made)}
            atomic_write_text(job.out + RECORD_SUFFIX, json.dumps(record, sort_keys=True) + "\n")
        except (ValueError, OSError, EngineError) as e:
            text = (e.strerror or str(e)) if isinstance(e, OSError) and not isinstance(e, OutputError) else str(e)
            raise JobError(text if text.startswith(str(video)) or isinstance(e, (BadOutputs, OutputError)) else f"{video}: {text}") from e
        if set(kept) & set(self.kinds):
            done.notes.append(f"kept the {' and '.join(k for k in kept if k in self.kinds)}: made from this video with the options that change them")
        if removed:
            done.notes.append(f"removed the {' and '.join(removed)} an earlier run made ({job.out}.*): this run does not make them, so its record cannot vouch for them")
        lines = [*(f"note: {video}: {note}" for note in done.notes), f"{video}: {counted(done.frames, 'frame')} in {done.seconds:.1f} s -> {job.out}.*"]
        return Done(lines, done.frames)
