"""Deterministic, atomic .npz files: same arrays in, same bytes out (no zip timestamps).

`np.load(path)` reads them like any .npz.
"""

from __future__ import annotations

import os
import zipfile
from typing import IO, Mapping

import numpy as np

from .atomic import atomic_path
from .direct_io import DirectWriter

_EPOCH = (1980, 1, 1, 0, 0, 0)
PIECE = 1 << 20  # bytes of an array written at a time


def save_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], compress: bool = False) -> None:
    """Write `arrays` to `path` atomically; entries in the given order, fixed timestamps; past the page cache
    where the file system allows (`direct_io`)."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_path(path) as tmp, DirectWriter(tmp) as file, zipfile.ZipFile(file, "w", compression=method) as zf:
        for name, value in arrays.items():
            value = np.asanyarray(value)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            info.file_size = value.nbytes + 4096  # .npy header included: only decides ZIP64, as `writestr` does
            with zf.open(info, "w") as entry:  # streamed: no copy of the array in memory
                _write_npy(entry, value)


def _write_npy(entry: IO[bytes], value: np.ndarray) -> None:
    """`np.lib.format.write_array(entry, value)`, the same bytes; a C-contiguous array is written from its own
    memory in one piece, not through numpy's 16 MB copies (`tobytes`) of it, whose fresh pages cost more than
    the write itself (a minute of 854x480 targets: 190 MB)."""
    if not value.flags.c_contiguous or value.dtype.kind not in "biufc":  # numbers and bools only
        np.lib.format.write_array(entry, value, allow_pickle=False)
        return
    try:
        np.lib.format.write_array_header_1_0(entry, np.lib.format.header_data_from_array_1_0(value))
    except ValueError:  # a header too long for version 1.0 (raised before anything is written)
        np.lib.format.write_array(entry, value, allow_pickle=False)
        return
    data = memoryview(value.reshape(-1).view(np.uint8))
    for at in range(0, len(data), PIECE):  # the zip's CRC and the file's copy read each piece while it is in cache
        entry.write(data[at : at + PIECE])


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every array (no pickles) into memory."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def map_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every array of an .npz, those stored uncompressed (as `save_npz` writes them) as read-only memory maps of
    the file, so reading a few rows of a large array reads only those rows; compressed ones read whole. Raises
    ValueError for a member that is not a plain .npy array (object arrays are never unpickled)."""
    out: dict[str, np.ndarray] = {}
    with open(path, "rb") as f, zipfile.ZipFile(f) as zf:
        for info in zf.infolist():
            name = info.filename[: -len(".npy")] if info.filename.endswith(".npy") else info.filename
            if info.compress_type != zipfile.ZIP_STORED:
                with zf.open(info) as entry:
                    out[name] = np.lib.format.read_array(entry, allow_pickle=False)
                continue
            f.seek(info.header_offset)
            local = f.read(30)  # the local file header: its name and extra field lengths are at 26 and 28
            start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
            f.seek(start)
            version = np.lib.format.read_magic(f)
            header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if header is None:  # a newer .npy header: read the array whole
                with zf.open(info) as entry:
                    out[name] = np.lib.format.read_array(entry, allow_pickle=False)
                continue
            shape, fortran, dtype = header(f)
            if dtype.hasobject:
                raise ValueError(f"{path}: {name} holds Python objects, which are never unpickled")
            out[name] = np.memmap(path, dtype=dtype, mode="r", offset=f.tell(), shape=shape, order="F" if fortran else "C") if int(np.prod(shape)) else np.zeros(shape, dtype)
    return out
