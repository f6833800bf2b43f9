"""Small look-alike datasets on disk (tests, docs, smoke runs): Vimeo-90K trees, frame folders, videos.

Frames are smooth random uint8 RGB images (a low-resolution noise field upsampled plus a moving
gradient), so degradations and motion behave like real content.
"""

from __future__ import annotations

import os

import cv2
import numpy as np


def random_frames(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """``n`` smooth, slowly moving uint8 RGB frames ``(n, height, width, 3)``."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255, size=(max(2, height // 8), max(2, width // 8), 3)).astype(np.float32)
    big = cv2.resize(base, (width + 2 * n, height + 2 * n), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:height, 0:width]
    out = []
    for t in range(n):
        f = big[t : t + height, 2 * t : 2 * t + width] * 0.8 + 0.2 * 255 * ((xx + yy + 3 * t) % 64)[..., None] / 64
        out.append(np.clip(f + rng.normal(0, 4, f.shape), 0, 255).astype(np.uint8))
    return np.stack(out)


def write_frames(folder: str, frames: np.ndarray, pattern: str = "{:d}.png", start: int = 0) -> list[str]:
    """Write RGB uint8/uint16 frames as images named ``pattern.format(i)``; returns the paths."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i, f in enumerate(frames):
        p = os.path.join(folder, pattern.format(i + start))
        img = f[..., ::-1] if f.ndim == 3 and f.shape[2] == 3 else f
        if not cv2.imwrite(p, np.ascontiguousarray(img)):
            raise OSError(f"cv2.imwrite failed for {p}")
        paths.append(p)
    return paths


def write_vimeo_tree(
    root: str,
    entries=("00001/0001", "00001/0002", "00002/0001"),
    height: int = 48,
    width: int = 64,
    test_entries=None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """A Vimeo-90K septuplet tree: ``sequences/<entry>/im1..im7.png`` plus both list files.

    ``test_entries`` (default: the last entry) go to ``sep_testlist.txt``, the rest to
    ``sep_trainlist.txt``. Returns ``{entry: uint8 frames (7, h, w, 3)}``.
    """
    entries = list(entries)
    test_entries = list(test_entries) if test_entries is not None else entries[-1:]
    train = [e for e in entries if e not in test_entries]
    out = {}
    for k, e in enumerate(entries):
        frames = random_frames(7, height, width, seed + k)
        write_frames(os.path.join(root, "sequences", *e.split("/")), frames, "im{:d}.png", start=1)
        out[e] = frames
    for name, lst in (("sep_trainlist.txt", train), ("sep_testlist.txt", test_entries)):
        with open(os.path.join(root, name), "w") as f:
            f.write("".join(e + "\n" for e in lst))
    return out


def write_video(path: str, frames: np.ndarray, fps: float = 25.0, fourcc: str = "MJPG") -> str:
    """Write RGB uint8 frames with ``cv2.VideoWriter`` (MJPG in .avi works with opencv-python wheels)."""
    n, h, w, _ = frames.shape
    writer = cv2.VideoWriter(path, cv2.VideoWriter.fourcc(*fourcc), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"cv2.VideoWriter cannot write {path} with fourcc {fourcc}")
    for f in frames:
        writer.write(np.ascontiguousarray(f[..., ::-1]))
    writer.release()
    return path


__all__ = ["random_frames", "write_frames", "write_video", "write_vimeo_tree"]
