"""Package a training run for shipping: ``python -m training.package runs/NAME saved_models/NAME``.

Writes ``model.keras`` (the run's ``best.keras`` without optimizer state), ``training_config.json``
and ``training_log.csv`` into the target folder. The model card (``MODEL_CARD.md``) is written by
hand from ``tga evaluate --json`` output: its figures must come from that command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys


def package(run_dir: str, out_dir: str, overwrite: bool = False) -> str:
    from tga_keras.inference import load_tga
    from tga_keras.io_utils import atomic_path

    best = os.path.join(run_dir, "best.keras")
    if not os.path.isfile(best):
        raise FileNotFoundError(f"{best}: no such file (has the run finished an epoch with validation?)")
    os.makedirs(out_dir, exist_ok=True)
    model = load_tga(best)  # compile=False: weights and config only
    target = os.path.join(out_dir, "model.keras")
    with atomic_path(target, overwrite=overwrite) as tmp:
        model.save(tmp)
    for src, dst in (("config.json", "training_config.json"), ("log.csv", "training_log.csv")):
        path = os.path.join(run_dir, src)
        if os.path.isfile(path):
            with atomic_path(os.path.join(out_dir, dst), overwrite=True) as tmp:
                shutil.copyfile(path, tmp)
    return target


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m training.package", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("run_dir", help="a training run folder (holds best.keras)")
    p.add_argument("out_dir", help="folder to write (e.g. saved_models/tga_small_bd_x4)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model.keras")
    args = p.parse_args(argv)
    try:
        print(package(args.run_dir, args.out_dir, args.overwrite))
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"training.package: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
