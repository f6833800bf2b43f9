"""MATLAB-compatible bicubic resampling weights (``imresize``, a = -0.5, symmetric edges).

This module holds the one definition of the bicubic kernel used by the project: the numpy/TF
``imresize`` (degradation, baselines) and the model's in-graph polyphase bicubic are both built
from :func:`resize_weights`, so they cannot drift apart.
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    absx = np.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    return (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1) + (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * (
        (absx > 1) & (absx <= 2)
    )


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
        for wv, o in zip(rows[p], offs[p], strict=True):
            taps[p, int(o) - lo] += wv
    return taps, offsets


# --------------------------------------------------------------------------------------------
# imresize: MATLAB bicubic resize of whole images, as two dense (out, in) matrix products.
# --------------------------------------------------------------------------------------------


def _check_scale(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise ValueError(f"imresize scale must be a positive number, got {scale!r}")
    scale = float(scale)
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"imresize scale must be a positive finite number, got {scale!r}")
    return scale


@functools.lru_cache(maxsize=128)
def _cached_matrix(in_length: int, scale: float, antialiasing: bool) -> np.ndarray:
    out_length = int(math.ceil(in_length * scale))  # MATLAB/official: ceil(in * scale)
    weights, indices = resize_weights(in_length, out_length, scale, antialiasing)
    matrix = np.zeros((out_length, in_length), dtype=np.float64)
    rows = np.broadcast_to(np.arange(out_length)[:, None], indices.shape)
    np.add.at(matrix, (rows, mirror_indices(indices, in_length)), weights)
    matrix.setflags(write=False)
    return matrix


def resize_matrix(in_length: int, scale: float, antialiasing: bool = True) -> np.ndarray:
    """The 1-D MATLAB bicubic resize as a dense ``(ceil(in_length * scale), in_length)`` float64 matrix.

    Built from :func:`resize_weights` and :func:`mirror_indices` (symmetric edges folded in), so
    ``matrix @ x`` resizes a signal ``x`` of length ``in_length``. Cached and read-only.
    """
    in_length = int(in_length)
    if in_length < 1:
        raise ValueError(f"imresize needs a non-empty axis, got length {in_length}")
    return _cached_matrix(in_length, _check_scale(scale), bool(antialiasing))


def _is_tf_tensor(x) -> bool:
    tf = sys.modules.get("tensorflow")  # a tf.Tensor cannot exist unless tensorflow is imported
    return tf is not None and tf.is_tensor(x)


def imresize(image, scale: float, antialiasing: bool = True):
    """MATLAB ``imresize(image, scale, 'bicubic')`` (the official TGA ``bicubic.imresize``).

    Args:
        image: ``(..., H, W, C)`` float array in [0, 1], numpy or ``tf.Tensor``; leading axes are
            batch axes. Values are not clipped (bicubic over/undershoots, as in MATLAB).
        scale: one positive factor for both axes (e.g. ``4`` or ``1 / 4``); the output is
            ``(..., ceil(H * scale), ceil(W * scale), C)``.
        antialiasing: widen the kernel when downscaling (MATLAB's default, used by the official code).

    Returns:
        The same kind as ``image``: numpy keeps the input's float dtype (computed in float64);
        a ``tf.Tensor`` keeps its dtype (computed in that dtype, e.g. float32).

    H is resized first, then W, each as a product with the ``(out, in)`` matrix of
    :func:`resize_matrix`. In TF graph mode (``tf.function``, ``tf.data``) static H/W embed the
    matrices as constants; unknown H/W fall back to computing only the small weight matrices with
    ``tf.numpy_function`` (works in ``tf.data`` and eager/graph TF, but such a graph cannot be
    exported to SavedModel/TFLite without Python). The rank must be known statically.
    """
    scale = _check_scale(scale)
    antialiasing = bool(antialiasing)
    if _is_tf_tensor(image):
        return _imresize_tf(image, scale, antialiasing)
    x = np.asarray(image)
    if x.ndim < 3:
        raise ValueError(f"imresize expects (..., H, W, C), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"imresize expects a float image in [0, 1], got dtype {x.dtype}")
    if x.shape[-3] < 1 or x.shape[-2] < 1:
        raise ValueError(f"imresize needs non-empty H and W, got shape {x.shape}")
    m_h = resize_matrix(x.shape[-3], scale, antialiasing)
    m_w = resize_matrix(x.shape[-2], scale, antialiasing)
    h, w, c = x.shape[-3:]
    lead = x.shape[:-3]
    y = np.matmul(m_h, x.astype(np.float64).reshape(lead + (h, w * c)))  # (..., H', W*C)
    y = np.matmul(m_w, y.reshape(lead + (m_h.shape[0], w, c)))  # (..., H', W', C)
    return y.astype(x.dtype, copy=False)


def _imresize_tf(image, scale: float, antialiasing: bool):
    import tensorflow as tf

    rank = image.shape.rank
    if rank is None or rank < 3:
        raise ValueError(f"imresize expects (..., H, W, C) with a statically known rank, got shape {image.shape}")
    if not image.dtype.is_floating:
        raise ValueError(f"imresize expects a float image in [0, 1], got dtype {image.dtype.name}")
    dtype = image.dtype

    def matrix(axis: int):
        n = image.shape[axis]
        if n is not None:
            if n < 1:
                raise ValueError(f"imresize needs non-empty H and W, got shape {image.shape}")
            return tf.constant(resize_matrix(n, scale, antialiasing), dtype=dtype)
        m = tf.numpy_function(
            lambda length: resize_matrix(int(length), scale, antialiasing).astype(dtype.as_numpy_dtype),
            [tf.shape(image)[axis]],
            dtype,
            stateful=False,
        )
        m.set_shape([None, None])
        return m

    y = tf.einsum("oh,...hwc->...owc", matrix(-3), image)
    return tf.einsum("pw,...hwc->...hpc", matrix(-2), y)
