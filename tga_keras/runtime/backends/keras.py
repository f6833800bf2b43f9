"""The ``keras`` backend: a TGA ``keras.Model`` (``.keras``, official ``.pth``, ``.weights.h5``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tga_keras.errors import InputError
from tga_keras.runtime.graph import OUTPUT_NAME, inference_function

if TYPE_CHECKING:
    import keras

KERAS_SUFFIXES = (".keras", ".pth", ".pt", ".h5")


class KerasBackend:
    """A TGA ``keras.Model`` as one :func:`inference_function` with input ``(None, F, None, None, 3)``."""

    name = "keras"

    def __init__(self, model: keras.Model) -> None:
        config = getattr(model, "config", None)
        if config is None:
            raise InputError(f"{type(model).__name__} has no TGAConfig (.config); build it with tga_keras.build_tga")
        self.model, self.config = model, config
        self.scale, self.frames, self.min_size = config.scale, config.frames, config.min_size
        self.precision = "bf16" if "bfloat16" in str(getattr(model.dtype_policy, "name", "")) else "fp32"
        self._fn = inference_function(model)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._fn(np.ascontiguousarray(x, dtype=np.float32))[OUTPUT_NAME].numpy()

    @property
    def traces(self) -> int:
        """How many graphs the ``tf.function`` has traced (1 after any number of sizes)."""
        return self._fn.experimental_get_tracing_count()


__all__ = ["KERAS_SUFFIXES", "KerasBackend"]
