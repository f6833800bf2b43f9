"""What this CPU is, in the terms that decide which runtime is fastest: its name, SIMD flags and class.

Runtimes pick kernels by instruction set (oneDNN, XNNPACK and onnxruntime all dispatch at run time),
so the same model's fastest runtime differs between an AVX2-only laptop and an AMX server. The
flags are read from ``/proc/cpuinfo`` (Linux); elsewhere they are empty and the class is
``unknown``. Used by the runtime chooser's cache key and printed by ``tga benchmark``. Also this
process's set-up of the native runtimes: the one place that sets TensorFlow's thread counts for a
timing (:func:`set_tensorflow_threads`, the only function here that imports TensorFlow), and the one
that keeps their C++ start-up lines off stderr (:func:`native_stderr_silenced`: TensorFlow's oneDNN
and absl lines, LiteRT's XNNPACK line, the converters' prints).
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import sys
from typing import Iterator

# the flags (as /proc/cpuinfo spells them) that change which kernels runtimes run
SIMD_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "asimddp",
    "sve",
    "bf16",
    "i8mm",
)


@functools.cache
def _cpuinfo() -> tuple[str, frozenset[str]]:
    name, flags = platform.processor() or platform.machine(), frozenset[str]()
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return name, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "model name" and value.strip():
            name = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = frozenset(value.split())
    return name, flags


def cpu_name() -> str:
    """The CPU's model name (``AMD EPYC``, ``Intel(R) Xeon(R) Platinum 8480+``), or the machine type."""
    return _cpuinfo()[0]


def cpu_flags() -> tuple[str, ...]:
    """The SIMD flags of :data:`SIMD_FLAGS` this CPU has, in that order (empty where unknown)."""
    flags = _cpuinfo()[1]
    return tuple(f for f in SIMD_FLAGS if f in flags)


def cpu_class() -> str:
    """The CPU class the README's speed table is split by: ``AMX``, ``AVX512-BF16/VNNI``, ``AVX-512``,
    ``AVX2``, ``ARM`` (NEON), ``older x86`` or ``unknown``."""
    flags = set(cpu_flags())
    if "amx_tile" in flags:
        return "AMX"
    if flags & {"avx512_bf16", "avx512_vnni"}:
        return "AVX512-BF16/VNNI"
    if "avx512f" in flags:
        return "AVX-512"
    if "avx2" in flags:
        return "AVX2"
    if "asimd" in flags:
        return "ARM"
    return "older x86" if flags else "unknown"


BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 bf16 dot products (TensorFlow's oneDNN uses these)


def has_bf16() -> bool:
    """Whether this CPU has bf16 dot-product instructions (``avx512_bf16`` or ``amx_bf16``)."""
    return bool(set(cpu_flags()) & set(BF16_FLAGS))


def set_tensorflow_threads(threads: int) -> bool:
    """TensorFlow's intra-op threads = ``threads``, one inter-op thread (how ``tga benchmark`` and the
    practical peak time things); False if TensorFlow was initialised already with another count (it
    then keeps that one). Imports TensorFlow."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already initialised in this process (e.g. tests)
        return tf.config.threading.get_intra_op_parallelism_threads() == threads
    return True


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 on /dev/null while native code (a runtime's C++ start-up lines, a converter's
    progress prints) would write to it; Python's own ``sys.stderr`` is flushed first."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr descriptor: nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def describe_cpu() -> str:
    """One line: ``AMD EPYC (AVX2: avx avx2 fma f16c)``."""
    flags = [f for f in cpu_flags() if f not in ("sse4_2",)]
    return f"{cpu_name()} ({cpu_class()}: {' '.join(flags) or 'flags unknown'})"


__all__ = [
    "BF16_FLAGS",
    "SIMD_FLAGS",
    "cpu_class",
    "cpu_flags",
    "cpu_name",
    "describe_cpu",
    "has_bf16",
    "native_stderr_silenced",
    "set_tensorflow_threads",
]
