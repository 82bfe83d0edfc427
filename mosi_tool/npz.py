"""Deterministic, atomic .npz files: same arrays in, same bytes out (no zip timestamps).

`np.load(path)` reads them like any .npz.
"""

from __future__ import annotations

import os
import zipfile
from typing import Mapping

import numpy as np

from .atomic import atomic_path

_EPOCH = (1980, 1, 1, 0, 0, 0)


def save_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], compress: bool = False) -> None:
    """Write `arrays` to `path` atomically; entries in the given order, fixed timestamps."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=method) as zf:
        for name, value in arrays.items():
            value = np.asanyarray(value)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            info.file_size = value.nbytes + 4096  # .npy header included: only decides ZIP64, as `writestr` does
            with zf.open(info, "w") as entry:  # streamed: no copy of the array in memory
                np.lib.format.write_array(entry, value, allow_pickle=False)


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every array (no pickles) into memory."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
