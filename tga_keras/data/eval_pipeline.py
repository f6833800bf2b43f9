"""Evaluation pipeline: every frame of every sequence as the reference, full frames, HR alongside.

For reference frame ``i`` of an ``n``-frame sequence the input frames are ``i - r .. i + r``
(``r = frames // 2``) clamped to ``[0, n - 1]``: boundary frames are replicated, as in the official
test code (:func:`tga_keras.runtime.windows.window_indices`, the rule the inference core uses too). HR
frames are modcropped (bottom/right) to a multiple of ``scale``; every LR frame is degraded once
(numpy) and reused by the windows that need it.

Protocols (BD only):

* ``'plain'``: LR = BD(HR); LR is ``(H/s, W/s)`` and SR output is compared with HR directly.
* ``'official'``: the official loaders reflect-pad HR by ``2 * s`` before BD, so LR is
  ``(H/s + 4, W/s + 4)`` and the SR output ``(H + 4s, W + 4s)`` must be cropped by
  :func:`sr_border` ``= 2 * s`` pixels on every side before comparing with HR
  (:func:`crop_sr_output` does it; ``info['border']`` carries the same number).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tga_keras.data.sources import collect_sequences
from tga_keras.data.train_pipeline import check_common, degrade
from tga_keras.errors import DatasetError
from tga_keras.preprocess.degradation import PROTOCOLS
from tga_keras.runtime.windows import window_indices  # the one boundary rule


def sr_border(scale: int, protocol: str = "plain") -> int:
    """Pixels to crop from each side of the SR output before comparing with HR (``2 * scale`` for 'official')."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    return 2 * int(scale) if protocol == "official" else 0


def crop_sr_output(sr, scale: int, protocol: str = "plain"):
    """Crop SR ``(..., H', W', C)`` (numpy or TF) by :func:`sr_border` on every side."""
    b = sr_border(scale, protocol)
    return sr if b == 0 else sr[..., b:-b, b:-b, :]


def modcrop(hr: np.ndarray, scale: int) -> np.ndarray:
    """Crop ``(..., H, W, C)`` at the bottom/right to multiples of ``scale``."""
    h, w = hr.shape[-3] - hr.shape[-3] % scale, hr.shape[-2] - hr.shape[-2] % scale
    return hr[..., :h, :w, :]


def make_eval_dataset(
    sources,
    *,
    frames: int = 7,
    scale: int = 4,
    degradation: str = "bd",
    protocol: str = "plain",
    batch_size: int | None = 1,
    references: str = "all",
    allow_short: bool = False,
    key: int = 0,
    with_info: bool = True,
    max_references: int | None = None,
    first_reference: int = 0,
    align: bool = False,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``(lr, hr, info)`` per reference frame (``(lr, hr)`` if ``with_info=False``).

    Shapes (batched; ``batch_size=None`` drops the leading axis): ``lr`` float32
    ``(B, frames, h, w, 3)``, ``hr`` float32 ``(B, H, W, 3)`` in [0, 1] with ``H, W`` the
    modcropped frame size and ``h, w`` as the protocol gives (module docstring); ``info`` a dict
    of ``'sequence'`` (string), ``'frame'`` (int32 reference index) and ``'border'`` (int32,
    :func:`sr_border`), each ``(B,)``. A batch never spans two sequences (frame sizes may differ).

    Args:
        references: ``'all'`` (every frame) or ``'center'`` (only frame ``n // 2``: Vimeo-90K test).
        allow_short: accept sequences shorter than ``frames`` (replication fills the window);
            by default they raise :class:`DatasetError`.
        key: random key for synthetic sources.
        max_references: evaluate at most this many reference frames per sequence (the first ones
            from ``first_reference``); frames after the last window are not read.
        first_reference: the first reference frame of each sequence (0: the first frame); the
            neighbours before it are still read (not degraded when no window needs them). A
            sequence with no frame from there on gives no windows.
        align: warp each LR window's neighbours onto its reference
            (:func:`tga_keras.preprocess.alignment.align`), for models with ``TGAConfig.align`` (the inference
            core does this itself: leave it False when the windows go to an ``Upscaler``).
    """
    check_common(frames, scale, degradation)
    border = sr_border(scale, protocol)
    if degradation == "bi" and protocol != "plain":
        raise ValueError("protocol='official' only applies to degradation='bd'")
    if references not in ("all", "center"):
        raise ValueError(f"references must be 'all' or 'center', got {references!r}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 or None, got {batch_size!r}")
    if max_references is not None and max_references < 1:
        raise ValueError(f"max_references must be >= 1 or None, got {max_references!r}")
    if first_reference < 0:
        raise ValueError(f"first_reference must be >= 0, got {first_reference!r}")
    sequences = collect_sequences(sources)
    for seq in sequences:
        if seq.num_frames < frames and not allow_short:
            raise DatasetError(
                f"sequence {seq.describe()} has {seq.num_frames} frames; evaluation with "
                f"{frames}-frame windows needs at least {frames} (or allow_short=True)"
            )
        if min(seq.size) < scale:
            raise DatasetError(
                f"frames of {seq.describe(0)} ({seq.size[0]}x{seq.size[1]}) are smaller than scale {scale}"
            )
    plan = _WindowPlan(frames, scale, degradation, protocol, references, key, max_references, first_reference, align)

    def gen():
        for seq in sequences:
            name = seq.name.encode("utf-8")
            batch = []
            for item in _sequence_windows(seq, plan):
                batch.append(item)
                if batch_size is None:
                    lr, hr, i = item
                    yield lr, hr, {"sequence": name, "frame": np.int32(i), "border": np.int32(border)}
                    batch = []
                elif len(batch) == batch_size:
                    yield _stack(batch, name, border)
                    batch = []
            if batch:
                yield _stack(batch, name, border)

    lead = [] if batch_size is None else [None]
    signature = (
        tf.TensorSpec(lead + [frames, None, None, 3], tf.float32),
        tf.TensorSpec(lead + [None, None, 3], tf.float32),
        {k: tf.TensorSpec(lead, dt) for k, dt in (("sequence", tf.string), ("frame", tf.int32), ("border", tf.int32))},
    )
    ds = tf.data.Dataset.from_generator(gen, output_signature=signature)
    if not with_info:
        ds = ds.map(lambda lr, hr, info: (lr, hr))
    return ds.prefetch(tf.data.AUTOTUNE)


@dataclasses.dataclass(frozen=True)
class _WindowPlan:
    """The settings of :func:`make_eval_dataset` that decide which windows a sequence gives, and how."""

    frames: int
    scale: int
    degradation: str
    protocol: str
    references: str
    key: int
    max_references: int | None
    first_reference: int
    align: bool


def _sequence_windows(seq, plan: _WindowPlan):
    """``(lr (frames, h, w, 3), hr (H, W, 3), reference index)`` for each reference frame of ``seq``,
    reading its frames once, in order: each frame is degraded once and kept while a window needs it."""
    frames, scale = plan.frames, plan.scale
    n = seq.num_frames
    refs = list(range(n)) if plan.references == "all" else [n // 2]
    refs = refs[plan.first_reference :][: plan.max_references]  # [:None]: all of them
    if not refs:
        return
    ref_set = set(refs)
    first_needed = min(window_indices(refs[0], n, frames))
    lr_cache, hr_cache = {}, {}
    frames_iter = enumerate(seq.iter_frames(key=plan.key))
    read = -1
    for i in refs:
        idxs = window_indices(i, n, frames)
        while read < max(idxs):
            try:
                read, hr = next(frames_iter)
            except StopIteration:
                raise DatasetError(f"{seq.describe()} ended after {read + 1} frames; expected {n}") from None
            if hr.shape[:2] != seq.size:
                raise DatasetError(f"frame {seq.describe(read)} is {hr.shape[:2]}, expected {seq.size}")
            if read < first_needed:
                continue  # before every window
            hr = modcrop(hr, scale)
            try:
                lr_cache[read] = np.asarray(degrade(hr, scale, plan.degradation, plan.protocol), np.float32)
            except ValueError as exc:
                raise DatasetError(f"cannot degrade {seq.describe(read)}: {exc}") from exc
            if read in ref_set:
                hr_cache[read] = hr
        lr = np.stack([lr_cache[j] for j in idxs])
        if plan.align:
            from tga_keras.preprocess.alignment import align as align_window

            lr = align_window(lr, frames // 2)
        yield lr, hr_cache.pop(i), i
        for j in [j for j in lr_cache if j < i + 1 - frames // 2]:
            del lr_cache[j]


def _stack(batch, name: bytes, border: int):
    lr = np.stack([b[0] for b in batch])
    hr = np.stack([b[1] for b in batch])
    k = len(batch)
    info = {
        "sequence": np.array([name] * k, dtype=object),
        "frame": np.array([b[2] for b in batch], np.int32),
        "border": np.full(k, border, np.int32),
    }
    return lr, hr, info


__all__ = ["crop_sr_output", "make_eval_dataset", "modcrop", "sr_border"]
