"""Synthetic motion: moving sequences made from still images, for training when few videos are at hand.

Frame ``t`` of a synthetic sequence samples the still image at ``c + A_t (p - c) + d_t`` (``p`` an
output pixel, ``c`` the image centre), with ``A_t = zoom_t * R(angle_t)``. The trajectory is smooth
(constant velocity plus constant acceleration, in time relative to the centre frame):
``d_t = v t + a t^2 / 2``, ``angle_t = w t + alpha t^2 / 2``, ``zoom_t = exp(z t)``; so the centre
frame is the still image itself and neighbours move sub-pixel amounts. Sampling is
``cv2.warpAffine`` (bicubic by default, reflect-101 border), clipped to [0, 1].

Local motion (``MotionRange.objects > 0``): each sequence also draws 0 to ``objects`` moving
objects, elliptical pieces of the same still image taken from elsewhere in it (a random offset ``o``),
each with a trajectory of its own, ``e_t = u t + b t^2 / 2`` (``u`` uniform in
``[-object_velocity, object_velocity]``, ``b`` in ``[-acceleration, acceleration]`` per axis), pasted
over the camera-moved background in the frames that are read (a crop box or the whole image). At
output pixel ``p`` of frame ``t`` an object shows the still image at ``p + o + e_t`` inside its
ellipse, the ellipse moving with it (centred on ``m - e_t``, ``m`` uniform in the frame read), with
an anti-aliased edge about one pixel wide: parts of the frame move differently, and objects hide and
uncover the background, as in real video. Size: the diameter of the circle of the same area is
uniform in ``[1/2, 1] * object_size`` times the smaller side of the frames read, the aspect ratio
log-uniform in ``[1/2, 2]`` (so the long axis reaches ``sqrt(2) * object_size`` of that side).
With objects the centre frame is no longer the still image itself. Placement and size are relative
to the frames read, so a crop box gets its own objects (a box read is then not a crop of the whole
frame), and a whole photograph read for validation gets proportionally larger ones.

Reading: a still given by path is decoded once and kept in memory (float32) for the samples that follow, up
to :data:`STILL_CACHE_BYTES` for all stills together, the least recently used dropped first (a file
changed on disk is decoded again). Training draws many windows from each photograph; decoding a
540x960 PNG took 16 ms here, most of a 7-frame 128-pixel window's 21 ms.

Randomness: the trajectory of sequence ``i`` read with key ``k`` comes from
``numpy.random.default_rng([seed, i, k])`` (the objects are drawn after the camera's, from the same
generator): deterministic under ``seed``; the training pipeline passes a fresh key per sample,
evaluation key 0.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import threading
from typing import Iterable

import cv2
import numpy as np

from tga_keras.data.sources import Sequence
from tga_keras.errors import DatasetError, DatasetFileNotFoundError
from tga_keras.io.images import image_size, list_images, read_image, u8_to_float
from tga_keras.io.video import read_video

MAX_OBJECTS = 16  # most moving objects per sequence (each costs a warp of its bounding box per frame)
STILL_CACHE_BYTES = 1 << 30  # decoded stills kept in memory, all sources together (module docstring)


class _StillCache:
    """Decoded still images (read-only float32 arrays) by path, each with the file's identity when it was
    read (``stat``: inode, size, modification and change times; a file changed since is decoded again and
    replaces its entry), the least recently used dropped past ``max_bytes``. Thread-safe: tf.data reads
    samples on several threads (two threads may decode the same new still at once; one copy is kept)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: collections.OrderedDict[str, tuple[tuple[int, ...], np.ndarray]] = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def read(self, path: str) -> np.ndarray:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise DatasetFileNotFoundError(f"file not found: {path}") from None
        identity = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        with self._lock:
            entry = self._items.get(path)
            if entry is not None and entry[0] == identity:
                self._items.move_to_end(path)
                return entry[1]
        image = read_image(path)  # outside the lock: threads decode different stills at once
        image.flags.writeable = False
        with self._lock:
            old = self._items.pop(path, None)
            if old is not None:
                self._bytes -= old[1].nbytes
            if image.nbytes <= self.max_bytes:
                self._items[path] = (identity, image)
                self._bytes += image.nbytes
                while self._bytes > self.max_bytes:
                    _, (_, dropped) = self._items.popitem(last=False)
                    self._bytes -= dropped.nbytes
        return image

    @property
    def nbytes(self) -> int:
        return self._bytes


_STILLS = _StillCache(STILL_CACHE_BYTES)


@dataclasses.dataclass(frozen=True)
class MotionRange:
    """Largest magnitudes drawn (uniform in ``[-max, max]``), per frame of time, HR pixels/degrees."""

    velocity: float = 3.0  # px / frame
    acceleration: float = 0.5  # px / frame^2
    rotation: float = 0.5  # degrees / frame
    angular_acceleration: float = 0.1  # degrees / frame^2
    zoom: float = 0.01  # log-scale / frame (1 % per frame)
    objects: int = 0  # local motion: each sequence draws 0..objects moving objects (module docstring)
    object_velocity: float = 3.0  # px / frame, each object's own (its acceleration: ``acceleration``)
    object_size: float = 0.5  # largest equal-area diameter, as a fraction of the frame's smaller side

    def __post_init__(self) -> None:
        if self.objects != int(self.objects) or not 0 <= self.objects <= MAX_OBJECTS:
            raise ValueError(f"objects must be a whole number in [0, {MAX_OBJECTS}], got {self.objects!r}")
        object.__setattr__(self, "objects", int(self.objects))
        if not 0 < self.object_size <= 1:
            raise ValueError(f"object_size must be in (0, 1], got {self.object_size!r}")


@dataclasses.dataclass(frozen=True, eq=False)
class MovingObject:
    """One object of the local motion (module docstring), in the frames read: ``centre`` ``m`` (x, y)
    and ``radii`` (rx, ry) in output pixels at the centre frame, ``offset`` ``o`` (x, y) into the still
    image, ``shift`` ``e_t`` per frame ``(length, 2)`` (frame ``length // 2``: zero)."""

    centre: tuple[float, float]
    radii: tuple[float, float]
    offset: tuple[float, float]
    shift: np.ndarray


def random_objects(
    rng: np.random.Generator, length: int, frame_hw: tuple[int, int], image_hw: tuple[int, int], motion: MotionRange
) -> list[MovingObject]:
    """The moving objects of one sequence (none if ``motion.objects`` is 0; no draw is made then)."""
    if motion.objects == 0:
        return []
    h, w = frame_hw
    t = np.arange(length, dtype=np.float64) - length // 2
    out = []
    for _ in range(int(rng.integers(0, motion.objects + 1))):
        centre = (float(rng.uniform(0, w)), float(rng.uniform(0, h)))
        r = rng.uniform(0.25, 0.5) * motion.object_size * min(h, w)
        aspect = math.exp(rng.uniform(-math.log(2), math.log(2)))
        radii = (max(1.0, r * math.sqrt(aspect)), max(1.0, r / math.sqrt(aspect)))
        offset = (
            float(rng.uniform(-image_hw[1] / 2, image_hw[1] / 2)),
            float(rng.uniform(-image_hw[0] / 2, image_hw[0] / 2)),
        )
        u = rng.uniform(-motion.object_velocity, motion.object_velocity, size=2)
        b = rng.uniform(-motion.acceleration, motion.acceleration, size=2)
        shift = u[None, :] * t[:, None] + 0.5 * b[None, :] * (t * t)[:, None]
        out.append(MovingObject(centre, radii, offset, shift))
    return out


def object_mask(obj: MovingObject, frame: int, hw: tuple[int, int], origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Coverage in [0, 1] of ``obj`` at ``frame``, float32 ``(h, w, 1)``, over the ``hw`` part of the frame
    whose top-left pixel is ``origin = (y, x)``: 1 inside the ellipse, 0 outside, linear across a band
    about one pixel wide at its edge (the distance to the edge to first order)."""
    ex, ey = obj.shift[frame]
    ys = np.arange(origin[0], origin[0] + hw[0], dtype=np.float64)[:, None]
    xs = np.arange(origin[1], origin[1] + hw[1], dtype=np.float64)[None, :]
    dx = (xs + ex - obj.centre[0]) / obj.radii[0]
    dy = (ys + ey - obj.centre[1]) / obj.radii[1]
    n = np.sqrt(dx * dx + dy * dy)  # 1 on the ellipse
    grad = np.sqrt((dx / obj.radii[0]) ** 2 + (dy / obj.radii[1]) ** 2)  # |grad n| * n
    dist = (n - 1.0) * n / np.maximum(grad, 1e-12)  # pixels outside the edge (negative inside)
    dist[n < 1e-6] = -1.0  # the centre itself (0 / 0 above)
    return np.clip(0.5 - dist, 0.0, 1.0).astype(np.float32)[..., None]


def object_bounds(obj: MovingObject, frame: int, hw: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """``(top, left, height, width)`` of the part of an ``hw`` frame that ``obj`` can cover at ``frame``
    (its ellipse's bounding box plus the edge band, clipped), or ``None`` when it is outside."""
    cx, cy = obj.centre[0] - obj.shift[frame][0], obj.centre[1] - obj.shift[frame][1]
    x0, x1 = max(0, math.floor(cx - obj.radii[0] - 1)), min(hw[1], math.ceil(cx + obj.radii[0] + 2))
    y0, y1 = max(0, math.floor(cy - obj.radii[1] - 1)), min(hw[0], math.ceil(cy + obj.radii[1] + 2))
    if x1 <= x0 or y1 <= y0:
        return None
    return y0, x0, y1 - y0, x1 - x0


def random_trajectory(rng: np.random.Generator, length: int, motion: MotionRange = MotionRange()):
    """Per-frame ``(shift (length, 2) as (dx, dy), angle_deg (length,), zoom (length,))``; frame
    ``length // 2`` is identity."""
    t = np.arange(length, dtype=np.float64) - length // 2
    v = rng.uniform(-motion.velocity, motion.velocity, size=2)
    a = rng.uniform(-motion.acceleration, motion.acceleration, size=2)
    w = rng.uniform(-motion.rotation, motion.rotation)
    alpha = rng.uniform(-motion.angular_acceleration, motion.angular_acceleration)
    z = rng.uniform(-motion.zoom, motion.zoom)
    shift = v[None, :] * t[:, None] + 0.5 * a[None, :] * (t * t)[:, None]
    angle = w * t + 0.5 * alpha * t * t
    zoom = np.exp(z * t)
    return shift, angle, zoom


def _reflect101(idx: np.ndarray, n: int) -> np.ndarray:
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * n - 2
    m = np.mod(idx, period)
    return np.where(m < n, m, period - m)


def motion_frame(
    image: np.ndarray, shift, angle_deg: float, zoom: float, box=None, interpolation: int = cv2.INTER_CUBIC
) -> np.ndarray:
    """One frame of the motion model (module docstring), float32 ``(h, w, 3)``.

    ``image``: float32 ``(H, W, 3)``. ``box = (top, left, h, w)`` returns only that part of the
    warped frame (computed from the needed neighbourhood only; equals cropping the full warped
    frame up to OpenCV's 1/32-pixel coordinate rounding).
    """
    H, W = image.shape[:2]
    top, left, h, w = box if box is not None else (0, 0, H, W)
    if shift[0] == 0 and shift[1] == 0 and angle_deg == 0 and zoom == 1:
        return image[top : top + h, left : left + w].copy()
    c = np.array([(W - 1) / 2.0, (H - 1) / 2.0])
    th = math.radians(angle_deg)
    A = zoom * np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    d = np.asarray(shift, dtype=np.float64)
    # source positions of the box corners -> the input region needed (plus the cubic support)
    corners = np.array([[left, top], [left + w - 1, top], [left, top + h - 1], [left + w - 1, top + h - 1]], float)
    src = c + (corners - c) @ A.T + d
    x0, y0 = np.floor(src.min(axis=0)).astype(int) - 3
    x1, y1 = np.ceil(src.max(axis=0)).astype(int) + 3
    rows = _reflect101(np.arange(y0, y1 + 1), H)
    cols = _reflect101(np.arange(x0, x1 + 1), W)
    region = image[rows[:, None], cols[None, :]]
    # region-local inverse map: q (box-local) -> A q + A (o_out - c) + c + d - o_in
    o_out = np.array([left, top], float)
    o_in = np.array([x0, y0], float)
    M = np.concatenate([A, (A @ (o_out - c) + c + d - o_in)[:, None]], axis=1)
    out = cv2.warpAffine(
        region, M, (w, h), flags=interpolation | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT_101
    )
    return np.clip(out, 0.0, 1.0, out=out)


class SyntheticSequence(Sequence):
    """``length`` frames of smooth random motion over one still image (see module docstring)."""

    def __init__(
        self,
        name: str,
        image,
        *,
        length: int = 7,
        seed: int = 0,
        index: int = 0,
        motion: MotionRange = MotionRange(),
        interpolation: int = cv2.INTER_CUBIC,
        size: tuple[int, int] | None = None,
    ):
        self.name = name
        self._image = image  # path (read lazily) or uint8/float array (h, w, 3)
        if isinstance(image, (str, os.PathLike)):
            self.path = self._image = os.fspath(image)
            if size is None:
                size = image_size(self.path)
        else:
            arr = np.asarray(image)
            if arr.ndim != 3 or arr.shape[2] != 3:
                raise DatasetError(f"synthetic source {name!r}: image must be (h, w, 3), got {arr.shape}")
            self._image = arr
            self.path = f"<image {name}>"
            size = arr.shape[:2]
        self.size = (int(size[0]), int(size[1]))
        self.num_frames = int(length)
        self.seed, self.index = int(seed), int(index)
        self.motion, self.interpolation = motion, interpolation

    def still(self) -> np.ndarray:
        """The still image, float32 ``(H, W, 3)`` in [0, 1] (read-only when read from a file: it is shared
        through the cache of decoded stills)."""
        if isinstance(self._image, str):
            img = _STILLS.read(self._image)
            if img.shape[:2] != self.size:
                raise DatasetError(f"image {self._image} is {img.shape[:2]}, expected {self.size}")
            return img
        return u8_to_float(self._image) if self._image.dtype == np.uint8 else self._image.astype(np.float32)

    def _motion(self, key: int, box):
        """``(camera trajectory, moving objects)`` of the frames read with ``key`` and ``box``: one
        generator, the camera's draws first."""
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, self.index, int(key) & 0xFFFFFFFFFFFFFFFF])
        trajectory = random_trajectory(rng, self.num_frames, self.motion)
        frame_hw = (box[2], box[3]) if box is not None else self.size
        return trajectory, random_objects(rng, self.num_frames, frame_hw, self.size, self.motion)

    def trajectory(self, key: int = 0):
        """The camera's ``(shift, angle, zoom)`` per frame (:func:`random_trajectory`)."""
        return self._motion(key, None)[0]

    def objects(self, key: int = 0, box=None) -> list[MovingObject]:
        """The moving objects of the frames read with ``key`` and ``box`` (none without local motion)."""
        return self._motion(key, box)[1]

    def _frame(self, img, i, trajectory, objects, box) -> np.ndarray:
        shift, angle, zoom = trajectory
        out = motion_frame(img, shift[i], angle[i], zoom[i], box, self.interpolation)
        top, left = (box[0], box[1]) if box is not None else (0, 0)
        for obj in objects:  # each drawn over its bounding box only
            bounds = object_bounds(obj, i, out.shape[:2])
            if bounds is None:
                continue
            y, x, h, w = bounds
            part = (top + y, left + x, h, w)
            texture = motion_frame(img, np.add(obj.offset, obj.shift[i]), 0.0, 1.0, part, self.interpolation)
            mask = object_mask(obj, i, (h, w), (y, x))
            out[y : y + h, x : x + w] = mask * texture + (1.0 - mask) * out[y : y + h, x : x + w]
        return out

    def _read(self, indices, *, key, box):
        img = self.still()
        trajectory, objects = self._motion(key, box)
        return np.stack([self._frame(img, i, trajectory, objects, box) for i in indices])

    def iter_frames(self, *, key: int = 0):
        img = self.still()
        trajectory, objects = self._motion(key, None)
        for i in range(self.num_frames):
            yield self._frame(img, i, trajectory, objects, None)


class SyntheticMotion:
    """A source of :class:`SyntheticSequence`, one per still image.

    Build with ``SyntheticMotion(images)`` (paths or ``(h, w, 3)`` arrays, uint8 or float [0, 1]),
    :meth:`from_folder` (every image in a folder, natural order) or :meth:`from_videos` (``per_video``
    frames evenly spaced in each video).
    """

    def __init__(
        self,
        images: Iterable,
        *,
        length: int = 7,
        seed: int = 0,
        motion: MotionRange = MotionRange(),
        interpolation: int = cv2.INTER_CUBIC,
        names: Iterable[str] | None = None,
    ):
        images = list(images)
        if not images:
            raise DatasetError("SyntheticMotion needs at least one still image")
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        names = (
            list(names)
            if names is not None
            else [
                os.path.splitext(os.path.basename(os.fspath(im)))[0]
                if isinstance(im, (str, os.PathLike))
                else f"still{i}"
                for i, im in enumerate(images)
            ]
        )
        if len(names) != len(images):
            raise DatasetError(f"SyntheticMotion: {len(names)} names for {len(images)} images")
        self.sequences = [
            SyntheticSequence(n, im, length=length, seed=seed, index=i, motion=motion, interpolation=interpolation)
            for i, (n, im) in enumerate(zip(names, images, strict=True))
        ]

    @classmethod
    def from_folder(cls, folder, **kwargs) -> "SyntheticMotion":
        if not os.path.isdir(folder):
            raise DatasetFileNotFoundError(f"image folder not found: {folder}")
        files = list_images(folder)
        if not files:
            raise DatasetError(f"no images in {folder}")
        return cls(files, **kwargs)

    @classmethod
    def from_videos(cls, paths, per_video: int = 1, **kwargs) -> "SyntheticMotion":
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        images, names = [], []
        for p in paths:
            frames = read_video(p)
            picks: np.ndarray | list[int] = []
            if per_video > 0:
                picks = np.linspace(0, len(frames) - 1, per_video + 2)[1:-1].round().astype(int)
            stem = os.path.splitext(os.path.basename(os.fspath(p)))[0]
            for k in picks:
                images.append(frames[k])
                names.append(f"{stem}@{k}")
        return cls(images, names=names, **kwargs)

    def __len__(self) -> int:
        return len(self.sequences)


__all__ = [
    "MotionRange",
    "MovingObject",
    "SyntheticMotion",
    "SyntheticSequence",
    "object_bounds",
    "object_mask",
    "random_objects",
    "random_trajectory",
    "motion_frame",
]
