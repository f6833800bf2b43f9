"""``tga demo``: the whole pipeline on the bundled clip (carphone, 176x144).

HR frames -> official BD degradation (Gaussian blur, x4 subsampling) -> TGA with a sliding
7-frame window -> PSNR-Y / SSIM-Y against HR, next to the bicubic baseline (MATLAB imresize).
Writes the SR frames and a side-by-side comparison (bicubic | TGA | HR) of the middle frame.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING

from tga_keras.commands import (
    MODEL_HELP,
    add_backend_argument,
    add_overlap_argument,
    add_precision_argument,
    weights_not_found,
)

if TYPE_CHECKING:
    import numpy as np

DEFAULT_OUTPUT = "demo_output"
DEFAULT_FRAMES = 12
DEFAULT_PRESET = "official"


def clip_path() -> str:
    """Path of the bundled clip ``tga_keras/assets/carphone_pristine.mp4``."""
    import tga_keras

    return os.path.join(os.path.dirname(os.path.abspath(tga_keras.__file__)), "assets", "carphone_pristine.mp4")


def add_parser(sub):
    from tga_keras.config import PRESETS

    p = sub.add_parser(
        "demo",
        help="upscale the bundled clip and compare with bicubic (PSNR-Y/SSIM-Y)",
        description=__doc__.split("\n", 2)[2].strip(),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR", help="folder for the PNGs (files are replaced)")
    p.add_argument("--frames", type=int, default=DEFAULT_FRAMES, metavar="N", help="frames of the clip to upscale")
    p.add_argument(
        "--preset",
        choices=PRESETS,
        default=None,
        help=f"architecture (default: {DEFAULT_PRESET}; a .keras file carries its own)",
    )
    p.add_argument("--weights", metavar="MODEL", help=MODEL_HELP)
    add_backend_argument(p)
    p.add_argument("--tile", type=int, default=None, metavar="N", help="LR tile size (see `tga upscale --help`)")
    add_overlap_argument(p)
    add_precision_argument(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def _label(image_u8, text: str):
    """Write ``text`` in the top-left corner (white on a dark outline)."""
    import cv2

    out = image_u8.copy()
    for color, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, thick, cv2.LINE_AA)
    return out


def comparison(panels: list[tuple[str, np.ndarray]], gap: int = 4) -> np.ndarray:
    """Side-by-side uint8 RGB image of ``(label, (H, W, 3) float [0, 1])`` panels, ``gap`` white pixels apart."""
    import numpy as np

    from tga_keras.inference import to_output

    h = panels[0][1].shape[0]
    spacer = np.full((h, gap, 3), 255, np.uint8)
    parts = []
    for k, (name, img) in enumerate(panels):
        parts += ([spacer] if k else []) + [_label(to_output(img, "uint8"), name)]
    return np.concatenate(parts, axis=1)


def _write_png(path: str, rgb_u8) -> None:
    import cv2

    from tga_keras.io_utils import atomic_path

    with atomic_path(path, overwrite=True) as tmp:
        if not cv2.imwrite(tmp, rgb_u8[:, :, ::-1]):
            raise OSError(f"cannot write {path}")


def run(args) -> int:
    from tga_keras.cli import UsageError

    if args.frames < 1:
        raise UsageError(f"--frames must be >= 1, got {args.frames}")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise UsageError(f"--output {args.output} exists and is not a folder")
    if args.weights is not None and not os.path.exists(args.weights):
        raise weights_not_found(args.weights)

    import numpy as np

    from tga_keras.backends import load_backend
    from tga_keras.commands.upscale import UNTRAINED_WARNING
    from tga_keras.data.eval_pipeline import modcrop
    from tga_keras.data.io import probe_video, read_video, u8_to_float
    from tga_keras.degradation import bd_degrade
    from tga_keras.inference import Upscaler, to_output
    from tga_keras.metrics import psnr_y, ssim_y
    from tga_keras.resize import imresize

    t_start = time.perf_counter()
    path = clip_path()
    info = probe_video(path)
    if args.frames > info.num_frames:
        raise UsageError(f"--frames {args.frames}: the bundled clip has {info.num_frames} frames")
    trained = args.weights is not None
    if not trained:
        print(UNTRAINED_WARNING, file=sys.stderr)
    backend = load_backend(args.weights, args.backend, preset=args.preset, precision=args.precision)
    s, r = backend.scale, backend.frames // 2

    # HR frames 0..N-1 plus r following frames as the last windows' neighbours
    n_read = min(args.frames + r, info.num_frames)
    hr = u8_to_float(read_video(path, 0, n_read))
    hr = modcrop(hr, s)
    lr = bd_degrade(hr, s)  # (n, H/s, W/s, 3)
    up = Upscaler(backend, tile=args.tile, tile_overlap=args.overlap)
    t0 = time.perf_counter()
    sr = list(up.upscale_frames(lr, count=args.frames, progress=not args.no_progress, desc="demo"))
    t_model = time.perf_counter() - t0

    os.makedirs(args.output, exist_ok=True)
    rows = []
    mid = args.frames // 2
    for i, out in enumerate(sr):
        bic = to_output(imresize(lr[i], s))
        rows.append((i, psnr_y(bic, hr[i]), ssim_y(bic, hr[i]), psnr_y(out, hr[i]), ssim_y(out, hr[i])))
        _write_png(os.path.join(args.output, f"tga_{i:03d}.png"), to_output(out, "uint8"))
        if i == mid:
            figure = comparison([("bicubic", bic), ("TGA" if trained else "TGA (untrained)", out), ("HR", hr[i])])
            comp_path = os.path.join(args.output, f"comparison_{i:03d}.png")
            _write_png(comp_path, figure)

    name = os.path.basename(args.weights) if trained else f"{args.preset or DEFAULT_PRESET} preset, UNTRAINED"
    print(
        f"TGA x{s} on carphone ({hr.shape[2]}x{hr.shape[1]} HR, BD degradation -> "
        f"{lr.shape[2]}x{lr.shape[1]} LR), {backend.frames}-frame windows, "
        f"model: {name} ({backend.name} {backend.precision})"
    )
    print(f"PSNR-Y (dB) / SSIM-Y against HR, {8} px border cropped")
    print(f"{'frame':>5}  {'bicubic':>16}  {'TGA':>16}")
    for i, pb, sb, pt, st in rows:
        print(f"{i:>5}  {pb:>7.2f} / {sb:.4f}  {pt:>7.2f} / {st:.4f}")
    mean = np.mean([row[1:] for row in rows], axis=0)
    print(f"{'mean':>5}  {mean[0]:>7.2f} / {mean[1]:.4f}  {mean[2]:>7.2f} / {mean[3]:.4f}")
    print(
        f"model: {1000 * t_model / len(sr):.0f} ms/frame (first includes tracing); "
        f"total {time.perf_counter() - t_start:.1f} s"
    )
    print(f"wrote {comp_path} (bicubic | TGA | HR, frame {mid})")
    print(f"wrote {len(sr)} SR frames to {os.path.join(args.output, 'tga_###.png')}")
    if not trained:
        print(
            "NOTE: the network is untrained (random weights): these numbers show that the pipeline runs, "
            "not the quality of TGA. Its residual branch is ~0 at initialisation, so TGA ~= bicubic here. "
            "Pass --weights with a trained model (e.g. `tga convert` of the official checkpoint)."
        )
    return 0
