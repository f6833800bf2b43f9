"""Training losses (registered, so trained ``.keras`` files load with their compile config)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tga_keras")
def charbonnier(y_true, y_pred, eps: float = 1e-3):
    """Charbonnier loss ``mean(sqrt((y_pred - y_true)^2 + eps^2))`` per sample: a smooth L1.

    Images ``(B, ...)`` in [0, 1] -> ``(B,)``. Per sample, not a scalar: Keras reduces it over the
    batch and divides by the replica count under ``tf.distribute`` (it leaves a scalar loss alone,
    which would sum the replicas' gradients instead of averaging them).
    """
    per_pixel = ops.sqrt(ops.square(y_true - y_pred) + eps * eps)
    return ops.mean(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package="tga_keras")
def l1_sum(y_true, y_pred):
    """The official TGA training loss: ``|y_pred - y_true|`` summed over pixels and channels, per sample.

    Images ``(B, ...)`` -> ``(B,)``; Keras averages over the batch, which makes it
    ``nn.L1Loss(reduction='sum')(pred, target) / batchsize`` of the official ``code/main.py``. Under
    Adam the scale of the loss changes almost nothing, except the weight of an L2 weight decay
    beside it: with the official decay (5e-4 on every weight) the per-pixel mean (``"l1"``) would
    make the decay about 200,000 times stronger at HR 256x256 than in the official recipe.
    """
    diff = ops.abs(y_true - y_pred)
    return ops.sum(ops.reshape(diff, (ops.shape(diff)[0], -1)), axis=-1)
