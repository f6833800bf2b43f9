"""Frame sources: Vimeo-90K septuplets, folders of frame sequences, video files.

A *source* is any object with a ``sequences`` list of :class:`Sequence` (the pipelines also accept
a list of sequences, or a list of sources). A :class:`Sequence` is one clip: ``num_frames``
frames of ``size = (height, width)``, read as float32 RGB ``(n, h, w, 3)`` in [0, 1] by
:meth:`Sequence.read`. Sources validate eagerly (when built) and raise :class:`DatasetError` /
:class:`DatasetFileNotFoundError` naming the file; problems that only show when decoding (a
truncated PNG, a frame of another size when size checks were skipped) raise the same errors from
``read``, which tf.data re-raises as an ``OpError`` carrying the message.
"""

from __future__ import annotations

import os
import threading
from typing import Iterable, Iterator
from typing import Sequence as _Seq

import numpy as np

from tga_keras.errors import DatasetError, DatasetFileNotFoundError
from tga_keras.io.images import find_files, image_size, list_images, natural_key, read_image, u8_to_float
from tga_keras.io.video import VIDEO_EXTENSIONS, iter_frames, probe, read_video

Box = tuple  # (top, left, height, width) in HR pixels


class Sequence:
    """One clip. Subclasses set ``name``, ``path``, ``num_frames``, ``size`` and implement ``_read``."""

    name: str
    path: str
    num_frames: int
    size: tuple[int, int]

    def describe(self, index: int | None = None) -> str:
        """The file (or clip) to name in error messages."""
        return self.path

    def read(self, indices: Iterable[int], *, key: int = 0, box: Box | None = None) -> np.ndarray:
        """Frames ``indices`` as float32 ``(len(indices), h, w, 3)`` in [0, 1].

        ``box = (top, left, height, width)`` crops every frame (HR pixels). ``key`` only matters
        for random sources (synthetic motion): the same key gives the same frames.
        """
        indices = [int(i) for i in indices]
        for i in indices:
            if not 0 <= i < self.num_frames:
                raise DatasetError(f"frame index {i} out of range [0, {self.num_frames}) for {self.path}")
        if box is not None:
            top, left, h, w = (int(v) for v in box)
            if top < 0 or left < 0 or top + h > self.size[0] or left + w > self.size[1]:
                raise DatasetError(
                    f"crop {h}x{w} at ({top}, {left}) does not fit frames of {self.size[0]}x{self.size[1]} "
                    f"in {self.path}"
                )
            box = (top, left, h, w)
        out = self._read(indices, key=int(key), box=box)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _read(self, indices: list[int], *, key: int, box: Box | None) -> np.ndarray:
        raise NotImplementedError

    def iter_frames(self, *, key: int = 0) -> Iterator[np.ndarray]:
        """Every frame in order, float32 ``(h, w, 3)`` (streaming where the source allows it)."""
        for i in range(self.num_frames):
            yield self.read([i], key=key)[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, frames={self.num_frames}, size={self.size})"


def _crop(frames: np.ndarray, box: Box | None) -> np.ndarray:
    if box is None:
        return frames
    top, left, h, w = box
    return frames[..., top : top + h, left : left + w, :]


class FrameSequence(Sequence):
    """A clip stored as one image file per frame, in the given order.

    ``check_sizes=True`` reads every file's header now and raises :class:`DatasetError` naming
    the first file whose size differs from the first frame's; with ``False`` only the first file
    is probed and a mismatch surfaces when that frame is read.
    """

    def __init__(self, name: str, files: _Seq[str], *, check_sizes: bool = True, size: tuple[int, int] | None = None):
        if not files:
            raise DatasetError(f"sequence {name!r} has no frames")
        self.name = name
        self.files = [os.fspath(f) for f in files]
        self.path = os.path.dirname(self.files[0]) or "."
        self.num_frames = len(self.files)
        self.size = (size[0], size[1]) if size is not None else image_size(self.files[0])
        if check_sizes:
            for f in self.files:
                s = image_size(f)
                if s != self.size:
                    raise DatasetError(
                        f"frame {f} is {s[0]}x{s[1]} but the sequence's first frame {self.files[0]} is "
                        f"{self.size[0]}x{self.size[1]}; all frames of a sequence must be the same size"
                    )

    def describe(self, index: int | None = None) -> str:
        return self.files[index] if index is not None else self.path

    def _read(self, indices, *, key, box):
        out = []
        cache: dict[int, np.ndarray] = {}
        for i in indices:
            if i not in cache:
                img = read_image(self.files[i])
                if img.shape[:2] != self.size:
                    raise DatasetError(
                        f"frame {self.files[i]} is {img.shape[0]}x{img.shape[1]}, expected "
                        f"{self.size[0]}x{self.size[1]} like {self.files[0]}"
                    )
                cache[i] = _crop(img, box)
            out.append(cache[i])
        return np.stack(out)


class ArraySequence(Sequence):
    """A clip held in memory: ``frames`` uint8 ``(n, h, w, 3)`` (stored as is) or float in [0, 1]."""

    def __init__(self, name: str, frames: np.ndarray, path: str | None = None):
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise DatasetError(f"sequence {name!r}: frames must be (n, h, w, 3), got {frames.shape}")
        if frames.dtype != np.uint8:
            frames = frames.astype(np.float32)
        self.name = name
        self.path = path or f"<array {name}>"
        self.frames = frames
        self.num_frames = int(frames.shape[0])
        self.size = (int(frames.shape[1]), int(frames.shape[2]))

    def _read(self, indices, *, key, box):
        out = _crop(self.frames[indices], box)
        return u8_to_float(out) if out.dtype == np.uint8 else out


class VideoSequence(Sequence):
    """A video file read with :func:`tga_keras.io.video.read_video` (the reader of ``tga upscale``).

    8-bit sources give uint8 frames (/255), sources of more than 8 bits float32 [0, 1] frames.
    ``in_memory=True`` decodes the whole video (or its first ``max_frames`` frames) once, on
    construction, and keeps the frames: exact frame count and fast random windows. Frames of more
    than 8 bits are kept as the decoder's 16-bit values (half the memory of float32) and read back
    bit-identical to the decoder's float32.
    ``in_memory=False`` trusts the container's frame count (counts the frames when it has none)
    and decodes from the first frame up to each window read (exact, slower for late windows);
    a window that cannot be decoded raises :class:`DatasetError`.
    """

    def __init__(
        self, path: str | os.PathLike, *, name: str | None = None, in_memory: bool = True, max_frames: int | None = None
    ):
        self.path = os.fspath(path)
        self.name = name or os.path.splitext(os.path.basename(self.path))[0]
        self.in_memory = in_memory
        self._lock = threading.Lock()
        self.frames: np.ndarray | None  # uint8 or uint16 (N, H, W, 3) when in memory
        if in_memory:
            frames = read_video(self.path, 0, None)
            if max_frames is not None:
                frames = frames[:max_frames]
            self.frames = _packed(frames)
            self.num_frames = int(self.frames.shape[0])
            self.size = (int(self.frames.shape[1]), int(self.frames.shape[2]))
        else:
            info = probe(self.path)
            self.frames = None
            n = info.num_frames if info.num_frames is not None else sum(1 for _ in iter_frames(self.path))
            self.num_frames = n if max_frames is None else min(n, max_frames)
            self.size = (info.height, info.width)

    def _read(self, indices, *, key, box):
        if self.frames is not None:
            out = self.frames[indices]
        else:
            lo, hi = min(indices), max(indices)
            span = read_video(self.path, lo, hi - lo + 1)
            if span.shape[1:3] != self.size:
                raise DatasetError(f"video {self.path}: frames {lo}..{hi} are {span.shape[1:3]}, expected {self.size}")
            out = span[[i - lo for i in indices]]
        return u8_to_float(_unpacked(_crop(out, box)))

    def iter_frames(self, *, key: int = 0):
        if self.frames is not None:
            for f in self.frames:
                yield u8_to_float(_unpacked(f))
            return
        for k, f in enumerate(frame.image for frame in iter_frames(self.path)):
            if k >= self.num_frames:
                return
            if f.shape[:2] != self.size:
                raise DatasetError(f"video {self.path}: frame {k} is {f.shape[:2]}, expected {self.size}")
            yield u8_to_float(f)


_U16 = np.float32(1.0 / 65535.0)  # the scale of io.video's wide frames: float32(k) * _U16, k the 16-bit value


def _packed(frames: np.ndarray) -> np.ndarray:
    """Float32 frames of a wide source as their 16-bit values where that is exact (frames of io.video's
    PyAV reader), else unchanged; uint8 frames unchanged."""
    if frames.dtype != np.float32:
        return frames
    packed = np.empty(frames.shape, np.uint16)
    for i, frame in enumerate(frames):  # frame by frame: no full-size temporaries beside the decoded frames
        values = np.rint(frame * np.float32(65535.0))
        np.clip(values, 0, 65535, out=values)
        packed[i] = values
        if not np.array_equal(_unpacked(packed[i]), frame):
            return frames
    return packed


def _unpacked(frames: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_packed`: uint16 -> float32 [0, 1] computed as io.video computes it."""
    if frames.dtype != np.uint16:
        return frames
    out = frames.astype(np.float32)
    out *= _U16
    return out


# --------------------------------------------------------------------------------- sources
class VimeoSeptuplets:
    """Vimeo-90K septuplets: ``<root>/sequences/<a>/<b>/im1.png .. im7.png`` listed in a list file.

    Args:
        root: dataset root holding ``sequences/`` and the list files.
        split: ``'train'`` (``sep_trainlist.txt``) or ``'test'`` (``sep_testlist.txt``).
        list_file: explicit list file (overrides ``split``); lines like ``00001/0001``.
        check_sizes: read every PNG header now (all frames of a septuplet must be the same size).
            With ``False`` (faster on the full 64k-septuplet set) only file existence is checked and
            every septuplet is assumed to be as large as the first one (Vimeo frames are 448x256);
            a mismatch then surfaces when the septuplet is decoded.
        limit: keep only the first ``limit`` entries of the list.
    """

    LIST_FILES = {"train": "sep_trainlist.txt", "test": "sep_testlist.txt"}
    FRAMES = 7

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        *,
        list_file: str | os.PathLike | None = None,
        check_sizes: bool = True,
        limit: int | None = None,
    ):
        self.root = os.fspath(root)
        if list_file is None:
            if split not in self.LIST_FILES:
                raise ValueError(f"split must be one of {sorted(self.LIST_FILES)}, got {split!r}")
            list_file = os.path.join(self.root, self.LIST_FILES[split])
        self.list_file = os.fspath(list_file)
        if not os.path.isfile(self.list_file):
            raise DatasetFileNotFoundError(f"Vimeo-90K list file not found: {self.list_file}")
        with open(self.list_file, encoding="utf-8") as f:
            entries = [ln.strip().strip("/") for ln in f if ln.strip()]
        if limit is not None:
            entries = entries[:limit]
        if not entries:
            raise DatasetError(f"Vimeo-90K list file {self.list_file} lists no septuplets")
        seq_root = os.path.join(self.root, "sequences")
        self.sequences: list[FrameSequence] = []
        first_size = None
        for entry in entries:
            folder = os.path.join(seq_root, *entry.split("/"))
            if not os.path.isdir(folder):
                raise DatasetFileNotFoundError(f"septuplet {entry!r} listed in {self.list_file} has no folder {folder}")
            files = [os.path.join(folder, f"im{k}.png") for k in range(1, self.FRAMES + 1)]
            missing = [os.path.basename(p) for p in files if not os.path.isfile(p)]
            if missing:
                present = len(files) - len(missing)
                raise DatasetError(f"septuplet {folder} has {present} of 7 frames; missing {', '.join(missing)}")
            seq = FrameSequence(
                entry, files, check_sizes=check_sizes, size=None if (check_sizes or first_size is None) else first_size
            )
            first_size = first_size or seq.size
            self.sequences.append(seq)

    def __len__(self) -> int:
        return len(self.sequences)


class FrameFolders:
    """Folders of frames (Vid4 / REDS layout): ``<root>/<sequence>/*.png|jpg``, frames in natural order.

    If ``root`` itself holds image files it is taken as a single sequence (named after the folder);
    otherwise every sub-folder holding images is a sequence (sub-folders without images are
    skipped). ``names`` keeps only the listed sequences. ``check_sizes``: as :class:`FrameSequence`.
    """

    def __init__(self, root: str | os.PathLike, *, names: Iterable[str] | None = None, check_sizes: bool = True):
        self.root = os.fspath(root)
        if not os.path.isdir(self.root):
            raise DatasetFileNotFoundError(f"frame folder not found: {self.root}")
        own = list_images(self.root)
        if own:
            folders = [(os.path.basename(os.path.normpath(self.root)), self.root, own)]
        else:
            subs = sorted(
                (d for d in os.listdir(self.root) if os.path.isdir(os.path.join(self.root, d))), key=natural_key
            )
            folders = []
            for d in subs:
                files = list_images(os.path.join(self.root, d))
                if files:
                    folders.append((d, os.path.join(self.root, d), files))
        if names is not None:
            wanted = list(names)
            found = {n for n, _, _ in folders}
            absent = [n for n in wanted if n not in found]
            if absent:
                raise DatasetFileNotFoundError(f"sequences {absent} not found under {self.root}")
            folders = [f for f in folders if f[0] in set(wanted)]
        if not folders:
            raise DatasetError(f"no image frames (png/jpg/...) found in {self.root} or its sub-folders")
        self.sequences = [FrameSequence(n, files, check_sizes=check_sizes) for n, _, files in folders]

    def __len__(self) -> int:
        return len(self.sequences)


class VideoFiles:
    """Video files (a path, a list of paths, or a folder of videos), one sequence per file.

    Every file is opened (and, with ``in_memory=True``, fully decoded) now, so unreadable,
    zero-byte or truncated videos raise :class:`DatasetError` naming the file immediately.
    """

    def __init__(
        self,
        paths: str | os.PathLike | Iterable[str | os.PathLike],
        *,
        in_memory: bool = True,
        max_frames: int | None = None,
    ):
        if isinstance(paths, (str, os.PathLike)):
            p = os.fspath(paths)
            if os.path.isdir(p):
                files = find_files(p, VIDEO_EXTENSIONS)
                if not files:
                    raise DatasetError(f"no video files ({', '.join(VIDEO_EXTENSIONS)}) in {p}")
            else:
                files = [p]
        else:
            files = [os.fspath(p) for p in paths]
        if not files:
            raise DatasetError("VideoFiles needs at least one video")
        self.sequences = [VideoSequence(f, in_memory=in_memory, max_frames=max_frames) for f in files]

    def __len__(self) -> int:
        return len(self.sequences)


def collect_sequences(sources) -> list[Sequence]:
    """Flatten a source, a :class:`Sequence`, or a list of either into a list of sequences."""
    if isinstance(sources, Sequence):
        return [sources]
    if hasattr(sources, "sequences"):
        return list(sources.sequences)
    out: list[Sequence] = []
    for s in sources:
        out.extend(collect_sequences(s))
    if not out:
        raise DatasetError("no sequences given")
    return out


__all__ = [
    "ArraySequence",
    "FrameFolders",
    "FrameSequence",
    "Sequence",
    "VideoFiles",
    "VideoSequence",
    "VimeoSeptuplets",
    "collect_sequences",
]
