"""A video's low-resolution maps without their memory, and the video-wide display range.

Motion-vector maps have one value per 8x8-pixel cell, so keeping a whole video's in memory grows without
bound (20 minutes of 640x360: 430 MB as float32). `MapStore` appends them, in frame order, to an anonymous
temporary file as float16 (7 KB per frame at 640x360, 65 KB at 1080p) and reads slices back with `pread`,
so the pages belong to the OS cache and not to this process. The statistics the display range needs are
gathered as the maps are appended, so the range is known once the last map is in, without a second pass.
"""

from __future__ import annotations

import os
import tempfile
import weakref

import numpy as np

HIGH_PERCENTILE = 90  # of the per-frame peaks: the top of the video-wide display range
LOW_PERCENTILE = 5  # of all map values: the bottom
SAMPLE_VALUES = 1 << 20  # map values kept for the low percentile (4 MB); more frames are subsampled
DTYPE = np.dtype("<f2")


def sample_stride(frames: int, values_per_frame: int) -> int:
    """Every how many frames one is kept for the low percentile: the smallest power of two that keeps at
    most SAMPLE_VALUES values (1 for short videos, whose percentile is then exact: 290 frames of 640x360 motion maps, 130,000 of conv5 maps)."""
    cap = max(1, SAMPLE_VALUES // max(1, values_per_frame))
    stride = 1
    while -(-frames // stride) > cap:
        stride *= 2
    return stride


def display_range(peaks: np.ndarray, sample: np.ndarray) -> tuple[float, float]:
    """The video-wide display range (low, high): (maps - low) / (high - low), clipped, lies in [0, 1].

    peaks: (F,) every frame's maximum; sample: map values (all, or those of every `sample_stride`-th
    frame). low is the LOW_PERCENTILE of the values, so the background level every frame shares shows as
    cold instead of washing the whole video in colour; high is the HIGH_PERCENTILE of the frames' peaks, so
    a few frames of violent motion saturate instead of leaving every other frame dark.
    """
    high = float(np.percentile(peaks, HIGH_PERCENTILE))
    low = min(float(np.percentile(sample, LOW_PERCENTILE)), high)
    return low, (high if high > low else low + 1.0)


def array_range(maps: np.ndarray) -> tuple[float, float]:
    """`display_range` of in-memory maps (F, h, w), sampled as `MapStore` samples them."""
    flat = maps.reshape(len(maps), -1)
    return display_range(flat.max(axis=1), flat[:: sample_stride(len(flat), flat.shape[1])])


class MapStore:
    """Per-frame maps (F, h, w), appended in frame order, kept on disk as float16; slices read back as float32.

    Supports `len`, `.shape`, `store[i]` and `store[a:b]` (step-1 slices), which is all rendering needs.
    """

    def __init__(self, height: int, width: int):
        self._file = tempfile.TemporaryFile(prefix="mosi-maps-")  # noqa: SIM115 - lives as long as the store
        self._closer = weakref.finalize(self, self._file.close)  # closed with the store (no ResourceWarning)
        self._hw = (height, width)
        self._row = height * width * DTYPE.itemsize
        self._n = 0
        self._peaks: list[np.ndarray] = []
        self._sample: list[np.ndarray] = []  # frames 0, k, 2k, ... for the current stride k
        self._stride = 1

    def append(self, maps: np.ndarray) -> None:
        """Add the next frames' maps, (n, height, width)."""
        if maps.shape[1:] != self._hw:
            raise ValueError(f"maps of shape {maps.shape[1:]} do not fit a store of {self._hw}")
        flat = maps.reshape(len(maps), -1).astype(np.float32, copy=False)
        self._peaks.append(flat.max(axis=1))
        first = -self._n % self._stride  # index in this batch of the next frame on the stride
        self._sample.extend(row.copy() for row in flat[first :: self._stride])  # own copies: dropping one frees it
        self._n += len(maps)
        while len(self._sample) * flat.shape[1] > SAMPLE_VALUES:  # keep every other kept frame
            self._sample = self._sample[::2]
            self._stride *= 2
        os.pwrite(self._file.fileno(), np.ascontiguousarray(maps, dtype=DTYPE).tobytes(), (self._n - len(maps)) * self._row)

    def __len__(self) -> int:
        return self._n

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self._n, *self._hw)

    def __getitem__(self, index: int | slice) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            i = int(index) + (self._n if index < 0 else 0)
            if not 0 <= i < self._n:
                raise IndexError(f"frame {index} outside the store's {self._n} frames")
            return self[i : i + 1][0]
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("a MapStore is read by frame index or step-1 slices of frames")
        start, stop, _ = index.indices(self._n)
        count = max(0, stop - start)
        data = os.pread(self._file.fileno(), count * self._row, start * self._row)
        return np.frombuffer(data, DTYPE).reshape(count, *self._hw).astype(np.float32)

    def range(self) -> tuple[float, float]:
        """`display_range` of every map appended so far."""
        if not self._n:
            raise ValueError("no maps were stored")
        return display_range(np.concatenate(self._peaks), np.stack(self._sample))

    def close(self) -> None:
        self._closer()
