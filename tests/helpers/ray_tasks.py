"""Dummy task functions for the Ray tests (tests/jobs/test_ray_cluster.py): importable on the workers of the
test cluster (its nodes run with the repository root on PYTHONPATH), so module globals such as the
per-process cache here live once per worker process, as the real segment function's model cache does."""

from __future__ import annotations

import os
import time

from tga_keras.errors import InputError

LOADS: dict[str, int] = {}
"""How many times this process "loaded" each model: a model name -> count."""

_CACHE: dict[str, object] = {}
"""What this process has loaded: a model name -> the "model"."""


def _load(name: str) -> object:
    if name not in _CACHE:
        LOADS[name] = LOADS.get(name, 0) + 1
        time.sleep(0.05)  # loading takes a while
        _CACHE[name] = object()
    return _CACHE[name]


def cached_task(model: str, x: int) -> tuple[int, int, int]:
    """``(pid, how many times this process loaded ``model``, x)`` after using the cached ``model``."""
    _load(model)
    time.sleep(0.05)
    return os.getpid(), LOADS[model], x


def node_task(x: int) -> tuple[str, int]:
    """``(the id of the Ray node this ran on, x)``, after a short sleep (so tasks spread over the nodes)."""
    import ray

    time.sleep(0.3)
    return ray.get_runtime_context().get_node_id(), x


def failing_task(x: int) -> int:
    """``x * 10``, or an InputError for a negative ``x`` (a bad input)."""
    if x < 0:
        raise InputError(f"bad input {x}: negative")
    time.sleep(0.1)
    return x * 10


def slow_once_task(marker: str, x: int) -> tuple[int, bool, int]:
    """``(pid, whether this was a rerun, x)``. The first run writes its pid into ``marker`` and sleeps a
    minute (for the test to kill its process); a rerun (``marker`` exists) returns at once."""
    if os.path.exists(marker):
        return os.getpid(), True, x
    tmp = f"{marker}.tmp"
    with open(tmp, "w") as f:
        f.write(str(os.getpid()))
    os.replace(tmp, marker)
    time.sleep(60)
    return os.getpid(), False, x


def env_task(name: str) -> str | None:
    """The worker's value of environment variable ``name``."""
    return os.environ.get(name)
