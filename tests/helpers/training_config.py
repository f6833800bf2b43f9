"""The tiny training run of the training tests: two short random videos and a config that trains on them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tga_keras.data.fakes import random_frames, write_video

# a narrow `small` on 32-pixel HR crops: seconds per epoch on a CPU
TINY_TRAINING_CONFIG: dict[str, Any] = {
    "model": {"preset": "small", "nf": 16, "inter_units": [2]},
    "train_videos": ["train.avi"],
    "val_videos": ["val.avi"],
    "val_frames": 2,
    "hr_crop": 32,
    "batch_size": 2,
    "steps_per_epoch": 2,
    "epochs": 3,
    "loss": "charbonnier",
    "tensorboard": False,
}


def write_tiny_videos(folder: Path) -> None:
    """``folder/train.avi`` (12 frames, 64x48) and ``folder/val.avi`` (9 frames, 48x40), random, seeded."""
    write_video(str(folder / "train.avi"), random_frames(12, 48, 64, seed=1))
    write_video(str(folder / "val.avi"), random_frames(9, 40, 48, seed=2))


def write_tiny_config(folder: Path, **changes: Any) -> Path:
    """``folder/cfg.json``: :data:`TINY_TRAINING_CONFIG` with ``changes`` (the videos: :func:`write_tiny_videos`)."""
    path = Path(folder) / "cfg.json"
    path.write_text(json.dumps({**TINY_TRAINING_CONFIG, **changes}))
    return path
