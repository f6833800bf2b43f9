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
from typing import TYPE_CHECKING, Any, Iterator

from tga_keras.runtime.graph import inference_function

if TYPE_CHECKING:
    import keras

ONNX_OPSET = 17


def tflite_of_function(fn: Any, int8_weights: bool = False) -> bytes:
    """The ``.tflite`` flatbuffer of ``fn`` (a ``tf.function`` with an input signature), builtin ops
    only: float32, or with ``int8_weights`` dynamic-range int8 (int8 weights, float32 input and output,
    activations quantized on the fly, no calibration). The converter's path without a
    ``trackable_obj`` (it warns that it is deprecated) freezes the variables into constants; with the
    Keras model as ``trackable_obj`` the weights stay resource variables, which the interpreter reads
    as NaN."""
    import tensorflow as tf

    with _quiet_converter():
        conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if int8_weights:
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
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


_SHOWN = False  # inside converter_output(verbose=True): the converters' own output reaches the terminal


@contextlib.contextmanager
def converter_output(verbose: bool) -> Iterator[None]:
    """Around a whole export: the converters' log and C++ output silenced (errors still raise) or, with
    ``verbose``, shown, the package's own conversions inside included (``python -m export --verbose``)."""
    global _SHOWN
    if not verbose:
        with _quiet_converter():
            yield
        return
    saved, _SHOWN = _SHOWN, True
    try:
        yield
    finally:
        _SHOWN = saved


@contextlib.contextmanager
def _quiet_converter() -> Iterator[None]:
    """TensorFlow's converters log to Python's logging and absl at INFO/WARNING, warn, and print from C++
    (``fully_quantize: 0, ...``): all silenced while they run (errors still raise), unless inside
    :func:`converter_output` ``(verbose=True)``."""
    if _SHOWN:
        yield
        return
    import logging
    import warnings

    from tga_keras.runtime.machine import native_stderr_silenced

    loggers = [logging.getLogger(name) for name in ("tensorflow", "tf2onnx", "absl")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), native_stderr_silenced():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def onnx_of_function(fn: Any) -> Any:
    """The float32 ``onnx.ModelProto`` (opset :data:`ONNX_OPSET`) of ``fn`` (a ``tf.function`` with an
    input signature, traced here), its 5-D BatchNorms as multiply-adds
    (:func:`~tga_keras.models.layers.units.multiply_add_batch_norm`: no transposes around them). Needs
    ``tf2onnx``."""
    import tf2onnx

    from tga_keras.models.layers.units import multiply_add_batch_norm

    with _without_reshape_optimizer(), _quiet_converter(), multiply_add_batch_norm():
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=ONNX_OPSET)
    return proto


def to_tflite(model: keras.Model) -> bytes:
    """The float32 ``.tflite`` of ``model``'s inference graph (batch, H and W dynamic)."""
    return tflite_of_function(inference_function(model, "float32"))


def to_tflite_int8_dynamic(model: keras.Model) -> bytes:
    """The dynamic-range int8 ``.tflite`` of ``model``'s inference graph (:func:`tflite_of_function`)."""
    return tflite_of_function(inference_function(model, "float32"), int8_weights=True)


def to_tflite_int8(model: keras.Model, calibration: Any) -> bytes:
    """The full-integer ``.tflite`` of ``model`` (uint8 input = raw pixels, uint8 output), calibrated on
    ``calibration``: float32 LR windows ``(N, F, h, w, 3)`` in [0, 1]. The graph pins its input range
    to [0, 1] (:func:`~tga_keras.runtime.graph.inference_function` ``pin_input_range``)."""
    import tensorflow as tf

    fn = inference_function(model, "float32", pin_input_range=True)

    def representative() -> Any:
        for window in calibration:
            yield [window[None].astype("float32")]

    with _quiet_converter():
        conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.uint8
        conv.inference_output_type = tf.uint8
        return conv.convert()


def to_onnx(model: keras.Model) -> Any:
    """The float32 ``onnx.ModelProto`` of ``model``'s inference graph (opset 17, dynamic B/H/W)."""
    return onnx_of_function(inference_function(model, "float32"))


__all__ = [
    "ONNX_OPSET",
    "converter_output",
    "onnx_of_function",
    "tflite_of_function",
    "to_onnx",
    "to_tflite",
    "to_tflite_int8",
    "to_tflite_int8_dynamic",
]
