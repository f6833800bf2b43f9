"""In-graph MATLAB-exact bicubic upsampling (``imresize(x, scale)``, a=-0.5, symmetric edges).

Written as a fixed polyphase convolution + ``depth_to_space`` (edges mirrored by slicing), so that
SavedModel, TFLite, ONNX and TensorRT need no resize op and give the official bicubic reference.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from tga_keras.preprocess.resize import polyphase_upsample_taps


def bicubic_kernel(scale: int, channels: int = 3):
    """Fixed conv kernel ``(k, k, channels, scale*scale*channels)`` and the edge pad ``k // 2``.

    Output channel ``(dy*scale + dx)*channels + c`` holds phase ``(dy, dx)`` of input channel
    ``c``: the order ``depth_to_space`` expects.
    """
    taps, offsets = polyphase_upsample_taps(scale)
    pad = int(max(-offsets[0], offsets[-1]))
    k = 2 * pad + 1
    # taps are on offsets[0]..offsets[-1]; place them on -pad..pad.
    full = np.zeros((scale, k))
    full[:, offsets[0] + pad : offsets[-1] + pad + 1] = taps
    kernel = np.zeros((k, k, channels, scale * scale * channels), dtype=np.float64)
    for dy in range(scale):
        for dx in range(scale):
            w2 = np.outer(full[dy], full[dx])
            for c in range(channels):
                kernel[:, :, c, (dy * scale + dx) * channels + c] = w2
    return kernel.astype(np.float32), pad


def symmetric_pad(x, pad: int, axis: int):
    """Pad ``pad`` samples on both sides of ``axis`` by mirroring with the edge repeated."""
    if pad == 0:
        return x

    def take(i, j):
        idx = [slice(None)] * len(x.shape)
        idx[axis] = slice(i, j)
        return x[tuple(idx)]

    before = [take(i, i + 1) for i in reversed(range(pad))]
    after = [take(-i - 1, -i if i else None) for i in range(pad)]
    return ops.concatenate(before + [x] + after, axis=axis)


@keras.saving.register_keras_serializable(package="tga_keras")
class BicubicUpsample(layers.Layer):
    """``(B, H, W, C) -> (B, scale*H, scale*W, C)``: MATLAB bicubic upsampling, no trainable weights.

    Needs ``H, W >= pad`` (2 for x2..x4).
    """

    def __init__(self, scale=4, channels=3, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)
        self.channels = int(channels)
        kernel, self.pad = bicubic_kernel(self.scale, self.channels)
        self._kernel_np = kernel

    def call(self, x):
        # A constant made inside the graph, not a weight nor a captured tensor: nothing to train or
        # save, and exporters (tf2onnx, TFLite) see a Const node instead of an extra graph input.
        kernel = ops.convert_to_tensor(self._kernel_np, dtype=x.dtype)
        x = symmetric_pad(x, self.pad, axis=1)
        x = symmetric_pad(x, self.pad, axis=2)
        y = ops.conv(x, kernel, strides=1, padding="valid")
        return ops.depth_to_space(y, self.scale)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        s = self.scale
        return (b, None if h is None else h * s, None if w is None else w * s, c)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "channels": self.channels}
