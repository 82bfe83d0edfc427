"""`saliency --maps FILE.npy`: the raw maps, float16 (frames, H, W) in [0, 1], written as they are made.

H x W is by default the whole frame at the model's input scale (e.g. 192x112 for a 640x360 video and a
112-pixel model), or `--maps-size`. A plain .npy, so `np.load(FILE, mmap_mode="r")` opens it without reading
it: `maps[i]` is frame i's map.

`NpyRows` (also the masks' file): the header and the file's full size come from
`numpy.lib.format.open_memmap`; the rows are then written through an ordinary file handle, so written pages
belong to the OS page cache and not to this process: memory stays flat however long the video is (a memory
map's dirty pages count as the process's own), and a write costs a copy, not a page fault per 4 KB.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..atomic import AtomicOutput, reserve

if TYPE_CHECKING:
    from ..video.decode import Frame

DTYPE = np.dtype("<f2")


class NpyRows(AtomicOutput):
    """A .npy of `frames` rows (height, width) of `dtype`, each written once, at its index, in any order (rows
    never written stay zero). The disk space is claimed at once: a full disk fails in the constructor."""

    def __init__(self, out: Path, frames: int, width: int, height: int, dtype: np.dtype):
        tmp = self._begin(out)
        with self._writing(setup=True):  # a full disk: OutputError naming `out`, no temporary file left
            header = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(frames, height, width))
            self._offset, self._row = header.offset, height * width * dtype.itemsize
            del header  # only its header and size were wanted
            reserve(tmp)
            self._file = open(tmp, "r+b")  # noqa: SIM115 - closed in close/abort
        self.dtype = dtype
        self.frames = frames

    def write_row(self, index: int, row: np.ndarray) -> None:
        """Write row `index` (height, width), converted to the file's dtype."""
        if not 0 <= index < self.frames:
            raise IndexError(f"frame {index} outside the file's {self.frames} frames")
        with self._writing():
            self._file.seek(self._offset + index * self._row)
            self._file.write(np.ascontiguousarray(row, dtype=self.dtype))  # its buffer: no copy into bytes


class MapsFile(NpyRows):
    """Sink for `render`: one map per frame, in frame order, at `size` = (width, height)."""

    def __init__(self, out: Path, frames: int, width: int, height: int):
        super().__init__(out, frames, width, height, DTYPE)
        self.size: tuple[int, int] | None = (width, height)

    def add(self, frame: Frame, heat: np.ndarray) -> None:
        """Write `frame`'s map, (height, width) in [0, 1], at its index."""
        self.write_row(frame.index, heat)
