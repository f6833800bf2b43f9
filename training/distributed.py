"""Data-parallel training on ``tf.distribute``: strategy selection and the multi-worker loop.

``default``: one device (or what TensorFlow picks). ``mirrored``: ``MirroredStrategy`` over the
GPUs of one machine (or the logical CPU devices a test configures), trained by ``model.fit``.
``multiworker``: ``MultiWorkerMirroredStrategy`` from the standard ``TF_CONFIG``. With Keras 3.15
on TensorFlow 2.21, ``model.fit`` under that strategy fails (keras issue 20585, tensorflow issue
72388), so :func:`fit_distributed` runs the epochs itself: ``strategy.run(model.train_step)`` in a
``tf.function``, i.e. the same compiled model, loss, metrics and optimizer as ``fit`` (Keras'
``train_step`` already scales the loss by the replica count, and the optimizer all-reduces the
gradients), the same data pipeline (each worker reads its slice of every global batch, see
``make_train_dataset(shard=...)``) and the same callbacks (logs, checkpoints, TensorBoard), driven
through a ``CallbackList``. Only the chief (worker 0) writes the run's files; every other worker
writes only ``RUN/worker-<index>/last.keras`` (its copy of the weights, which must equal the chief's).

BatchNorm under data parallelism: with ``sync_batch_norm`` (the default) every BatchNorm layer is
``synchronized``: in training the statistics are all-reduced over every replica, i.e. computed over
the global batch, exactly as on one device; the moving averages are then identical on all
replicas. Without it each replica normalises with the statistics of its own per-replica batch.
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from tga_keras.errors import InputError


class DistributionError(InputError):
    """A bad strategy request (unknown name, an invalid ``TF_CONFIG``): a user error (exit code 2)."""


def tf_config() -> dict | None:
    """The parsed ``TF_CONFIG`` (``None`` if unset); ``DistributionError`` if it is not valid."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise DistributionError(f"TF_CONFIG is not valid JSON: {e}") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("cluster"), dict) or not isinstance(cfg.get("task"), dict):
        raise DistributionError('TF_CONFIG must be {"cluster": {"worker": [...]}, "task": {"type": ..., "index": ...}}')
    workers = cfg["cluster"].get("worker")
    if not isinstance(workers, list) or not workers:
        raise DistributionError("TF_CONFIG: cluster.worker must be a non-empty list of host:port")
    index = cfg["task"].get("index")
    if cfg["task"].get("type") not in ("worker", "chief") or not isinstance(index, int) or index < 0:
        raise DistributionError('TF_CONFIG: task must be {"type": "worker", "index": N}')
    if cfg["task"]["type"] == "worker" and index >= len(workers):
        raise DistributionError(f"TF_CONFIG: task index {index} but only {len(workers)} workers listed")
    return cfg


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy for ``name`` (default, mirrored, multiworker)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if tf_config() is None:
            raise DistributionError("strategy 'multiworker' needs TF_CONFIG (see training/README.md)")
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING
        )
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    raise DistributionError(f"unknown strategy {name!r}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files (always, except non-zero multi-worker tasks)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    return resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()
    )


def worker_index(strategy: tf.distribute.Strategy) -> int:
    """This process's task index under multi-worker training (0 otherwise)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return 0
    return int(resolver.task_id or 0)


def synchronize_batch_norm(model: keras.Model) -> int:
    """Make every BatchNormalization layer of ``model`` use global-batch statistics; returns the count."""
    count = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
            count += 1
    return count


def fit_distributed(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    dataset_fn,
    *,
    epochs: int,
    initial_epoch: int,
    steps_per_epoch: int,
    callbacks: list,
    verbose: int = 2,
) -> keras.callbacks.History:
    """``model.fit`` for strategies where ``fit`` fails: the same ``train_step``, callbacks and logs.

    ``dataset_fn(input_context)`` builds this worker's slice of the training stream (already started
    at the resumed sample). Validation is a callback (``training.callbacks.Validation``), as with ``fit``.
    """
    history = keras.callbacks.History()
    cbs = keras.callbacks.CallbackList(
        callbacks + [history],
        add_history=False,
        add_progbar=verbose == 1,
        model=model,
        epochs=epochs,
        steps=steps_per_epoch,
        verbose=verbose,
    )
    dist_ds = strategy.distribute_datasets_from_function(dataset_fn)
    iterator = iter(dist_ds)

    @tf.function
    def train_step(it):
        strategy.run(model.train_step, args=(next(it),))

    model.stop_training = False
    cbs.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        cbs.on_epoch_begin(epoch)
        for step in range(steps_per_epoch):
            cbs.on_train_batch_begin(step)
            train_step(iterator)
            cbs.on_train_batch_end(step, _logs(model))
        logs = _logs(model)
        cbs.on_epoch_end(epoch, logs)
        if verbose == 2:
            print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4g}" for k, v in logs.items()), flush=True)
        if model.stop_training:
            break
    cbs.on_train_end(logs if epochs > initial_epoch else None)
    return history


def validate(model: keras.Model, dataset, crop_border: int = 8) -> dict[str, float]:
    """``val_loss``/``val_psnr_y``/``val_ssim_y`` of ``model`` (inference mode) on ``(lr, hr)`` batches,
    computed in this process alone (no collective ops, so any worker may run it).

    PSNR-Y / SSIM-Y: the means over every image, scored as ``tga evaluate`` scores its frames
    (:class:`tga_keras.evaluation.evaluator.FrameScores`, ``crop_border`` pixels cropped)."""
    from tga_keras.evaluation.evaluator import FrameScores

    scores, loss = FrameScores(crop_border), keras.metrics.Mean()
    for lr, hr in dataset:
        sr = model(lr, training=False)
        scores.add(keras.ops.convert_to_numpy(keras.ops.cast(sr, "float32")), keras.ops.convert_to_numpy(hr))
        loss.update_state(model.loss(hr, sr) if callable(model.loss) else keras.losses.get(model.loss)(hr, sr))
    means = scores.means()
    return {"val_loss": float(loss.result()), "val_psnr_y": means["psnr"], "val_ssim_y": means["ssim"]}


def _logs(model: keras.Model) -> dict:
    return {k: float(keras.ops.convert_to_numpy(v)) for k, v in model.get_metrics_result().items()}


__all__ = [
    "DistributionError",
    "fit_distributed",
    "is_chief",
    "make_strategy",
    "synchronize_batch_norm",
    "tf_config",
    "validate",
    "worker_index",
]
