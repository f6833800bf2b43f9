"""Train TGA: ``python -m training.run --config training/configs/tga_small_bd_x4/1_clips.json --output runs/NAME``.

Everything a run needs is in one JSON config (``training/config.py``; ``training/README.md`` lists
the fields); paths in it are relative to the config file. A run writes to ``--output``:

    config.json      the config as written (a re-run with a different config is refused)
    state/           the resumable state after the last finished epoch (weights, optimizer, progress)
    best.keras       the model with the best validation PSNR-Y so far
    last.keras       the model after the last finished epoch
    log.csv          loss, learning rate and validation PSNR-Y / SSIM-Y per epoch
    tensorboard/     scalars, and per epoch bicubic | TGA | ground-truth crops and attention maps

Run the same command again to continue: after ``--epochs N``, Ctrl-C, a crash or a SIGKILL at any
moment, training continues from the last finished epoch with the same optimizer step, learning
rate, data position and best score (``deterministic: true`` makes the result bit-identical to an
uninterrupted run). A run folder copied elsewhere continues there with the same command.

Exit codes: 0 done; 2 a user error (bad config or data, before any training step); 130 stopped by
Ctrl-C (the state of the last finished epoch is kept); 1 a failure inside the program.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from training.config import TrainConfig, read_config_file  # noqa: E402

if TYPE_CHECKING:
    import tensorflow as tf

    from tga_keras.data import FrameFolders, SyntheticMotion, VideoFiles, VimeoSeptuplets
    from training.state import Progress, RunState

EXECUTION_FIELDS = ("strategy", "tensorboard")  # may differ between the starts of one run
PROG = "python -m training.run"

__all__ = ["EXECUTION_FIELDS", "TrainConfig", "build_datasets", "main", "train"]


def build_datasets(
    cfg: TrainConfig, scale: int, frames: int, *, start: int = 0, shard: tuple[int, int] | None = None
) -> tuple[tf.data.Dataset, tf.data.Dataset | None]:
    """``(train, val)``: the training stream from sample ``start`` (this shard's slice of every
    global batch) and the fixed validation windows (``None`` without validation data)."""
    from tga_keras.data import (
        FrameFolders,
        SyntheticMotion,
        VideoFiles,
        VimeoSeptuplets,
        make_eval_dataset,
        make_train_dataset,
    )

    sources: list[VideoFiles | VimeoSeptuplets | FrameFolders | SyntheticMotion] = []
    if cfg.train_videos:
        sources.append(VideoFiles(cfg.train_videos))
    if cfg.train_vimeo:
        sources.append(VimeoSeptuplets(cfg.train_vimeo, "train", check_sizes=False))
    if cfg.train_frame_folders:
        sources.append(FrameFolders(cfg.train_frame_folders))
    if cfg.train_stills:
        # Every copy is a window of its own, with its own random motion (keyed by the sample index).
        stills = SyntheticMotion.from_folder(cfg.train_stills, length=frames, seed=cfg.seed, motion=cfg.motion_range())
        sources += [stills] * cfg.train_stills_weight
    train = make_train_dataset(
        sources,
        batch_size=cfg.batch_size,
        frames=frames,
        scale=scale,
        hr_crop=cfg.hr_crop,
        degradation=cfg.degradation,
        seed=cfg.seed,
        start=start,
        shard=shard,
        align=cfg.model_config().align,
    )
    # Validation: the first val_frames windows of each kind of held-out data, the same every epoch.
    parts: list[tuple[VideoFiles | FrameFolders | SyntheticMotion, str]] = []
    if cfg.val_videos:
        parts.append((VideoFiles(cfg.val_videos), "all"))
    if cfg.val_frame_folders:
        parts.append((FrameFolders(cfg.val_frame_folders), "all"))
    if cfg.val_stills:
        # Fixed synthetic motion (key 0, a seed of its own); the still itself is the reference frame, but
        # for the moving objects of local motion (stills_motion.objects), which are placed and sized
        # relative to the whole photograph here (training: relative to each crop).
        still_motion = SyntheticMotion.from_folder(
            cfg.val_stills, length=frames, seed=cfg.seed + 1, motion=cfg.motion_range()
        )
        parts.append((still_motion, "center"))
    val = None
    for source, references in parts if cfg.val_frames > 0 else []:
        ds = make_eval_dataset(
            source,
            frames=frames,
            scale=scale,
            degradation=cfg.degradation,
            batch_size=1,
            with_info=False,
            references=references,
            align=cfg.model_config().align,
        ).take(cfg.val_frames)
        val = ds if val is None else val.concatenate(ds)
    return train, None if val is None else val.cache()


def learning_rate_schedule(cfg: TrainConfig) -> keras.optimizers.schedules.LearningRateSchedule | float:
    total = cfg.steps_per_epoch * cfg.epochs
    if cfg.lr_schedule == "step":
        every = cfg.lr_step_epochs * cfg.steps_per_epoch
        bounds = list(range(every, total, every))
        values = [cfg.learning_rate * cfg.lr_step_factor**i for i in range(len(bounds) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(bounds, values) if bounds else cfg.learning_rate
    return keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate, decay_steps=total, alpha=cfg.min_learning_rate / cfg.learning_rate
    )


def make_optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    kw = dict(beta_1=cfg.adam_beta_1, beta_2=cfg.adam_beta_2, epsilon=cfg.adam_epsilon)
    schedule = learning_rate_schedule(cfg)
    if cfg.weight_decay:
        opt = keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay, **kw)
    else:
        opt = keras.optimizers.Adam(schedule, **kw)
    if cfg.mixed_precision == "float16":
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


def load_initial_weights(model: keras.Model, cfg: TrainConfig) -> None:
    """Copy ``cfg.init_from`` (a ``.keras`` of the same architecture, or an official ``.pth``) into ``model``.

    The saved model may differ from the run's in ``dilation`` and ``align`` only: they change how
    the same weights are applied, not the weights (fine-tuning a plain model with dilation or
    alignment switched on).
    """
    from tga_keras.models.loading import load_tga

    path = cfg.init_from
    if path is None:
        raise ValueError("load_initial_weights: the config has no init_from")
    mcfg = cfg.model_config()
    if path.endswith((".pth", ".pt", ".npz")):
        from tga_keras.models.convert import from_torch

        src = from_torch(path, config=mcfg)
    else:
        src = load_tga(path)
        if src.config.replace(dilation=mcfg.dilation, align=mcfg.align) != mcfg:
            diff = {k: (v, getattr(mcfg, k)) for k, v in src.config.to_dict().items() if mcfg.to_dict()[k] != v}
            raise ValueError(
                f"init_from {path} is another architecture than the run's model: "
                + ", ".join(f"{k} {a} there, {b} here" for k, (a, b) in diff.items())
            )
    model.set_weights(src.get_weights())


def _check_run_folder(output: str, raw: dict[str, Any], write: bool) -> None:
    """Store the config as written in ``output/config.json``, or refuse a folder holding another."""
    from tga_keras.io.files import atomic_path

    cfg_path = os.path.join(output, "config.json")
    written = TrainConfig.parse(raw).to_dict()
    if os.path.exists(cfg_path):
        with open(cfg_path) as f:
            try:
                stored = TrainConfig.parse(json.load(f)).to_dict()
            except ValueError:
                stored = None
        # How a run executes may change between starts; what it computes may not.
        same = stored is not None and all(stored[k] == v for k, v in written.items() if k not in EXECUTION_FIELDS)
        if not same:
            raise ValueError(
                f"{output} holds a run with another config; use a new --output (or delete the folder to start over)"
            )
    elif write:
        os.makedirs(output, exist_ok=True)
        with atomic_path(cfg_path) as tmp, open(tmp, "w") as f:
            f.write(json.dumps(written, indent=2, sort_keys=True) + "\n")


def train(
    cfg: TrainConfig, output: str, epochs: int | None = None, verbose: int = 2, raw: dict[str, Any] | None = None
) -> keras.callbacks.History | None:
    """Run (or continue) training into ``output``; returns the Keras ``History``.

    ``raw``: the config as written in its file (stored in the run folder; default ``cfg`` itself).
    """
    import tensorflow as tf

    from training.distributed import fit_distributed, is_chief, make_strategy
    from training.state import RunState

    strategy = make_strategy(cfg.strategy)
    chief = is_chief(strategy)
    _check_run_folder(output, raw if raw is not None else cfg.to_dict(), write=chief)
    state = RunState(output)
    progress = state.load_progress()
    target = min(epochs or cfg.epochs, cfg.epochs)
    if progress.epoch >= target:
        print(f"{output}: {progress.epoch} epochs already done (target {target})", file=sys.stderr)
        return None

    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    if cfg.mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{cfg.mixed_precision}")
    mcfg = cfg.model_config()
    replicas = strategy.num_replicas_in_sync
    if cfg.batch_size % replicas:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by the {replicas} replicas")
    start = progress.epoch * cfg.steps_per_epoch * cfg.batch_size
    train_ds, val_ds = build_datasets(cfg, mcfg.scale, mcfg.frames, start=start)
    model = compiled_model(cfg, strategy, state, progress)
    callbacks = make_callbacks(cfg, output, val_ds, state, progress, strategy, verbose)
    fit: dict[str, Any] = dict(
        epochs=target,
        initial_epoch=progress.epoch,
        steps_per_epoch=cfg.steps_per_epoch,
        callbacks=callbacks,
        verbose=verbose,
    )
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):

        def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
            ds, _ = build_datasets(
                cfg, mcfg.scale, mcfg.frames, start=start, shard=(ctx.num_input_pipelines, ctx.input_pipeline_id)
            )
            return ds

        return fit_distributed(model, strategy, dataset_fn, **fit)
    return model.fit(train_ds, **fit)


def compiled_model(
    cfg: TrainConfig, strategy: tf.distribute.Strategy, state: RunState, progress: Progress
) -> keras.Model:
    """The run's model under ``strategy``, compiled, with its starting weights: ``init_from`` for a new
    run, the saved state for a continued one. The global mixed-precision policy is float32 afterwards."""
    from tga_keras.evaluation.metrics import PSNRY, SSIMY
    from tga_keras.losses import charbonnier, l1_sum
    from tga_keras.models.model import build_tga
    from training.distributed import synchronize_batch_norm

    try:
        with strategy.scope():
            model = build_tga(cfg.model_config())
            if cfg.sync_batch_norm and strategy.num_replicas_in_sync > 1:
                synchronize_batch_norm(model)
            if cfg.l2_weight_decay:
                for v in model.trainable_variables:
                    v.regularizer = keras.regularizers.L2(cfg.l2_weight_decay / 2)  # grad += wd * w, as torch
            loss = {"l1": "mean_absolute_error", "l1_sum": l1_sum, "charbonnier": charbonnier}[cfg.loss]
            model.compile(optimizer=make_optimizer(cfg), loss=loss, metrics=[PSNRY(), SSIMY()])
            if progress.epoch == 0 and cfg.init_from:
                load_initial_weights(model, cfg)
            state.restore(model, progress)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return model


def make_callbacks(
    cfg: TrainConfig,
    output: str,
    val_ds: tf.data.Dataset | None,
    state: RunState,
    progress: Progress,
    strategy: tf.distribute.Strategy,
    verbose: int,
) -> list[keras.callbacks.Callback]:
    """Validation, the log, the models, TensorBoard and, last (the commit point), the resumable state;
    only the chief writes the run's files."""
    from training.callbacks import AtomicSave, EpochLog, TensorBoardPictures, Validation
    from training.distributed import is_chief, worker_index
    from training.state import SaveState

    chief = is_chief(strategy)
    callbacks: list[keras.callbacks.Callback] = []
    if val_ds is not None:
        callbacks.append(Validation(val_ds, verbose=verbose == 2))  # first: adds val_*
    callbacks += [
        EpochLog(os.path.join(output, "log.csv"), resume_epoch=progress.epoch, write=chief),
        AtomicSave(
            os.path.join(output, "last.keras")
            if chief
            else os.path.join(output, f"worker-{worker_index(strategy)}", "last.keras")
        ),
    ]
    if val_ds is not None:
        # best.keras is only replaced by a better epoch; the best score survives a resume.
        callbacks.append(
            AtomicSave(os.path.join(output, "best.keras"), monitor="val_psnr_y", best=progress.best, write=chief)
        )
    if cfg.tensorboard and chief:
        log_dir = os.path.join(output, "tensorboard")
        callbacks.append(keras.callbacks.TensorBoard(log_dir, write_graph=False, profile_batch=0))
        if val_ds is not None:
            windows = [(lr[0], hr[0]) for lr, hr in val_ds.take(3).as_numpy_iterator()]
            callbacks.append(TensorBoardPictures(log_dir, windows, cfg.model_config().scale))
    callbacks.append(SaveState(state, progress, cfg.steps_per_epoch, write=chief))  # last: the commit point
    return callbacks


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="training config (JSON; paths relative to it)")
    p.add_argument("--output", required=True, help="run folder (created; run the same command to continue)")
    p.add_argument("--epochs", type=int, help="stop after this many epochs in all (the schedule keeps the config's)")
    p.add_argument(
        "--strategy",
        choices=("default", "mirrored", "multiworker"),
        help="override the config's strategy (multiworker reads TF_CONFIG)",
    )
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    p.add_argument("--progress", action="store_true", help="a progress bar per epoch instead of one line")
    p.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m training.run``: exit codes as ``tga`` (:func:`tga_keras.cli.main.run_command`)."""
    p = _parser()
    args = p.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        p.error("--epochs must be >= 1")
    from tga_keras.cli.main import run_command

    return run_command("training.run", lambda: _run(args), args.debug, interrupted=lambda: _stopped(args.output))


def _run(args: argparse.Namespace) -> int:
    from tga_keras.errors import UsageError, first_line

    try:
        raw = read_config_file(args.config)
        if args.strategy:
            raw = {**raw, "strategy": args.strategy} if isinstance(raw, dict) else raw
        cfg = TrainConfig.from_dict(raw, base=os.path.dirname(os.path.abspath(args.config)))
        verbose = 0 if args.quiet else (1 if args.progress else 2)
        train(cfg, args.output, epochs=args.epochs, verbose=verbose, raw=raw)
    except (ValueError, FileNotFoundError) as e:  # a bad config, data, init_from or TF_CONFIG: the user's
        raise UsageError(first_line(e)) from e
    return 0


def _stopped(output: str) -> str:
    """What Ctrl-C says: the state that is kept."""
    from training.state import RunState

    done = RunState(output).load_progress().epoch if os.path.isdir(output) else 0
    return (
        f"\ntraining.run: stopped; the state after epoch {done} is kept in {output}. Run the same command to continue."
    )


if __name__ == "__main__":
    sys.exit(main())
