"""Decode each source image once: a uint8 memory-mapped cache of the resized images.

Decoding and resizing the same JPEGs every epoch costs more than the crop that training needs. The cache
holds each source resized to short side Ls (spec §1: Ls = source_size) in one flat uint8 file, with an
index of (offset, height, width); training then crops from the memory map. Layout of a cache folder:

    images.u8    all images, (H, W, 3) uint8 each, back to back
    index.npy    (N, 3) int64: byte offset, H, W (H = W = 0: the source could not be read)
    sources.json the source paths, in index order, and the source size

The folder name is a digest of the paths, their sizes and mtimes, and Ls, so a changed file or size makes a
new cache. It is written to a temporary folder and renamed, so a killed build leaves no half cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from mosi_tool.progress import progress_bar

from .images import load_image  # the same decode + resize as the uncached path


def cache_key(paths: Sequence[str], size: int) -> str:
    """Digest of (Ls, each path with its size and mtime): 16 hex characters. v2: 16-bit grey scaled, not clipped."""
    h = hashlib.sha256(f"mosi-source-cache-v2:{size}".encode())
    for p in paths:
        st = os.stat(p)
        h.update(f"\n{p}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _decode(args: tuple[str, int]) -> np.ndarray | str:
    path, size = args
    try:
        return np.asarray(load_image(path, size), dtype=np.uint8)
    except Exception as e:  # noqa: BLE001 - any decoder failure means "skip this file"
        return f"{path}: skipped, cannot read ({e})"


class SourceCache:
    """Read access to a built cache: `cache[i]` is image i as (H, W, 3) uint8 (a view into the memory map)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.index = np.load(folder / "index.npy")
        meta = json.loads((folder / "sources.json").read_text())
        self.paths: list[str] = meta["paths"]
        self.size: int = meta["size"]
        nbytes = int((self.index[:, 1] * self.index[:, 2] * 3).sum())
        self.data = np.memmap(folder / "images.u8", dtype=np.uint8, mode="r", shape=(max(nbytes, 1),))

    def __len__(self) -> int:
        return len(self.paths)

    def readable(self, i: int) -> bool:
        return bool(self.index[i, 1] > 0)

    def __getitem__(self, i: int) -> np.ndarray:
        off, h, w = (int(v) for v in self.index[i])
        if h == 0:
            raise ValueError(f"{self.paths[i]}: could not be read when the cache was built")
        return self.data[off : off + h * w * 3].reshape(h, w, 3)


def build_cache(paths: Sequence[str], size: int, root: Path, workers: int = 2) -> SourceCache:
    """The cache of `paths` at short side `size` under `root`, built first if missing.

    workers: decode processes for the build (0: in this process). Unreadable sources warn once and are
    marked in the index; readers skip them.
    """
    folder = root / cache_key(paths, size)
    if (folder / "index.npy").exists():
        return SourceCache(folder)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    try:
        index = np.zeros((len(paths), 3), dtype=np.int64)
        offset = 0
        jobs = [(p, size) for p in paths]
        with open(tmp / "images.u8", "wb") as f, progress_bar(f"caching {len(paths)} sources at {size}px", total=len(paths), unit="img") as bar:
            pool = ProcessPoolExecutor(workers) if workers > 0 else None
            results = pool.map(_decode, jobs, chunksize=16) if pool else map(_decode, jobs)
            for i, arr in enumerate(results):
                if isinstance(arr, str):
                    warnings.warn(arr, stacklevel=1)
                else:
                    f.write(np.ascontiguousarray(arr).tobytes())
                    index[i] = (offset, arr.shape[0], arr.shape[1])
                    offset += arr.size
                bar.advance()
            if pool:
                pool.shutdown()
        np.save(tmp / "index.npy", index)
        (tmp / "sources.json").write_text(json.dumps({"size": size, "paths": list(paths)}))
        try:
            tmp.rename(folder)
            print(f"cached {len(paths)} sources in {folder} ({offset / 2**20:.0f} MiB; delete it at will, it is rebuilt when needed)", flush=True)
        except OSError:  # built meanwhile by another run: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SourceCache(folder)
