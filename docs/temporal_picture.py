"""The picture of what the neighbouring frames add: ``docs/temporal_gain.png``.

    .venv/bin/python docs/temporal_picture.py SEQUENCE OUT.png --weights MODEL [--frame N] [--size N] [--overwrite]

SEQUENCE is one folder of HR frames (for instance one pan written by ``python -m training.tools pans``).
They are degraded by the official BD x4 (as ``tga evaluate --protocol plain``), and the window of
frame N (default: the middle one) is upscaled twice through the inference core: as it is, and as
seven copies of its reference frame (the static input of ``tga evaluate --temporal-ablation``).
The picture: LR (nearest) | bicubic | TGA on seven copies | TGA on the seven frames | HR, of the
crop where the seven frames beat the seven copies most, each with its PSNR-Y over the whole frame
(8-pixel border cropped). The difference between the two TGA panels is the temporal gain.

An existing OUT.png is replaced only with ``--overwrite`` (written to a temporary file, then renamed).
Exit codes: 0 written; 2 bad arguments or unusable input.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

CROP_BORDER = 8


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python docs/temporal_picture.py",
        description=__doc__.split("\n\n", 2)[2].rsplit("\n\n", 1)[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("sequence", help="folder of HR frames (PNG/JPEG), in name order")
    p.add_argument("output", help="picture to write (.png)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--weights", required=True, help="model (.keras) or exported artifact")
    p.add_argument("--frame", type=int, default=None, help="reference frame (default: the middle one)")
    p.add_argument(
        "--size", type=int, default=None, help="side of the square crop, HR px (default: half the frame, at most 128)"
    )
    return p


def temporal_picture(sequence: str, weights: str, frame: int | None = None, size: int | None = None):
    """``(picture uint8 (h, w, 3), figures dict)`` for the ``frame``-th frame of ``sequence``."""
    from tga_keras.data.eval_pipeline import modcrop
    from tga_keras.evaluation.metrics import psnr_y, rgb_to_y
    from tga_keras.evaluation.pictures import best_box, comparison_strip, default_crop_size, default_zoom
    from tga_keras.io.images import list_images, read_image
    from tga_keras.preprocess.degradation import bd_degrade
    from tga_keras.preprocess.resize import imresize
    from tga_keras.runtime.backends import load_backend
    from tga_keras.runtime.upscaler import Upscaler
    from tga_keras.runtime.windows import sequence_windows

    paths = list_images(sequence)
    if not paths:
        raise ValueError(f"{sequence}: no frames")
    hr = np.stack([read_image(p) for p in paths])
    backend = load_backend(weights)
    s, n = backend.scale, backend.frames
    frame = len(paths) // 2 if frame is None else frame
    if not 0 <= frame < len(paths):
        raise ValueError(f"--frame {frame}: the sequence has {len(paths)} frames")
    hr = modcrop(hr, s)
    lr = bd_degrade(hr, s)
    window = lr[sequence_windows(len(lr), n)[frame]]
    up = Upscaler(backend)
    sr = np.clip(up.upscale_window(window), 0, 1)
    static = np.clip(up.upscale_window(np.repeat(window[n // 2][None], n, axis=0)), 0, 1)
    bicubic = np.clip(imresize(lr[frame], s), 0, 1)
    target = hr[frame]
    figures = {
        name: psnr_y(img, target, CROP_BORDER) for name, img in (("bicubic", bicubic), ("static", static), ("tga", sr))
    }
    # where the seven frames beat the seven copies most: the decrease of the absolute Y error
    y_target = rgb_to_y(target)
    gain = np.abs(rgb_to_y(static) - y_target) - np.abs(rgb_to_y(sr) - y_target)
    gain[:CROP_BORDER], gain[-CROP_BORDER:], gain[:, :CROP_BORDER], gain[:, -CROP_BORDER:] = 0, 0, 0, 0
    h, w = target.shape[:2]
    side = size or default_crop_size(h, w, s)
    side -= side % s
    crop = best_box(gain, side, side, grid=s)
    picture, _, _ = comparison_strip(
        lr[frame],
        [
            (f"bicubic {figures['bicubic']:.2f} dB", bicubic),
            (f"TGA, reference x{n} {figures['static']:.2f} dB", static),
            (f"TGA, {n} frames {figures['tga']:.2f} dB", sr),
            ("HR (ground truth)", target),
        ],
        crop=crop,
        zoom=default_zoom(side, 224),
    )
    return picture, figures | {"frame": frame, "crop": [crop.left, crop.top, crop.width, crop.height]}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tga_keras.errors import InputError
    from tga_keras.evaluation.pictures import write_png
    from tga_keras.io.files import atomic_path

    problem = None
    if os.path.exists(args.output) and not args.overwrite:
        problem = f"{args.output} exists; pass --overwrite to replace it"
    elif not args.output.lower().endswith(".png"):
        problem = f"{args.output}: the picture is a .png"
    elif not os.path.isdir(args.sequence):
        problem = f"{args.sequence}: not a folder of frames"
    elif args.size is not None and args.size < 4:
        problem = f"--size {args.size}: give at least 4 HR pixels"
    elif args.frame is not None and args.frame < 0:
        problem = f"--frame {args.frame}: frames count from 0"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        picture, figures = temporal_picture(args.sequence, args.weights, args.frame, args.size)
        with atomic_path(args.output, overwrite=True) as tmp:
            write_png(tmp, picture)
    except (InputError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"{args.output}: frame {figures['frame']}, crop {figures['crop']}; PSNR-Y bicubic {figures['bicubic']:.2f}, "
        f"TGA on copies of the reference {figures['static']:.2f}, TGA {figures['tga']:.2f} dB "
        f"(temporal gain {figures['tga'] - figures['static']:+.2f} dB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
