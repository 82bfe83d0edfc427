"""DirectWriter: the bytes of an ordinary file, whatever the writes and seeks, with or without O_DIRECT."""

import io
import os
import zipfile

import numpy as np
import pytest

from mosi_tool import direct_io
from mosi_tool.direct_io import DirectWriter


def _replay(ops, *files):
    for op, arg in ops:
        for f in files:
            f.seek(*arg) if op == "seek" else f.write(arg)


def _random_ops(rng, n=200):
    ops, end, pos = [], 0, 0
    for _ in range(n):
        r = rng.random()
        if r < 0.15 and end:  # back into what is written (a header rewrite), maybe already on disk
            pos = int(rng.integers(0, end))
            ops.append(("seek", (pos,)))
        elif r < 0.2:
            ops.append(("seek", (0, io.SEEK_END)))
            pos = end
        elif r < 0.22:  # past the end: zeros between
            pos = end + int(rng.integers(1, 5000))
            ops.append(("seek", (pos,)))
        size = int(rng.choice([1, 30, 4095, 4096, 4097, 9000, 30000]))
        ops.append(("write", rng.integers(0, 256, size, np.uint8).tobytes()))
        pos += size
        end = max(end, pos)
    return ops


@pytest.mark.parametrize("direct", [True, False])
def test_direct_writer_gives_the_bytes_of_an_ordinary_file(tmp_path, monkeypatch, direct):
    if not direct:
        monkeypatch.delattr(os, "O_DIRECT", raising=False)
    rng = np.random.default_rng(3)
    for k in range(5):
        path = tmp_path / f"f{k}"
        path.touch()
        want = io.BytesIO()
        with DirectWriter(path, stage=8192) as f:
            ops = _random_ops(rng)
            _replay(ops, f, want)
            assert f.tell() == want.tell()
            if not direct:
                assert not f.direct
        assert path.read_bytes() == want.getvalue(), k


def test_direct_writer_uses_o_direct_where_the_file_system_allows(tmp_path):
    if not hasattr(os, "O_DIRECT"):
        pytest.skip("no O_DIRECT on this system")
    try:
        os.close(os.open(tmp_path / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT))
    except OSError as e:
        pytest.skip(f"{tmp_path}'s file system refuses O_DIRECT ({e.strerror})")
    (tmp_path / "a").touch()
    with DirectWriter(tmp_path / "a", stage=8192) as f:
        assert f.direct
        f.write(b"x" * 20000)  # two whole buffers past the cache, the tail through it
    assert (tmp_path / "a").read_bytes() == b"x" * 20000


def test_save_npz_through_the_direct_writer_is_a_plain_zip(tmp_path, monkeypatch):
    """A zip whose entries span several buffers, headers rewritten on disk: the bytes zipfile writes to memory."""
    from mosi_tool.npz import save_npz

    monkeypatch.setattr(direct_io, "STAGE", 16384)
    arrays = {"a": np.arange(30000, dtype=np.float16).reshape(100, 300), "b": np.ones(7, bool), "c": np.zeros((0, 2))}
    save_npz(tmp_path / "x.npz", arrays)
    want = io.BytesIO()
    with zipfile.ZipFile(want, "w") as zf:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.file_size = value.nbytes + 4096
            with zf.open(info, "w") as entry:
                np.lib.format.write_array(entry, value, allow_pickle=False)
    assert (tmp_path / "x.npz").read_bytes() == want.getvalue()
    with np.load(tmp_path / "x.npz") as got:
        assert all(np.array_equal(got[k], v) for k, v in arrays.items())


def test_direct_writer_rejects_a_stage_that_is_not_whole_blocks(tmp_path):
    (tmp_path / "a").touch()
    with pytest.raises(ValueError, match="multiple of 4096"):
        DirectWriter(tmp_path / "a", stage=5000)


@pytest.mark.parametrize("fail", ["o_direct_open", "buffer"])
def test_a_failed_constructor_closes_its_files_once(tmp_path, monkeypatch, fail):
    """Where the O_DIRECT open (EMFILE) or the buffer (ENOMEM) fails, the file opened before it is closed, and the
    writer's finalizer does not close that fd number again: by then another file may have been given it."""
    import errno
    import gc

    (tmp_path / "a").touch()
    real_open = os.open
    if fail == "o_direct_open":
        if not hasattr(os, "O_DIRECT"):
            pytest.skip("no O_DIRECT on this system")

        def fake_open(path, flags, *args):
            if flags & os.O_DIRECT:
                raise OSError(errno.EMFILE, "Too many open files")
            return real_open(path, flags, *args)

        monkeypatch.setattr(os, "open", fake_open)
    else:
        def no_memory(*args):
            raise OSError(errno.ENOMEM, "Cannot allocate memory")

        monkeypatch.setattr(direct_io.mmap, "mmap", no_memory)
    opened: list[int] = []

    def recording_open(path, flags, *args):
        fd = (fake_open if fail == "o_direct_open" else real_open)(path, flags, *args)
        opened.append(fd)
        return fd

    monkeypatch.setattr(os, "open", recording_open)
    errors: list[BaseException] = []  # holds the failed writer (its __init__'s frame) until the other file opens
    try:
        DirectWriter(tmp_path / "a")
    except OSError as e:
        errors.append(e)
    monkeypatch.undo()
    assert errors and opened
    for fd in opened:  # closed by the constructor
        with pytest.raises(OSError):
            os.fstat(fd)
    with open(tmp_path / "other", "wb") as other:  # takes the fd number just freed
        assert other.fileno() in opened
        errors.clear()
        gc.collect()  # the failed writer's finalizer
        other.write(b"x")
        other.flush()  # EBADF if its fd was closed under it
    assert (tmp_path / "other").read_bytes() == b"x"


@pytest.mark.parametrize("seek", [100, 9000])
def test_an_empty_write_past_the_end_does_not_extend_the_file(tmp_path, seek):
    """An ordinary file stays 3 bytes long after seek(100) and write(b""); so must this one (no zeros added)."""
    (tmp_path / "a").touch()
    with DirectWriter(tmp_path / "a", stage=8192) as f:
        f.write(b"abc")
        f.seek(seek)
        assert f.write(b"") == 0
        assert f.tell() == seek
    assert (tmp_path / "a").read_bytes() == b"abc"
