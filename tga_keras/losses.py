"""Training losses (registered, so trained ``.keras`` files load with their compile config)."""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tga_keras")
def charbonnier(y_true, y_pred, eps: float = 1e-3):
    """Charbonnier loss ``mean(sqrt((y_pred - y_true)^2 + eps^2))``: a smooth L1. Images in [0, 1]."""
    return ops.mean(ops.sqrt(ops.square(y_true - y_pred) + eps * eps))
