"""LR frame synthesis exact to the official TGA release: Gaussian blur-downsampling (BD) and bicubic (BI).

``gaussian_downsample`` is the official ``Guassian_downsample`` (the DUF degradation): a 13x13
Gaussian (sigma = 0.4 * scale, scipy ``gaussian_filter`` semantics) applied per channel after
torch-style reflect padding, stride ``scale``, then 2 output pixels cropped on every side.
Every function takes ``(..., H, W, C)`` float frames in [0, 1], as numpy arrays or ``tf.Tensor``
(TF paths run in graph mode / ``tf.data`` with dynamic H, W) and returns the same kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from tga_keras.preprocess.resize import imresize

SUPPORTED_SCALES = (2, 3, 4)
KERNEL_SIZE = 13
PROTOCOLS = ("plain", "official")


def _check_scale(scale: Any) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or int(scale) not in SUPPORTED_SCALES:
        raise ValueError(f"scale must be one of {SUPPORTED_SCALES}, got {scale!r}")
    return int(scale)


def _gaussian_1d(sigma: float) -> np.ndarray:
    """scipy.ndimage's normalised 1-D Gaussian (truncate=4), zero-padded to KERNEL_SIZE taps."""
    radius = int(4.0 * sigma + 0.5)
    half = KERNEL_SIZE // 2
    if radius > half:  # cannot happen for the supported scales (radius 3, 5, 6)
        raise ValueError(f"sigma {sigma} does not fit a {KERNEL_SIZE}-tap kernel")
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    phi = phi / phi.sum()
    out = np.zeros(KERNEL_SIZE, dtype=np.float64)
    out[half - radius : half + radius + 1] = phi
    return out


def gaussian_kernel(scale: int) -> np.ndarray:
    """The official ``gkern(13, 0.4 * scale)``: ``(13, 13)`` float64, sums to 1.

    Equals scipy ``gaussian_filter`` of a centred 13x13 delta: the outer product of the
    normalised 1-D Gaussian (the kernel fits inside 13x13 for scales 2, 3, 4).
    """
    k = _gaussian_1d(0.4 * _check_scale(scale))
    return np.outer(k, k)


def _paddings(h: Any, w: Any, scale: int) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """((top, bottom), (left, right)) of the official reflect padding; accepts ints or int tensors."""
    p = 6 + 2 * scale
    if scale == 3:  # the official extra pad; 3 (not 0) when the size is already a multiple of 3
        return (p, p + 3 - h % 3), (p, p + 3 - w % 3)
    return (p, p), (p, p)


def _output_size(n: int, scale: int) -> int:
    (lo, hi), _ = _paddings(n, n, scale)
    return (n + lo + hi - KERNEL_SIZE) // scale + 1 - 4


def _check_rank(frames: Any, what: str) -> int:  # numpy array or tf.Tensor
    rank = frames.shape.rank if tf.is_tensor(frames) else np.ndim(frames)
    if rank is None or rank < 3:
        raise ValueError(f"{what} expects (..., H, W, C) with a known rank >= 3, got shape {frames.shape}")
    return rank


def _check_reflect(h: int | None, w: int | None, pads: tuple[tuple[int, int], tuple[int, int]], what: str) -> None:
    """torch/TF reflect padding needs every pad < the padded dimension."""
    for name, n, (lo, hi) in (("H", h, pads[0]), ("W", w, pads[1])):
        if n is not None and not (lo < n and hi < n):
            raise ValueError(
                f"{what}: {name}={n} is too small for reflect padding ({lo}, {hi}); "
                f"reflect padding needs each pad < {name}"
            )


def _check_float(frames: Any, what: str) -> None:  # numpy array or tf.Tensor
    dtype = frames.dtype
    floating = dtype.is_floating if tf.is_tensor(frames) else np.issubdtype(dtype, np.floating)
    if not floating:
        raise ValueError(f"{what} expects float frames in [0, 1], got dtype {dtype}")


def gaussian_downsample(frames: np.ndarray | tf.Tensor, scale: int = 4) -> np.ndarray | tf.Tensor:
    """Official BD degradation ``Guassian_downsample``: blur with :func:`gaussian_kernel`, stride ``scale``.

    Args:
        frames: ``(..., H, W, C)`` float in [0, 1], numpy or ``tf.Tensor``; each channel of each
            frame is filtered separately.
        scale: 2, 3 or 4.

    Returns:
        ``(..., h, w, C)`` with ``h = (H + pads - 13) // scale + 1 - 4`` (``H / scale`` when
        ``scale`` divides ``H``, e.g. 144 -> 36 at x4), same kind and dtype as ``frames``.

    Raises:
        ValueError: unsupported scale, rank < 3, non-float dtype, or H/W not larger than the
            reflect pad (``6 + 2 * scale``, plus up to 3 at x3). With H/W unknown until run time
            (TF graph), the size check runs in the graph and fails with ``InvalidArgumentError``.
    """
    scale = _check_scale(scale)
    _check_rank(frames, "gaussian_downsample")
    _check_float(frames, "gaussian_downsample")
    if tf.is_tensor(frames):
        return _gaussian_downsample_tf(frames, scale)
    x = np.asarray(frames)
    h, w = x.shape[-3], x.shape[-2]
    pads = _paddings(h, w, scale)
    _check_reflect(h, w, pads, "gaussian_downsample")
    lead = [(0, 0)] * (x.ndim - 3)
    xp = np.pad(x.astype(np.float64), lead + [pads[0], pads[1], (0, 0)], mode="reflect")
    k = _gaussian_1d(0.4 * scale)  # separable: the 2-D kernel is outer(k, k)
    ho = (xp.shape[-3] - KERNEL_SIZE) // scale + 1
    wo = (xp.shape[-2] - KERNEL_SIZE) // scale + 1
    rows = sum(k[i] * xp[..., i : i + scale * (ho - 1) + 1 : scale, :, :] for i in range(KERNEL_SIZE))
    out = sum(k[j] * rows[..., :, j : j + scale * (wo - 1) + 1 : scale, :] for j in range(KERNEL_SIZE))
    return out[..., 2:-2, 2:-2, :].astype(x.dtype, copy=False)


def _gaussian_downsample_tf(x: tf.Tensor, scale: int) -> tf.Tensor:
    rank = x.shape.rank
    h_static, w_static = x.shape[-3], x.shape[-2]
    if h_static is not None and w_static is not None:
        _check_reflect(h_static, w_static, _paddings(h_static, w_static, scale), "gaussian_downsample")
    shape = tf.shape(x)
    h, w, c = shape[-3], shape[-2], shape[-1]
    pads = _paddings(h, w, scale)
    checks = [
        tf.debugging.assert_less(
            tf.reduce_max(tf.stack(list(p))),
            n,
            message=f"gaussian_downsample: {name} too small for reflect padding (needs each pad < {name})",
        )
        for name, n, p in (("H", h, pads[0]), ("W", w, pads[1]))
        if (h_static if name == "H" else w_static) is None
    ]
    with tf.control_dependencies(checks):
        # channels folded into the batch: (..., H, W, C) -> (N * C, H, W, 1)
        perm = list(range(rank - 3)) + [rank - 1, rank - 3, rank - 2]
        y = tf.reshape(tf.transpose(x, perm), tf.stack([-1, h, w, 1]))
        y = tf.pad(y, [[0, 0], list(pads[0]), list(pads[1]), [0, 0]], mode="REFLECT")
    kernel = tf.constant(gaussian_kernel(scale)[:, :, None, None], dtype=x.dtype)
    y = tf.nn.conv2d(y, kernel, strides=scale, padding="VALID")[:, 2:-2, 2:-2, :]
    ys = tf.shape(y)
    y = tf.reshape(y, tf.concat([shape[:-3], [c, ys[1], ys[2]]], axis=0))
    inv = list(range(rank - 3)) + [rank - 2, rank - 1, rank - 3]
    y = tf.transpose(y, inv)
    static = x.shape.as_list()
    static[-3] = None if h_static is None else _output_size(h_static, scale)
    static[-2] = None if w_static is None else _output_size(w_static, scale)
    y.set_shape(static)
    return y


def official_pad(frames: np.ndarray | tf.Tensor, scale: int = 4) -> np.ndarray | tf.Tensor:
    """The official loaders' pre-BD padding: numpy ``'reflect'`` pad of ``2 * scale`` px on H and W.

    ``(..., H, W, C)`` -> ``(..., H + 4 * scale, W + 4 * scale, C)``, numpy or ``tf.Tensor``.
    Needs ``H, W > 2 * scale`` (the TF reflect pad's limit; kept for numpy too so both agree).
    """
    scale = _check_scale(scale)
    rank = _check_rank(frames, "official_pad")
    p = 2 * scale
    paddings = [[0, 0]] * (rank - 3) + [[p, p], [p, p], [0, 0]]
    if tf.is_tensor(frames):
        h, w = frames.shape[-3], frames.shape[-2]
        _check_reflect(h, w, ((p, p), (p, p)), "official_pad")
        return tf.pad(frames, paddings, mode="REFLECT")
    x = np.asarray(frames)
    _check_reflect(x.shape[-3], x.shape[-2], ((p, p), (p, p)), "official_pad")
    return np.pad(x, paddings, mode="reflect")


def bd_degrade(hr: np.ndarray | tf.Tensor, scale: int = 4, protocol: str = "plain") -> np.ndarray | tf.Tensor:
    """BD (blur-downsample) LR frames from HR ``(..., H, W, C)`` float in [0, 1].

    ``protocol='plain'``: :func:`gaussian_downsample` (``(..., H/s, W/s, C)`` when ``s`` divides
    H, W). ``protocol='official'``: :func:`official_pad` first, as the official data loaders do
    (``(..., H/s + 4, W/s + 4, C)``: 2 extra LR pixels on each side). Note: the official loaders
    apply that pad only at x4 (at x2/x3 they use the plain protocol); here it is applied at every scale.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if protocol == "official":
        hr = official_pad(hr, scale)
    return gaussian_downsample(hr, scale)


def bi_degrade(hr: np.ndarray | tf.Tensor, scale: int = 4) -> np.ndarray | tf.Tensor:
    """BI LR frames: MATLAB bicubic ``imresize(hr, 1 / scale)``; ``(..., ceil(H/s), ceil(W/s), C)``."""
    scale = _check_scale(scale)
    _check_rank(hr, "bi_degrade")
    return imresize(hr, 1.0 / scale)
