"""Input-pipeline throughput (samples per second), for README numbers and tuning."""

from __future__ import annotations

import time

import tensorflow as tf


def _samples_in(element) -> int:
    """Samples in one element: the leading axis of the first tensor if it is batched (rank 5 LR), else 1."""
    first = tf.nest.flatten(element)[0]
    return int(first.shape[0]) if first.shape.rank == 5 else 1


def measure_pipeline_throughput(dataset: tf.data.Dataset, steps: int, warmup: int = 2) -> float:
    """Samples per second over ``steps`` elements of ``dataset`` after ``warmup`` untimed ones.

    An element is ``(lr, ...)`` with ``lr`` ``(B, frames, h, w, 3)`` (B samples) or
    ``(frames, h, w, 3)`` (one sample). Raises ``ValueError`` if the dataset ends early.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    it = iter(dataset)
    try:
        for _ in range(warmup):
            next(it)
        samples = 0
        t0 = time.perf_counter()
        for _ in range(steps):
            samples += _samples_in(next(it))
        dt = time.perf_counter() - t0
    except StopIteration:
        raise ValueError(f"dataset ended before {warmup} + {steps} elements") from None
    return samples / dt


__all__ = ["measure_pipeline_throughput"]
