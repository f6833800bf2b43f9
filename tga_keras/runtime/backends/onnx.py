"""The ``onnx`` backend: an ``.onnx`` model on onnxruntime (CPU, or the providers given)."""

from __future__ import annotations

import os

import numpy as np

from tga_keras.errors import InputError, first_line
from tga_keras.runtime.backends.base import ArtifactBackend, recorded_config


def onnx_session(path: str, threads: int | None = None, providers=None, profile_prefix: str | None = None):
    """An onnxruntime session (``threads`` intra-op threads, one inter-op; CPU unless ``providers``)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputError("the onnx backend needs onnxruntime: pip install onnxruntime") from None
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    try:
        return ort.InferenceSession(path, so, providers=providers or ["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise InputError(f"{path}: not a readable ONNX model: {first_line(e)}") from None


class ONNXBackend(ArtifactBackend):
    """An ``.onnx`` model on onnxruntime: CPU, or the ``providers`` given (e.g. ``["CUDAExecutionProvider"]``
    with the onnxruntime-gpu build). ``config``: the model's TGAConfig where the file records none
    (the runtime chooser's conversions); else it is read from the file's metadata or manifest."""

    name = "onnx"

    def __init__(self, path: str | os.PathLike, threads: int | None = None, providers=None, config=None):
        path = os.fspath(path)
        self._sess = onnx_session(path, threads, providers)
        inputs = self._sess.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 5:
            raise InputError(
                f"{path}: expected one 5-D input (batch, frames, H, W, 3), got {[(i.name, i.shape) for i in inputs]}"
            )
        self._input = inputs[0].name
        meta = self._sess.get_modelmeta().custom_metadata_map
        config = config if config is not None else recorded_config(meta.get("tga_config"))
        frames = inputs[0].shape[1] if isinstance(inputs[0].shape[1], int) else None
        self._init_meta(path, frames, config=config, precision=meta.get("tga_precision"))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._sess.run(None, {self._input: np.ascontiguousarray(x, dtype=np.float32)})[0]


__all__ = ["ONNXBackend", "onnx_session"]
