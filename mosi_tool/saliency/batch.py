"""`mosi-tool saliency` over many videos: files, folders and `--list`, into `--out-dir`, resumable.

Inputs, output names and clashes are the feature pipeline's (`pipeline.jobs`: a video found in a folder keeps
its path relative to it, a file its own name), and so is the failure log (`pipeline.output.FailureLog`,
`failures.jsonl`). Each video's outputs share its name: `OUT/<name>.saliency.mp4` (overlay),
`.maps.npy`, `.masks.npy`, `.boxes.jsonl`, `.sheet.png`, and `OUT/<name>.saliency.json`, the record of how they
were made (the options, the outputs, the video's size and modification time), written last. A rerun skips a
video whose record matches and whose outputs all exist; a changed option, a changed video or a missing output
makes it again. A video that fails is recorded in `failures.jsonl` and the batch goes on.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ..atomic import OutputError, atomic_write_text, check_folder_writable
from ..version import __version__
from .defaults import MODEL_METHODS
from .run import BadOutputs, Outputs, SaliencyOptions, check_model, open_engine, prepare, run

SUFFIXES = {"overlay": ".saliency.mp4", "maps": ".maps.npy", "masks": ".masks.npy", "boxes": ".boxes.jsonl", "sheet": ".sheet.png"}
RECORD_SUFFIX = ".saliency.json"
KINDS = tuple(SUFFIXES)


@dataclass
class BatchReport:
    total: int = 0
    ok: int = 0
    skipped: int = 0
    failed: int = 0
    hidden: int = 0
    frames: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # one line per failed video: "PATH: reason"

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


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


def _record(video: Path, options: SaliencyOptions, kinds: tuple[str, ...]) -> dict[str, object]:
    """What a video's outputs were made from: the options, the outputs, and the video's (and a named model's)
    size and modification time, so a replaced file is made again."""

    def stamp(path: Path) -> dict[str, int]:
        st = path.stat()
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}

    opts = {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v) for k, v in asdict(options).items()}
    record = {"options": opts, "outputs": sorted(kinds), "video": stamp(video), "version": __version__}
    if options.model is not None:
        record["model"] = stamp(options.model)
    return record


def _is_done(stem: str, record: dict[str, object], outputs: Outputs) -> bool:
    try:
        saved = json.loads(Path(stem + RECORD_SUFFIX).read_text())
    except (OSError, ValueError):
        return False
    return saved == record and all(p.is_file() for p in outputs.named().values())


def run_batch(inputs: list[Path], out_dir: Path, options: SaliencyOptions, kinds: tuple[str, ...] = ("overlay",),
              list_file: Path | None = None, overwrite: bool = False,
              progress: Callable[[str], None] | None = None) -> BatchReport:  # fmt: skip
    """Saliency of every video of `inputs` (and `list_file`) into `out_dir` (module docstring).

    Checked once before any video: the options (built already), a named model (whole), that no two videos
    would write the same file, and that `out_dir` can be written. progress: called with one line per video.
    Raises for those; a video's own failure is counted, recorded and passed over.
    """
    from ..pipeline.jobs import find_inputs, plan
    from ..pipeline.output import FailureLog
    from ..runtimes.base import EngineError
    from ..video.decode import VideoError

    t0 = time.perf_counter()
    if options.model is not None:
        check_model(options.model)
    found = find_inputs(inputs, list_file)
    jobs = plan(found, out_dir, suffix="")  # refuses two videos writing one file, before any work
    check_folder_writable(out_dir)
    report = BatchReport(total=len(jobs), hidden=len(found.hidden))
    failures = FailureLog(out_dir)
    failures.forget_missing()
    engine = open_engine(options) if options.method in MODEL_METHODS else None  # once for the whole batch
    for job in jobs:
        video, outputs = Path(job.path), outputs_for(job.out, kinds)
        try:
            record = _record(video, options, kinds)
            if not overwrite and _is_done(job.out, record, outputs):
                report.skipped += 1
                failures.clear(job.path)
                continue
            for path in outputs.named().values():
                path.parent.mkdir(parents=True, exist_ok=True)
            reader = prepare(video, options, outputs, model_checked=True)  # the model was checked once, above
            done = run(video, options, outputs, reader=reader, engine=engine)
            if done.failed:
                raise BadOutputs("; ".join(f"{p}: {why}" for p, why in done.failed.items()))
            atomic_write_text(job.out + RECORD_SUFFIX, json.dumps(record, sort_keys=True) + "\n")
        except (VideoError, ValueError, OSError, EngineError) as e:
            text = (e.strerror or str(e)) if isinstance(e, OSError) else str(e)
            reason = text if text.startswith(str(video)) or isinstance(e, (BadOutputs, OutputError)) else f"{video}: {text}"
            report.failed += 1
            report.errors.append(reason)
            failures.record(job.path, reason)
            if progress:
                progress(f"error: {reason}")
            continue
        report.ok += 1
        report.frames += done.frames
        failures.clear(job.path)
        if progress:
            progress(f"{video}: {done.frames} frames in {done.seconds:.1f} s -> {job.out}.*")
    report.seconds = time.perf_counter() - t0
    return report
