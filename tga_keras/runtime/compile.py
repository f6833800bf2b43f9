"""The inference graph compiled for another runtime, in this process: TFLite flatbuffers and ONNX protos.

:func:`tflite_of_function` and :func:`onnx_of_function` take any ``tf.function`` with an
``input_signature`` (one input); :func:`to_tflite` and :func:`to_onnx` take a TGA ``keras.Model``
and convert its :func:`~tga_keras.runtime.graph.inference_function` (``lr_frames`` ``(B, F, h, w,
3)`` float32 -> ``sr``; batch, height and width dynamic). Used by the runtime chooser
(:mod:`tga_keras.runtime.fastest`), the peak benchmark and the ONNX exporter, so that one converter
serves all three. TensorFlow's converter makes the TFLite model; ONNX needs ``tf2onnx`` (the
``export`` extra), imported only here.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from tga_keras.runtime.graph import inference_function

if TYPE_CHECKING:
    import keras

ONNX_OPSET = 17


def tflite_of_function(fn: Any) -> bytes:
    """The float32 ``.tflite`` flatbuffer of ``fn`` (a ``tf.function`` with an input signature), builtin
    ops only (XNNPACK runs every one of them)."""
    import tensorflow as tf

    concrete = fn.get_concrete_function()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    with _quiet_converter():
        return conv.convert()


@contextlib.contextmanager
def _without_reshape_optimizer():
    """tf2onnx 1.17's ReshapeOptimizer folds our ``(B*T, H, W, C) -> (B, T, H, W, C)`` reshapes into
    a wrong constant shape (``[1, -1, 0, 0, C]``: ONNX's copy-dimension 0 at shifted axes). The
    conversion is correct without that one optimizer; every other optimizer still runs."""
    from tf2onnx import optimizer

    saved = optimizer._optimizers.copy()
    optimizer._optimizers.pop("reshape_optimizer", None)
    try:
        yield
    finally:
        optimizer._optimizers.clear()
        optimizer._optimizers.update(saved)


@contextlib.contextmanager
def _quiet_converter():
    """TensorFlow's converters log to Python's logging and absl at INFO/WARNING: silenced while they run."""
    import logging

    loggers = [logging.getLogger(name) for name in ("tensorflow", "tf2onnx", "absl")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def onnx_of_function(fn: Any) -> Any:
    """The float32 ``onnx.ModelProto`` (opset :data:`ONNX_OPSET`) of ``fn`` (a ``tf.function`` with an
    input signature). Needs ``tf2onnx``."""
    import tf2onnx

    with _without_reshape_optimizer(), _quiet_converter():
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=ONNX_OPSET)
    return proto


def to_tflite(model: keras.Model) -> bytes:
    """The float32 ``.tflite`` of ``model``'s inference graph (batch, H and W dynamic)."""
    return tflite_of_function(inference_function(model, "float32"))


def to_onnx(model: keras.Model) -> Any:
    """The float32 ``onnx.ModelProto`` of ``model``'s inference graph (opset 17, dynamic B/H/W)."""
    return onnx_of_function(inference_function(model, "float32"))


__all__ = ["ONNX_OPSET", "onnx_of_function", "tflite_of_function", "to_onnx", "to_tflite"]
