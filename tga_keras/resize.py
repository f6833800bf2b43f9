"""MATLAB-compatible bicubic resampling weights (``imresize``, a = -0.5, symmetric edges).

This module holds the one definition of the bicubic kernel used by the project: the numpy/TF
``imresize`` (degradation, baselines) and the model's in-graph polyphase bicubic are both built
from :func:`resize_weights`, so they cannot drift apart.
"""
from __future__ import annotations

import math

import numpy as np


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    absx = np.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    return (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1) + (
        -0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0
    ) * ((absx > 1) & (absx <= 2))


def resize_weights(in_length: int, out_length: int, scale: float, antialiasing: bool = True):
    """Weights and source indices of a 1-D MATLAB bicubic resize.

    Returns ``(weights, indices)``, both ``(out_length, taps)``: output sample ``o`` is
    ``sum_j weights[o, j] * x[indices[o, j]]``. Indices are 0-based and *not* yet mirrored: they
    may fall outside ``[0, in_length)``; :func:`mirror_indices` maps them like MATLAB (symmetric
    edges, the edge sample repeated). Columns that are zero for every output are dropped, as MATLAB
    does. Computed in float64.
    """
    kernel_width = 4.0
    if scale < 1 and antialiasing:
        kernel_width = kernel_width / scale
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    distance = u[:, None] - indices
    if scale < 1 and antialiasing:
        weights = scale * cubic(distance * scale)
    else:
        weights = cubic(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)
    keep = np.any(weights != 0, axis=0)
    weights, indices = weights[:, keep], indices[:, keep]
    return weights, indices.astype(np.int64) - 1


def mirror_indices(indices: np.ndarray, length: int) -> np.ndarray:
    """Map out-of-range 0-based indices into ``[0, length)`` with symmetric (edge-repeating) mirroring."""
    period = 2 * length
    m = np.mod(indices, period)
    return np.where(m < length, m, period - 1 - m)


def polyphase_upsample_taps(scale: int):
    """Integer-factor bicubic upsampling as ``scale`` phases of one shared set of input offsets.

    Returns ``(taps, offsets)``: ``taps`` is ``(scale, len(offsets))`` float64 and output sample
    ``scale * i + p`` equals ``sum_j taps[p, j] * x[i + offsets[j]]`` (with symmetric edges). The
    offsets are contiguous, e.g. ``[-2, -1, 0, 1, 2]`` for x4.
    """
    if int(scale) != scale or scale < 1:
        raise ValueError(f"polyphase upsampling needs an integer scale >= 1, got {scale!r}")
    scale = int(scale)
    n = 16  # any length comfortably larger than the kernel
    w, idx = resize_weights(n, n * scale, float(scale), antialiasing=False)
    rows = [w[p] for p in range(scale)]
    offs = [idx[p] for p in range(scale)]  # input position i = 0 for the first `scale` outputs
    lo = min(int(o.min()) for o in offs)
    hi = max(int(o.max()) for o in offs)
    offsets = np.arange(lo, hi + 1)
    taps = np.zeros((scale, offsets.size), dtype=np.float64)
    for p in range(scale):
        for wv, o in zip(rows[p], offs[p]):
            taps[p, int(o) - lo] += wv
    return taps, offsets
