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
from dataclasses import dataclass
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


@dataclass
class _Clip:
    """What the demo's steps share: the bundled clip's HR frames, their BD-degraded LR frames and the
    SR frames of the first ``len(sr)`` of them, with the model's scale and time."""

    hr: np.ndarray  # (n, H, W, 3) float32, n >= len(sr): the last windows' neighbours too
    lr: np.ndarray  # (n, H/s, W/s, 3)
    sr: list[np.ndarray]
    scale: int
    fps: float
    trained: bool
    model_seconds: float

    @property
    def mid(self) -> int:
        """The frame the comparison and attention pictures show."""
        return len(self.sr) // 2

    @property
    def sr_name(self) -> str:
        return "TGA" if self.trained else "TGA (untrained)"


@dataclass
class _Scores:
    """Per frame ``(i, bicubic PSNR-Y, bicubic SSIM-Y, TGA PSNR-Y, TGA SSIM-Y)``, and the frames of the two
    videos (TGA; bicubic | TGA)."""

    rows: list[tuple[int, float, float, float, float]]
    tga_u8: list[np.ndarray]
    pairs: list[np.ndarray]


def run(args) -> int:
    t_start = time.perf_counter()
    info = _check_args(args)
    backend = _load_backend(args)
    up, clip = _upscale_clip(args, backend, info)
    os.makedirs(args.output, exist_ok=True)
    scores = _score_frames(args, clip)
    written = [f"{len(clip.sr)} SR frames to {os.path.join(args.output, 'tga_###.png')}"]
    written += _write_videos(args, clip, scores)
    written.append(_write_comparison(args, clip))
    written += _write_attention(args, clip, backend, up)
    written += _write_plot(args, clip, scores)
    _print_report(args, clip, backend, scores, written, t_start)
    return 0


def _check_args(args):
    """The usage checks, before anything loads; the bundled clip's :class:`~tga_keras.io.video.VideoProbe`."""
    from tga_keras.errors import UsageError
    from tga_keras.io.video import probe

    if args.frames < 1:
        raise UsageError(f"--frames must be >= 1, got {args.frames}")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise UsageError(f"--output {args.output} exists and is not a folder")
    if args.weights is not None and weights_missing(args.weights):
        raise weights_not_found(args.weights)
    info = probe(clip_path())
    assert info.num_frames is not None  # the bundled clip's container has its count
    if args.frames > info.num_frames:
        raise UsageError(f"--frames {args.frames}: the bundled clip has {info.num_frames} frames")
    return info


def _load_backend(args):
    """The backend of ``--weights``, ``--backend`` and ``--precision``; without weights an untrained
    ``--preset``, after a warning."""
    from tga_keras.cli.options import UNTRAINED_WARNING
    from tga_keras.runtime.backends import load_backend

    if args.weights is None:
        print(UNTRAINED_WARNING, file=sys.stderr)
    return load_backend(
        args.weights, args.backend, preset=args.preset, precision=args.precision, progress=not args.no_progress
    )


def _upscale_clip(args, backend, info):
    """The first ``--frames`` frames of the bundled clip, BD-degraded and upscaled with a sliding window:
    the :class:`~tga_keras.runtime.upscaler.Upscaler` and the :class:`_Clip`."""
    from tga_keras.data.eval_pipeline import modcrop
    from tga_keras.io.images import u8_to_float
    from tga_keras.io.video import read_video
    from tga_keras.preprocess.degradation import bd_degrade
    from tga_keras.runtime.upscaler import Upscaler

    s, r = backend.scale, backend.frames // 2
    # HR frames 0..N-1 plus r following frames as the last windows' neighbours
    n_read = min(args.frames + r, info.num_frames)
    hr = modcrop(u8_to_float(read_video(clip_path(), 0, n_read)), s)
    lr = bd_degrade(hr, s)  # (n, H/s, W/s, 3)
    up = Upscaler(backend, tile=args.tile, tile_overlap=args.overlap)
    t0 = time.perf_counter()
    sr = list(up.upscale_frames(lr, count=args.frames, progress=not args.no_progress, desc="demo"))
    seconds = time.perf_counter() - t0
    return up, _Clip(hr, lr, sr, s, info.fps or 25.0, args.weights is not None, seconds)


def _score_frames(args, clip: _Clip) -> _Scores:
    """PSNR-Y/SSIM-Y of bicubic and TGA against HR for every SR frame, each written as ``tga_###.png``."""
    from tga_keras.evaluation.metrics import psnr_y, ssim_y
    from tga_keras.runtime.upscaler import to_output

    hr = clip.hr
    zoom = 2 if hr.shape[2] < 320 else 1  # the side-by-side video of a small clip, enlarged without smoothing
    scores = _Scores([], [], [])
    for i, out in enumerate(clip.sr):
        bic = _bicubic(clip, i)
        pb, sb = psnr_y(bic, hr[i], CROP_BORDER), ssim_y(bic, hr[i], CROP_BORDER)
        scores.rows.append((i, pb, sb, psnr_y(out, hr[i], CROP_BORDER), ssim_y(out, hr[i], CROP_BORDER)))
        scores.tga_u8.append(to_output(out, "uint8"))
        scores.pairs.append(_side_by_side(to_output(bic, "uint8"), scores.tga_u8[-1], clip.sr_name, zoom))
        _write_png(os.path.join(args.output, f"tga_{i:03d}.png"), scores.tga_u8[-1])
    return scores


def _bicubic(clip: _Clip, i: int) -> np.ndarray:
    """Frame ``i`` upscaled by bicubic interpolation (MATLAB ``imresize``), as the inference core returns SR."""
    from tga_keras.preprocess.resize import imresize
    from tga_keras.runtime.upscaler import to_output

    return to_output(imresize(clip.lr[i], clip.scale))


def _write_videos(args, clip: _Clip, scores: _Scores) -> list[str]:
    """``tga.mp4`` (the SR clip) and ``bicubic_vs_tga.mp4``; a line on each."""
    written = []
    for video, frames, what in (
        ("tga.mp4", scores.tga_u8, "the SR clip"),
        ("bicubic_vs_tga.mp4", scores.pairs, "bicubic | TGA"),
    ):
        encoder = _write_video(os.path.join(args.output, video), frames, clip.fps)
        written.append(f"{os.path.join(args.output, video)} ({what}, {len(frames)} frames, {encoder})")
    return written


def _write_comparison(args, clip: _Clip) -> str:
    """``comparison_###.png`` of the middle frame: LR nearest | bicubic | TGA | HR, zoomed; a line on it."""
    from tga_keras.evaluation.pictures import comparison_strip

    mid, hr = clip.mid, clip.hr
    comp_path = os.path.join(args.output, f"comparison_{mid:03d}.png")
    figure, crop, zoom = comparison_strip(
        clip.lr[mid],
        [("bicubic", _bicubic(clip, mid)), (clip.sr_name, clip.sr[mid]), ("HR (ground truth)", hr[mid])],
        context=(f"frame {mid} (HR)", hr[mid]),
    )
    _write_png(comp_path, figure)
    return (
        f"{comp_path} (frame {mid}: LR nearest | bicubic | TGA | HR, {crop.width}x{crop.height} crop "
        f"at ({crop.left}, {crop.top}) enlarged x{zoom})"
    )


def _write_attention(args, clip: _Clip, backend, up) -> list[str]:
    """``attention_###.png``: the temporal group attention of the middle frame, for a runtime of a Keras model
    (its line); other backends do not expose it (a note is printed)."""
    from tga_keras.evaluation.pictures import attention_maps, attention_picture, group_labels, group_order
    from tga_keras.runtime.windows import sequence_windows

    config = getattr(backend, "config", None)
    model = getattr(backend, "model", None) or getattr(backend, "keras_model", None)  # any runtime of a Keras model
    if model is None or config is None:
        print(f"no attention picture: the {backend.name} backend does not expose the attention (a Keras model does)")
        return []
    mid = clip.mid
    idx = sequence_windows(len(clip.lr), backend.frames)[mid]
    window = clip.lr[idx]
    if up.align:
        from tga_keras.preprocess.alignment import align_windows

        window = align_windows(window[None], backend.frames // 2)[0]
    att = attention_maps(model, window)
    att_path = os.path.join(args.output, f"attention_{mid:03d}.png")
    title = f"temporal group attention, frame {mid}" + ("" if clip.trained else " (untrained: uniform)")
    labels = group_labels(config.groups, config.center, idx)
    picture = attention_picture(att, clip.sr[mid], labels, order=group_order(config.groups), title=title)
    _write_png(att_path, picture)
    return [f"{att_path} (attention of the {len(config.groups)} groups over the SR frame {mid})"]


def _write_plot(args, clip: _Clip, scores: _Scores) -> list[str]:
    """``psnr.png``: PSNR-Y per frame of TGA and bicubic (its line); without matplotlib a note is printed."""
    from tga_keras.cli.options import model_label
    from tga_keras.evaluation.pictures import have_matplotlib, write_psnr_plot
    from tga_keras.io.files import atomic_path

    if not have_matplotlib():
        print("no PSNR plot: it needs matplotlib (pip install matplotlib)")
        return []
    rows = scores.rows
    plot_path = os.path.join(args.output, "psnr.png")
    with atomic_path(plot_path, overwrite=True) as tmp:
        write_psnr_plot(
            tmp,
            {"carphone": {"psnr": [row[3] for row in rows], "bicubic_psnr": [row[1] for row in rows]}},
            {"carphone": [row[0] for row in rows]},
            f"TGA x{clip.scale} ({model_label(args.weights) if clip.trained else 'untrained'}): PSNR-Y per frame "
            f"against HR, BD degradation, {CROP_BORDER} px border cropped",
        )
    return [f"{plot_path} (PSNR-Y per frame, TGA and bicubic)"]


def _print_report(args, clip: _Clip, backend, scores: _Scores, written: list[str], t_start: float) -> None:
    """The table of PSNR-Y/SSIM-Y per frame and their means, the time taken and the files written."""
    import numpy as np

    hr, lr, rows = clip.hr, clip.lr, scores.rows
    name = os.path.basename(args.weights) if clip.trained else f"{args.preset or DEFAULT_PRESET} preset, UNTRAINED"
    print(
        f"TGA x{clip.scale} on carphone ({hr.shape[2]}x{hr.shape[1]} HR, BD degradation -> "
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
        f"model: {1000 * clip.model_seconds / len(clip.sr):.0f} ms/frame (first includes tracing); "
        f"total {time.perf_counter() - t_start:.1f} s"
    )
    for line in written:
        print(f"wrote {line}")
    if not clip.trained:
        print(
            "NOTE: the network is untrained (random weights): these numbers show that the pipeline runs, "
            "not the quality of TGA. Its residual branch is ~0 at initialisation, so TGA ~= bicubic here. "
            "Pass --weights with a trained model (e.g. `tga convert` of the official checkpoint)."
        )
