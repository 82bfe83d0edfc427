"""`read_ahead`: items in order, the producer's error raised where its item would have come, and a clean
stop when the consumer leaves early."""

from __future__ import annotations

import threading
import time

import pytest

from mosi_tool.video.decode import VideoReader
from mosi_tool.video.read_ahead import read_ahead


def test_items_come_in_order_and_the_thread_ends():
    with read_ahead(range(100), depth=3) as items:
        assert list(items) == list(range(100))
    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]


def test_an_error_is_raised_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise OSError("damaged")

    got = []
    with pytest.raises(OSError, match="damaged"), read_ahead(items()) as it:
        for x in it:
            got.append(x)
    assert got == [1, 2]


def test_leaving_early_stops_the_producer():
    pulled = []

    def endless():
        n = 0
        while True:
            pulled.append(n)
            yield n
            n += 1

    with read_ahead(endless(), depth=2) as it:
        assert next(it) == 0
    n = len(pulled)
    time.sleep(0.3)
    assert len(pulled) == n <= 5  # stopped: at most the queue's depth plus the items in hand were pulled
    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]


def test_a_reader_closed_after_one_frame_leaves_no_thread(moving_square_video):
    frames = VideoReader(moving_square_video).frames((32, 32))
    first = next(frames)
    frames.close()
    assert first.index == 0 and first.image.shape == (32, 32, 3)
    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]


def test_depth_zero_reads_on_the_callers_thread():
    seen = []

    def items():
        for i in range(3):
            seen.append(threading.current_thread().name)
            yield i

    with read_ahead(items(), depth=0) as it:
        assert list(it) == [0, 1, 2]
    assert set(seen) == {threading.current_thread().name}
