"""``tga demo``: the whole pipeline on the bundled clip (carphone, 176x144).

HR frames -> official BD degradation (Gaussian blur, x4 subsampling) -> TGA with a sliding
7-frame window -> PSNR-Y / SSIM-Y against HR, next to the bicubic baseline (MATLAB imresize).
Writes into the output folder: the SR frames (tga_###.png), the SR clip (tga.mp4), bicubic and
TGA side by side (bicubic_vs_tga.mp4), a zoomed comparison of the middle frame
(comparison_###.png: LR nearest | bicubic | TGA | HR), the temporal group attention of the
middle frame (attention_###.png, Keras models) and PSNR-Y per frame (psnr.png, needs matplotlib).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING

from tga_keras.assets import clip_path
from tga_keras.cli.options import (
    add_no_progress_argument,
    add_precision_argument,
    add_preset_argument,
    add_tile_arguments,
    add_weights_arguments,
    weights_missing,
    weights_not_found,
)
from tga_keras.models.presets import DEFAULT_PRESET  # the one default architecture

if TYPE_CHECKING:
    import numpy as np

DEFAULT_OUTPUT = "demo_output"
DEFAULT_FRAMES = 120  # the whole bundled clip (4.8 s of video)
CROP_BORDER = 8  # pixels left out of PSNR/SSIM on every side (psnr_y/ssim_y default)


def add_parser(sub):
    p = sub.add_parser(
        "demo",
        help="upscale the bundled clip and compare with bicubic (PSNR-Y/SSIM-Y)",
        description=__doc__.split("\n", 2)[2].strip(),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--output",
        default=DEFAULT_OUTPUT,
        metavar="DIR",
        help="folder for the pictures and videos (files are replaced)",
    )
    p.add_argument("--frames", type=int, default=DEFAULT_FRAMES, metavar="N", help="frames of the clip to upscale")
    add_preset_argument(p, f"architecture (default: {DEFAULT_PRESET}; a .keras file carries its own)")
    add_weights_arguments(p)
    add_tile_arguments(p)
    add_precision_argument(p)
    add_no_progress_argument(p)
    return p


def _write_png(path: str, rgb_u8: np.ndarray) -> None:
    from tga_keras.evaluation.pictures import write_png
    from tga_keras.io.files import atomic_path

    with atomic_path(path, overwrite=True) as tmp:
        write_png(tmp, rgb_u8)


def _write_video(path: str, frames_u8: list[np.ndarray], fps: float) -> str:
    """A video of RGB uint8 frames, atomically, through :func:`tga_keras.io.video.open_writer` (H.264 with
    PyAV, OpenCV's mp4v without it). Returns the encoder used."""
    from tga_keras.io.files import atomic_path
    from tga_keras.io.video import open_writer

    with atomic_path(path, overwrite=True) as tmp:
        writer = open_writer(tmp, ".mp4", rate=fps)
        try:
            for frame in frames_u8:
                writer.write(frame)
        finally:
            writer.close()
        return writer.describe()


def _side_by_side(bicubic: np.ndarray, sr: np.ndarray, sr_name: str, zoom: int) -> np.ndarray:
    """bicubic | TGA, each enlarged ``zoom`` times without smoothing and labelled (even sizes, for video codecs)."""
    from tga_keras.evaluation.pictures import enlarge, hstack, label

    frame = hstack([label(enlarge(bicubic, zoom), "bicubic"), label(enlarge(sr, zoom), sr_name)])
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]


def run(args) -> int:
    from tga_keras.errors import UsageError

    if args.frames < 1:
        raise UsageError(f"--frames must be >= 1, got {args.frames}")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise UsageError(f"--output {args.output} exists and is not a folder")
    if args.weights is not None and weights_missing(args.weights):
        raise weights_not_found(args.weights)

    import numpy as np

    from tga_keras.cli.options import UNTRAINED_WARNING, model_label
    from tga_keras.data.eval_pipeline import modcrop
    from tga_keras.evaluation.metrics import psnr_y, ssim_y
    from tga_keras.evaluation.pictures import (
        attention_maps,
        attention_picture,
        comparison_strip,
        group_labels,
        group_order,
        have_matplotlib,
        write_psnr_plot,
    )
    from tga_keras.io.files import atomic_path
    from tga_keras.io.images import u8_to_float
    from tga_keras.io.video import probe, read_video
    from tga_keras.preprocess.degradation import bd_degrade
    from tga_keras.preprocess.resize import imresize
    from tga_keras.runtime.backends import load_backend
    from tga_keras.runtime.upscaler import Upscaler, to_output
    from tga_keras.runtime.windows import sequence_windows

    t_start = time.perf_counter()
    path = clip_path()
    info = probe(path)
    assert info.num_frames is not None  # the bundled clip's container has its count
    if args.frames > info.num_frames:
        raise UsageError(f"--frames {args.frames}: the bundled clip has {info.num_frames} frames")
    trained = args.weights is not None
    if not trained:
        print(UNTRAINED_WARNING, file=sys.stderr)
    backend = load_backend(
        args.weights, args.backend, preset=args.preset, precision=args.precision, progress=not args.no_progress
    )
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
    rows: list[tuple[int, float, float, float, float]] = []
    mid = args.frames // 2
    sr_name = "TGA" if trained else "TGA (untrained)"
    tga_u8, pairs = [], []
    zoom = 2 if hr.shape[2] < 320 else 1  # the side-by-side video of a small clip, enlarged without smoothing
    for i, out in enumerate(sr):
        bic = to_output(imresize(lr[i], s))
        pb, sb = psnr_y(bic, hr[i], CROP_BORDER), ssim_y(bic, hr[i], CROP_BORDER)
        rows.append((i, pb, sb, psnr_y(out, hr[i], CROP_BORDER), ssim_y(out, hr[i], CROP_BORDER)))
        tga_u8.append(to_output(out, "uint8"))
        pairs.append(_side_by_side(to_output(bic, "uint8"), tga_u8[-1], sr_name, zoom))
        _write_png(os.path.join(args.output, f"tga_{i:03d}.png"), tga_u8[-1])
        if i == mid:
            mid_bicubic = bic
    written = [f"{len(sr)} SR frames to {os.path.join(args.output, 'tga_###.png')}"]

    for video, frames, what in (("tga.mp4", tga_u8, "the SR clip"), ("bicubic_vs_tga.mp4", pairs, "bicubic | TGA")):
        encoder = _write_video(os.path.join(args.output, video), frames, info.fps or 25.0)
        written.append(f"{os.path.join(args.output, video)} ({what}, {len(frames)} frames, {encoder})")

    comp_path = os.path.join(args.output, f"comparison_{mid:03d}.png")
    figure, crop, zoom = comparison_strip(
        lr[mid],
        [("bicubic", mid_bicubic), (sr_name, sr[mid]), ("HR (ground truth)", hr[mid])],
        context=(f"frame {mid} (HR)", hr[mid]),
    )
    _write_png(comp_path, figure)
    written.append(
        f"{comp_path} (frame {mid}: LR nearest | bicubic | TGA | HR, {crop.width}x{crop.height} crop "
        f"at ({crop.left}, {crop.top}) enlarged x{zoom})"
    )

    config = getattr(backend, "config", None)
    model = getattr(backend, "model", None) or getattr(backend, "keras_model", None)  # any runtime of a Keras model
    if model is not None and config is not None:
        idx = sequence_windows(len(lr), backend.frames)[mid]
        window = lr[idx]
        if up.align:
            from tga_keras.preprocess.alignment import align_windows

            window = align_windows(window[None], r)[0]
        att = attention_maps(model, window)
        att_path = os.path.join(args.output, f"attention_{mid:03d}.png")
        title = f"temporal group attention, frame {mid}" + ("" if trained else " (untrained: uniform)")
        labels = group_labels(config.groups, config.center, idx)
        picture = attention_picture(att, sr[mid], labels, order=group_order(config.groups), title=title)
        _write_png(att_path, picture)
        written.append(f"{att_path} (attention of the {len(config.groups)} groups over the SR frame {mid})")
    else:
        print(f"no attention picture: the {backend.name} backend does not expose the attention (a Keras model does)")

    if have_matplotlib():
        plot_path = os.path.join(args.output, "psnr.png")
        with atomic_path(plot_path, overwrite=True) as tmp:
            write_psnr_plot(
                tmp,
                {"carphone": {"psnr": [row[3] for row in rows], "bicubic_psnr": [row[1] for row in rows]}},
                {"carphone": [row[0] for row in rows]},
                f"TGA x{s} ({model_label(args.weights) if trained else 'untrained'}): PSNR-Y per frame "
                f"against HR, BD degradation, {CROP_BORDER} px border cropped",
            )
        written.append(f"{plot_path} (PSNR-Y per frame, TGA and bicubic)")
    else:
        print("no PSNR plot: it needs matplotlib (pip install matplotlib)")

    name = os.path.basename(args.weights) if trained else f"{args.preset or DEFAULT_PRESET} preset, UNTRAINED"
    print(
        f"TGA x{s} on carphone ({hr.shape[2]}x{hr.shape[1]} HR, BD degradation -> "
        f"{lr.shape[2]}x{lr.shape[1]} LR), {backend.frames}-frame windows, "
        f"model: {name} ({backend.name} {backend.precision})"
    )
    print(f"PSNR-Y (dB) / SSIM-Y against HR, {CROP_BORDER} px border cropped")
    print(f"{'frame':>5}  {'bicubic':>16}  {'TGA':>16}")
    for i, pb, sb, pt, st in rows:
        print(f"{i:>5}  {pb:>7.2f} / {sb:.4f}  {pt:>7.2f} / {st:.4f}")
    mean = np.mean([row[1:] for row in rows], axis=0)
    print(f"{'mean':>5}  {mean[0]:>7.2f} / {mean[1]:.4f}  {mean[2]:>7.2f} / {mean[3]:.4f}")
    print(
        f"model: {1000 * t_model / len(sr):.0f} ms/frame (first includes tracing); "
        f"total {time.perf_counter() - t_start:.1f} s"
    )
    for line in written:
        print(f"wrote {line}")
    if not trained:
        print(
            "NOTE: the network is untrained (random weights): these numbers show that the pipeline runs, "
            "not the quality of TGA. Its residual branch is ~0 at initialisation, so TGA ~= bicubic here. "
            "Pass --weights with a trained model (e.g. `tga convert` of the official checkpoint)."
        )
    return 0
