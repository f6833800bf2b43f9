"""The inference core: pluggable backends and the :class:`Upscaler` that validates, batches and streams.

    up = Upscaler(model, tile=64, tile_overlap=16)
    sr = up.upscale_window(lr_window)                    # (F, h, w, 3) -> (s*h, s*w, 3)
    for sr in up.upscale_frames(frames, dtype="uint8"):  # streaming, F frames in memory
        ...

Every SR frame is computed from the window ``i - r .. i + r`` (``r = F // 2``) clamped to the
sequence (boundary frames replicated, as the official test code does). Frames are float32 RGB in
[0, 1] (uint8 input is divided by 255); outputs are clipped to [0, 1].

The parts live in their own modules: the window rule and the streaming window generator in
:mod:`tga_keras.runtime.windows`, tiling in :mod:`tga_keras.runtime.tiling`, the backends (Keras,
SavedModel, TFLite, ONNX, TensorRT: one registry) in :mod:`tga_keras.runtime.backends`. This module
imports neither TensorFlow nor Keras until a Keras model is wrapped.

Tiling (``tile=N``) runs the window in overlapping ``N x N`` LR tiles and keeps only the centre of
each SR tile (at least ``tile_overlap * s`` pixels from every inner tile edge). It trades
exactness for memory (and some speed: the margins are computed twice). The default overlap is
half the network's receptive radius (``TGAConfig.tile_overlap``: 25 LR pixels for the official
architecture, 29 for ``paper``, 11 for ``small``); the seam errors measured on real frames are in
the docstring of :attr:`tga_keras.models.config.TGAConfig.tile_overlap` (all within 1e-3 at the default).
"""

from __future__ import annotations

import sys
from collections.abc import Sized
from typing import Any, Iterable, Iterator

import numpy as np
import numpy.typing as npt

from tga_keras.errors import InputError
from tga_keras.runtime.backends import as_backend
from tga_keras.runtime.graph import OUTPUT_DTYPES
from tga_keras.runtime.tiling import run_tiled
from tga_keras.runtime.windows import stream_windows

DEFAULT_TILE_OVERLAP = 16  # for a backend whose config is unknown


def _to_float(x: npt.ArrayLike) -> np.ndarray:
    """uint8 -> float32 / 255; float -> float32; anything else raises ``ValueError``."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        from tga_keras.io.images import u8_to_float

        return u8_to_float(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise InputError(f"frames must be uint8 or float in [0, 1], got dtype {x.dtype}")
    return x.astype(np.float32, copy=False)


def to_output(sr: np.ndarray, dtype: str = "float32") -> np.ndarray:
    """Clip SR to [0, 1]; ``'uint8'`` rounds ``x * 255`` to the nearest integer."""
    sr = np.clip(sr, 0.0, 1.0)
    if dtype == "uint8":
        return (sr * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
    return sr.astype(np.float32, copy=False)


class Upscaler:
    """Runs TGA on LR windows or frame streams, optionally in spatial tiles.

    Args:
        model: a TGA ``keras.Model``, a ``.keras`` path, a :class:`Backend`, or a callable
            ``(B, F, h, w, 3) -> (B, s*h, s*w, 3)`` (then pass ``scale``/``frames``).
        tile: LR tile size (``None``: whole frames). Must be ``>= min_size`` and ``> 2 * tile_overlap``.
        tile_overlap: LR pixels of context kept around each tile's centre (module docstring); None:
            the model's :attr:`TGAConfig.tile_overlap` (half its receptive radius: 25 official, 11 small),
            or 16 for a backend without a config.
        batch_size: windows (or tiles) per backend call.
        align: warp every window's neighbours onto its reference (:func:`tga_keras.preprocess.alignment.align_windows`)
            before the network, on the whole frames (before tiling). None: the model config's ``align``
            (False for a backend without a config). ``alignment_stats`` counts the neighbours aligned
            and those that fell back to the identity.
    """

    def __init__(
        self,
        model: Any,
        *,
        tile: int | None = None,
        tile_overlap: int | None = None,
        batch_size: int = 1,
        scale: int | None = None,
        frames: int | None = None,
        min_size: int | None = None,
        align: bool | None = None,
    ) -> None:
        self.backend = as_backend(model, scale=scale, frames=frames, min_size=min_size)
        self.scale, self.frames, self.min_size = self.backend.scale, self.backend.frames, self.backend.min_size
        if tile_overlap is None:
            config = getattr(self.backend, "config", None)
            tile_overlap = config.tile_overlap if config is not None else DEFAULT_TILE_OVERLAP
        if tile is not None:
            if isinstance(tile, bool) or int(tile) != tile or tile < self.min_size:
                raise InputError(f"tile must be an integer >= {self.min_size} (LR pixels), got {tile!r}")
            if isinstance(tile_overlap, bool) or int(tile_overlap) != tile_overlap or tile_overlap < 0:
                raise InputError(f"tile overlap must be an integer >= 0, got {tile_overlap!r}")
            if tile <= 2 * tile_overlap:
                raise InputError(
                    f"tile ({tile}) must be larger than twice the overlap ({tile_overlap} LR pixels of "
                    "context per side); use a larger tile or set the overlap (--overlap)"
                )
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
            raise InputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.tile = None if tile is None else int(tile)
        self.tile_overlap = int(tile_overlap)
        self.batch_size = int(batch_size)
        if align is None:
            align = bool(getattr(getattr(self.backend, "config", None), "align", False))
        self.align = bool(align)
        self.alignment_stats = {"neighbours": 0, "fell_back": 0}

    # -------------------------------------------------------------------- one window
    def check_window(self, shape: Iterable[int | None]) -> None:
        """Raise ``ValueError`` unless ``shape`` is ``(B, F, h, w, 3)`` with ``h, w >= min_size``."""
        from tga_keras.models.model import check_frames_shape

        check_frames_shape(tuple(shape), self)  # reads self.frames and self.min_size

    def upscale_window(self, lr_frames: npt.ArrayLike, dtype: str = "float32") -> np.ndarray:
        """LR ``(F, h, w, 3)`` or ``(B, F, h, w, 3)`` in [0, 1] -> SR ``(s*h, s*w, 3)`` / ``(B, s*h, s*w, 3)``.

        The shape is checked before any work; uint8 input is divided by 255; output clipped to [0, 1].
        """
        if dtype not in OUTPUT_DTYPES:
            raise InputError(f"dtype must be one of {OUTPUT_DTYPES}, got {dtype!r}")
        shape = tuple(np.shape(lr_frames))
        if len(shape) not in (4, 5):
            raise InputError(
                f"expected one window ({self.frames}, height, width, 3) or a batch "
                f"(batch, {self.frames}, height, width, 3); got an array of rank {len(shape)}: {shape}"
            )
        single = len(shape) == 4
        self.check_window((1,) + shape if single else shape)
        x = _to_float(lr_frames)
        x = x[None] if single else x
        out = np.concatenate([self._run(x[i : i + self.batch_size]) for i in range(0, len(x), self.batch_size)])
        out = to_output(out, dtype)
        return out[0] if single else out

    def _run(self, x: np.ndarray) -> np.ndarray:
        """``(b, F, h, w, 3)`` float32 -> raw SR ``(b, s*h, s*w, 3)`` (not clipped), aligned and tiled if asked."""
        if self.align:
            from tga_keras.preprocess.alignment import align_windows

            x, reports = align_windows(x, self.frames // 2, return_reports=True)
            self.alignment_stats["neighbours"] += x.shape[0] * (self.frames - 1)
            self.alignment_stats["fell_back"] += sum(len(r.fell_back) for r in reports)
        if self.tile is None:
            return self._call(x)
        return run_tiled(
            self._call, x, scale=self.scale, tile=self.tile, overlap=self.tile_overlap, batch_size=self.batch_size
        )

    def _call(self, x: np.ndarray) -> np.ndarray:
        y = np.asarray(self.backend(x), dtype=np.float32)
        want = (x.shape[0], self.scale * x.shape[2], self.scale * x.shape[3], 3)
        if y.shape != want:
            raise RuntimeError(f"backend returned shape {y.shape} for input {x.shape}; expected {want}")
        return y

    # -------------------------------------------------------------------- streams
    def upscale_frames(
        self,
        frames: Iterable[npt.ArrayLike],
        *,
        dtype: str = "float32",
        progress: bool = False,
        total: int | None = None,
        first: int = 0,
        count: int | None = None,
        desc: str = "upscale",
    ) -> Iterator[np.ndarray]:
        """SR frames of a sequence, streaming: yields ``(s*H, s*W, 3)`` (``dtype`` float32 or uint8).

        ``frames``: an iterable of ``(H, W, 3)`` uint8 or float [0, 1] frames, or an ``(N, H, W, 3)``
        array. Only the frames of the current windows are held (``F + batch_size`` at most).
        ``first``/``count``: yield only references ``first .. first + count - 1`` of the stream
        (all from ``first`` if ``count`` is None); the frames around them are still read as
        neighbours, so a segment cut from a longer video is upscaled as in the whole video.
        ``progress``: a tqdm bar on stderr (``total`` defaults to ``len(frames)`` when known).
        """
        if dtype not in OUTPUT_DTYPES:
            raise InputError(f"dtype must be one of {OUTPUT_DTYPES}, got {dtype!r}")
        if first < 0 or (count is not None and count < 0):
            raise InputError(f"first and count must be >= 0, got first={first}, count={count}")
        if total is None:
            n = len(frames) if isinstance(frames, Sized) else None
            total = None if n is None else max(0, min(n - first, count if count is not None else n))
        elif count is not None:
            total = min(total, count)
        return self._stream(frames, dtype, progress, total, first, count, desc)  # arguments checked eagerly

    def _stream(
        self,
        frames: Iterable[npt.ArrayLike],
        dtype: str,
        progress: bool,
        total: int | None,
        first: int,
        count: int | None,
        desc: str,
    ) -> Iterator[np.ndarray]:
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, file=sys.stderr, unit="frame", desc=desc, dynamic_ncols=True)
        try:
            batch: list[np.ndarray] = []
            windows = stream_windows(iter(frames), first, count, self.frames, _to_float, self.check_window)
            for window in windows:
                batch.append(window)
                if len(batch) == self.batch_size:
                    yield from self._emit(batch, dtype, bar)
                    batch = []
            if batch:
                yield from self._emit(batch, dtype, bar)
        finally:
            if bar is not None:
                bar.close()

    def _emit(self, batch: list[np.ndarray], dtype: str, bar: Any) -> Iterator[np.ndarray]:
        out = to_output(self._run(np.stack(batch)), dtype)
        for sr in out:
            if bar is not None:
                bar.update(1)
            yield sr


__all__ = ["DEFAULT_TILE_OVERLAP", "Upscaler", "to_output"]
