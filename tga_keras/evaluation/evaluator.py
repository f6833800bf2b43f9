"""The evaluator: PSNR-Y / SSIM-Y of a model on video sequences, as the official test.

One implementation for ``tga evaluate`` (which parses its options, calls :func:`evaluate` and prints
the :class:`EvaluationResult`) and for training validation (``training.distributed.validate``
scores its batches with :class:`FrameScores`)::

    from tga_keras.evaluation.evaluator import evaluate

    result = evaluate("saved_models/tga_small_bd_x4/model.keras", "clip.mp4", max_frames=2)
    print(result.average["psnr"], result.sequences["clip"]["ssim"], result.average["bicubic_psnr"])

Every frame of a sequence is a reference (boundary frames replicated); the LR frames come from the
HR frames by BD (or BI) degradation (:func:`tga_keras.data.make_eval_dataset`). Figures: per sequence
the mean over its frames; overall the mean over sequences (as the official ``test.py``), with the
bicubic baseline beside them. Importing this module never loads TensorFlow.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from tga_keras.errors import DatasetError, InputError

MODEL_KEYS = ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim")
ABLATION_KEYS = ("static_psnr", "static_ssim", "motion_lr_px")


def default_crop_border(protocol: str) -> int:
    """Pixels cropped before the metrics by default: 0 for ``'official'`` (its SR crop already removes
    the padding), 8 for ``'plain'``."""
    return 0 if protocol == "official" else 8


class EvalData(NamedTuple):
    """What :func:`open_sources` found at ``path``: the data source(s) and whether only the centre
    frame of each sequence is a reference (a Vimeo-90K test list)."""

    sources: Any
    centre_only: bool
    path: str


def open_sources(path: str | os.PathLike) -> EvalData:
    """The data source(s) at ``path``: a video file, a folder of videos, a folder of frame folders
    (Vid4 / REDS: one folder per sequence), one folder of frames, or a Vimeo-90K septuplet root
    (``sep_testlist.txt``: the centre frame of each septuplet is the reference).

    Raises ``FileNotFoundError`` when ``path`` does not exist. Reads no frame.
    """
    from tga_keras.data import FrameFolders, FrameSequence, VideoFiles, VimeoSeptuplets
    from tga_keras.io.images import list_images

    path = os.fspath(path)
    if os.path.isfile(path):
        return EvalData(VideoFiles(path), False, path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such file or folder")
    if os.path.isfile(os.path.join(path, "sep_testlist.txt")):
        return EvalData(VimeoSeptuplets(path, "test"), True, path)
    entries = sorted(os.listdir(path))
    if any(os.path.isdir(os.path.join(path, e)) for e in entries):
        return EvalData(FrameFolders(path), False, path)
    if list_images(path):
        return EvalData(FrameSequence(os.path.basename(os.path.normpath(path)), list_images(path)), False, path)
    return EvalData(VideoFiles(path), False, path)


class FrameScores:
    """Official PSNR-Y (dB) and SSIM-Y of SR frames against their HR frames, one figure per frame, in
    the order added, and their means: the one scoring of the evaluator and of training validation.

    Args:
        crop_border: pixels dropped on every side before the metrics (integer >= 0).
    """

    def __init__(self, crop_border: int) -> None:
        if isinstance(crop_border, bool) or int(crop_border) != crop_border or crop_border < 0:
            raise InputError(f"crop_border must be an integer >= 0, got {crop_border!r}")
        self.crop_border = int(crop_border)
        self.psnr: list[float] = []
        self.ssim: list[float] = []

    def add(self, sr: npt.ArrayLike, hr: npt.ArrayLike) -> None:
        """Score one frame ``(H, W, 3)`` or a batch ``(B, H, W, 3)``: RGB float [0, 1] (or uint8),
        ``sr`` and ``hr`` of one shape (:func:`tga_keras.evaluation.metrics.psnr_y` / ``ssim_y``)."""
        from tga_keras.evaluation.metrics import psnr_y, ssim_y

        sr, hr = np.asarray(sr), np.asarray(hr)
        if sr.ndim == 3:
            sr, hr = sr[None], hr[None]
        if sr.shape != hr.shape or sr.ndim != 4:
            raise InputError(f"expected SR and HR of one shape, (H, W, 3) or (B, H, W, 3): {sr.shape}, {hr.shape}")
        for s, h in zip(sr, hr, strict=True):
            self.psnr.append(psnr_y(s, h, self.crop_border))
            self.ssim.append(ssim_y(s, h, self.crop_border))

    def __len__(self) -> int:
        return len(self.psnr)

    def means(self) -> dict[str, float]:
        """``{'psnr': dB, 'ssim': [-1, 1]}``: the means over every frame added (0.0 before any, as the
        Keras metrics ``PSNRY`` / ``SSIMY``; ``inf`` PSNR when a frame is exact)."""
        return {k: float(np.mean(v)) if v else 0.0 for k, v in (("psnr", self.psnr), ("ssim", self.ssim))}


class _Sequence:
    """The per-frame figures of one sequence while it is evaluated."""

    def __init__(self, crop_border: int, ablate: bool) -> None:
        self.ablate = ablate
        self.model = FrameScores(crop_border)  # the model's output
        self.bicubic = FrameScores(crop_border)  # the bicubic upscale of the reference
        self.static = FrameScores(crop_border)  # the model on copies of the reference (ablation)
        self.motion: list[float] = []
        self.frame_ids: list[int] = []

    def per_frame(self) -> dict[str, list[float]]:
        """The figures of every frame by key (:data:`MODEL_KEYS`, + :data:`ABLATION_KEYS` when ablating)."""
        figs = {
            "psnr": self.model.psnr,
            "ssim": self.model.ssim,
            "bicubic_psnr": self.bicubic.psnr,
            "bicubic_ssim": self.bicubic.ssim,
        }
        if self.ablate:
            figs |= {"static_psnr": self.static.psnr, "static_ssim": self.static.ssim, "motion_lr_px": self.motion}
        return figs


@dataclass
class EvaluationResult:
    """The figures of :func:`evaluate`; PSNR in dB (Y channel, 0..255 scale), SSIM in [-1, 1].

    Attributes:
        sequences: per sequence (in evaluation order), the means over its frames: ``psnr``, ``ssim``,
            ``bicubic_psnr``, ``bicubic_ssim``; with ``temporal_ablation`` also ``static_psnr``,
            ``static_ssim`` (the model on copies of the reference LR frame), ``motion_lr_px`` (mean
            optical flow from the reference to its two nearest neighbours, LR pixels) and
            ``temporal_gain_db`` (``psnr - static_psnr``); and ``frames`` (int, frames evaluated).
        average: the mean over sequences of the same figures (no ``frames``; see :attr:`total_frames`).
        per_frame: per sequence, every frame's figures by key (lists in evaluation order).
        frame_ids: per sequence, the reference frame indices (counted from 0) of ``per_frame``.
        scale, frames: the model's upscaling factor and window length.
        backend, precision, config: the runtime's name, its precision (``fp32``, ...) and the model's
            ``TGAConfig`` as a dict (None for a backend without one).
        protocol, degradation, crop_border, first_frame, max_frames, temporal_ablation: the settings
            :func:`evaluate` ran with (``crop_border`` as applied: the protocol's default when not given).
        align, alignment_stats: whether windows were aligned, and the neighbours aligned and fallen
            back (``{'neighbours': n, 'fell_back': k}``, :class:`~tga_keras.runtime.upscaler.Upscaler`).
        seconds: wall-clock time of the frames' loop.
    """

    sequences: dict[str, dict[str, Any]]
    average: dict[str, float]
    per_frame: dict[str, dict[str, list[float]]]
    frame_ids: dict[str, list[int]]
    scale: int
    frames: int
    backend: str
    precision: str
    config: dict[str, Any] | None
    protocol: str
    degradation: str
    crop_border: int
    first_frame: int
    max_frames: int | None
    temporal_ablation: bool
    align: bool
    alignment_stats: dict[str, int]
    seconds: float

    @property
    def total_frames(self) -> int:
        """Frames evaluated over every sequence."""
        return sum(int(r["frames"]) for r in self.sequences.values())

    def report(self) -> dict[str, Any]:
        """The figures and settings as ``tga evaluate --json`` writes them (after its ``data`` and
        ``weights`` fields): plain JSON types."""
        return {
            "backend": self.backend,
            "precision": self.precision,
            "config": self.config,
            "protocol": self.protocol,
            "degradation": self.degradation,
            "crop_border": self.crop_border,
            "first_frame": self.first_frame,
            "max_frames": self.max_frames,
            "temporal_ablation": self.temporal_ablation,
            "aligned": self.align,
            "alignment_fallbacks": self.alignment_stats["fell_back"] if self.align else None,
            "sequences": self.sequences,
            "average": self.average,
        }


def _summarise(per_seq: dict[str, _Sequence], ablate: bool) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """Per-sequence means over frames and their mean over sequences (+ the temporal gain when ablating)."""
    keys = MODEL_KEYS + (ABLATION_KEYS if ablate else ())
    rows: dict[str, dict[str, Any]] = {
        name: {k: float(np.mean(v)) for k, v in s.per_frame().items()} | {"frames": len(s.model)}
        for name, s in per_seq.items()
    }
    overall: dict[str, Any] = {k: float(np.mean([r[k] for r in rows.values()])) for k in keys}
    if ablate:
        for r in (*rows.values(), overall):
            r["temporal_gain_db"] = r["psnr"] - r["static_psnr"]
    return rows, overall


def _score_window(up: Any, seq: _Sequence, lr: np.ndarray, hr: np.ndarray, protocol: str) -> None:
    """Run the model (and, ablating, on the static input) on one LR window ``(F, h, w, 3)`` and score
    it and the bicubic upscale of its reference against ``hr`` ``(H, W, 3)``."""
    from tga_keras.data import crop_sr_output
    from tga_keras.preprocess.resize import imresize

    scale, c = up.scale, up.frames // 2
    seq.model.add(crop_sr_output(up.upscale_window(lr), scale, protocol), hr)
    bic = np.clip(imresize(lr[c], scale), 0, 1)
    seq.bicubic.add(crop_sr_output(bic, scale, protocol), hr)
    if seq.ablate:
        from tga_keras.evaluation.metrics import mean_motion_px

        static = np.repeat(lr[c][None], up.frames, axis=0)
        seq.static.add(crop_sr_output(up.upscale_window(static), scale, protocol), hr)
        seq.motion.append(mean_motion_px(lr[c], lr[c - 1], lr[c + 1]))  # the two nearest neighbours


def evaluate(
    model: Any,
    data: str | os.PathLike | EvalData,
    *,
    protocol: str = "official",
    degradation: str = "bd",
    crop_border: int | None = None,
    max_frames: int | None = None,
    first_frame: int = 0,
    tile: int | None = None,
    overlap: int | None = None,
    align: bool | None = None,
    temporal_ablation: bool = False,
    progress: bool = True,
) -> EvaluationResult:
    """PSNR-Y / SSIM-Y of ``model`` and of the bicubic baseline on the sequences of ``data``.

    Args:
        model: a TGA ``keras.Model``, a ``.keras`` path (run by Keras), or a backend
            (:func:`tga_keras.runtime.backends.load_backend`: any format, the fastest runtime).
        data: a path (:func:`open_sources` says what it may be) or what :func:`open_sources` returned.
        protocol: ``'official'`` reflect-pads the HR by ``2 * scale`` before BD and crops the SR output
            by as much (the official loaders); ``'plain'`` degrades the frame as it is.
        degradation: ``'bd'`` (the official Gaussian blur + subsampling) or ``'bi'`` (bicubic; plain only).
        crop_border: pixels cropped on every side before the metrics (None: :func:`default_crop_border`).
        max_frames: evaluate at most this many reference frames per sequence (None: all).
        first_frame: the first reference frame of every sequence (the frames before it still serve
            as neighbours).
        tile, overlap, align: as :class:`tga_keras.runtime.upscaler.Upscaler` (``tile``: LR tile size,
            None for whole frames; ``overlap``: LR context pixels per tile; ``align``: None follows the
            model's config).
        temporal_ablation: also run the model on ``frames`` copies of each reference LR frame (a static
            input, twice the work) and measure the neighbours' motion (:class:`EvaluationResult`).
        progress: a progress bar on stderr.

    Raises ``FileNotFoundError`` (no such data), :class:`~tga_keras.errors.DatasetError` (unreadable or
    short sequences; no frame from ``first_frame`` on) and ``ValueError`` (bad arguments).
    """
    from tqdm import tqdm

    from tga_keras.data import make_eval_dataset
    from tga_keras.data.train_pipeline import DEGRADATIONS
    from tga_keras.preprocess.degradation import PROTOCOLS
    from tga_keras.runtime.backends import as_backend
    from tga_keras.runtime.upscaler import Upscaler

    if protocol not in PROTOCOLS or degradation not in DEGRADATIONS:
        raise InputError(f"protocol must be one of {PROTOCOLS} and degradation one of {DEGRADATIONS}")
    ev_data = data if isinstance(data, EvalData) else open_sources(data)
    crop = default_crop_border(protocol) if crop_border is None else crop_border
    FrameScores(crop)  # checks crop_border before any work
    backend = as_backend(model)
    ds = make_eval_dataset(
        ev_data.sources,
        frames=backend.frames,
        scale=backend.scale,
        degradation=degradation,
        protocol=protocol,
        batch_size=None,
        references="center" if ev_data.centre_only else "all",
        max_references=max_frames,
        first_reference=first_frame,
    )
    up = Upscaler(backend, tile=tile, tile_overlap=overlap, align=align)
    per_seq: dict[str, _Sequence] = {}
    t0 = time.perf_counter()
    bar = tqdm(desc="evaluate", unit="frame", disable=not progress, file=sys.stderr)
    for lr, hr, info in ds.as_numpy_iterator():
        seq = per_seq.setdefault(info["sequence"].decode("utf-8"), _Sequence(crop, temporal_ablation))
        seq.frame_ids.append(int(info["frame"]))
        _score_window(up, seq, lr, hr, protocol)
        bar.update(1)
    bar.close()
    if not per_seq:
        after = f" from frame {first_frame} on" if first_frame else ""
        raise DatasetError(f"{ev_data.path}: no frames to evaluate{after}")
    seconds = time.perf_counter() - t0
    rows, overall = _summarise(per_seq, temporal_ablation)
    config = getattr(backend, "config", None)
    return EvaluationResult(
        sequences=rows,
        average=overall,
        per_frame={name: s.per_frame() for name, s in per_seq.items()},
        frame_ids={name: s.frame_ids for name, s in per_seq.items()},
        scale=up.scale,
        frames=up.frames,
        backend=str(getattr(backend, "name", type(backend).__name__)),
        precision=str(getattr(backend, "precision", "unknown")),
        config=None if config is None else config.to_dict(),
        protocol=protocol,
        degradation=degradation,
        crop_border=crop,
        first_frame=first_frame,
        max_frames=max_frames,
        temporal_ablation=temporal_ablation,
        align=up.align,
        alignment_stats=dict(up.alignment_stats),
        seconds=seconds,
    )


__all__ = [
    "EvalData",
    "EvaluationResult",
    "FrameScores",
    "default_crop_border",
    "evaluate",
    "open_sources",
]
