"""Data for TGA: frame sources (Vimeo-90K, frame folders, videos, synthetic motion) and tf.data pipelines.

Frames everywhere are float32 RGB in [0, 1], ``(..., H, W, 3)``. Frames are read by :mod:`tga_keras.io`; see
:mod:`.train_pipeline` / :mod:`.eval_pipeline` for element layouts.
"""

from __future__ import annotations

from tga_keras.data.eval_pipeline import crop_sr_output, make_eval_dataset, modcrop, sr_border
from tga_keras.data.sources import (
    ArraySequence,
    FrameFolders,
    FrameSequence,
    Sequence,
    VideoFiles,
    VideoSequence,
    VimeoSeptuplets,
    collect_sequences,
)
from tga_keras.data.synthetic import MotionRange, SyntheticMotion, SyntheticSequence
from tga_keras.data.throughput import measure_pipeline_throughput
from tga_keras.data.train_pipeline import degrade, make_train_dataset

__all__ = [
    "ArraySequence",
    "FrameFolders",
    "FrameSequence",
    "MotionRange",
    "Sequence",
    "SyntheticMotion",
    "SyntheticSequence",
    "VideoFiles",
    "VideoSequence",
    "VimeoSeptuplets",
    "collect_sequences",
    "crop_sr_output",
    "degrade",
    "make_eval_dataset",
    "make_train_dataset",
    "measure_pipeline_throughput",
    "modcrop",
    "sr_border",
]
