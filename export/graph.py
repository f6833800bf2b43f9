"""The inference graph as ``tf.function`` endpoints: float32 and uint8 frames in, SR out.

Both call the model with ``training=False``, the path ``tga upscale`` takes: every BatchNorm that
follows a conv is folded into it; the pre-activation ones (BN -> ReLU -> conv) run as TensorFlow's
fused inference kernel (one multiply-add per channel). Shapes:
``lr_frames [batch, F, H, W, 3]`` -> ``sr [batch, s*H, s*W, 3]``; batch, H and W dynamic
unless ``height``/``width`` are given.
"""
from __future__ import annotations

INPUT_NAME = "lr_frames"
OUTPUT_NAME = "sr"


def _sr(model, x):
    y = model(x, training=False)
    return y[0] if isinstance(y, (list, tuple)) else y


def float_endpoint(model, height: int | None = None, width: int | None = None, batch: int | None = None):
    """``lr_frames`` float32 in [0, 1] -> ``{"sr": float32}`` (not clipped, as the Keras model)."""
    import tensorflow as tf

    spec = tf.TensorSpec([batch, model.config.frames, height, width, 3], tf.float32, name=INPUT_NAME)

    @tf.function(input_signature=[spec])
    def serve(lr_frames):
        return {OUTPUT_NAME: _sr(model, lr_frames)}

    return serve


def uint8_endpoint(model, height: int | None = None, width: int | None = None, batch: int | None = None):
    """``lr_frames`` uint8 -> ``{"sr": uint8}``: divided by 255 in, clipped and rounded half up out."""
    import tensorflow as tf

    spec = tf.TensorSpec([batch, model.config.frames, height, width, 3], tf.uint8, name=INPUT_NAME)

    @tf.function(input_signature=[spec])
    def serve_uint8(lr_frames):
        y = _sr(model, tf.cast(lr_frames, tf.float32) / 255.0)
        y = tf.floor(tf.clip_by_value(y, 0.0, 1.0) * 255.0 + 0.5)
        return {OUTPUT_NAME: tf.cast(y, tf.uint8)}

    return serve_uint8
