"""Temporal windows: which LR frames feed the SR frame of each reference, and a streaming generator.

Every SR frame ``i`` of an ``n``-frame sequence is computed from the ``F``-frame window
``i - r .. i + r`` (``r = F // 2``, ``F`` odd) clamped to ``[0, n - 1]``: boundary frames are
replicated, as the official test code does. :func:`window_indices` is that one rule; the evaluation
pipeline (:mod:`tga_keras.data.eval_pipeline`), the inference core (:mod:`tga_keras.runtime.upscaler`) and
the demo all use it. :func:`stream_windows` applies it to a frame iterator of unknown length,
holding only the frames the current and later windows still need.

Imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from tga_keras.errors import InputError


def window_indices(i: int, n: int, frames: int = 7) -> list[int]:
    """Frame indices of the window around reference ``i``, clamped to ``[0, n - 1]`` (boundary replication)."""
    r = frames // 2
    return [min(max(i + k, 0), n - 1) for k in range(-r, r + 1)]


def sequence_windows(n_frames: int, frames: int = 7) -> list[list[int]]:
    """For each reference ``i`` of an ``n_frames`` sequence, the indices ``i - r .. i + r`` clamped to ``[0, n - 1]``.

    ``r = frames // 2``. ``sequence_windows(4, 5) == [[0,0,0,1,2], [0,0,1,2,3], [0,1,2,3,3], [1,2,3,3,3]]``.
    """
    if isinstance(n_frames, bool) or int(n_frames) != n_frames or n_frames < 1:
        raise InputError(f"n_frames must be an integer >= 1, got {n_frames!r}")
    if isinstance(frames, bool) or int(frames) != frames or frames < 1 or frames % 2 == 0:
        raise InputError(f"frames must be an odd integer >= 1, got {frames!r}")
    n = int(n_frames)
    return [window_indices(i, n, int(frames)) for i in range(n)]


class _StreamState(TypedDict):
    next: int  # index of the next frame to read
    n: int | None  # length of the stream, once its end was seen
    shape: tuple[int, ...] | None  # shape of the first frame


def stream_windows(
    it: Iterator[npt.ArrayLike],
    first: int,
    count: int | None,
    frames: int,
    convert: Callable[[npt.ArrayLike], np.ndarray],
    check_shape: Callable[[tuple[int, ...]], None],
) -> Iterator[np.ndarray]:
    """``(frames, H, W, C)`` windows for references ``first .. first + count - 1`` of the stream ``it``.

    ``count=None``: every reference from ``first`` to the end of the stream. Windows follow
    :func:`window_indices` with ``n`` the stream's length (a window near the end is only built once
    the frames it needs were read, or the stream ended). ``convert`` turns each frame that some
    window needs into an array (frames before ``first - frames // 2`` are skipped unconverted);
    the first converted frame must be 3-D ``(H, W, C)`` and is passed to ``check_shape`` as
    ``(1, frames, H, W, C)`` (it raises to reject it); every later frame must have its shape.
    At most ``frames`` converted frames are held at a time (``frames // 2`` past the reference).

    Lazy: nothing is read before the first window is asked for. Raises :class:`InputError` for a
    frame of another shape, and when the stream has no frame at ``first`` (empty, or too short).
    """
    r = frames // 2
    cache: dict[int, np.ndarray] = {}
    state: _StreamState = {"next": 0, "n": None, "shape": None}

    def fill(upto: int) -> None:  # read frames until index ``upto`` is cached or the stream ends
        while state["n"] is None and state["next"] <= upto:
            try:
                frame = next(it)
            except StopIteration:
                state["n"] = state["next"]
                return
            i = state["next"]
            state["next"] += 1
            if i < first - r:
                continue  # before any window: never needed
            frame = convert(frame)
            if state["shape"] is None:
                if frame.ndim != 3:
                    raise InputError(f"frames must be (H, W, 3) images; frame {i} has shape {frame.shape}")
                check_shape((1, frames) + frame.shape)
                state["shape"] = frame.shape
            elif frame.shape != state["shape"]:
                raise InputError(
                    f"frame {i} has shape {frame.shape}, but earlier frames {state['shape']}: "
                    "all frames of a sequence must have the same size"
                )
            cache[i] = frame

    i = first
    while count is None or i < first + count:
        fill(i + r)
        n = state["n"]
        if n is not None and i >= n:
            if i == first and n == 0:
                raise InputError("no frames to upscale: the input is empty")
            if i == first:
                raise InputError(f"no frames to upscale: the input has {n} frames, starting at frame {first}")
            return
        last = (n if n is not None else state["next"]) - 1
        idx = window_indices(i, last + 1, frames)  # the one boundary rule (replication)
        yield np.stack([cache[j] for j in idx])
        for j in [j for j in cache if j < i + 1 - r]:  # no later window needs them
            del cache[j]
        i += 1


__all__ = ["sequence_windows", "stream_windows", "window_indices"]
