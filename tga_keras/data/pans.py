"""Sub-pixel camera pans of still photographs: real textures with known motion, for measuring what neighbours add.

Each still image becomes one sequence of ``frames`` HR PNG frames of a smooth pan at constant
velocity ``v = (vx, vy)`` (HR pixels per frame), cropped to a fixed box at the centre of the
image (default 256x256). With ``c = frames // 2`` and ``(top, left)`` the box's corner:

    frame_t(y, x) = image(top + y + (t - c) * vy, left + x + (t - c) * vx)

so frame ``c`` is the crop itself (not resampled), frame ``t + 1`` is frame ``t`` moved by ``-v``
(``frame_{t+1}(p) = frame_t(p + v)``), and the scene content drifts by ``-v`` per frame. With a
zoom (``--max-zoom Z > 1``: a per-frame factor ``z`` drawn log-uniformly in ``[1/Z, Z]``), frame
``t`` also scales the image about its centre by ``z ** (t - c)`` (sampled at
``centre + (p - centre) * z ** (t - c)``, then shifted as above): a camera zooming while it pans. Frames are
sampled bicubically (:func:`tga_keras.data.synthetic.motion_frame`); every sample stays at
least 3 pixels inside the image (the box's travel, ``|v| * c``, and its growth under a zoom are
accounted for), so no border rule is ever used. Frames are 8-bit.

The speed: what neighbouring frames can add at scale ``s`` is *sub-pixel* motion in LR terms (an
LR pixel covers ``s`` HR pixels). A pan whose per-frame LR displacement ``v / s`` is a whole
number only repeats LR samples the reference already has. The speed is drawn uniformly in
``[min_speed, max_speed]`` HR px/frame (default 1 to 6: 0.25 to 1.5 LR px at x4) in a uniformly
random direction, and drawn again while both components of ``v / s`` lie within
:data:`MIN_LR_PHASE` of an integer. Randomness: sequence ``i`` (images in natural order) draws from
``numpy.random.default_rng([seed, i])``: the same seed gives the same pans.

Output layout (the Vid4/REDS "folder of frame folders" that ``tga evaluate OUT`` reads)::

    OUT/<image stem>/00000.png ... OUT/<image stem>/000NN.png
    OUT/pans.json        (each sequence's source image, velocity, box; the settings)

Command line: ``python -m training.tools pans IMAGES_DIR OUT_DIR [--frames N] [--min-speed PX]
[--max-speed PX] [--seed S] [--size HxW] [--scale S] [--overwrite]``. The output is written to a
temporary folder beside ``OUT_DIR`` and renamed into place; an existing non-empty ``OUT_DIR`` is
refused unless ``--overwrite``. Exit codes: 0 done, 2 bad arguments or unusable input.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Iterable, TextIO

import cv2
import numpy as np

from tga_keras.data.synthetic import motion_frame
from tga_keras.errors import DatasetError, DatasetFileNotFoundError
from tga_keras.io.images import IMAGE_EXTENSIONS, image_size, list_images, read_image

MIN_LR_PHASE = 0.1  # LR px: a velocity whose v / scale is this close to integers on both axes is drawn again
MARGIN = 3  # HR px kept between the farthest sample and the image edge (bicubic support + rounding)
FRAME_PATTERN = "{:05d}.png"
MANIFEST = "pans.json"


def draw_velocity(rng: np.random.Generator, speed: tuple[float, float] = (1.0, 6.0), scale: int = 4) -> np.ndarray:
    """A pan velocity ``(vx, vy)`` in HR px/frame: speed uniform in ``speed``, direction uniform.

    Drawn again (from the same ``rng``) while both ``vx / scale`` and ``vy / scale`` are within
    :data:`MIN_LR_PHASE` of an integer (whole-LR-pixel motion adds no new samples).
    """
    lo, hi = float(speed[0]), float(speed[1])
    for _ in range(1000):
        s = rng.uniform(lo, hi)
        a = rng.uniform(0.0, 2.0 * math.pi)
        v = np.array([s * math.cos(a), s * math.sin(a)])
        lr = v / scale
        if np.any(np.abs(lr - np.round(lr)) >= MIN_LR_PHASE):
            return v
    raise ValueError(f"cannot draw a sub-pixel velocity with speed in [{lo}, {hi}] at scale {scale}")


def required_size(box: tuple[int, int], frames: int, max_speed: float, max_zoom: float = 1.0) -> tuple[int, int]:
    """The smallest image ``(H, W)`` that holds a centred ``(h, w)`` pan of ``frames`` frames up to
    ``max_speed`` (HR px/frame) and a per-frame zoom up to ``max_zoom``."""
    reach = math.ceil(max_speed * (frames // 2)) + MARGIN
    grow = float(max_zoom) ** (frames // 2)
    return math.ceil(box[0] * grow) + 2 * reach, math.ceil(box[1] * grow) + 2 * reach


def pan_frames(image: np.ndarray, velocity, frames: int, box: tuple[int, int], zoom: float = 1.0) -> np.ndarray:
    """The frames of one pan (module docstring), uint8 RGB ``(frames, h, w, 3)``.

    ``image``: float32 RGB ``(H, W, 3)`` in [0, 1]; ``velocity``: ``(vx, vy)`` HR px/frame; ``box``:
    ``(h, w)``, centred; ``zoom``: per-frame zoom factor (1: none). Raises ``ValueError`` if the
    pan would leave the image.
    """
    H, W = image.shape[:2]
    h, w = box
    top, left = (H - h) // 2, (W - w) // 2
    c = frames // 2
    vx, vy = float(velocity[0]), float(velocity[1])
    grow = max(float(zoom), 1.0 / float(zoom)) ** c
    rx = abs(vx) * c + (w - 1) / 2.0 * (grow - 1.0)
    ry = abs(vy) * c + (h - 1) / 2.0 * (grow - 1.0)
    if (
        top - ry < MARGIN
        or top + h - 1 + ry > H - 1 - MARGIN
        or left - rx < MARGIN
        or left + w - 1 + rx > W - 1 - MARGIN
    ):
        raise ValueError(f"a {h}x{w} pan of {frames} frames at ({vx:.2f}, {vy:.2f}) px/frame leaves a {H}x{W} image")
    out = np.empty((frames, h, w, 3), np.uint8)
    for t in range(frames):
        z = float(zoom) ** (t - c)
        f = motion_frame(image, ((t - c) * vx, (t - c) * vy), 0.0, z, (top, left, h, w), cv2.INTER_CUBIC)
        out[t] = (np.clip(f, 0.0, 1.0) * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
    return out


def _image_list(images) -> list[str]:
    if isinstance(images, (str, os.PathLike)):
        path = os.fspath(images)
        if os.path.isdir(path):
            files = list_images(path)
            if not files:
                raise DatasetError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {path}")
            return files
        if not os.path.exists(path):
            raise DatasetFileNotFoundError(f"no such image or folder: {path}")
        return [path]
    files = [os.fspath(p) for p in images]
    if not files:
        raise DatasetError("no images given")
    return files


def _checked_settings(
    frames: int, speed: tuple[float, float], scale: int, max_zoom: float, size: tuple[int, int]
) -> tuple[float, float, float, tuple[int, int]]:
    """``(min speed, max speed, max_zoom, (h, w))`` of :func:`write_pans`'s arguments; ValueError if one is bad."""
    if isinstance(frames, bool) or int(frames) != frames or frames < 2:
        raise ValueError(f"frames must be an integer >= 2, got {frames!r}")
    lo, hi = (float(v) for v in speed)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"speed must be 0 < min <= max (HR px/frame), got min {lo}, max {hi}")
    if isinstance(scale, bool) or int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be an integer >= 1, got {scale!r}")
    max_zoom = float(max_zoom)
    if not (math.isfinite(max_zoom) and 1.0 <= max_zoom <= 1.5):
        raise ValueError(f"max_zoom must be between 1 (no zoom) and 1.5 per frame, got {max_zoom:g}")
    h, w = (int(v) for v in size)
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return lo, hi, max_zoom, (h, w)


def _plan_pans(
    images: str | os.PathLike | Iterable[str | os.PathLike],
    frames: int,
    speed: tuple[float, float],
    seed: int,
    size: tuple[int, int],
    scale: int,
    max_zoom: float,
) -> tuple[list[tuple], list[str], str]:
    """Per usable image ``(name, path, velocity, zoom, box)``, drawn from ``seed`` and the image's
    index; the images too small (``"path (HxW)"``) and why they are. ValueError if no image is left
    or two images share a name."""
    (h, w), (lo, hi) = size, speed
    files = _image_list(images)
    names = [os.path.splitext(os.path.basename(f))[0] for f in files]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"images with the same name (one sequence folder each): {', '.join(dup)}")
    need = required_size((h, w), frames, hi, max_zoom)
    plan, skipped = [], []
    for i, (name, path) in enumerate(zip(names, files, strict=True)):
        H, W = image_size(path)
        if H < need[0] or W < need[1]:
            skipped.append(f"{path} ({H}x{W})")
            continue
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, i])
        v = draw_velocity(rng, (lo, hi), scale)
        z = math.exp(rng.uniform(-math.log(max_zoom), math.log(max_zoom))) if max_zoom > 1 else 1.0
        plan.append((name, path, v, z, ((H - h) // 2, (W - w) // 2, h, w)))
    why = f"a {h}x{w} pan of {frames} frames at up to {hi:g} px/frame needs {need[0]}x{need[1]} pixels"
    if max_zoom > 1:
        why = why.replace(" needs", f" and zoom up to {max_zoom:g} per frame needs")
    if not plan:
        raise ValueError(f"no image is large enough: {why} (use a smaller --size or --max-speed)")
    return plan, skipped, why


def write_pans(
    images: str | os.PathLike | Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    frames: int = 15,
    speed: tuple[float, float] = (1.0, 6.0),
    seed: int = 0,
    size: tuple[int, int] = (256, 256),
    scale: int = 4,
    max_zoom: float = 1.0,
    overwrite: bool = False,
    log: TextIO | None = None,
) -> dict:
    """Write one folder of pan frames per still image into ``out_dir`` (module docstring); returns the manifest.

    Args:
        images: a folder of images (natural order), one image path, or a list of image paths.
        frames: frames per sequence (>= 2); frame ``frames // 2`` is the unresampled centre crop.
        speed: ``(min, max)`` HR px/frame, ``0 < min <= max``.
        size: ``(h, w)`` of the HR frames, the centre box of each image.
        scale: the SR scale the motion is made sub-pixel for (LR px = ``scale`` HR px).
        max_zoom: ``>= 1``; above 1 each sequence also zooms by a per-frame factor drawn
            log-uniformly in ``[1/max_zoom, max_zoom]`` (module docstring).
        overwrite: replace a non-empty ``out_dir`` (an empty one is always replaced).
        log: a file for one note per skipped image (images too small for the pan); default stderr.

    Images too small for ``size`` plus the farthest possible travel (:func:`required_size`) are
    skipped with a note; ``ValueError`` if none is left, for bad arguments, duplicate image names,
    and ``FileExistsError`` for a non-empty ``out_dir`` without ``overwrite``. The manifest
    (``pans.json``): the settings, the skipped images and, per sequence, ``source``, ``velocity``
    ``[vx, vy]`` (HR px/frame), ``lr_velocity`` (``velocity / scale``), ``speed`` and ``box``
    ``[top, left, h, w]`` (and ``zoom``, the per-frame factor, when ``max_zoom > 1``).
    """
    from tga_keras.io.files import atomic_path

    log = sys.stderr if log is None else log
    lo, hi, max_zoom, (h, w) = _checked_settings(frames, speed, scale, max_zoom, size)
    out_dir = os.fspath(out_dir)
    if os.path.exists(out_dir) and not overwrite and (not os.path.isdir(out_dir) or os.listdir(out_dir)):
        raise FileExistsError(f"{out_dir} exists and is not empty; pass --overwrite to replace it")
    plan, skipped, why = _plan_pans(images, int(frames), (lo, hi), seed, (h, w), int(scale), max_zoom)
    for item in skipped:
        print(f"pans: skipped {item}: {why}", file=log)
    manifest: dict[str, Any] = {
        "frames": int(frames),
        "size": [h, w],
        "scale": int(scale),
        "speed_range": [lo, hi],
        "seed": int(seed),
        "max_zoom": max_zoom,
        "reference_frame": int(frames) // 2,
        "skipped": skipped,
        "convention": "frame_t(y, x) = image(top + y + (t - c) * vy, left + x + (t - c) * vx), c = frames // 2; "
        "frame t+1 is frame t moved by -velocity (bicubic, 8-bit PNG); with a zoom z, frame t first samples "
        "the image at centre + (p - centre) * z ** (t - c)",
        "sequences": {},
    }
    with atomic_path(out_dir, overwrite=True) as tmp:
        os.makedirs(tmp)
        for name, path, v, z, box in plan:
            clip = pan_frames(read_image(path), v, int(frames), (h, w), z)
            folder = os.path.join(tmp, name)
            os.makedirs(folder)
            for t, frame in enumerate(clip):
                target = os.path.join(folder, FRAME_PATTERN.format(t))
                if not cv2.imwrite(target, np.ascontiguousarray(frame[..., ::-1])):
                    raise OSError(f"cannot write {target}")
            manifest["sequences"][name] = {
                "source": os.path.abspath(path),
                "velocity": [float(v[0]), float(v[1])],
                "lr_velocity": [float(v[0]) / scale, float(v[1]) / scale],
                "speed": float(np.hypot(*v)),
                "box": [int(b) for b in box],
            }
            if max_zoom > 1:
                manifest["sequences"][name]["zoom"] = z
        with open(os.path.join(tmp, MANIFEST), "w") as f:
            json.dump(manifest, f, indent=2)
    return manifest


__all__ = ["draw_velocity", "pan_frames", "required_size", "write_pans"]
