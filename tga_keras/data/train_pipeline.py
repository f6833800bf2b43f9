"""Training pipeline: random windows of HR frames -> crop -> augment -> BD/BI in-graph -> batches.

Each element is ``(lr, hr_center)``: ``lr`` float32 ``(frames, hr_crop/scale, hr_crop/scale, 3)``
and ``hr_center`` float32 ``(hr_crop, hr_crop, 3)``, both in [0, 1] (batched: a leading batch
axis). Windows are ``frames`` consecutive frames of a sequence (every start position of every
sequence is one window; a Vimeo septuplet is one window). The order is a fresh permutation of all
windows per epoch. All randomness (permutation, crop, augmentation, synthetic motion) comes from
stateless ops keyed by ``seed`` and the element's running index, so the same seed gives identical
batches regardless of parallelism.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tga_keras.data.augment import augment_frames
from tga_keras.data.sources import Sequence, collect_sequences
from tga_keras.errors import DatasetError
from tga_keras.preprocess.degradation import bd_degrade, bi_degrade

DEGRADATIONS = ("bd", "bi")


def check_common(frames: int, scale: int, degradation: str) -> None:
    """ValueError for an even/too-small ``frames``, a bad ``scale`` or an unknown degradation."""
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 3 or frames % 2 == 0:
        raise ValueError(f"frames must be an odd integer >= 3, got {frames!r}")
    if scale not in (2, 3, 4):
        raise ValueError(f"scale must be 2, 3 or 4, got {scale!r}")
    if degradation not in DEGRADATIONS:
        raise ValueError(f"degradation must be one of {DEGRADATIONS}, got {degradation!r}")


def degrade(hr, scale: int, degradation: str = "bd", protocol: str = "plain"):
    """LR frames from HR ``(..., H, W, 3)`` (numpy or TF): BD (``protocol`` plain/official) or BI, clipped to [0, 1]."""
    if degradation == "bd":
        return bd_degrade(hr, scale, protocol)  # a normalised positive kernel stays in [0, 1]
    if protocol != "plain":
        raise ValueError("protocol='official' (reflect pad before BD) only applies to degradation='bd'")
    lr = bi_degrade(hr, scale)
    return tf.clip_by_value(lr, 0.0, 1.0) if tf.is_tensor(lr) else np.clip(lr, 0.0, 1.0)


def training_windows(sequences: list[Sequence], frames: int, hr_crop: int):
    """``(seq_index, start)`` int32 arrays of every training window; DatasetError for short/small sequences."""
    seq_idx, starts = [], []
    for i, seq in enumerate(sequences):
        if seq.num_frames < frames:
            raise DatasetError(
                f"sequence {seq.describe()} has {seq.num_frames} frames; training needs at least {frames}"
            )
        h, w = seq.size
        if h < hr_crop or w < hr_crop:
            raise DatasetError(f"frames of {seq.describe(0)} are {h}x{w}, smaller than the HR crop {hr_crop}x{hr_crop}")
        n = seq.num_frames - frames + 1
        seq_idx.append(np.full(n, i, np.int32))
        starts.append(np.arange(n, dtype=np.int32))
    return np.concatenate(seq_idx), np.concatenate(starts)


def _align_window(lr: np.ndarray) -> np.ndarray:
    from tga_keras.preprocess.alignment import align

    return align(lr, len(lr) // 2)


def _window_order(n: int, seed: int, shuffle: bool, epochs: int | None) -> tf.data.Dataset:
    """Window indices: a stateless permutation per epoch (or 0..n-1 repeated)."""
    ep = tf.data.Dataset.range(epochs) if epochs is not None else tf.data.Dataset.range(2**62)
    if not shuffle:
        return ep.flat_map(lambda e: tf.data.Dataset.range(n))

    def perm(e):
        u = tf.random.stateless_uniform([n], seed=tf.stack([tf.constant(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices(tf.cast(tf.argsort(u), tf.int64))

    return ep.flat_map(perm)


def make_train_dataset(
    sources,
    *,
    batch_size: int = 16,
    frames: int = 7,
    scale: int = 4,
    hr_crop: int = 256,
    degradation: str = "bd",
    augment: bool = True,
    seed: int = 0,
    shuffle: bool = True,
    epochs: int | None = None,
    drop_remainder: bool = True,
    start: int = 0,
    shard: tuple[int, int] | None = None,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    align: bool = False,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``(lr (B, frames, hr_crop/scale, hr_crop/scale, 3), hr (B, hr_crop, hr_crop, 3))``.

    Args:
        sources: a source (``.sequences``), a :class:`Sequence`, or a list of them (concatenated).
        batch_size: samples per batch; ``None`` leaves the dataset unbatched.
        frames: odd window length; the centre frame is the reference/target.
        scale: 2, 3 or 4; ``hr_crop`` must be a multiple of it.
        hr_crop: square HR crop side (256 -> LR 64 at x4).
        degradation: ``'bd'`` (official Gaussian blur + subsampling, plain protocol: no extra pad)
            or ``'bi'`` (MATLAB bicubic, clipped to [0, 1]); applied in-graph after augmentation.
        augment: random h/v flips, transposition and temporal reversal (same for all frames).
        seed: everything random derives from it (same seed -> identical batches).
        shuffle: a new stateless permutation of all windows every epoch (else sequential order).
        epochs: passes over the windows (``None``: repeat forever, use ``steps_per_epoch``).
        start: index of the first sample (a resumed run passes ``steps * batch_size``): the stream
            continues exactly where it stopped, since every sample is keyed by its index.
        shard: ``(num_shards, index)`` for data-parallel workers: ``batch_size`` is the global batch,
            and this shard yields its ``batch_size // num_shards`` consecutive samples of every global
            batch (so the shards together see exactly the batches of a single process).
        align: warp each LR window's neighbours onto its reference after the degradation
            (:func:`tga_keras.preprocess.alignment.align` in a ``tf.numpy_function``), for ``TGAConfig.align``.

    Raises (eagerly, naming the file): :class:`DatasetError` for a sequence shorter than
    ``frames`` or with frames smaller than ``hr_crop``; ``ValueError`` for bad arguments. A file
    that fails only while decoding raises ``tf.errors.OpError`` (usually ``InvalidArgumentError``)
    during iteration, its message carrying the :class:`DatasetError` text with the file name.
    """
    check_common(frames, scale, degradation)
    if isinstance(hr_crop, bool) or not isinstance(hr_crop, (int, np.integer)) or hr_crop <= 0 or hr_crop % scale:
        raise ValueError(f"hr_crop must be a positive multiple of scale={scale}, got {hr_crop!r}")
    sequences = collect_sequences(sources)
    seq_idx, starts = training_windows(sequences, frames, hr_crop)
    heights = np.array([s.size[0] for s in sequences], np.int32)[seq_idx]
    widths = np.array([s.size[1] for s in sequences], np.int32)[seq_idx]
    n = int(seq_idx.size)
    lr_side = hr_crop // scale

    def load(si, start, key, top, left):
        seq = sequences[int(si)]
        return seq.read(
            range(int(start), int(start) + frames), key=int(key), box=(int(top), int(left), hr_crop, hr_crop)
        )

    t_seq, t_start = tf.constant(seq_idx), tf.constant(starts)
    t_h, t_w = tf.constant(heights), tf.constant(widths)
    seed64 = tf.constant(int(seed), tf.int64)

    def sample(i, w):
        keys = tf.random.experimental.stateless_split(tf.stack([seed64, i]), num=4)
        h_max = tf.gather(t_h, w) - hr_crop + 1
        w_max = tf.gather(t_w, w) - hr_crop + 1
        top = tf.random.stateless_uniform([], keys[0], minval=0, maxval=h_max, dtype=tf.int32)
        left = tf.random.stateless_uniform([], keys[1], minval=0, maxval=w_max, dtype=tf.int32)
        src_key = tf.random.stateless_uniform([], keys[2], minval=0, maxval=2**62, dtype=tf.int64)
        hr = tf.numpy_function(
            load,
            [tf.gather(t_seq, w), tf.gather(t_start, w), src_key, top, left],
            tf.float32,
            stateful=False,
            name="read_hr_window",
        )
        hr.set_shape([frames, hr_crop, hr_crop, 3])
        if augment:
            hr = augment_frames(hr, keys[3])
        lr = degrade(hr, scale, degradation)
        if lr.shape.as_list() != [frames, lr_side, lr_side, 3]:
            raise ValueError(
                f"{degradation} x{scale} turns a {hr_crop} HR crop into LR {lr.shape.as_list()[1:3]}, "
                f"not {lr_side}; choose another hr_crop"
            )
        if align:
            lr = tf.numpy_function(_align_window, [lr], tf.float32, stateful=False, name="align_window")
            lr.set_shape([frames, lr_side, lr_side, 3])
        return lr, hr[frames // 2]

    if start < 0:
        raise ValueError(f"start must be >= 0, got {start!r}")
    ds = _window_order(n, int(seed), shuffle, epochs).enumerate()
    if start:
        ds = ds.skip(int(start))
    if shard is not None:
        num, index = (int(v) for v in shard)
        if batch_size is None or num < 1 or not 0 <= index < num or batch_size % num:
            raise ValueError(f"shard {shard!r} needs a batch_size divisible by {num}, got {batch_size!r}")
        per = batch_size // num
        ds = ds.filter(lambda i, w: (i % batch_size) // per == index)
        batch_size = per
    ds = ds.map(sample, num_parallel_calls=num_parallel_calls, deterministic=True)
    if batch_size is not None:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


__all__ = ["DEGRADATIONS", "check_common", "degrade", "make_train_dataset", "training_windows"]
