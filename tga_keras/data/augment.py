"""In-graph augmentation of a frame stack, one random draw applied identically to every frame."""

from __future__ import annotations

import tensorflow as tf


def augment_frames(
    frames: tf.Tensor, seed: tf.Tensor, *, flips: bool = True, transpose: bool = True, temporal_reverse: bool = True
) -> tf.Tensor:
    """Random horizontal flip, vertical flip, H/W transposition and temporal reversal.

    Args:
        frames: ``(T, H, W, C)``; ``transpose`` needs ``H == W`` (checked statically when known).
        seed: shape ``(2,)`` int32/int64 key for ``tf.random.stateless_uniform``: the same seed
            gives the same transform. Each transform is applied with probability 1/2.

    Returns ``(T, H, W, C)`` (``(T, W, H, C)`` when transposed), same dtype.
    """
    u = tf.random.stateless_uniform([4], seed=seed)
    x = frames
    if flips:
        x = tf.cond(u[0] < 0.5, lambda: tf.reverse(x, axis=[2]), lambda: x)
        x = tf.cond(u[1] < 0.5, lambda: tf.reverse(x, axis=[1]), lambda: x)
    if transpose:
        h, w = x.shape[1], x.shape[2]
        if h is not None and w is not None and h != w:
            raise ValueError(f"transposition needs square frames, got {h}x{w}")
        x = tf.cond(u[2] < 0.5, lambda: tf.transpose(x, [0, 2, 1, 3]), lambda: x)
    if temporal_reverse:
        x = tf.cond(u[3] < 0.5, lambda: tf.reverse(x, axis=[0]), lambda: x)
    return x


__all__ = ["augment_frames"]
