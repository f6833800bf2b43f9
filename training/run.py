"""Train TGA with ``model.fit``: ``python -m training.run --config training/configs/small_clips.json``.

Everything a run needs is in one JSON config (see :class:`TrainConfig`; command-line flags override
it). A run writes to ``--output``:

    config.json      the resolved config (a re-run with a different config is refused)
    backup/          BackupAndRestore state: run the same command again to continue where it stopped
    best.keras       the model with the best validation PSNR-Y so far
    last.keras       the model after the last finished epoch
    log.csv          loss and validation PSNR-Y / SSIM-Y per epoch

Training data: any mix of Vimeo-90K septuplets, folders of frame sequences, video files and
synthetic motion from still images, degraded in the graph (BD or BI). Validation: whole frames of
held-out sequences with the official Y-channel metrics (8-pixel border crop).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import csv  # noqa: E402

import keras  # noqa: E402


@dataclasses.dataclass
class TrainConfig:
    """A training run. Paths are relative to the config file's folder unless absolute."""

    model: dict[str, Any] = dataclasses.field(default_factory=lambda: {"preset": "small"})
    train_videos: list[str] = dataclasses.field(default_factory=list)
    train_vimeo: str | None = None              # root of vimeo_septuplet (sequences/, sep_trainlist.txt)
    train_frame_folders: str | None = None      # Vid4/REDS-style root (one folder per sequence)
    train_stills: str | None = None             # folder of still images -> synthetic motion
    val_videos: list[str] = dataclasses.field(default_factory=list)
    val_frame_folders: str | None = None
    val_frames: int = 20                        # validation windows per epoch (0: no validation)
    degradation: str = "bd"
    hr_crop: int = 128
    batch_size: int = 8
    steps_per_epoch: int = 200
    epochs: int = 100
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-5             # cosine decay from learning_rate to this over all steps
    weight_decay: float = 0.0                   # AdamW's decoupled decay (the official code: Adam + L2 5e-4)
    loss: str = "l1"                            # "l1" (official: L1, lr 2e-3 step decay) or "charbonnier"
    seed: int = 0

    @classmethod
    def from_file(cls, path: str) -> "TrainConfig":
        with open(path) as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: not valid JSON: {e}") from None
        return cls.from_dict(data, base=os.path.dirname(os.path.abspath(path)))

    @classmethod
    def from_dict(cls, data: dict, base: str = ".") -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown training config fields: {', '.join(unknown)}")
        cfg = cls(**data)
        cfg._resolve(base)
        cfg.validate()
        return cfg

    def _resolve(self, base: str) -> None:
        def r(p):
            return p if p is None or os.path.isabs(p) else os.path.normpath(os.path.join(base, p))

        self.train_videos = [r(p) for p in self.train_videos]
        self.val_videos = [r(p) for p in self.val_videos]
        for name in ("train_vimeo", "train_frame_folders", "train_stills", "val_frame_folders"):
            setattr(self, name, r(getattr(self, name)))

    def validate(self) -> None:
        if not (self.train_videos or self.train_vimeo or self.train_frame_folders or self.train_stills):
            raise ValueError("no training data: set train_videos, train_vimeo, train_frame_folders or train_stills")
        if self.loss not in ("l1", "charbonnier"):
            raise ValueError(f"loss must be 'l1' or 'charbonnier', got {self.loss!r}")
        for name in ("batch_size", "steps_per_epoch", "epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.learning_rate > 0 or self.min_learning_rate < 0:
            raise ValueError("learning_rate must be > 0 and min_learning_rate >= 0")

    def model_config(self):
        from tga_keras.config import TGAConfig

        spec = dict(self.model)
        preset = spec.pop("preset", "official")
        return TGAConfig.preset(preset).replace(**spec)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def build_datasets(cfg: TrainConfig, scale: int, frames: int):
    from tga_keras.data import (
        FrameFolders,
        SyntheticMotion,
        VideoFiles,
        VimeoSeptuplets,
        make_eval_dataset,
        make_train_dataset,
    )

    sources = []
    if cfg.train_videos:
        sources.append(VideoFiles(cfg.train_videos))
    if cfg.train_vimeo:
        sources.append(VimeoSeptuplets(cfg.train_vimeo, "train", check_sizes=False))
    if cfg.train_frame_folders:
        sources.append(FrameFolders(cfg.train_frame_folders))
    if cfg.train_stills:
        sources.append(SyntheticMotion.from_folder(cfg.train_stills, length=frames, seed=cfg.seed))
    train = make_train_dataset(sources, batch_size=cfg.batch_size, frames=frames, scale=scale,
                               hr_crop=cfg.hr_crop, degradation=cfg.degradation, seed=cfg.seed)
    val = None
    if cfg.val_frames > 0 and (cfg.val_videos or cfg.val_frame_folders):
        vsrc = []
        if cfg.val_videos:
            vsrc.append(VideoFiles(cfg.val_videos))
        if cfg.val_frame_folders:
            vsrc.append(FrameFolders(cfg.val_frame_folders))
        val = make_eval_dataset(vsrc, frames=frames, scale=scale, degradation=cfg.degradation,
                                batch_size=1, with_info=False).take(cfg.val_frames).cache()
    return train, val


def train(cfg: TrainConfig, output: str, epochs: int | None = None, verbose: int = 2):
    """Run (or continue) training into ``output``; returns the Keras ``History``."""
    from tga_keras.io_utils import atomic_path
    from tga_keras.losses import charbonnier
    from tga_keras.metrics import PSNRY, SSIMY
    from tga_keras.model import build_tga

    os.makedirs(output, exist_ok=True)
    cfg_path = os.path.join(output, "config.json")
    resolved = json.dumps(cfg.to_dict(), indent=2, sort_keys=True)
    if os.path.exists(cfg_path):
        with open(cfg_path) as f:
            if json.dumps(json.load(f), indent=2, sort_keys=True) != resolved:
                raise ValueError(f"{output} holds a run with another config; use a new --output "
                                 f"(or delete the folder to start over)")
    else:
        with atomic_path(cfg_path) as tmp, open(tmp, "w") as f:
            f.write(resolved + "\n")

    keras.utils.set_random_seed(cfg.seed)
    mcfg = cfg.model_config()
    train_ds, val_ds = build_datasets(cfg, mcfg.scale, mcfg.frames)
    model = build_tga(mcfg)
    total_steps = cfg.steps_per_epoch * cfg.epochs
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate, decay_steps=total_steps, alpha=cfg.min_learning_rate / cfg.learning_rate)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay) if cfg.weight_decay else \
        keras.optimizers.Adam(schedule)
    loss = "mean_absolute_error" if cfg.loss == "l1" else charbonnier
    model.compile(optimizer=optimizer, loss=loss, metrics=[PSNRY(), SSIMY()])

    log = EpochLog(os.path.join(output, "log.csv"))
    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(output, "backup")),
        log,
        AtomicSave(os.path.join(output, "last.keras")),
    ]
    if val_ds is not None:
        # A resumed run keeps the best score so far: best.keras is only replaced by a better epoch.
        scores = [float(r["val_psnr_y"]) for r in log.rows().values() if r.get("val_psnr_y")]
        callbacks.append(AtomicSave(os.path.join(output, "best.keras"), monitor="val_psnr_y",
                                    best=max(scores, default=-math.inf)))
    return model.fit(train_ds, epochs=epochs or cfg.epochs, steps_per_epoch=cfg.steps_per_epoch,
                     validation_data=val_ds, callbacks=callbacks, verbose=verbose)


class EpochLog(keras.callbacks.Callback):
    """``log.csv`` with one row per epoch, kept across resumed runs (rewritten atomically)."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def rows(self) -> dict[int, dict]:
        if not os.path.exists(self.path):
            return {}
        with open(self.path, newline="") as f:
            return {int(r["epoch"]): r for r in csv.DictReader(f)}

    def on_epoch_end(self, epoch, logs=None):
        from tga_keras.io_utils import atomic_path

        rows = self.rows()
        rows[epoch + 1] = {"epoch": epoch + 1, **{k: f"{float(v):.6g}" for k, v in (logs or {}).items()}}
        keys = ["epoch"] + sorted({k for r in rows.values() for k in r} - {"epoch"})
        with atomic_path(self.path, overwrite=True) as tmp, open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            for e in sorted(rows):
                w.writerow(rows[e])


class AtomicSave(keras.callbacks.Callback):
    """Save the model after an epoch (only when ``monitor`` beats ``best``), via temp file + rename."""

    def __init__(self, path: str, monitor: str | None = None, best: float = -math.inf):
        super().__init__()
        self.path, self.monitor, self.best = path, monitor, best

    def on_epoch_end(self, epoch, logs=None):
        from tga_keras.io_utils import atomic_path

        if self.monitor is not None:
            value = (logs or {}).get(self.monitor)
            if value is None or not value > self.best:
                return
            self.best = value
        with atomic_path(self.path, overwrite=True) as tmp:
            self.model.save(tmp)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="training config (JSON)")
    p.add_argument("--output", required=True, help="run folder (created; re-run to continue)")
    p.add_argument("--epochs", type=int, help="stop after this epoch count (the schedule keeps the config's)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    args = p.parse_args(argv)
    try:
        if not os.path.isfile(args.config):
            raise FileNotFoundError(f"{args.config}: no such config file")
        cfg = TrainConfig.from_file(args.config)
        train(cfg, args.output, epochs=args.epochs, verbose=0 if args.quiet else 2)
    except (ValueError, FileNotFoundError) as e:
        print(f"training.run: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
