"""A run's resumable state: ``RUN/state/``, safe against a kill at any moment.

At the end of every epoch :class:`RunState` writes

    state/ckpt-EEEEE.weights.h5   model weights and optimizer variables (step counter, Adam moments,
                                  the loss scale under float16) after epoch EEEEE
    state/progress.json           {"epoch", "step", "checkpoint", "best", "best_epoch"}, the commit point

in that order, each through a temporary file and a rename; older checkpoints are deleted only
after ``progress.json`` names the new one. A process killed at any moment leaves either the old
or the new state, never a mix: a resumed run restarts the interrupted epoch from its beginning,
with the optimizer step and learning rate of that point, and reads the data stream from the
sample where that epoch began (the training pipeline is keyed by the sample index).
"""

from __future__ import annotations

import glob
import json
import math
import os
from dataclasses import dataclass

import keras

from tga_keras.io.files import atomic_path


@dataclass
class Progress:
    epoch: int = 0  # finished epochs
    step: int = 0  # optimizer steps taken (= epoch * steps_per_epoch)
    checkpoint: str | None = None
    best: float = -math.inf  # best validation PSNR-Y so far
    best_epoch: int = 0

    def to_json(self) -> str:
        d = dict(self.__dict__)
        d["best"] = None if not math.isfinite(self.best) else self.best
        return json.dumps(d, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Progress":
        d = json.loads(text)
        d["best"] = -math.inf if d.get("best") is None else float(d["best"])
        return cls(**d)


class RunState:
    """Reads and writes ``RUN/state`` (see the module docstring)."""

    def __init__(self, run_dir: str):
        self.folder = os.path.join(run_dir, "state")
        self.progress_path = os.path.join(self.folder, "progress.json")

    def load_progress(self) -> Progress:
        if not os.path.exists(self.progress_path):
            return Progress()
        with open(self.progress_path) as f:
            try:
                return Progress.from_json(f.read())
            except (ValueError, TypeError) as e:
                raise ValueError(f"{self.progress_path} is damaged ({e}); delete the run to start over") from None

    def restore(self, model: keras.Model, progress: Progress) -> None:
        """Load the checkpoint ``progress`` names into a compiled, built ``model`` (and its optimizer)."""
        if progress.checkpoint is None:
            return
        path = os.path.join(self.folder, progress.checkpoint)
        if not os.path.exists(path):
            raise ValueError(f"{self.progress_path} names {progress.checkpoint}, which is missing")
        model.optimizer.build(model.trainable_variables)
        model.load_weights(path)
        step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        if step != progress.step:
            raise ValueError(f"{path}: optimizer step {step}, but {self.progress_path} says {progress.step}")

    def save(self, model: keras.Model, progress: Progress, write: bool = True) -> None:
        """Commit ``progress`` with the model's current weights (``write=False``: a non-chief worker, no-op)."""
        name = f"ckpt-{progress.epoch:05d}.weights.h5"
        if not write:
            return
        os.makedirs(self.folder, exist_ok=True)
        tmp = os.path.join(self.folder, f".part-{os.getpid()}-{name}")  # Keras wants the .weights.h5 ending
        try:
            model.save_weights(tmp)
            os.replace(tmp, os.path.join(self.folder, name))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        progress.checkpoint = name
        with atomic_path(self.progress_path, overwrite=True) as tmp, open(tmp, "w") as f:
            f.write(progress.to_json())
        for old in glob.glob(os.path.join(self.folder, "ckpt-*.weights.h5")):
            if os.path.basename(old) != name:
                os.unlink(old)


class SaveState(keras.callbacks.Callback):
    """Commit the run state after every epoch (the last callback: after the log and the models)."""

    def __init__(self, state: RunState, progress: Progress, steps_per_epoch: int, write: bool = True):
        super().__init__()
        self.state, self.progress, self.steps_per_epoch, self.write = state, progress, steps_per_epoch, write

    def on_epoch_end(self, epoch, logs=None):
        score = (logs or {}).get("val_psnr_y")
        if score is not None and float(score) > self.progress.best:
            self.progress.best, self.progress.best_epoch = float(score), epoch + 1
        self.progress.epoch = epoch + 1
        self.progress.step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self.state.save(self.model, self.progress, write=self.write)


__all__ = ["Progress", "RunState", "SaveState"]
