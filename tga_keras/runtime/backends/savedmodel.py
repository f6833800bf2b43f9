"""The ``savedmodel`` backend: a SavedModel folder of ``python -m export savedmodel`` (TensorFlow)."""

from __future__ import annotations

import os

import numpy as np

from tga_keras.errors import InputError, first_line
from tga_keras.runtime.backends.base import ArtifactBackend


class SavedModelBackend(ArtifactBackend):
    """A SavedModel folder (``python -m export savedmodel``), run through one of its signatures."""

    name = "savedmodel"

    def __init__(self, path: str | os.PathLike, signature: str = "serving_default", config=None):
        import tensorflow as tf

        path = os.fspath(path)
        try:
            self._loaded = tf.saved_model.load(path)  # keep a reference: the signature's variables live in it
        except Exception as e:  # noqa: BLE001 - TF raises many types for foreign folders
            raise InputError(f"{path}: not a readable SavedModel: {type(e).__name__}: {first_line(e)}") from None
        if signature not in self._loaded.signatures:
            raise InputError(f"{path}: no signature {signature!r} (has {sorted(self._loaded.signatures)})")
        self._fn = self._loaded.signatures[signature]
        ((self._input, spec),) = self._fn.structured_input_signature[1].items()
        if spec.dtype != tf.float32:
            raise InputError(
                f"{path}: signature {signature!r} takes {spec.dtype.name}; "
                "the inference core runs float32 signatures (serving_default)"
            )
        self._output = sorted(self._fn.structured_outputs)[0]
        self._init_meta(path, spec.shape[1], config=config)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        out = self._fn(**{self._input: tf.constant(np.ascontiguousarray(x, dtype=np.float32))})
        return out[self._output].numpy()


__all__ = ["SavedModelBackend"]
