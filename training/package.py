"""Package a training run for shipping: ``python -m training.tools package runs/NAME saved_models/NAME``.

Writes ``model.keras`` (the run's ``best.keras`` without optimizer state), ``training_config.json``
and ``training_log.csv`` into the target folder.

``--average-with START --weight A`` packages the weight average ``(1 - A) * START + A * best`` instead
(every weight, BatchNorm moving statistics included): a two-point "model soup" (Wortsman et al.,
ICML 2022) of a fine-tuning and the model it started from, with ``A`` chosen on validation data only.
Both must be the same architecture; ``averaging.json`` records the two files' SHA-256 and ``A``.

The model card (``MODEL_CARD.md``) is written by hand from ``tga evaluate --json`` output: its
figures must come from that command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys


def average_weights(model, other, weight: float) -> None:
    """Set ``model``'s weights to ``(1 - weight) * other + weight * model``, in place (same architecture)."""
    import numpy as np

    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"--weight must be in [0, 1], got {weight}")
    if model.config != other.config:
        raise ValueError("the two models to average are not the same architecture (their TGA configs differ)")
    averaged = [
        ((1.0 - weight) * np.asarray(b, np.float64) + weight * np.asarray(a, np.float64)).astype(np.asarray(a).dtype)
        for a, b in zip(model.get_weights(), other.get_weights(), strict=True)
    ]
    model.set_weights(averaged)


def package(
    run_dir: str, out_dir: str, overwrite: bool = False, average_with: str | None = None, weight: float = 1.0
) -> str:
    """Write ``out_dir/model.keras`` (+ config, log, and ``averaging.json`` with ``average_with``); its path.

    Raises ``FileNotFoundError`` / ``FileExistsError`` / ``ValueError`` for user errors, before writing anything.
    """
    import json

    from tga_keras.io.files import atomic_path, sha256_digest
    from tga_keras.models.loading import load_tga

    best = os.path.join(run_dir, "best.keras")
    if not os.path.isfile(best):
        raise FileNotFoundError(f"{best}: no such file (has the run finished an epoch with validation?)")
    target = os.path.join(out_dir, "model.keras")
    if os.path.exists(target) and not overwrite:
        raise FileExistsError(f"{target} exists; pass --overwrite to replace it")
    model = load_tga(best)  # compile=False: weights and config only
    summary = None
    if average_with is not None:
        average_weights(model, load_tga(average_with), weight)
        summary = {  # hashed before anything is written: START may be the model.keras about to be replaced
            "weights": f"(1 - {weight}) * start + {weight} * best",
            "start": {"file": average_with, "sha256": sha256_digest(average_with)},
            "best": {"file": best, "sha256": sha256_digest(best)},
            "weight": weight,
        }
    os.makedirs(out_dir, exist_ok=True)
    record = os.path.join(out_dir, "averaging.json")
    if os.path.exists(record):
        os.remove(record)  # never left beside a model it does not describe
    with atomic_path(target, overwrite=overwrite) as tmp:
        model.save(tmp)
    if summary is not None:
        with atomic_path(record) as tmp, open(tmp, "w") as f:
            f.write(json.dumps(summary, indent=2) + "\n")
    for src, dst in (("config.json", "training_config.json"), ("log.csv", "training_log.csv")):
        path = os.path.join(run_dir, src)
        if os.path.isfile(path):
            with atomic_path(os.path.join(out_dir, dst), overwrite=True) as tmp:
                shutil.copyfile(path, tmp)
    return target


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m training.tools package",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", help="a training run folder (holds best.keras)")
    p.add_argument("out_dir", help="folder to write (e.g. saved_models/tga_small_bd_x4)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model.keras")
    p.add_argument(
        "--average-with",
        metavar="START",
        help="a .keras model of the same architecture (e.g. the run's init_from): package (1 - A) * START + A * best",
    )
    p.add_argument(
        "--weight", type=float, default=None, metavar="A", help="the run's share A in [0, 1] (needs --average-with)"
    )
    args = p.parse_args(argv)
    if (args.average_with is None) != (args.weight is None):
        p.error("--average-with and --weight go together")
    if args.weight is not None and not 0.0 <= args.weight <= 1.0:
        p.error(f"--weight must be in [0, 1], got {args.weight}")
    try:
        weight = 1.0 if args.weight is None else args.weight
        print(package(args.run_dir, args.out_dir, args.overwrite, args.average_with, weight))
    except (FileNotFoundError, FileExistsError, ValueError, ImportError) as e:  # ImportError: a .pth without torch
        print(f"python -m training.tools package: error: {e}", file=sys.stderr)
        return 2
    return 0
