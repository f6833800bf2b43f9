"""Items of an iterator made ahead in a background thread, so that producing one overlaps using another.

A segment's frames are decoded and upscaled by one iterator and encoded by its consumer. Inference
(TensorFlow, onnxruntime, OpenVINO, LiteRT) and the encoders (libx264 through PyAV) release the GIL
while they compute, so a thread lets the encoder's work fill the gaps inference leaves on the cores.

    for sr in prefetched(upscaler.upscale_frames(...), depth=2):
        writer.write(sr)

The order is kept; an exception in the producer is raised in the consumer at the item it would have
come at. A consumer that stops early closes the iterator (``close()``, or ``contextlib.closing``
around the loop, so that an error of its own or Ctrl-C closes it at once rather than when its
traceback is freed): that stops the producer before its next item, waits for the item in the making
(an inference call is not interrupted: up to one batch's time) and closes ``items``.
"""

from __future__ import annotations

import queue
import threading
from typing import Generator, Iterable, TypeVar

T = TypeVar("T")

_END = object()


class _Failure:
    """What the producer raised, carried through the buffer to be raised in the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterable[T], depth: int = 2) -> Generator[T, None, None]:
    """``items`` in order, produced by a background thread up to ``depth`` items ahead (``depth >= 1``,
    checked here; the thread starts at the first ``next()``)."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    return _prefetched(items, depth)


def _prefetched(items: Iterable[T], depth: int) -> Generator[T, None, None]:
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        """Put ``item`` unless the consumer has stopped; True if it was put."""
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            put(_Failure(e))
            return
        put(_END)

    worker = threading.Thread(target=produce, name="tga-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        if threading.current_thread() is not worker:  # (a generator finalised by the collector runs anywhere)
            worker.join()
        close = getattr(items, "close", None)
        if close is not None:  # a generator: its finally blocks run here, in the consumer's thread
            close()


__all__ = ["prefetched"]
