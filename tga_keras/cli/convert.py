"""``tga convert OFFICIAL.pth OUT.keras``: load an official PyTorch checkpoint, save a Keras model."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub):
    p = sub.add_parser(
        "convert",
        help="convert an official PyTorch checkpoint (.pth) to a Keras model (.keras)",
        description=(
            "Load an official TGA checkpoint (github junpan19/VSR_TGA: TGA-without-align-dla.pth of the release, "
            "or the dilated TGA.pth published first), map every tensor into the Keras model and save it as a "
            ".keras file. The network is recognised from the checkpoint's keys. Fails with the names of "
            "missing, unexpected or mis-shaped keys if the checkpoint does not fit. Needs torch "
            "(pip install 'tga-keras[torch]')."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("checkpoint", help="official PyTorch state_dict (.pth); a DataParallel 'module.' prefix is fine")
    p.add_argument("output", help="Keras model file to write (.keras)")
    p.add_argument(
        "--preset",
        default=None,
        choices=["official", "paper", "paper_full"],
        help="architecture the checkpoint was trained with (default: recognised from its keys; "
        "'paper' is the dilated TGA.pth, 'official' the later release)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    return p


def run(args) -> int:
    import os

    from tga_keras.errors import UsageError
    from tga_keras.models.config import TGAConfig

    if not args.output.endswith(".keras"):
        raise UsageError(f"OUTPUT must end with .keras, got {args.output!r}")
    if os.path.exists(args.output) and not args.overwrite:
        raise UsageError(f"{args.output} exists; pass --overwrite to replace it")
    if not os.path.isfile(args.checkpoint):
        raise UsageError(f"{args.checkpoint}: no such file")
    from tga_keras.io.files import atomic_path
    from tga_keras.models.convert import from_torch

    model = from_torch(args.checkpoint, config=None if args.preset is None else TGAConfig.preset(args.preset))
    with atomic_path(args.output, overwrite=args.overwrite) as tmp:
        model.save(tmp)
    n = sum(int(w.numpy().size) for w in model.trainable_weights)
    from tga_keras.models.presets import PRESETS

    preset = next((p for p in PRESETS if model.config == TGAConfig.preset(p)), "custom")
    print(f"wrote {args.output} ({preset} config, {n:,} trainable parameters)", file=sys.stderr)
    return 0
