"""Reading images as float32 RGB frames in [0, 1] (videos: :mod:`tga_keras.io.video`).

Image conversions (``cv2.imread(..., IMREAD_UNCHANGED)``, no EXIF rotation):

* 8-bit -> ``/ 255``; 16-bit -> ``/ 65535``; float32/float64 images are clipped to [0, 1];
  any other depth raises :class:`DatasetError`.
* grayscale ``(H, W)`` or ``(H, W, 1)`` -> the one channel repeated 3 times;
* BGR -> RGB; BGRA -> RGB (alpha dropped, not composited).

Videos are read and written in :mod:`tga_keras.io.video` (PyAV, OpenCV without it).
"""

from __future__ import annotations

import os
import re
import struct
from typing import Iterable

import cv2
import numpy as np

from tga_keras.errors import DatasetError, DatasetFileNotFoundError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def natural_key(name: str) -> list:
    """Sort key that orders embedded numbers numerically: ``f2.png`` < ``f10.png``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", os.fspath(name))]


def find_files(root: str | os.PathLike, extensions: Iterable[str]) -> list[str]:
    """Files directly in ``root`` whose names end with one of ``extensions`` (any case), natural order."""
    exts = tuple(e.lower() for e in extensions)
    root = os.fspath(root)
    names = [n for n in os.listdir(root) if n.lower().endswith(exts) and os.path.isfile(os.path.join(root, n))]
    return [os.path.join(root, n) for n in sorted(names, key=natural_key)]


def list_images(folder: str | os.PathLike) -> list[str]:
    """Image files directly inside ``folder`` (by extension), natural order."""
    return find_files(folder, IMAGE_EXTENSIONS)


def _check_file(path: str) -> None:
    if not os.path.isfile(path):
        raise DatasetFileNotFoundError(f"file not found: {path}")
    if os.path.getsize(path) == 0:
        raise DatasetError(f"empty (zero-byte) file: {path}")


def to_float_rgb(image: np.ndarray, path: str = "<array>") -> np.ndarray:
    """An OpenCV image (BGR/BGRA/gray; uint8, uint16 or float) -> float32 RGB ``(H, W, 3)`` in [0, 1]."""
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise DatasetError(f"unsupported image layout {image.shape} in {path}")
    if image.dtype == np.uint8:
        scale = 255.0
    elif image.dtype == np.uint16:
        scale = 65535.0
    elif image.dtype in (np.float32, np.float64):
        scale = None
    else:
        raise DatasetError(f"unsupported image depth {image.dtype} in {path} (need 8/16-bit or float)")
    c = image.shape[2]
    if c == 1:
        rgb = np.repeat(image, 3, axis=2)
    else:
        rgb = image[:, :, 2::-1]  # BGR(A) -> RGB, alpha dropped
    out = rgb.astype(np.float32)
    if scale is None:
        np.clip(out, 0.0, 1.0, out=out)
    else:
        out /= np.float32(scale)  # division (not * 1/255): correctly rounded, equals x / 255 in float32
    return np.ascontiguousarray(out)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as float32 RGB ``(H, W, 3)`` in [0, 1] (conversions: module docstring)."""
    path = os.fspath(path)
    _check_file(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)  # imdecode: also works for non-ASCII paths
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except (cv2.error, OSError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from exc
    if image is None:
        raise DatasetError(f"cannot decode image {path} (corrupt or unsupported format)")
    return to_float_rgb(image, path)


def _png_size(head: bytes):
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return int(h), int(w)
    return None


def _jpeg_size(f) -> tuple[int, int] | None:
    f.seek(2)
    while True:
        b = f.read(1)
        while b and b != b"\xff":
            b = f.read(1)
        while b == b"\xff":
            b = f.read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        seg = f.read(2)
        if len(seg) < 2:
            return None
        length = struct.unpack(">H", seg)[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            data = f.read(5)
            if len(data) < 5:
                return None
            h, w = struct.unpack(">HH", data[1:5])
            return int(h), int(w)
        f.seek(length - 2, 1)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of an image file, from the PNG/JPEG header when possible (else a decode)."""
    path = os.fspath(path)
    _check_file(path)
    size = None
    with open(path, "rb") as f:
        head = f.read(24)
        size = _png_size(head)
        if size is None and head[:2] == b"\xff\xd8":
            size = _jpeg_size(f)
    if size is None or min(size) <= 0:
        size = read_image(path).shape[:2]
    return int(size[0]), int(size[1])


def u8_to_float(frames: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1]; float frames (a video of more than 8 bits, already in [0, 1]) -> float32."""
    if np.issubdtype(frames.dtype, np.floating):
        return np.asarray(frames, dtype=np.float32)
    out = frames.astype(np.float32)
    out /= np.float32(255.0)
    return out


__all__ = [
    "IMAGE_EXTENSIONS",
    "find_files",
    "image_size",
    "list_images",
    "natural_key",
    "read_image",
    "to_float_rgb",
    "u8_to_float",
]
