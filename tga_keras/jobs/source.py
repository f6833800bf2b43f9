"""The frames a segment reads: a video or a folder of images, from one frame on, with the context around it.

:func:`open_source` gives the frames ``start - radius .. start + count + radius - 1`` (clipped to
the input), so a piece of the input is upscaled exactly as in a run over the whole of it; the
first ``first`` frames of the stream are context only.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Iterator

from tga_keras.errors import InputError, UsageError

if TYPE_CHECKING:
    from tga_keras.io.video import VideoProbe


@dataclasses.dataclass
class FrameSource:
    """An input's frame stream (its first ``first`` frames are context only) and the output names.

    ``frames``: ``(H, W, 3)`` uint8 RGB, or float32 [0, 1] for a video of more than 8 bits.
    ``total``: the frames to upscale (a video's is the container's estimate; ``None``: unknown).
    ``names``: the PNG names (no extension) of the upscaled frames, in order (an endless stream for a video).
    ``stamps``: a video read with PyAV: ``(pts, duration)`` of the upscaled frames decoded and not
    yet written, in ``video.time_base`` units (the writer pops them).
    ``read``: how many frames the stream has yielded so far (context included).
    """

    frames: Iterator
    first: int
    total: int | None
    names: Iterator[str]
    fps: float
    describe: str
    video: VideoProbe | None = None
    stamps: collections.deque | None = None
    read: int = 0

    def counted(self) -> Iterator:
        """``frames``, counting them in ``read``."""
        for frame in self.frames:
            self.read += 1
            yield frame


def frame_size(files: list[str]) -> tuple[int, int]:
    """The ``(height, width)`` the image ``files`` share (header reads); ``InputError`` if they differ."""
    from tga_keras.io.images import image_size

    sizes: dict[tuple[int, int], str] = {}
    for f in files:
        sizes.setdefault(image_size(f), f)
    if len(sizes) > 1:
        (s0, f0), (s1, f1) = list(sizes.items())[:2]
        raise InputError(f"frames differ in size: {f0} is {s0[1]}x{s0[0]}, {f1} is {s1[1]}x{s1[0]}")
    ((h, w),) = sizes
    return h, w


def list_frames(path: str, start: int = 0) -> list[str]:
    """The image files of a folder input in natural order; ``UsageError`` if it has none or ``start`` is past them."""
    from tga_keras.io.images import list_images

    files = list_images(path)
    if not files:
        raise UsageError(f"no image files in folder {path}")
    if start >= len(files):
        raise UsageError(f"--start {start} is past the end: {path} holds {len(files)} frames")
    return files


def frame_names(path: str, start: int, limit: int | None) -> list[str]:
    """PNG names of a folder input's frames ``start ..`` (at most ``limit``): the input files' names,
    or ``000123`` numbers when two files share a name."""
    from tga_keras.io.images import list_images

    selected = list_images(path)[start:][:limit]
    stems = [os.path.splitext(os.path.basename(f))[0] for f in selected]
    return stems if len(set(stems)) == len(stems) else [f"{start + k:06d}" for k in range(len(selected))]


def open_source(
    path: str,
    start: int,
    limit: int | None,
    radius: int,
    *,
    names: list[str] | None = None,
    stamps: Sequence[int | None] | None = None,
) -> FrameSource:
    """Open INPUT at frame ``start`` for ``limit`` frames (all if ``None``), with ``radius`` context frames each side.

    ``names``: a folder's output names for frames ``start ..`` (default :func:`frame_names`; a
    segment passes its slice of the whole selection's). ``stamps``: a video's
    :func:`tga_keras.io.video.frame_stamps`, to seek to the first frame read instead of decoding
    the video from its start. ``UsageError`` when ``start`` is past the
    end of a folder; ``InputError`` for frames of different sizes; ``DatasetError`` for a video
    that cannot be decoded.
    """
    from tga_keras.io.images import read_image

    lo = max(0, start - radius)
    hi = None if limit is None else start + limit + radius
    if os.path.isdir(path):
        files = list_frames(path, start)[lo:hi]
        h, w = frame_size(files)
        selected = len(files[start - lo :][:limit])
        names = (names if names is not None else frame_names(path, start, limit))[:selected]
        return FrameSource(
            (read_image(f) for f in files),
            start - lo,
            selected,
            iter(names),
            25.0,
            f"{selected} frames of {w}x{h} from {path}",
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"input not found: {path}")
    return _open_video(path, start, limit, lo, hi, index=stamps)


def _open_video(
    path: str, start: int, limit: int | None, lo: int, hi: int | None, *, index: Sequence[int | None] | None
) -> FrameSource:
    """A video read with tga_keras.io.video (PyAV, OpenCV without it).

    Its frames' timestamps (``None`` with OpenCV) go to ``stamps``; a ``start`` past the end gives no frames.
    """
    from tga_keras.io import video

    info = video.probe(path)  # DatasetError (a ValueError) for zero-byte, corrupt or unsupported files
    n = info.num_frames
    total = None if n is None else max(0, n - start if limit is None else min(limit, n - start))
    stamps: collections.deque = collections.deque()

    def frames() -> Iterator:
        decoded = video.iter_frames(path, high_bit_depth=info.high_bit_depth, first=lo, stamps=index)
        for k, frame in enumerate(decoded, start=lo):
            if k >= start:  # the writer takes them one by one: only the look-ahead is held
                stamps.append((frame.pts, frame.duration))
            yield frame.image

    depth = f" {info.bit_depth}-bit" if info.high_bit_depth else ""
    count = "" if total is None else f"~{total} "
    return FrameSource(
        itertools.islice(frames(), None if hi is None else hi - lo),
        start - lo,
        total,
        (f"{start + k:06d}" for k in itertools.count()),
        info.fps if info.fps > 0 else 25.0,
        f"{count}frames of {info.width}x{info.height}{depth} from {path}",
        info,
        stamps,
    )


__all__ = ["FrameSource", "frame_names", "frame_size", "list_frames", "open_source"]
