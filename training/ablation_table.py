"""Print the dilation / alignment ablation table (README) from the JSONs of ``training/configs/ablation/evaluate.sh``.

``python -m training.tools ablation-table docs/ablation`` reads ``<run>_<data>.json`` (written by
``tga evaluate --temporal-ablation --json``) for the runs ``plain``, ``dilation``, ``align`` and
``dilation_align`` and prints a Markdown table: Y-PSNR of each run on each data set and, in
brackets, its temporal gain (PSNR minus the same weights fed seven copies of the reference).
"""

from __future__ import annotations

import json
import os
import sys

RUNS = (("plain", "small"), ("dilation", "+ dilation"), ("align", "+ alignment"), ("dilation_align", "+ both"))
DATA = (
    ("carphone", "carphone (real, 120 frames)"),
    ("opencv_clips", "tree + vtest (real, 60 frames)"),
    ("pans_large", "pans + zooms, 2-4 LR px/frame (17 x 9 frames)"),
)


def table(folder: str) -> str:
    head = "| run | " + " | ".join(label for _, label in DATA) + " |"
    lines = [head, "|---|" + "---:|" * len(DATA)]
    for run, label in RUNS:
        cells = []
        for data, _ in DATA:
            path = os.path.join(folder, f"{run}_{data}.json")
            if not os.path.exists(path):
                cells.append("—")
                continue
            with open(path) as f:
                avg = json.load(f)["average"]
            cells.append(f"{avg['psnr']:.3f} ({avg['temporal_gain_db']:+.3f})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    bic = []
    for data, _ in DATA:
        path = os.path.join(folder, f"plain_{data}.json")
        if os.path.exists(path):
            with open(path) as f:
                bic.append(f"{json.load(f)['average']['bicubic_psnr']:.3f}")
        else:
            bic.append("—")
    lines.append("| bicubic | " + " | ".join(bic) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not os.path.isdir(argv[0]):
        print("usage: python -m training.tools ablation-table FOLDER (the JSONs of evaluate.sh)", file=sys.stderr)
        return 2
    print(table(argv[0]))
    return 0
