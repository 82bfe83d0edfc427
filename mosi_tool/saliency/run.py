"""`run`: one video's motion saliency, from validated options to written outputs, decoding its pixels once.

The order of a run, and why:
1. options are checked once (`SaliencyOptions`, whatever the method: an option a method does not use is
   still validated, then named in one note), the video's header is read, every output path is checked
   (`check_outputs`: suffix, not a folder, a writable folder), and a model the user named is opened and its
   weights checked (`check_model`), all before any decoding;
2. the maps: `--method mv` reads the codec's motion vectors (`saliency.motion.motion_pass`), decoding the
   pictures as it goes and keeping them in memory when they fit (`video.kept_frames`; else it parses the
   vectors alone); a network method decodes frames at the model's size and runs them
   (`compute.compute_saliency`, plus the vector parse for `fused` and `--stabilize`);
3. the pixels at full resolution, replayed from memory or decoded again, feed every output at once
   (`render.render`): overlay, maps, masks, boxes, contact sheet. An output that fails to be written costs
   no other.

So a `--method mv` run with an output drawn from the pixels (overlay, masks, boxes, sheet; not the maps
alone) decodes the video once when its pictures fit in `SaliencyOptions.keep_bytes` (by
default a quarter of the available memory, at most 4 GiB: 854x480 pictures take 0.6 MB each, a minute
at 24 fps 0.9 GB), else it parses the vectors and then decodes the pixels. The maps must all exist before
the first overlay frame is drawn (its display range spans the video), so the pictures wait in memory.
The maps alone need no pixels: the vectors are parsed, and nothing is decoded again. A network method
decodes the pixels twice (at the model's size, then at full size).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..atomic import OutputError, check_writable
from ..hardware import opencv_threads, opencv_without_ipp
from ..video.clips import ClipSpec, check_clip_values, parse_size, plain_numbers
from ..video.decode import VideoInfo, VideoReader
from ..video.kept_frames import KeptFrames
from .defaults import DEFAULT_METHOD, DEFAULT_STABILIZE, DEFAULT_TARGET, LAYERS, METHODS, NORMS

if TYPE_CHECKING:
    from ..runtimes.base import Engine

MODES = ("full", "center")  # `video.clips.MODES`, full first: the saliency default
STABILIZE = ("none", "mv", "auto")  # `video.stabilize.MODES`
OUTPUT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "overlay": (".mp4", ".mkv", ".mov", ".m4v", ".avi", ".webm"),  # `render.CODECS`
    "maps": (".npy",),
    "masks": (".npy",),
    "boxes": (".jsonl",),
    "sheet": (".png",),
}
# what only a network method uses (--size also sets the scale of --method mv's maps)
NETWORK_OPTIONS = ("target", "step", "mode", "stabilize", "batch_size", "device", "runtime", "compile")
PIXEL_OUTPUTS = ("overlay", "masks", "boxes", "sheet")  # the outputs drawn from (or fitted to) the frames' pixels
OUTPUT_OPTIONS = {"overlay": "--out", "maps": "--maps", "masks": "--masks", "boxes": "--boxes", "sheet": "--sheet"}
# options that change these outputs alone: ignored (and noted) when none of them is made
OUTPUT_ONLY = {"masks_size": ("masks",), "max_boxes": ("boxes",), "maps_size": ("maps",), "small_movers": ("masks", "boxes"),
               "primary": ("masks", "boxes")}  # fmt: skip
# --norm, the scale of the overlay, the maps file and the sheet: the masks and boxes read the raw maps, except
# under --method fused, whose maps are fused at that scale (`compute.compute_saliency`)
NORM_OUTPUTS = ("overlay", "maps", "sheet")


def output_only(method: str) -> dict[str, tuple[str, ...]]:
    """OUTPUT_ONLY for `method`: with --norm (NORM_OUTPUTS), except under fused, where it changes every output."""
    return OUTPUT_ONLY if method == "fused" else {**OUTPUT_ONLY, "norm": NORM_OUTPUTS}


# options that another one, when set, leaves without effect: max_boxes under primary (one box a frame)
OVERRIDDEN = {"primary": ("max_boxes",)}


@dataclass(frozen=True)
class SaliencyOptions:
    """How to make one video's maps; validated once when built (ValueError naming the option).

    method: mv (camera-compensated motion vectors, no network), cam, fused (cam x mv) or gradcam.
    model: a checkpoint or engine (None: the bundled model); with mv it only sets the maps' default scale,
    but it is opened and checked all the same. target: motion, pred, static-contrast or a class index.
    maps_size: (width, height) of the --maps file (None: the model's scale). masks_size: (width, height) of the
    --masks (None: the video's own size). max_boxes: at most this many boxes per frame (None: every mover).
    small_movers: the masks and boxes keep movers about the edge filter's size, which they drop by default
    (`MaskConfig.confident_unfiltered`; docs/EVALUATION.md 2c, "Small movers"). primary: the masks and boxes of
    the primary mover only, one tracked object (`primary.PrimaryMover`; docs/EVALUATION.md 2c, "The primary mover").
    norm: the overlay's scale (`display.frame_ranges`: bounded, video or frame).
    fps: > 0. step, batch_size: >= 1. size: >= 16 (the input's short side). stream: >= 0.
    keep_bytes: memory (bytes) a --method mv run may hold decoded pictures in, to decode the video once
    (`video.kept_frames`; None: a quarter of the available memory, at most 4 GiB; 0: decode twice). The maps
    alone keep none: they need no pixels.
    """

    method: str = DEFAULT_METHOD
    model: Path | None = None
    target: str = DEFAULT_TARGET
    step: int | None = None
    mode: str = "full"
    size: int | None = None
    stabilize: str = DEFAULT_STABILIZE
    layer: str = "conv5"
    norm: str = "bounded"
    maps_size: tuple[int, int] | None = None
    masks_size: tuple[int, int] | None = None
    max_boxes: int | None = None
    small_movers: bool = False
    primary: bool = False
    batch_size: int = 8
    device: str = "auto"
    runtime: str | None = None
    compile: bool = False
    stream: int | None = None
    fps: float | None = None
    keep_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.model is not None and not isinstance(self.model, Path):  # a str from a Python caller
            object.__setattr__(self, "model", Path(self.model))
        for name in ("maps_size", "masks_size"):  # (w, h) or 'WxH'
            object.__setattr__(self, name, parse_size(getattr(self, name), f"--{name.replace('_', '-')}"))
        plain_numbers(self, ("step", "size", "max_boxes", "batch_size", "stream", "keep_bytes"))
        object.__setattr__(self, "compile", bool(self.compile))
        for name in ("small_movers", "primary"):  # "no" from a Python caller would read as True
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):  # numpy's bools are fine
                raise ValueError(f"{name} must be True or False, got {value!r}")
            object.__setattr__(self, name, bool(value))
        for name, choices in (("method", METHODS), ("mode", MODES), ("stabilize", STABILIZE), ("layer", LAYERS), ("norm", NORMS)):
            if getattr(self, name) not in choices:
                raise ValueError(f"--{name} must be one of {', '.join(choices)}, got {getattr(self, name)!r}")
        from .targets import TARGETS

        if self.target not in TARGETS and not self.target.lstrip("-").isdigit():
            raise ValueError(f"--target must be one of {', '.join(TARGETS)} or a class index, got {self.target!r}")
        check_clip_values(step=self.step, fps=self.fps, size=self.size, stream=self.stream)  # as every ClipSpec is checked
        for name in ("batch_size", "max_boxes"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if self.keep_bytes is not None and self.keep_bytes < 0:
            raise ValueError(f"keep_bytes must be at least 0, got {self.keep_bytes}")
        if self.device != "auto" and not _device_ok(self.device):
            raise ValueError(f"--device {self.device}: not a device here (auto, cpu, or cuda[:N] on a machine with CUDA)")
        if self.method == "gradcam" and self.model is not None and self.model.suffix.lower() != ".safetensors":
            raise ValueError(f"{self.model}: --method gradcam runs a backward pass, so it needs a PyTorch checkpoint "
                             "(.safetensors), not an engine; use --method cam with an engine")  # fmt: skip
        if self.method == "fused" and self.mode != "full":
            raise ValueError("--method fused needs --mode full (the motion map covers the whole frame)")

    def unused(self) -> list[str]:
        """The options set away from their defaults that this method does not use, as `--name`s."""
        unused = set(NETWORK_OPTIONS) if self.method == "mv" else set()
        if self.method != "gradcam":
            unused.add("layer")
        return [f"--{f.name.replace('_', '-')}" for f in fields(self) if f.name in unused and getattr(self, f.name) != f.default]

    def idle_for(self, outputs: set[str] | tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
        """The options set away from their defaults that change only outputs other than `outputs` (kinds:
        overlay, maps, masks, boxes, sheet): (option name, the outputs it changes), in `output_only`'s order."""
        return [(name, changes) for name, changes in output_only(self.method).items()
                if getattr(self, name) != OPTION_DEFAULTS[name] and not set(changes) & set(outputs)]  # fmt: skip

    def overridden(self) -> list[str]:
        """The options set away from their defaults that another one makes idle (OVERRIDDEN: max_boxes with
        primary, whose mover has one box a frame)."""
        return [name for name in overridden_by(asdict(self)) if getattr(self, name) != OPTION_DEFAULTS[name]]

    def ignored_notes(self, outputs: set[str] | tuple[str, ...], flag: bool = True) -> list[str]:
        """One line per option of `idle_for(outputs)` and of `overridden`, naming it as the command's `--flag`
        (flag) or the Python API's keyword."""

        def shown(name: str) -> str:
            return f"--{name.replace('_', '-')}" if flag else name

        notes = []
        for name, changes in self.idle_for(outputs):
            which = "output, which was not" if len(changes) == 1 else "outputs, neither of which was" if len(changes) == 2 else "outputs, none of which was"
            named = " and ".join([", ".join(changes[:-1]), changes[-1]] if len(changes) > 1 else changes)
            notes.append(f"{shown(name)} applies to the {named} {which} asked for (ignored)")
        if set(outputs) & {"boxes"}:
            notes += [f"{shown(name)}: {shown('primary')} writes one box a frame (ignored)" for name in self.overridden()]
        return notes


OPTION_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(SaliencyOptions)}


def overridden_by(values: dict[str, object]) -> set[str]:
    """The options that the options set in `values` (a `SaliencyOptions` as a dict, or a batch record's options)
    leave without effect (OVERRIDDEN)."""
    return {name for setter, names in OVERRIDDEN.items() if values.get(setter) is True for name in names}


def _device_ok(device: str) -> bool:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        return False
    if dev.type == "cuda":
        return torch.cuda.is_available() and (dev.index is None or dev.index < torch.cuda.device_count())
    return dev.type == "cpu"


@dataclass(frozen=True)
class Outputs:
    """Where one video's outputs go; None: not written."""

    overlay: Path | None = None
    maps: Path | None = None
    masks: Path | None = None
    boxes: Path | None = None
    sheet: Path | None = None

    def named(self) -> dict[str, Path]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


class BadOutputs(ValueError):
    """Output paths that cannot be used; str(e) names each and the reason (one line)."""


def check_outputs(outputs: Outputs, video: Path | None = None) -> None:
    """Check every output path before any work: its suffix, that it is not a folder, not the input video and
    not another output, and that it can be written (`atomic.check_writable`: its folder is made if missing, and
    a temporary file is created and removed there). Raises BadOutputs naming every bad path and why, in one line."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for kind, path in outputs.named().items():
        option = OUTPUT_OPTIONS[kind]
        suffixes = OUTPUT_SUFFIXES[kind]
        real = os.path.realpath(path)
        if path.is_dir():
            problems.append(f"{path}: is a folder; {option} takes a file name (e.g. {option} {path / ('out' + suffixes[0])})")
        elif path.suffix.lower() not in suffixes:
            problems.append(f"{path}: {option} must end in {' or '.join(suffixes)}")
        elif video is not None and os.path.realpath(video) == real:
            problems.append(f"{path}: is the input video; {option} would overwrite it")
        elif real in seen:
            problems.append(f"{path}: given to both {seen[real]} and {option}")
        else:
            seen[real] = option
            try:
                check_writable(path)
            except OutputError as e:
                problems.append(str(e))
    if problems:
        raise BadOutputs("; ".join(problems))


def check_model(path: Path) -> None:
    """Open a model file the user named and check it whole: its metadata, and its weights against the digest
    they carry (checkpoints, ONNX) or the package's CRCs (.pt2). Raises the loader's errors, naming the file."""
    from ..checkpoint import verified_state
    from ..loader import read_model_meta

    # the file's handle: unknown suffix, missing, empty, unreadable header; an ONNX file's weights and a .pt2's
    # CRCs are checked as it is read (`artifact.open_model_file`), a checkpoint's weights only when loaded
    read_model_meta(path)
    if path.suffix.lower() == ".safetensors":
        verified_state(path)


@dataclass
class SaliencyRun:
    """What `run` did: the video's header, frames, notes for the user and the files it wrote."""

    info: VideoInfo
    frames: int
    frame_times: object  # (F,) float64 seconds, numpy
    describe: str  # where the maps came from: the motion source, or the engine
    clips: int | None  # clips through the network (None for --method mv)
    seconds: float
    notes: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    failed: dict[Path, str] = field(default_factory=dict)  # outputs that could not be written, and why
    cuts: object = None  # (F,) bool, numpy: the frame begins a new shot (`SaliencyResult.cuts`); None: not looked for


def open_engine(options: SaliencyOptions) -> Engine:
    """The engine a network method runs: the named (else bundled) model on `options.device` and runtime
    (gradcam: PyTorch, which it needs for its backward pass)."""
    from ..loader import load_engine

    runtime = options.runtime or ("torch" if options.method == "gradcam" else None)
    return load_engine(options.model, device=options.device, runtime=runtime, compile=options.compile, batch_size=options.batch_size)


def _default_short_side(options: SaliencyOptions) -> int | None:
    """The scale --method mv's maps are written at by default: the named (else bundled) model's clip size.
    The bundled model's header is read without importing torch (`--method mv` needs none)."""
    from ..default_model import default_model_path
    from ..metadata import read_safetensors_meta

    if options.model is not None:
        from ..loader import read_model_meta

        return read_model_meta(options.model).crop
    try:
        meta = read_safetensors_meta(default_model_path())
    except (FileNotFoundError, ValueError):
        return None
    return meta.crop if meta else None


def prepare(video: str | Path, options: SaliencyOptions, outputs: Outputs, model_checked: bool = False) -> VideoReader:
    """Every check that needs no decoding: the named model opens whole, a class index given as the target
    exists, the video exists and has a readable header, the outputs can be written. Returns the reader opened
    on the video (its header read). model_checked: the model was checked already (a batch checks it once).
    """
    from .targets import parse_target

    if options.model is not None and not model_checked:
        check_model(options.model)
    if options.target.lstrip("-").isdigit():
        from ..default_model import default_model_path
        from ..loader import read_model_meta

        parse_target(options.target, read_model_meta(options.model or default_model_path()).num_classes)
    reader = ClipSpec(fps=options.fps, stream=options.stream).open(video)
    check_outputs(outputs, Path(video))
    return reader


def run(video: str | Path, options: SaliencyOptions | None = None, outputs: Outputs | None = None,
        reader: VideoReader | None = None, engine: Engine | None = None) -> SaliencyRun:  # fmt: skip
    """Motion saliency of one video (a file or a folder of frames) into `outputs` (see the module docstring).

    reader: the result of `prepare` when the caller ran it already (its checks are then not repeated).
    engine: the network methods' engine, when the caller opened it already (`load_options_engine`; a batch
    opens it once); else it is opened here.
    Errors before any output is begun: VideoError, BadOutputs, OutputError, EngineError/CheckpointError/MetadataError,
    ValueError, each one line naming the file. An output that fails while being written (full disk) is in
    `SaliencyRun.failed`; the others are written. Temporary files: each output is written to a hidden
    temporary file beside it and renamed when complete; an exception or SIGTERM (as SystemExit) removes them,
    and `atomic.clean_partial` on the output folders (the command's, or `resume` for a batch) removes those a
    killed run of this tool left.
    """
    from .masks import NETWORK_NOISE_FACTOR, MaskConfig
    from .regions import BoxesFile, MasksFile, Regions
    from .render import OutputsFailed, Sink, mask_heat, render, write_error

    options = options or SaliencyOptions()
    outputs = outputs or Outputs()
    t0 = time.perf_counter()
    reader = reader or prepare(video, options, outputs)
    info = reader.info
    clips: int | None = None
    kept: KeptFrames | None = None
    if options.method == "mv":
        from .motion import compute_motion_saliency

        # the maps alone need no pixels: the vectors alone are parsed, and `render` replays the frames' times
        # (no second decode; the parse's end-of-decode checks are the reader's)
        pixels = any(getattr(outputs, kind) is not None for kind in PIXEL_OUTPUTS)
        kept = KeptFrames(reader, options.keep_bytes, pixels=pixels)
        result = compute_motion_saliency(video, stream=options.stream, fps=options.fps, size=options.size or _default_short_side(options),
                                         keep=kept, mask_maps=bool(outputs.masks or outputs.boxes))  # fmt: skip
        labels, describe = [""] * len(result.frame_times), result.motion_source
    else:
        from .compute import compute_saliency, frame_labels
        from .targets import parse_target

        engine = engine or open_engine(options)
        result = compute_saliency(engine, video, parse_target(options.target, engine.meta.num_classes), step=options.step,
                                  mode=options.mode, batch_size=options.batch_size, stream=options.stream, fps=options.fps,
                                  method=options.method, layer=options.layer, size=options.size, stabilize=options.stabilize,
                                  norm="frame" if options.norm == "frame" else "video")  # fmt: skip
        labels, describe, clips = frame_labels(result, engine.meta), engine.describe(), len(result.clip_logits)
    n = len(result.frame_times)
    extra: dict[Path, Sink] = {}
    failed: dict[Path, str] = {}
    # the masks' floor is in px/frame: the network's maps (cam, fused) have no such unit
    cfg = MaskConfig() if options.method == "mv" else MaskConfig(floor=0.0, noise_factor=NETWORK_NOISE_FACTOR)
    found = Regions(info.width, info.height, replace(cfg, confident_unfiltered=options.small_movers), mask_heat(result), options.primary,
                    result.cuts, result.movers)  # fmt: skip
    regions = {outputs.boxes: lambda p: BoxesFile(p, found, options.max_boxes),
               outputs.masks: lambda p: MasksFile(p, n, *(options.masks_size or (info.width, info.height)), found)}  # fmt: skip
    for path, make in regions.items():
        if path:
            try:
                extra[path] = make(path)
            except OSError as e:
                failed[path] = write_error(e)
    notes = list(dict.fromkeys(info.notes + result.notes + result.warnings))
    if options.fps is not None and options.method == "mv" and not reader.is_folder:
        notes.append(f"--fps {options.fps:g} is a frame folder's rate: --method mv keeps every frame of a video file")
    # masks and boxes make many small OpenCV calls per frame, whose pool threads cost more CPU than they save
    # (on 854x480, 2 ms a frame of spinning; one thread costs about 8% more wall time); without IPP they are
    # the same bytes on every run (`hardware.opencv_without_ipp`)
    try:
        with contextlib.ExitStack() as opencv:
            if extra:
                opencv.enter_context(opencv_threads(1))
                opencv.enter_context(opencv_without_ipp())
            made = render(kept if kept is not None and kept.complete else reader, result, overlay=outputs.overlay, maps=outputs.maps, maps_size=options.maps_size,
                          sheet=outputs.sheet, frame_labels=labels, norm=options.norm, extra_sinks=extra)  # fmt: skip
    except OutputsFailed as e:
        made, failed = e.notes, {**failed, **e.failed}
    notes = list(dict.fromkeys(notes + made))
    if result.padded:
        if result.cuts is not None and result.cuts.any():
            notes.append(f"shots shorter than one clip padded with their last frame (up to {result.padded} repeats)")
        else:
            notes.append(f"video shorter than one clip: padded with {result.padded} repeats of the last frame")
    written = [p for p in outputs.named().values() if p not in failed]
    return SaliencyRun(info, n, result.frame_times, describe, clips, time.perf_counter() - t0, notes, written, failed, result.cuts)
