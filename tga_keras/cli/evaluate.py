"""``tga evaluate DATA``: PSNR-Y / SSIM-Y of a model on video sequences, as the official test.

DATA is a video file, a folder of videos, a folder of frame folders (Vid4 / REDS layout: one
folder per sequence), one folder of frames, or a Vimeo-90K septuplet root (``sep_testlist.txt``:
the centre frame of each septuplet is the reference). Every frame is a reference, with the
boundary frames replicated. LR frames come from the HR frames by the official BD degradation
(or BI). ``--protocol official`` reflect-pads the HR by 2*scale before BD and crops the SR output
by as much (the official loaders); ``plain`` degrades the frame as it is and crops 8 pixels
before the metrics. Figures: per sequence the mean over its frames; overall the mean over
sequences (as the official test.py), with the bicubic baseline beside them.

``--temporal-ablation`` also runs the model, through the same tiling, on seven copies of each
window's reference LR frame (a static input): the difference between the two PSNR-Y figures, the
temporal gain, is what the neighbouring frames add; beside it, how far the two nearest neighbours
moved from the reference (mean optical flow, LR pixels): frames that do not move have nothing to
add. ``--plot`` draws the PSNR-Y of every frame.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from tga_keras.cli.options import (
    add_align_argument,
    add_no_progress_argument,
    add_precision_argument,
    add_preset_argument,
    add_tile_arguments,
    add_weights_arguments,
    align_choice,
    alignment_note,
    model_label,
    weights_missing,
    weights_not_found,
)


def add_parser(sub):
    p = sub.add_parser(
        "evaluate",
        help="PSNR-Y/SSIM-Y of a model on sequences (official protocol)",
        description=__doc__.split("\n", 2)[2].strip(),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("data", help="video, folder of videos, folder of frame folders, frame folder or Vimeo-90K root")
    add_weights_arguments(p)
    add_preset_argument(p, help="architecture (a .keras file carries its own)")
    p.add_argument("--protocol", choices=["official", "plain"], default="official")
    p.add_argument("--degradation", choices=["bd", "bi"], default="bd")
    p.add_argument(
        "--crop-border",
        type=int,
        default=None,
        help="pixels cropped before the metrics (default: 0 for official, whose SR crop already "
        "removes the padding; 8 for plain)",
    )
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="evaluate at most N frames per sequence")
    p.add_argument(
        "--first-frame",
        type=int,
        default=0,
        metavar="K",
        help="start at frame K of every sequence (counted from 0; the frames before it still serve as neighbours)",
    )
    add_tile_arguments(p)
    add_align_argument(p)
    add_precision_argument(p)
    p.add_argument(
        "--temporal-ablation",
        action="store_true",
        help="also run the model (twice the work) on seven copies of each reference LR frame, same tiling, "
        "and report that static input's PSNR-Y/SSIM-Y, the temporal gain (model minus static "
        "PSNR-Y, dB) and how far the nearest neighbours moved (mean optical flow, LR px)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON (atomic)")
    p.add_argument(
        "--plot",
        metavar="PNG",
        help="also draw PSNR-Y per frame (model, bicubic, static with --temporal-ablation) into this "
        "image (.png, .pdf or .svg; atomic; needs matplotlib)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace --json / --plot FILE if it exists")
    add_no_progress_argument(p, help="no progress bar")
    return p


def check_args(args) -> None:
    """``UsageError`` for options that cannot work together, before anything is read."""
    from tga_keras.errors import UsageError
    from tga_keras.evaluation.pictures import PLOT_FORMATS, have_matplotlib

    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError("--max-frames must be >= 1")
    if args.first_frame < 0:
        raise UsageError("--first-frame must be >= 0")
    if args.crop_border is not None and args.crop_border < 0:
        raise UsageError("--crop-border must be >= 0")
    if args.protocol == "official" and args.degradation != "bd":
        raise UsageError("--protocol official applies to --degradation bd only; use --protocol plain with bi")
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path and os.path.isdir(path):
            raise UsageError(f"{option} {path} is a folder; give a file name")
        if path and os.path.exists(path) and not args.overwrite:
            raise UsageError(f"{path} exists; pass --overwrite to replace it")
    if args.json and args.plot and os.path.abspath(args.json) == os.path.abspath(args.plot):
        raise UsageError("--json and --plot name the same file")
    if args.plot:
        if os.path.splitext(args.plot)[1].lower() not in PLOT_FORMATS:
            raise UsageError(f"--plot {args.plot}: the file name must end in one of {', '.join(PLOT_FORMATS)}")
        if not have_matplotlib():
            raise UsageError("--plot needs matplotlib (pip install matplotlib)")
    if args.weights is not None and weights_missing(args.weights):
        raise weights_not_found(args.weights)


def print_table(result, args) -> None:
    """The figures of an :class:`~tga_keras.evaluation.evaluator.EvaluationResult` as a table on stdout."""
    ablate = result.temporal_ablation
    rows = result.sequences
    width = max(8, max(len(n) for n in rows))
    print(
        f"TGA x{result.scale} ({'untrained ' if args.weights is None else ''}{args.weights or 'preset'}; "
        f"{result.backend} {result.precision}), "
        f"{result.degradation.upper()}, protocol {result.protocol}, Y channel, crop {result.crop_border} px"
    )
    if ablate:
        print(
            f"static: the same model on {result.frames} copies of the reference LR frame; "
            "gain: PSNR-Y minus static PSNR-Y (what the neighbouring frames add); "
            "motion: mean optical flow from the reference LR frame to its two nearest neighbours, LR px"
        )
    print(
        f"{'sequence':<{width}}  frames   PSNR-Y   SSIM-Y   bicubic PSNR / SSIM"
        + ("   static PSNR / SSIM   gain dB   motion" if ablate else "")
    )
    for name, r in [*rows.items(), ("average", result.average | {"frames": result.total_frames})]:
        line = (
            f"{name:<{width}}  {r['frames']:6d}  {r['psnr']:7.3f}  {r['ssim']:.4f}   "
            f"{r['bicubic_psnr']:7.3f} / {r['bicubic_ssim']:.4f}"
        )
        if ablate:
            line += (
                f"   {r['static_psnr']:7.3f} / {r['static_ssim']:.4f}  {r['temporal_gain_db']:+8.3f}"
                f"  {r['motion_lr_px']:7.3f}"
            )
        print(line)
    print(f"{result.seconds:.1f} s")


def run(args) -> int:
    check_args(args)

    from tga_keras.cli.options import UNTRAINED_WARNING
    from tga_keras.evaluation.evaluator import evaluate, open_sources
    from tga_keras.io.files import atomic_path
    from tga_keras.models.presets import DEFAULT_PRESET
    from tga_keras.runtime.backends import load_backend

    data = open_sources(args.data)
    if args.weights is None:
        print(UNTRAINED_WARNING, file=sys.stderr)
    backend = load_backend(
        args.weights,
        args.backend,
        precision=args.precision,
        preset=args.preset if args.preset or args.weights else DEFAULT_PRESET,
        progress=not args.no_progress,
    )
    result = evaluate(
        backend,
        data,
        protocol=args.protocol,
        degradation=args.degradation,
        crop_border=args.crop_border,
        max_frames=args.max_frames,
        first_frame=args.first_frame,
        tile=args.tile,
        overlap=args.overlap,
        align=align_choice(args),
        temporal_ablation=args.temporal_ablation,
        progress=not args.no_progress,
    )
    print_table(result, args)
    note = alignment_note(result)  # reads .align and .alignment_stats, as an Upscaler's
    if note:
        print(note)
    if args.json:
        report = {"data": args.data, "weights": args.weights, **result.report()}
        with atomic_path(args.json, overwrite=args.overwrite) as tmp, open(tmp, "w") as f:
            json.dump(report, f, indent=2)
    if args.plot:
        from tga_keras.evaluation.pictures import write_psnr_plot

        model = (
            f"untrained {args.preset or DEFAULT_PRESET} preset" if args.weights is None else model_label(args.weights)
        )
        title = f"TGA x{result.scale} {model}: PSNR-Y per frame ({args.degradation.upper()}, protocol {args.protocol})"
        with atomic_path(args.plot, overwrite=args.overwrite) as tmp:
            write_psnr_plot(tmp, result.per_frame, result.frame_ids, title)
    return 0
