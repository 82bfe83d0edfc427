"""Streaming video decoding with PyAV: one frame at a time, resized inside libswscale, turned upright.

Nothing here holds more than one decoded frame, so memory stays flat however long the video is.
Timestamps come from each frame's PTS, so variable frame rate is handled. A folder of images
(00000.jpg, ...) reads like a video at a given fps; hidden files in it (".x", AppleDouble "._x") are skipped.

Frames come out as a player shows them:
- with square pixels: a sample aspect ratio other than 1:1 is resampled to the displayed width, and an H.264
  crop is applied exactly (`mosi_tool.video.pixels`);
- upright: a display matrix (phone rotation, mirror) is applied, and `VideoInfo.width/height` are the
  displayed size (`mosi_tool.video.orientation`);
- at the stream's size: a frame past a resolution change mid-stream (MPEG-TS recordings joined) is resized to
  the size the header states, with a warning (`VideoReader.frame_maker`);
- past damage: a packet the decoder refuses (coded data overwritten) is skipped and the decode goes on, as
  FFmpeg's command line does (`packets.StreamDecode`), with a warning saying what was refused and lost;
- in time order: FFmpeg's best-effort timestamps, mended where they still go back (`timeline.Clock`), so
  `Frame.time` only goes forward, and a warning says what was mended;
- from the first frame a player shows: frames an MP4/MOV edit list hides are dropped by FFmpeg, and
  `Frame.time` counts from that first shown frame (`VideoReader.start_time` is its own timestamp).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Protocol

import av
import numpy as np
from PIL import Image

from .h264_sps import stream_crop
from .hidden import is_hidden
from .iso_boxes import cut_short_reason
from .images import to_rgb
from .orientation import IDENTITY, Orientation, frame_orientation
from .packets import StreamDecode, ffmpeg_reason
from .pixels import PixelShape
from .read_ahead import read_ahead
from .timeline import Clock, Timeline, decode_order_pts

# swscale's threads: one. PyAV 18.1.1 made its default automatic, and a DataLoader worker forked from a process
# whose conversions had started that thread pool waited on it forever (the pool is not in the child); videos are
# converted in parallel by the workers anyway.
SWSCALE_THREADS = 1

VIDEO_SUFFIXES = {
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
    ".flv", ".wmv", ".3gp", ".ogv", ".gif", ".y4m", ".mxf", ".vob", ".m2v", ".ivf",
    ".h264", ".264", ".h265", ".265", ".hevc",  # raw elementary streams (no container)
}  # fmt: skip
FRAME_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
DEFAULT_FOLDER_FPS = 25.0
PTS_PROBE = 48  # packets whose timestamps tell decode-order PTS (`timeline.decode_order_pts`)
NO_PTS_FORMATS = {"avi"}  # containers that store no presentation timestamps (FFmpeg guesses them)
HDR_TRANSFERS = {16: "PQ", 18: "HLG"}  # AVColorTransferCharacteristic: SMPTE ST 2084, ARIB STD-B67
PRIMARIES = {1: "BT.709", 5: "BT.601", 6: "BT.601", 9: "BT.2020", 12: "Display P3"}  # AVColorPrimaries

log = logging.getLogger(__name__)


class VideoError(ValueError):
    """A video that cannot be read; str(e) is one line naming the file and the cause."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass
class VideoInfo:
    path: str
    width: int  # as displayed: square pixels (the SAR applied), after the display matrix's rotation
    height: int
    fps: float  # average frame rate (or the folder's --fps)
    frames: int | None  # what the container claims (MP4: stored frames, edit lists ignored); None if unknown
    duration: float | None  # seconds, if known
    stream: int  # index among the file's video streams
    codec: str  # the codec (h264, av1), not the decoder FFmpeg picked for it (libdav1d)
    video_streams: int = 1
    notes: list[str] = field(default_factory=list)
    rotation: int = 0  # degrees counter-clockwise the display matrix turns the stored frames (0, 90, 180, 270)
    mirrored: bool = False  # mirrored left-right after that rotation
    container_start_time: float = 0.0  # seconds: where a player's clock starts (the earliest stream's start)
    sample_aspect_ratio: str = "1:1"  # of the stored pixels (frames are resampled to square pixels)


class PictureTap(Protocol):
    """What `VideoReader.frames(keep=...)` hands every decoded picture to (`video.kept_frames.KeptFrames`)."""

    @property
    def wanted(self) -> bool: ...  # whether it still takes pictures (else only their times)

    def add(self, frame: av.VideoFrame | None, time: float, side_data: int = 0) -> None: ...

    def ended_by_reader(self) -> None: ...


class Frame:
    """One decoded frame: `index`, its position in presentation order from 0; `time`, seconds since the first
    shown frame's timestamp, from PTS (best effort, always increasing); `image`, (H, W, 3) uint8 RGB, upright.

    `planes`: the frame's own yuv420p planes (Y (H, W), U and V (H/2, W/2) uint8, BT.601 limited range,
    read-only views of the decoder's picture) when `VideoReader.frames(planes=True)` could keep them; `image`
    is then converted from them on first use only, so a consumer of the planes alone (the overlay) skips the
    RGB conversion. None otherwise.
    """

    __slots__ = ("index", "time", "planes", "_image", "_convert")

    def __init__(self, index: int, time: float, image: np.ndarray | None = None,
                 planes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                 convert: Callable[[], np.ndarray] | None = None):  # fmt: skip
        if image is None and convert is None:
            raise ValueError("a Frame needs its image or a way to convert it")
        self.index, self.time, self.planes = index, time, planes
        self._image, self._convert = image, convert

    @property
    def image(self) -> np.ndarray:
        if self._image is None:
            assert self._convert is not None
            self._image, self._convert = self._convert(), None
        return self._image

    def __repr__(self) -> str:
        return f"Frame(index={self.index}, time={self.time:.6f}, planes={self.planes is not None})"


BT601_SPACES = {2, 5, 6}  # AVColorSpace: unspecified (FFmpeg converts it as BT.601), BT.470BG, SMPTE 170M


def keeps_planes(frame: av.VideoFrame) -> bool:
    """Whether a decoded frame's planes are already a BT.601 limited-range yuv420p picture of even size: what
    an encoder of such frames takes as it is (`Frame.planes`), with the colours an RGB conversion would give."""
    return (frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0
            and frame.color_range != 2 and frame.colorspace in BT601_SPACES)  # fmt: skip


def yuv_planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read-only views (no copy) of a yuv420p frame's Y (H, W), U and V (H/2, W/2) uint8 planes; they keep
    the frame alive."""
    out = []
    for plane, w, h in zip(frame.planes, (frame.width, frame.width // 2, frame.width // 2), (frame.height, frame.height // 2, frame.height // 2)):
        view = np.frombuffer(memoryview(plane), np.uint8, count=plane.line_size * h).reshape(h, plane.line_size)[:, :w]
        view.flags.writeable = False  # the decoder may still refer to this picture
        out.append(view)
    return out[0], out[1], out[2]


def _damaged(path: str | Path, reason: str) -> str:
    """`reason`, led by what an MP4/MOV's box layout says when the file was cut short (`iso_boxes`)."""
    cut = cut_short_reason(path)
    return f"{cut} ({reason})" if cut else reason


# FFmpeg demuxers that open any file: "tty" draws a text file as terminal text, a "video" of any text
TEXT_DEMUXERS = {"tty"}


def _open(path: Path) -> av.container.InputContainer:
    """`av.open(path)`; a file FFmpeg cannot open, or opens only as text drawn on a terminal, raises
    `VideoError` naming it and the reason."""
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as e:
        raise VideoError(path, _damaged(path, f"not a video FFmpeg can read ({ffmpeg_reason(e)})")) from None
    if set(container.format.name.split(",")) & TEXT_DEMUXERS:
        container.close()
        raise VideoError(path, "not a video (FFmpeg reads it only as text to draw on a terminal)")
    return container


def _natural_key(p: Path) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


class VideoReader:
    """Open a video file or a folder of frames. Iterate `frames(size=...)` to stream RGB frames.

    Errors are `VideoError`s. A stream that stops decoding part-way yields what it decoded and records
    a warning in `self.warnings` (also logged); so does one that decodes fewer frames than a player would
    show, or loses frames in a damaged middle part (`self.lost_frames`). A packet the decoder refuses is
    skipped, as FFmpeg's command line skips it, and the decode goes on (`packets.StreamDecode`), with a warning.
    """

    def __init__(self, path: str | Path, stream: int | None = None, fps: float | None = None, threads: int = 0):
        self.path = Path(path)
        self.threads = threads  # FFmpeg decoder threads (0: FFmpeg's choice, one per core, and one frame read ahead)
        self.warnings: list[str] = []
        self.decoded = 0
        self.lost_frames = 0  # frames missing from gaps in the timestamps (damage), after decoding
        self.start_time: float | None = None  # seconds: the first decoded frame's PTS, after decoding
        # after decoding: whether every frame's time was its own timestamp (none mended, none lost), so that
        # `frames_from` can seek; None before a whole decode
        self.times_as_stored: bool | None = None
        self.orientation: Orientation = IDENTITY
        self.pixels = PixelShape((0, 0))  # set below: stored size, SAR and crop offset of the decoded frames
        self._edit_lists = False  # set by the probe: MP4/MOV, whose edit lists may hide stored frames
        self._decode_order = False  # set by the probe: the PTS are in decode order (`timeline.decode_order_pts`)
        self._time_base = Fraction(1, 1)  # of the stream's timestamps
        if not self.path.exists():
            raise VideoError(self.path, "no such file or folder")
        if self.path.is_dir():
            self._files = sorted(
                (p for p in self.path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and not is_hidden(p.name)), key=_natural_key
            )
            if not self._files:
                raise VideoError(self.path, "folder holds no image frames (.jpg, .png, ...)")
            try:
                with Image.open(self._files[0]) as im:
                    w, h = im.size
            except Exception as e:  # noqa: BLE001
                raise VideoError(self._files[0], f"cannot read frame ({e})") from None
            self.pixels = PixelShape((w, h))
            notes = [] if fps else [f"frame folder without --fps: assuming {DEFAULT_FOLDER_FPS:g} fps"]
            if notes:
                self._warn(notes[0])  # the timestamps rest on it: say so where the user looks
            rate = fps or DEFAULT_FOLDER_FPS
            n = len(self._files)
            self.times_as_stored = True  # frame i at i / rate
            self.info = VideoInfo(str(self.path), w, h, rate, n, n / rate, 0, "images", 1, notes)
            return
        self._files = []
        if self.path.stat().st_size == 0:
            raise VideoError(self.path, "empty file (0 bytes)")
        container = _open(self.path)
        try:
            videos = list(container.streams.video)
            moving = [i for i, s in enumerate(videos) if not _cover_picture(s)]  # a cover picture (cover art) is no video
            if not videos or (stream is None and not moving):
                kinds = sorted({"cover picture" if _cover_picture(s) else s.type for s in container.streams}) or ["none"]
                raise VideoError(self.path, _damaged(self.path, f"no video stream (streams: {', '.join(kinds)})"))
            k = moving[0] if stream is None else stream
            if not 0 <= k < len(videos):
                raise VideoError(self.path, f"has {len(videos)} video stream(s); --stream {k} does not exist")
            vs = videos[k]
            cc = vs.codec_context
            if not vs.width or not vs.height:
                raise VideoError(self.path, "video stream has no frame size (damaged header?)")
            rate = vs.average_rate or vs.guessed_rate or vs.base_rate
            duration = float(vs.duration * vs.time_base) if vs.duration and vs.time_base else None
            if duration is None and container.duration:
                duration = container.duration / av.time_base
            notes = []
            if len(videos) > 1:
                notes.append(f"{len(videos)} video streams; reading stream {k} ({vs.width}x{vs.height})")
            # MP4/MOV edit lists can hide stored frames from a player; in other containers (AVI) the header's
            # count is what a player shows, and the duration may be FFmpeg's guess from a cut-short file.
            self._edit_lists = container.format.name.split(",")[0] == "mov"
            self.orientation, self._decode_order = _probe(container, vs)
            self._time_base = vs.time_base or Fraction(1, 1)
            if self.orientation.note:
                notes.append(self.orientation.note)
            crop = stream_crop(cc.extradata) if cc and cc.name == "h264" else None
            self.pixels = PixelShape.of((vs.width, vs.height), vs.sample_aspect_ratio, (crop.left, crop.top) if crop else (0, 0))
            hdr = _hdr_note(cc)
            notes += [n for n in (self.pixels.note(), hdr) if n]
            if hdr:
                self._warn(hdr)  # it changes every pixel the model sees: a warning, kept with the features too
            rotation, mirrored = self.orientation.describe()
            width, height = self.orientation.display_size(*self.pixels.square)
            sar = self.pixels.sar
            self.info = VideoInfo(
                str(self.path), width, height, float(rate) if rate else 0.0,
                _stated_frames(container, vs, duration, float(rate) if rate else 0.0), duration, k,
                (getattr(cc.codec, "canonical_name", None) or cc.name) if cc else "?", len(videos), notes,
                rotation, mirrored, container.start_time / av.time_base if container.start_time else 0.0,
                f"{sar.numerator}:{sar.denominator}",
            )  # fmt: skip
        finally:
            container.close()

    @property
    def is_folder(self) -> bool:
        """Whether this reads a folder of image frames (no codec, no motion vectors)."""
        return bool(self._files)

    def frames(self, size: tuple[int, int] | None = None, planes: bool = False, lazy: bool = False,
               keep: PictureTap | None = None, threads: int | None = None) -> Iterator[Frame]:  # fmt: skip
        """Yield upright frames in presentation order, resized to `size` = (width, height) as displayed, if given
        (non-square pixels are always resampled: by default to the displayed size).

        planes: keep each frame's yuv420p planes (`Frame.planes`) and convert to RGB only on first use of
        `Frame.image`, where the decoded picture is already what a BT.601 yuv420p encoder takes
        (`keeps_planes`); any other frame comes as RGB, planes None. lazy: every frame is converted (resized,
        turned upright) on first use of `Frame.image` only, for a reader that skips most frames; it holds the
        decoder's picture until then. keep: given every decoded picture (before any resize) for a later pass,
        and told when the decode has ended (`video.kept_frames`; the optical-flow fallback of the motion pass).
        threads: the decoder's threads for this decode (default the reader's `threads`; 1 for a few frames,
        which FFmpeg's frame threads and the read-ahead would cost more to start than they save).
        """
        if self._files:
            yield from self._folder_frames(size)
            return
        self.decoded = 0
        container = _open(self.path)
        with container:
            vs = exact_crop(container.streams.video[self.info.stream])
            vs.thread_type = "AUTO"
            threads = self.threads if threads is None else threads
            if threads:
                vs.thread_count = threads
            timeline = Timeline(self._time_base)
            t = 0.0
            clock = self.clock()
            make = self.frame_maker(size, planes, lazy)
            stream = StreamDecode(container, vs)  # past packets the decoder refuses
            # With the CPUs to itself (threads 0), the next frames decode on a helper thread while this
            # one is resized and converted here; a decoder that shares them (`decode_plan`) does not.
            with read_ahead(stream, depth=0 if threads else 4) as decoded:
                for frame in decoded:
                    t = clock.seconds(frame.pts, frame.dts)
                    timeline.add(clock.joined)
                    if keep is not None:
                        keep.add(frame if keep.wanted else None, t)
                    yield make(frame, self.decoded, t)
                    self.decoded += 1
        self.end_of_decode(self.decoded, clock, timeline, t, stream)
        if keep is not None:
            keep.ended_by_reader()

    def frames_from(self, time: float, size: tuple[int, int] | None = None, lazy: bool = False,
                    threads: int | None = None) -> Iterator[Frame]:  # fmt: skip
        """Frames as `frames(size, lazy=lazy)` yields them, from the keyframe at or before `time` s (on
        `Frame.time`'s clock) on, without decoding what comes before: for a clip late in a long video.

        A frame's time is its timestamp less the first frame's, which is `frames`'s time for a stream whose
        times needed no repair (`times_as_stored` after a whole decode; otherwise these times may be another
        frame's). `Frame.index` is -1: a frame's place is known only by counting from the start. A frame
        folder yields its frames from the one at `time`, with their indices. Raises VideoError if the file
        cannot be opened or has no timestamps to seek by. threads: as in `frames`."""
        if self._files:
            yield from self._folder_frames(size, first=max(0, int(np.floor(time * self.info.fps + 1e-6))))
            return
        make = self.frame_maker(size, False, lazy)
        with _open(self.path) as container:
            vs = exact_crop(container.streams.video[self.info.stream])
            vs.thread_type = "AUTO"
            if threads:
                vs.thread_count = threads
            origin = next((f.pts for f in StreamDecode(container, vs)), None)
            if origin is None:
                raise VideoError(self.path, "no timestamps to seek by")
            container.seek(origin + int(time / self._time_base), stream=vs, backward=True, any_frame=False)
            for frame in StreamDecode(container, vs):  # past packets the decoder refuses, as `frames`
                if frame.pts is None:
                    raise VideoError(self.path, "a frame without a timestamp after seeking")
                yield make(frame, -1, float((frame.pts - origin) * self._time_base))

    def frame_maker(self, size: tuple[int, int] | None = None, planes: bool = False,
                    lazy: bool = False) -> Callable[[av.VideoFrame, int, float], Frame]:  # fmt: skip
        """What turns a frame decoded from this video (its stream cropped by `exact_crop`, as `frames` opens it)
        into the `Frame` that `frames(size, planes, lazy)` yields: (frame, index, time) -> Frame.

        A frame whose size is not the stream's (a resolution change mid-stream, as where MPEG-TS recordings
        were joined) is resized to the stream's size, so every frame has the size `info` states; the first
        such frame adds a warning."""
        if size is None and self.pixels.square != self.pixels.stored:
            size = (self.info.width, self.info.height)
        stored = self.orientation.stored_size(*size) if size else None  # swscale resizes before the rotation
        reshape = {"width": stored[0], "height": stored[1]} if stored else {}
        orientation, header = self.orientation, self.pixels.stored
        warned = False

        def make(frame: av.VideoFrame, index: int, t: float) -> Frame:
            nonlocal warned
            own = reshape
            if not own and (frame.width, frame.height) != header:
                own = {"width": header[0], "height": header[1]}
                if not warned:
                    warned = True
                    self._warn(f"the frame size changes mid-stream (frame {index} is {frame.width}x{frame.height}, the "
                               f"stream's {header[0]}x{header[1]}): such frames are resized to {header[0]}x{header[1]}")  # fmt: skip
            if planes and not own and orientation.identity and keeps_planes(frame):
                return Frame(index, t, planes=yuv_planes(frame), convert=partial(frame.to_ndarray, format="rgb24"))
            if lazy:
                return Frame(index, t, convert=partial(_upright_rgb, frame, orientation, own))
            return Frame(index, t, _upright_rgb(frame, orientation, own))

        return make

    def end_of_decode(self, decoded: int, clock: Clock, timeline: Timeline, last_time: float, stream: StreamDecode) -> None:
        """What a whole decode of this video found, recorded as `frames` records it: `decoded` frames, the last
        at `last_time` s, their times from `clock` and `timeline` (fed every frame), `stream` the decode's packets
        (`packets.StreamDecode`: the FFmpeg error that stopped it early, None where it reached the end, and what
        the decoder refused). Sets `decoded`, `start_time` and `lost_frames` and adds the warnings (truncated,
        refused packets, mended or lost timestamps, a single frame); raises VideoError if no frame decoded."""
        self.decoded = decoded
        error = stream.error
        if error is not None:
            self._warn(f"decoding stopped after {decoded} frames ({ffmpeg_reason(error)}); the file is truncated or damaged")
        if decoded == 0:
            refused = stream.nothing_decoded()
            raise VideoError(self.path, _damaged(self.path, f"no frames could be decoded: {refused}" if refused else "no frames could be decoded"))
        refused = stream.refusal_warning(clock.time_base, clock.first)
        if refused:
            self._warn(refused)
        self.note_times(clock, timeline)
        fps = self.info.fps or 25.0
        if error is None:
            self._check_complete(timeline.span(1.0 / fps) if timeline.first is not None else last_time + 1.0 / fps, fps)
        if decoded == 1:
            self._warn("only 1 frame: a still image, not a video, so it shows no motion (clips of it repeat that frame)")

    def note_times(self, clock: Clock, timeline: Timeline) -> None:
        """What a whole decode's timestamps showed (`clock` and `timeline` fed every frame), recorded here:
        `start_time`, `lost_frames`, `times_as_stored` (none mended, no gap), and a warning each for mended
        timestamps and for frames lost in gaps, unless said already."""
        mended, lost = clock.warning(), timeline.lost_warning()
        self.start_time = timeline.start_time
        self.lost_frames = timeline.lost_frames()
        self.times_as_stored = mended is None and lost is None
        for said in (mended, lost):
            if said and said not in self.warnings:
                self._warn(said)

    def clock(self) -> Clock:
        """A new `Clock` for this video's stream: what turns its decoded frames' timestamps into `Frame.time`."""
        return Clock.at_rate(self._time_base, self.info.fps or 25.0, self._decode_order)

    def _check_complete(self, span: float, fps: float) -> None:
        """Warn if fewer frames or seconds decoded than a player would show.

        A player shows the header's duration (MP4/MOV: after the edit list), not every stored frame, and its
        clock starts at the first shown frame. In other containers the header's frame count is what it shows:
        an AVI cut short keeps its header, while FFmpeg guesses its duration from what is left. Some containers
        (MKV) state the duration from time zero, others (MP4, MPEG-TS) from the first frame: with a non-zero
        start time the shorter reading is used, so an intact file with a late start is never called truncated.
        """
        claimed, duration = self.info.frames, self.info.duration
        start = self.start_time or 0.0
        if duration and start > 0 and duration - start > 0:
            duration = min(duration, duration - start)
        shown = min(claimed, round(duration * fps)) if claimed and duration and fps and self._edit_lists else claimed
        have = self.decoded + self.lost_frames
        if shown and have < 0.9 * shown:
            told = f"the header claims {claimed} frames" if shown == claimed else f"a player would show {shown} frames (the header lists {claimed} stored)"
            self._warn(f"{told} but only {self.decoded} decoded; the file is truncated or damaged")
        elif not claimed and duration and span < 0.9 * duration - 1.0:
            self._warn(f"the header claims {duration:.1f} s but decoding ended at {span:.1f} s; the file is truncated or damaged")

    def _folder_frames(self, size: tuple[int, int] | None, first: int = 0) -> Iterator[Frame]:
        self.decoded = 0
        folder = (self.info.width, self.info.height)  # its first frame's: a frame of another size is resized to it
        warned = False
        for i, p in enumerate(self._files[first:], first):
            try:
                with Image.open(p) as im:
                    im = to_rgb(im)
                    if im.size != folder and not warned:
                        warned = True
                        self._warn(f"the frames differ in size (frame {p.name} is {im.size[0]}x{im.size[1]}, the first "
                                   f"{folder[0]}x{folder[1]}): such frames are resized to {folder[0]}x{folder[1]}")  # fmt: skip
                    if im.size != (size or folder):
                        im = im.resize(size or folder, Image.BILINEAR)
                    image = np.asarray(im)
            except Exception as e:  # noqa: BLE001
                if self.decoded == 0:
                    raise VideoError(p, f"cannot read frame ({e})") from None
                self._warn(f"stopped at unreadable frame {p.name} ({e})")
                return
            yield Frame(i, i / self.info.fps, image)
            self.decoded += 1

    def _warn(self, message: str) -> None:
        if message in self.warnings:  # said by an earlier pass over the same frames (the codec's, before a fallback)
            return
        self.warnings.append(message)
        log.debug("%s: %s", self.path, message)


def _cover_picture(stream: av.video.stream.VideoStream) -> bool:
    """Whether a video stream is an attached picture (cover art: one still image, as audio files and some
    downloaded videos carry), which the default stream choice passes over."""
    return bool(int(getattr(stream, "disposition", 0) or 0) & 0x400)  # AV_DISPOSITION_ATTACHED_PIC


def grab_frame(path: str | Path, fraction: float) -> np.ndarray:
    """Decode one RGB frame at `fraction` (0..1) of the video's duration (training sources)."""
    reader = VideoReader(path)
    if reader._files:
        files = reader._files
        with Image.open(files[min(len(files) - 1, int(fraction * len(files)))]) as im:
            return np.asarray(to_rgb(im))
    with _open(reader.path) as container:
        vs = exact_crop(container.streams.video[0])
        target = None
        if reader.info.duration and vs.time_base:
            start = vs.start_time or 0
            target = start + int(fraction * reader.info.duration / vs.time_base)
            container.seek(target, stream=vs, backward=True, any_frame=False)
        last = None
        for frame in StreamDecode(container, vs):
            last = frame
            if target is None or frame.pts is None or frame.pts >= target:
                break
        if last is None:
            raise VideoError(path, _damaged(path, "no frames could be decoded"))
        width, height = reader.pixels.square
        return reader.orientation.apply(last.to_ndarray(format="rgb24", width=width, height=height, threads=SWSCALE_THREADS))


def _stated_frames(container: av.container.InputContainer, vs: av.video.stream.VideoStream, duration: float | None,
                   fps: float) -> int | None:  # fmt: skip
    """The header's frame count, or None where it has none, or where it is an IVF count that disagrees with the
    duration by more than 10% and 2 frames: FFmpeg before 6.0 wrote the duration, in time-base units, in that
    field (a 2-s VP9 IVF at 10 fps claimed 2000 frames, and was called truncated)."""
    frames = vs.frames or None
    if frames and container.format.name == "ivf" and duration and fps and abs(frames - duration * fps) > max(2.0, 0.1 * duration * fps):
        return None
    return frames


def _upright_rgb(frame: av.VideoFrame, orientation: Orientation, reshape: dict[str, int]) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a decoded frame, resized by swscale (`reshape`: width, height) and turned upright."""
    return orientation.apply(frame.to_ndarray(format="rgb24", threads=SWSCALE_THREADS, **reshape))


def _hdr_note(cc: av.codec.context.CodecContext | None) -> str | None:
    """A line saying that an HDR stream (PQ or HLG transfer) is decoded without tone mapping, or None."""
    transfer = HDR_TRANSFERS.get(getattr(cc, "color_trc", 0))
    if transfer is None:
        return None
    primaries = PRIMARIES.get(getattr(cc, "color_primaries", 0), "unstated")
    return (f"HDR video ({transfer} transfer, {primaries} primaries) decoded without tone mapping: frames look dim "
            "and washed out, features and maps are computed on those colours, and the overlay is SDR (BT.601)")


def exact_crop(vs: av.video.stream.VideoStream) -> av.video.stream.VideoStream:
    """`vs`, set to crop its frames exactly as the stream says. By default FFmpeg moves a left crop to keep the
    frame's memory aligned (a 32-pixel H.264 crop_left is dropped), so frames were wider than the stream's size."""
    vs.codec_context.flags |= av.codec.context.Flags.unaligned
    return vs


def _probe(container: av.container.InputContainer, vs: av.video.stream.VideoStream) -> tuple[Orientation, bool]:
    """(the orientation the first decoded frame asks for, whether the PTS are in decode order).

    The display matrix rides on decoded frames (PyAV does not expose the stream's): decode the first one. The
    PTS of the first PTS_PROBE packets, in stored order, and the container tell decode-order PTS
    (`timeline.decode_order_pts`)."""
    orientation: Orientation | None = None
    pts: list[int] = []
    try:
        for packet in container.demux(vs):
            if packet.pts is not None and packet.size:
                pts.append(packet.pts)
            if orientation is None:
                try:
                    frames = packet.decode()
                except av.FFmpegError:
                    continue  # a packet the decoder refuses: the next may decode (`packets.StreamDecode`)
                for frame in frames:
                    orientation = frame_orientation(frame)
                    break
            if orientation is not None and len(pts) >= PTS_PROBE:
                break
    except av.FFmpegError:
        pass  # a stream that cannot decode its first frame fails later, with the reason
    stored = not set(container.format.name.split(",")) & NO_PTS_FORMATS
    return orientation or IDENTITY, decode_order_pts(pts, bool(vs.codec_context.has_b_frames), stored)
