"""Callbacks of a training run: the epoch log, atomic model saves and TensorBoard pictures."""

from __future__ import annotations

import csv
import math
import os
from typing import Any

import keras
import numpy as np

from tga_keras.io.files import atomic_path


class EpochLog(keras.callbacks.Callback):
    """``log.csv`` with one row per epoch, kept across resumed runs (rewritten atomically).

    Rows after ``resume_epoch`` (an epoch that was logged but not committed to the run state before
    a kill) are dropped when the run resumes: that epoch runs again and logs again.
    """

    def __init__(self, path: str, resume_epoch: int | None = None, write: bool = True):
        super().__init__()
        self.path, self.write = path, write
        if resume_epoch is not None and write:
            rows = {e: r for e, r in self.rows().items() if e <= resume_epoch}
            if rows != self.rows():
                self._write(rows)

    def rows(self) -> dict[int, dict]:
        if not os.path.exists(self.path):
            return {}
        with open(self.path, newline="") as f:
            return {int(r["epoch"]): r for r in csv.DictReader(f)}

    def _write(self, rows: dict[int, dict]) -> None:
        keys = ["epoch"] + sorted({k for r in rows.values() for k in r} - {"epoch"})
        with atomic_path(self.path, overwrite=True) as tmp, open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            for e in sorted(rows):
                w.writerow(rows[e])

    def on_epoch_end(self, epoch, logs=None):
        if not self.write:
            return
        rows = self.rows()
        rows[epoch + 1] = {"epoch": epoch + 1, **{k: f"{float(v):.6g}" for k, v in (logs or {}).items()}}
        lr = _learning_rate(self.model)
        if lr is not None:
            rows[epoch + 1]["learning_rate"] = f"{lr:.6g}"
        self._write(rows)


def _learning_rate(model) -> float | None:
    opt = getattr(model, "optimizer", None)
    if opt is None:
        return None
    try:
        return float(keras.ops.convert_to_numpy(opt.learning_rate))
    except (TypeError, ValueError, AttributeError):
        return None


class Validation(keras.callbacks.Callback):
    """Validate at the end of every epoch and add ``val_loss``/``val_psnr_y``/``val_ssim_y`` to the logs
    that the callbacks after it see. Replica-local (whole frames of differing sizes, batch 1), so it
    works the same under every strategy: ``fit``'s own validation splits a batch of one over the
    replicas and fails under ``MirroredStrategy``."""

    def __init__(self, dataset, verbose: bool = False):
        super().__init__()
        self.dataset, self.verbose = dataset, verbose

    def on_epoch_end(self, epoch, logs=None):
        from training.distributed import validate

        scores = validate(self.model, self.dataset)
        if logs is not None:
            logs.update(scores)
        if self.verbose:
            print(
                f"Epoch {epoch + 1} validation - " + " - ".join(f"{k}: {v:.4f}" for k, v in scores.items()), flush=True
            )


class AtomicSave(keras.callbacks.Callback):
    """Save the model after an epoch (only when ``monitor`` beats ``best``), via temp file + rename."""

    def __init__(self, path: str, monitor: str | None = None, best: float = -math.inf, write: bool = True):
        super().__init__()
        self.path, self.monitor, self.best, self.write = path, monitor, best, write

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor is not None:
            value = (logs or {}).get(self.monitor)
            if value is None or not value > self.best:
                return
            self.best = value
        if self.write:
            with atomic_path(self.path, overwrite=True) as tmp:
                self.model.save(tmp)


def validation_strip(lr: np.ndarray, sr: np.ndarray, hr: np.ndarray, scale: int) -> np.ndarray:
    """``bicubic | TGA | ground truth`` side by side, float32 ``(H, 3W, 3)`` in [0, 1], from one
    window's LR frames ``(F, h, w, 3)``, SR ``(H, W, 3)`` and HR ``(H, W, 3)``."""
    from tga_keras.preprocess.resize import imresize

    bic = np.clip(imresize(lr[lr.shape[0] // 2], scale), 0, 1)[: hr.shape[0], : hr.shape[1]]
    return np.concatenate([bic, np.clip(sr, 0, 1), hr], axis=1).astype(np.float32)


def attention_strip(attention: np.ndarray, enlarge: int = 1) -> np.ndarray:
    """The groups' attention maps ``(G, h, w)`` in [0, 1] side by side as a heat map
    ``(h * enlarge, G * w * enlarge, 3)`` (enlarged without smoothing, to the SR crop's size)."""
    import cv2

    tiles = np.concatenate(list(np.clip(attention, 0, 1)), axis=1)
    tiles = np.repeat(np.repeat(tiles, enlarge, axis=0), enlarge, axis=1)
    heat = cv2.applyColorMap((tiles * 255 + 0.5).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
    return heat[..., ::-1].astype(np.float32) / 255.0


class TensorBoardPictures(keras.callbacks.Callback):
    """Each epoch: ``bicubic | TGA | ground truth`` for a few fixed validation windows, and the three
    groups' attention maps of each (softmax over groups: bright = that group carries the pixel)."""

    def __init__(self, log_dir: str, windows: list[tuple[np.ndarray, np.ndarray]], scale: int, crop: int = 96):
        super().__init__()
        self.log_dir, self.windows, self.scale, self.crop = log_dir, windows, scale, crop
        self._writer: Any = None  # tf.summary.SummaryWriter, made at the first epoch's end
        self._probe: Any = None  # keras.Model: (SR, attention) of the trained model

    def _crop(self, lr, hr):
        h, w = lr.shape[1:3]
        c = max(1, self.crop // self.scale)
        top, left = max(0, (h - c) // 2), max(0, (w - c) // 2)
        lr = lr[:, top : top + c, left : left + c]
        s = self.scale
        return lr, hr[top * s : (top + c) * s, left * s : (left + c) * s]

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "pictures"))
            att = self.model.get_layer("attention").output[1]
            self._probe = keras.Model(self.model.input, [self.model.output, att])
        strips, maps = [], []
        for lr, hr in self.windows:
            lr, hr = self._crop(lr, hr)
            sr, att = self._probe(lr[None], training=False)
            sr, att = np.asarray(sr[0], np.float32), np.asarray(att[0], np.float32)
            strips.append(validation_strip(lr, sr, hr, self.scale))
            maps.append(attention_strip(att.reshape(att.shape[0], lr.shape[1], lr.shape[2]), enlarge=self.scale))
        with self._writer.as_default():
            tf.summary.image("bicubic | TGA | ground truth", np.stack(strips), step=epoch + 1, max_outputs=len(strips))
            tf.summary.image("attention per group", np.stack(maps), step=epoch + 1, max_outputs=len(maps))
        self._writer.flush()


__all__ = ["AtomicSave", "EpochLog", "TensorBoardPictures", "Validation", "attention_strip", "validation_strip"]
