"""Large output files written past the OS page cache (Linux O_DIRECT), for `save_npz`.

A buffered write copies every byte into the page cache, whose new pages the kernel must first find and clear: on
the development VM (where a page never used before costs far more than one freed and reused) 0.55 CPU-s for one
196 MB file (a minute of 854x480 motion targets) when earlier outputs are kept, against 0.056 written with
O_DIRECT from an aligned buffer; 0.061 buffered when the pages of a file just deleted are there to reuse
(`python bench/direct_write.py --repeats 5`, medians, docs/BENCHMARKS.md). A dataset's targets are written once
and read later, so they need not displace the videos from the cache either. Where the file system refuses
O_DIRECT (tmpfs before Linux 6.6, some network and FUSE file systems), the file is written through the page
cache as usual; the bytes are the same either way.
"""

from __future__ import annotations

import errno
import io
import mmap
import os
from pathlib import Path
from typing import Any

BLOCK = 4096  # bytes: O_DIRECT's alignment of offsets, lengths and memory (the common page and sector size)
STAGE = 8 << 20  # bytes: the aligned buffer the data passes through, written a whole buffer at a time


class DirectWriter(io.RawIOBase):
    """A seekable, write-only file over the existing empty file `path`, as `open(path, "wb")` would give, for
    writers that seek back to rewrite a few bytes (zipfile's local headers).

    Data goes into an aligned buffer of `stage` bytes (a multiple of `block`) that is written with O_DIRECT
    (or through the page cache, where refused) each time it fills; a write before the buffer's start (a header
    already on disk) is kept and applied at `close`, through the page cache, with the file's unaligned tail.
    Errors are the OSErrors of the writes; a ValueError for a `stage` that is not whole blocks."""

    def __init__(self, path: str | os.PathLike[str], stage: int | None = None, block: int = BLOCK) -> None:
        super().__init__()
        self._plain = self._direct = -1
        try:
            stage = STAGE if stage is None else stage
            if stage <= 0 or stage % block:
                raise ValueError(f"stage must be a positive multiple of {block} bytes, got {stage}")
            self.path, self._stage, self._block = Path(path), stage, block
            self._plain = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
            self._direct = self._plain  # the page cache's, until O_DIRECT opens
            flag = getattr(os, "O_DIRECT", 0)
            if flag:
                try:
                    self._direct = os.open(path, os.O_WRONLY | flag | getattr(os, "O_CLOEXEC", 0))
                except OSError as e:
                    if e.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
                        raise
            self._buf = mmap.mmap(-1, stage)  # page-aligned
        except BaseException:
            # Close what opened, once, and mark the object closed: the finalizer's close() must not close these
            # fd numbers again (by then another file may hold them).
            for fd in {self._plain, self._direct} - {-1}:
                os.close(fd)
            super().close()
            raise
        self._base = 0  # file offset of the buffer's first byte: a multiple of `block`
        self._fill = 0  # bytes of the buffer in use
        self._pos = 0
        self._end = 0  # the file's length so far
        self._patches: list[tuple[int, bytes]] = []

    @property
    def direct(self) -> bool:
        """Whether the bulk of the file goes past the page cache (False where the file system refuses it)."""
        return self._direct != self._plain

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._end}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        if not n:  # as in any file, an empty write past the end does not extend it
            return 0
        self._staged_write(view)
        self._pos += n
        self._end = max(self._end, self._pos)
        return n

    def _staged_write(self, view: memoryview) -> None:
        pos = self._pos
        if pos < self._base:  # already on disk: rewritten at close
            k = min(len(view), self._base - pos)
            self._patches.append((pos, bytes(view[:k])))
            view, pos = view[k:], pos + k
        end = self._base + self._fill
        if pos > end:  # past the end (a seek beyond it): zeros between, as in any file
            zeros = memoryview(bytes(min(pos - end, 1 << 16)))
            while end < pos:
                self._staged_write_at(end, zeros[: pos - end])
                end += min(pos - end, len(zeros))
        self._staged_write_at(pos, view)

    def _staged_write_at(self, pos: int, view: memoryview) -> None:
        """Copy view into the buffer from file offset pos (not before the buffer's start, not past its data's
        end), writing the buffer out each time it fills."""
        while len(view):
            at = pos - self._base
            k = min(len(view), self._stage - at)
            self._buf[at : at + k] = view[:k]
            view, pos = view[k:], pos + k
            self._fill = max(self._fill, at + k)
            if self._fill == self._stage:
                self._flush_direct(self._stage)

    def _flush_direct(self, nbytes: int) -> None:
        """Write the buffer's first nbytes (a multiple of `block`) with O_DIRECT; the rest moves to its start."""
        try:
            self._pwrite(self._direct, memoryview(self._buf)[:nbytes], self._base)
        except OSError as e:  # a file system that opened with O_DIRECT but refuses its writes: the page cache's
            if e.errno != errno.EINVAL or not self.direct:
                raise
            os.close(self._direct)
            self._direct = self._plain
            self._pwrite(self._plain, memoryview(self._buf)[:nbytes], self._base)
        rest = self._fill - nbytes
        if rest:
            self._buf.move(0, nbytes, rest)
        self._base += nbytes
        self._fill = rest

    @staticmethod
    def _pwrite(fd: int, view: memoryview, offset: int) -> None:
        while len(view):
            k = os.pwrite(fd, view, offset)
            view, offset = view[k:], offset + k

    def close(self) -> None:
        """Write what is left (the aligned part with O_DIRECT, the tail and the kept rewrites through the page
        cache) and close the file. Not synced: the caller's `atomic_path` does that."""
        if self.closed:
            return
        try:
            aligned = self._fill // self._block * self._block
            if aligned:
                self._flush_direct(aligned)
            if self._fill:
                self._pwrite(self._plain, memoryview(self._buf)[: self._fill], self._base)
            for pos, data in self._patches:
                self._pwrite(self._plain, memoryview(data), pos)
        finally:
            if self.direct:
                os.close(self._direct)
            os.close(self._plain)
            try:
                self._buf.close()
            except BufferError:  # a view of it is still held by a failed write's traceback: freed with that
                pass
            super().close()
