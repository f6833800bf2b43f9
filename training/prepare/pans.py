"""``python -m training.tools pans``: still photographs -> sub-pixel camera pans (:mod:`tga_keras.data.pans`)."""

from __future__ import annotations

import argparse
import sys

from tga_keras.data.pans import write_pans

PROG = "python -m training.tools pans"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Turn still photographs into sub-pixel camera pans (one folder of HR PNG frames per image, "
        "readable by `tga evaluate OUT_DIR`) and a pans.json of the velocities. Sub-pixel: the per-frame "
        "displacement in LR pixels is never a whole number; `--max-speed` below the scale (e.g. "
        "`--min-speed 1 --max-speed 3` at x4) also keeps every pan under one LR pixel per frame.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("images", metavar="IMAGES_DIR", help="folder of still images (or one image)")
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder (must not exist or be empty, or --overwrite)")
    p.add_argument("--frames", type=int, default=15, metavar="N", help="frames per sequence")
    p.add_argument("--min-speed", type=float, default=1.0, metavar="PX", help="smallest pan speed, HR px/frame")
    p.add_argument(
        "--max-speed",
        type=float,
        default=6.0,
        metavar="PX",
        help="largest pan speed, HR px/frame (6 = 1.5 LR px at x4)",
    )
    p.add_argument(
        "--max-zoom",
        type=float,
        default=1.0,
        metavar="Z",
        help="also zoom by a per-frame factor drawn in [1/Z, Z] (1 = pans only; 1.02 moves the edge of a 256 box "
        "by about 2.6 HR px per frame)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed of the velocities and zooms")
    p.add_argument("--size", default="256x256", metavar="HxW", help="HR frame size, the centre box of each image")
    p.add_argument("--scale", type=int, default=4, help="SR scale the motion is made sub-pixel for")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty OUT_DIR")
    return p


def main(argv: list[str] | None = None) -> int:
    """The command line (module docstring); returns the exit code."""
    from tga_keras.cli.options import parse_size

    args = _parser().parse_args(argv)
    try:
        size = parse_size(args.size, "--size")
        if args.frames < 2:
            raise ValueError(f"--frames must be >= 2, got {args.frames}")
        if not 0 < args.min_speed <= args.max_speed:
            raise ValueError(f"need 0 < --min-speed <= --max-speed, got {args.min_speed:g} and {args.max_speed:g}")
        manifest = write_pans(
            args.images,
            args.out_dir,
            frames=args.frames,
            speed=(args.min_speed, args.max_speed),
            seed=args.seed,
            size=size,
            scale=args.scale,
            max_zoom=args.max_zoom,
            overwrite=args.overwrite,
        )
    except (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError, PermissionError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)  # DatasetError is a ValueError
        return 2
    except OSError as e:  # a failure while writing (disk full, ...)
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    n = len(manifest["sequences"])
    print(f"wrote {n} pan{'s' if n != 1 else ''} of {args.frames} frames ({size[0]}x{size[1]}) to {args.out_dir}")
    return 0
