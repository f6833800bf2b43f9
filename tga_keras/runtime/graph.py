"""The inference graph of a TGA Keras model: one ``tf.function`` that every runtime runs.

:func:`inference_function` is what :class:`tga_keras.runtime.backends.keras.KerasBackend` calls and
what the exporters (SavedModel signatures, TFLite, ONNX) convert, so every format runs the same
graph: ``lr_frames`` ``(B, F, h, w, 3)`` -> ``{"sr": (B, s*h, s*w, 3)}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tga_keras.errors import InputError

if TYPE_CHECKING:
    import keras

OUTPUT_DTYPES = ("float32", "uint8")

INPUT_NAME = "lr_frames"
OUTPUT_NAME = "sr"


def inference_function(
    model: keras.Model,
    input_dtype: str = "float32",
    height: int | None = None,
    width: int | None = None,
    batch: int | None = None,
    pin_input_range: bool = False,
) -> Any:
    """The inference graph of a TGA ``keras.Model`` as one ``tf.function``: ``lr_frames`` -> ``{"sr": ...}``.

    ``training=False``: every BatchNorm that follows a conv is folded into it, the pre-activation
    ones (BN -> ReLU -> conv) run as TensorFlow's fused inference kernel. ``lr_frames`` is
    ``[batch, F, height, width, 3]`` (``None``: dynamic).
    ``input_dtype='float32'``: frames in [0, 1] -> ``sr`` float32 (not clipped, as the model).
    ``input_dtype='uint8'``: frames 0..255 -> ``sr`` uint8, divided by 255 in, clipped and rounded
    half up out (as :func:`to_output`), all in the graph. Used by :class:`KerasBackend` and the
    exporters (SavedModel signatures, TFLite, ONNX), so every format runs the same graph (the ONNX
    conversion traces its 5-D BatchNorms as multiply-adds: :func:`tga_keras.runtime.compile.onnx_of_function`).
    ``pin_input_range`` (float32 only) fake-quantizes the input to the 256 levels of [0, 1]: a no-op
    on frames that came from uint8, and it fixes the input range that a full-integer TFLite
    conversion gives the input (scale 1/255, zero point 0: raw pixels in) without touching the
    calibration of anything else.
    """
    import tensorflow as tf

    if input_dtype not in OUTPUT_DTYPES:
        raise InputError(f"input_dtype must be one of {OUTPUT_DTYPES}, got {input_dtype!r}")
    spec = tf.TensorSpec([batch, model.config.frames, height, width, 3], tf.as_dtype(input_dtype), name=INPUT_NAME)

    def sr_of(x: Any) -> Any:
        y = model(x, training=False)
        return y[0] if isinstance(y, (list, tuple)) else y  # return_attention models: SR only

    if input_dtype == "float32" and pin_input_range:

        def serve(lr_frames: Any) -> dict[str, Any]:
            x = tf.quantization.fake_quant_with_min_max_args(lr_frames, min=0.0, max=1.0, num_bits=8)
            return {OUTPUT_NAME: sr_of(x)}
    elif input_dtype == "float32":

        def serve(lr_frames: Any) -> dict[str, Any]:
            return {OUTPUT_NAME: sr_of(lr_frames)}
    else:

        def serve(lr_frames: Any) -> dict[str, Any]:
            y = sr_of(tf.cast(lr_frames, tf.float32) / 255.0)
            return {OUTPUT_NAME: tf.cast(tf.floor(tf.clip_by_value(y, 0.0, 1.0) * 255.0 + 0.5), tf.uint8)}

    return tf.function(serve, input_signature=[spec], reduce_retracing=True)


__all__ = ["INPUT_NAME", "OUTPUT_DTYPES", "OUTPUT_NAME", "inference_function"]
