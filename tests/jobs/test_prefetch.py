"""tga_keras.jobs.prefetch: an iterator's items made ahead in a thread, in order, errors where they occur."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from tga_keras.jobs.prefetch import prefetched


def test_items_come_in_order_from_another_thread():
    threads = []

    def items():
        for k in range(50):
            threads.append(threading.current_thread().name)
            yield k

    assert list(prefetched(items(), depth=3)) == list(range(50))
    assert set(threads) == {"tga-prefetch"}


def test_the_producer_runs_at_most_depth_items_ahead():
    made = []

    def items():
        for k in range(10):
            made.append(k)
            yield k

    it = prefetched(items(), depth=2)
    assert next(it) == 0
    time.sleep(0.3)  # time for the producer to run ahead as far as it may
    assert len(made) <= 1 + 2 + 1  # the one consumed, two buffered, one waiting to be put
    it.close()


def test_an_error_of_the_producer_is_raised_at_its_item():
    def items():
        yield 1
        yield 2
        raise ValueError("frame 3 is broken")

    got = []
    with pytest.raises(ValueError, match="frame 3 is broken"):
        for x in prefetched(items()):
            got.append(x)
    assert got == [1, 2]


def test_a_consumer_that_stops_stops_the_producer_and_closes_it():
    closed = threading.Event()
    made = []

    def items():
        try:
            for k in range(1000):
                made.append(k)
                yield k
        finally:
            closed.set()

    with pytest.raises(KeyboardInterrupt):
        for x in prefetched(items(), depth=2):
            if x == 3:
                raise KeyboardInterrupt
    assert closed.is_set() and len(made) < 10
    assert not any(t.name == "tga-prefetch" for t in threading.enumerate())


def test_closing_stops_the_producer_while_the_error_is_still_held():
    """As tga upscale's segment loop does: ``contextlib.closing`` stops the thread at once, even while the
    exception (and the traceback holding the iterator) is still alive."""
    made = []

    def items():
        for k in range(1000):
            made.append(k)
            yield k

    frames = prefetched(items(), depth=2)
    try:
        with contextlib.closing(frames):
            for x in frames:
                if x == 3:
                    raise OSError("disk full")
    except OSError as held:
        assert str(held) == "disk full"
        assert not any(t.name == "tga-prefetch" for t in threading.enumerate())
        count = len(made)
        time.sleep(0.2)
        assert len(made) == count < 10


def test_depth_is_checked():
    with pytest.raises(ValueError, match="depth must be at least 1"):
        prefetched([1], depth=0)  # at the call, not at the first item
