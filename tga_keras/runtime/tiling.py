"""Spatial tiling: run a super-resolution call over overlapping LR tiles and stitch the SR tiles.

A window ``(b, F, h, w, 3)`` larger than ``tile`` LR pixels on a side is cut into overlapping
``tile x tile`` tiles (:func:`tile_spans` per axis; a side that fits is one tile of its full
length). Every SR tile keeps only its centre: the kept parts partition the frame and lie at least
``overlap`` LR pixels (``overlap * scale`` SR pixels) from every tile edge that is not an image
edge, so each kept pixel sees ``overlap`` pixels of context on every inner side. Tiling trades
exactness for memory: the network's receptive field is larger than any practical overlap, and the
margins are computed twice. The inference core's default overlap is half the network's receptive
radius (``TGAConfig.tile_overlap``); see :mod:`tga_keras.runtime.upscaler` for measured errors.

Imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tga_keras.errors import InputError


def tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Split ``[0, length)`` into tiles ``(start, stop, keep_start, keep_stop)`` (all LR pixels).

    Tiles are ``tile`` long (one tile of ``length`` if it fits), neighbours overlap by at least
    ``2 * overlap``; the kept parts partition ``[0, length)`` and stay at least ``overlap`` pixels
    from every tile edge that is not an image edge (the boundary sits mid-overlap).
    """
    if tile <= 2 * overlap:
        raise InputError(f"tile ({tile}) must be larger than 2 * overlap ({2 * overlap})")
    if length <= tile:
        return [(0, length, 0, length)]
    stride = tile - 2 * overlap
    starts = list(range(0, length - tile, stride)) + [length - tile]
    spans = []
    for k, s in enumerate(starts):
        e = s + tile
        keep_lo = 0 if k == 0 else (s + starts[k - 1] + tile) // 2
        keep_hi = length if k == len(starts) - 1 else (starts[k + 1] + e) // 2
        spans.append((s, e, keep_lo, keep_hi))
    return spans


def run_tiled(
    call: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    *,
    scale: int,
    tile: int,
    overlap: int,
    batch_size: int,
) -> np.ndarray:
    """``call`` over overlapping tiles of ``x``: LR ``(b, F, h, w, 3)`` -> SR ``(b, scale*h, scale*w, 3)``.

    ``call`` maps LR ``(k, F, th, tw, 3)`` to SR ``(k, scale*th, scale*tw, 3)`` (any ``k``). If the
    frames fit in one tile (``h, w <= tile``) it runs once on all of ``x``. Otherwise every tile
    has the same size (``min(tile, h) x min(tile, w)``, spans from :func:`tile_spans`), so the
    ``T`` tiles of the ``b`` windows are stacked tile-major into ``(T * b, F, th, tw, 3)`` and run
    ``batch_size`` at a time; the centre of each SR tile (see the module docstring) is copied
    into a float32 output. Values are not clipped.
    """
    h, w = x.shape[2], x.shape[3]
    if h <= tile and w <= tile:
        return call(x)
    s = scale
    rows = tile_spans(h, tile, overlap)
    cols = tile_spans(w, tile, overlap)
    # all tiles have the same size: batch them (windows x tiles) through the backend
    tiles = [(r, c) for r in rows for c in cols]
    stacked = np.concatenate([x[:, :, r[0] : r[1], c[0] : c[1]] for r, c in tiles])  # (T*b, F, th, tw, 3)
    sr_tiles = np.concatenate([call(stacked[i : i + batch_size]) for i in range(0, len(stacked), batch_size)])
    out = np.empty((x.shape[0], s * h, s * w, 3), np.float32)
    b = x.shape[0]
    for k, ((r0, _, kr0, kr1), (c0, _, kc0, kc1)) in enumerate(tiles):
        part = sr_tiles[k * b : (k + 1) * b]
        keep = part[:, s * (kr0 - r0) : s * (kr1 - r0), s * (kc0 - c0) : s * (kc1 - c0)]
        out[:, s * kr0 : s * kr1, s * kc0 : s * kc1] = keep
    return out


__all__ = ["run_tiled", "tile_spans"]
