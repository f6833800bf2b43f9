"""The repeated units of TGA: conv-BN-ReLU stem units and pre-activation dense units.

Shapes: 2-D units take ``(N, H, W, C)`` (frames or groups folded into ``N``); temporal units take
``(B, T, H, W, C)``. Every unit keeps the official weight layout: 2-D kernels ``(kh, kw, Cin, Cout)``,
temporal kernels ``(kt, kh, kw, Cin, Cout)`` (Keras Conv3D layout), BatchNorm over the last axis.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import keras
from keras import layers, ops

from tga_keras.models.layers import conv_ops

_PKG = "tga_keras"


def conv_initializer():
    """The official init: Kaiming normal (fan_in) scaled by 0.1, i.e. std = sqrt(0.02 / fan_in)."""
    return keras.initializers.VarianceScaling(scale=0.02, mode="fan_in", distribution="untruncated_normal")


@keras.saving.register_keras_serializable(package=_PKG)
class PreActivation(layers.Layer):
    """BatchNorm then ReLU (or ReLU alone when ``batch_norm=False``); any rank, channels last."""

    def __init__(self, epsilon=1e-3, momentum=0.999, batch_norm=True, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.momentum = float(momentum)
        self.batch_norm = bool(batch_norm)
        self.bn = (
            layers.BatchNormalization(epsilon=self.epsilon, momentum=self.momentum, name="bn")
            if self.batch_norm
            else None
        )

    def build(self, input_shape):
        if self.bn is not None and not self.bn.built:
            self.bn.build(input_shape)

    def call(self, x, training=None):
        if self.bn is None:
            return ops.relu(x)
        if _FUSED and _inference_bn(self.bn, training):
            return ops.relu(_fused_inference_bn(x, self.bn))
        return ops.relu(self.bn(x, training=training))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "momentum": self.momentum,
            "batch_norm": self.batch_norm,
        }


_FUSED = keras.backend.backend() == "tensorflow"
_MULTIPLY_ADD_5D = False  # inside multiply_add_batch_norm(): 5-D inference BatchNorms traced as x * s + t


@contextlib.contextmanager
def multiply_add_batch_norm() -> Iterator[None]:
    """While tracing a graph for ONNX: the inference BatchNorms of 5-D tensors (the inter-group temporal
    dense block) as a per-channel multiply-add instead of TensorFlow's fused 4-D kernel between two
    reshapes. tf2onnx turns that kernel into an NCHW BatchNormalization between transposes, which the
    reshapes keep it from removing (on the official network: four pairs of transposes of 3x144x180x384
    floats per frame, 110 ms of OpenVINO's 2024 on an AMX Xeon); the multiply-add needs none. The same
    function of the inputs (max |diff| 1e-7 on the official network)."""
    global _MULTIPLY_ADD_5D
    saved, _MULTIPLY_ADD_5D = _MULTIPLY_ADD_5D, True
    try:
        yield
    finally:
        _MULTIPLY_ADD_5D = saved


def _fused_inference_bn(x, bn):
    """Inference BatchNorm as TensorFlow's fused kernel (one pass; oneDNN fuses the ReLU after it).

    Same arithmetic as ``bn(x, training=False)``; about 2.5x less time than the generic
    ``keras.ops.batch_normalization`` on the CPU. Used only with the TensorFlow backend. A 5-D ``x``
    inside :func:`multiply_add_batch_norm` is ``x * s + t`` with ``s = gamma / sqrt(var + eps)``,
    ``t = beta - mean * s``.
    """
    import tensorflow as tf

    if _MULTIPLY_ADD_5D and x.shape.rank == 5:
        scale = bn.gamma * tf.math.rsqrt(bn.moving_variance + bn.epsilon)
        return x * scale + (bn.beta - bn.moving_mean * scale)
    shape = tf.shape(x)
    x4 = x if x.shape.rank == 4 else tf.reshape(x, tf.concat([[-1], shape[-3:]], 0))
    y = tf.raw_ops.FusedBatchNormV3(
        x=x4,
        scale=bn.gamma,
        offset=bn.beta,
        mean=bn.moving_mean,
        variance=bn.moving_variance,
        epsilon=bn.epsilon,
        is_training=False,
    )[0]
    return y if x.shape.rank == 4 else tf.reshape(y, shape)


def _inference_bn(bn, training) -> bool:
    """True when ``bn`` normalises with its moving statistics (inference, or frozen)."""
    return not (training and bn.trainable)


def fold_bn(kernel, bias, bn):
    """Kernel and bias of ``conv`` such that ``conv(x) == bn(conv_orig(x))`` in inference mode.

    ``kernel``: ``(..., Cin, Cout)``; BatchNorm over ``Cout``; ``bias`` may be None (a conv without
    bias). Exact up to float rounding.
    """
    s = bn.gamma * ops.rsqrt(bn.moving_variance + bn.epsilon)
    shift = -bn.moving_mean if bias is None else bias - bn.moving_mean
    return kernel * s, shift * s + bn.beta


class _ConvWeights:
    """Mixin: create a conv kernel + bias with the official init."""

    add_weight: Callable[..., Any]  # keras.layers.Layer's, the other base of every class using this mixin

    def _add_conv(self, name, shape, use_bias=True):
        """``(kernel, bias)``; ``bias`` is None when ``use_bias`` is False."""
        kernel = self.add_weight(name=f"{name}_kernel", shape=shape, initializer=conv_initializer())
        bias = self.add_weight(name=f"{name}_bias", shape=(shape[-1],), initializer="zeros") if use_bias else None
        return kernel, bias


@keras.saving.register_keras_serializable(package=_PKG)
class ConvBNReLU(_ConvWeights, layers.Layer):
    """3x3 conv -> BatchNorm -> ReLU on ``(N, H, W, Cin)``; the dilation may change per call.

    The per-call dilation lets the paper's variant share one set of weights between groups that
    use different dilation rates. ``use_bias=False``: a conv without bias (the first-published
    dilated network's stem).
    """

    def __init__(self, filters, epsilon=1e-3, momentum=0.999, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.epsilon = float(epsilon)
        self.momentum = float(momentum)
        self.use_bias = bool(use_bias)
        self.bn = layers.BatchNormalization(epsilon=self.epsilon, momentum=self.momentum, name="bn")

    def build(self, input_shape):
        self.kernel, self.bias = self._add_conv("conv", (3, 3, input_shape[-1], self.filters), self.use_bias)
        self.bn.build(tuple(input_shape[:-1]) + (self.filters,))

    def call(self, x, dilation=1, training=None):
        if _inference_bn(self.bn, training):  # BatchNorm folded into the conv
            kernel, bias = fold_bn(self.kernel, self.bias, self.bn)
            return ops.relu(conv_ops.conv2d(x, kernel, bias, dilation=dilation))
        y = conv_ops.conv2d(x, self.kernel, self.bias, dilation=dilation)
        return ops.relu(self.bn(y, training=training))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "epsilon": self.epsilon,
            "momentum": self.momentum,
            "use_bias": self.use_bias,
        }


@keras.saving.register_keras_serializable(package=_PKG)
class DenseUnit(_ConvWeights, layers.Layer):
    """Pre-activation dense unit: ``BN-ReLU-Conv1x1-BN-ReLU-Conv3x3``, output appended to the input.

    ``(N, H, W, C) -> (N, H, W, C + growth)``.
    ``input_bn=False`` drops the first BatchNorm (ReLU alone), as the official ``fusion_head``.
    ``momentum_mid`` is the momentum of the BatchNorm between the two convs.
    """

    def __init__(self, growth, epsilon=1e-3, momentum=0.999, momentum_mid=None, input_bn=True, **kwargs):
        super().__init__(**kwargs)
        self.growth = int(growth)
        self.epsilon = float(epsilon)
        self.momentum = float(momentum)
        self.momentum_mid = float(momentum if momentum_mid is None else momentum_mid)
        self.input_bn = bool(input_bn)
        self.act_in = PreActivation(self.epsilon, self.momentum, batch_norm=self.input_bn, name="act_in")
        self.act_mid = PreActivation(self.epsilon, self.momentum_mid, name="act_mid")

    def build(self, input_shape):
        c = input_shape[-1]
        self.act_in.build(input_shape)
        self.kernel_in, self.bias_in = self._add_conv("conv_in", (1, 1, c, c))
        self.act_mid.build(input_shape)
        self.kernel_out, self.bias_out = self._add_conv("conv_out", (3, 3, c, self.growth))

    def call(self, x, training=None):
        y = self.act_in(x, training=training)
        if _inference_bn(self.act_mid.bn, training):  # middle BatchNorm folded into the 1x1 conv
            kernel, bias = fold_bn(self.kernel_in, self.bias_in, self.act_mid.bn)
            y = ops.relu(conv_ops.conv2d(y, kernel, bias))
        else:
            y = self.act_mid(conv_ops.conv2d(y, self.kernel_in, self.bias_in), training=training)
        y = conv_ops.conv2d(y, self.kernel_out, self.bias_out)
        return ops.concatenate([x, y], axis=-1)

    def compute_output_shape(self, input_shape):
        c = input_shape[-1]
        return tuple(input_shape[:-1]) + (None if c is None else c + self.growth,)

    def get_config(self):
        return {
            **super().get_config(),
            "growth": self.growth,
            "epsilon": self.epsilon,
            "momentum": self.momentum,
            "momentum_mid": self.momentum_mid,
            "input_bn": self.input_bn,
        }


@keras.saving.register_keras_serializable(package=_PKG)
class TemporalDenseUnit(_ConvWeights, layers.Layer):
    """Pre-activation dense unit over time: ``BN-ReLU-Conv(1x1x1)-BN-ReLU-Conv(kt x3x3)``.

    Input ``(B, T, H, W, C)``. With ``reduce=False`` the temporal conv is zero-padded ('same') and
    the output is ``(B, T, H, W, C + growth)``. With ``reduce=True`` the temporal kernel spans all
    ``T`` steps without padding (``T -> 1``) and the input kept beside the new features is the step
    ``skip_index``: the output is ``(B, H, W, C + growth)``.
    """

    def __init__(
        self,
        growth,
        temporal_kernel=3,
        reduce=False,
        skip_index=0,
        epsilon=1e-3,
        momentum=0.999,
        input_bn=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.growth = int(growth)
        self.temporal_kernel = int(temporal_kernel)
        self.reduce = bool(reduce)
        self.skip_index = int(skip_index)
        self.epsilon = float(epsilon)
        self.momentum = float(momentum)
        self.input_bn = bool(input_bn)
        self.act_in = PreActivation(self.epsilon, self.momentum, batch_norm=self.input_bn, name="act_in")
        self.act_mid = PreActivation(self.epsilon, self.momentum, name="act_mid")

    def build(self, input_shape):
        c = input_shape[-1]
        steps = input_shape[1]
        if self.reduce and steps is not None and steps != self.temporal_kernel:
            raise ValueError(f"a reducing unit needs {self.temporal_kernel} steps, got {steps}")
        self.act_in.build(input_shape)
        self.kernel_in, self.bias_in = self._add_conv("conv_in", (1, 1, c, c))
        self.act_mid.build(input_shape)
        kt = self.temporal_kernel
        self.kernel_out, self.bias_out = self._add_conv("conv_out", (kt, 3, 3, c, self.growth))

    def call(self, x, training=None):
        steps = x.shape[1]
        y = conv_ops.fold_time(self.act_in(x, training=training))
        if _inference_bn(self.act_mid.bn, training):  # middle BatchNorm folded into the 1x1 conv
            kernel, bias = fold_bn(self.kernel_in, self.bias_in, self.act_mid.bn)
            y = conv_ops.unfold_time(ops.relu(conv_ops.conv2d(y, kernel, bias)), steps)
        else:
            y = self.act_mid(
                conv_ops.unfold_time(conv_ops.conv2d(y, self.kernel_in, self.bias_in), steps), training=training
            )
        pad = 0 if self.reduce else (self.temporal_kernel - 1) // 2
        y = conv_ops.temporal_conv(y, self.kernel_out, self.bias_out, temporal_padding=pad)
        if self.reduce:
            return ops.concatenate([x[:, self.skip_index], y[:, 0]], axis=-1)
        return ops.concatenate([x, y], axis=-1)

    def compute_output_shape(self, input_shape):
        c = input_shape[-1]
        c_out = None if c is None else c + self.growth
        if self.reduce:
            return (input_shape[0],) + tuple(input_shape[2:-1]) + (c_out,)
        return tuple(input_shape[:-1]) + (c_out,)

    def get_config(self):
        return {
            **super().get_config(),
            "growth": self.growth,
            "temporal_kernel": self.temporal_kernel,
            "reduce": self.reduce,
            "skip_index": self.skip_index,
            "epsilon": self.epsilon,
            "momentum": self.momentum,
            "input_bn": self.input_bn,
        }
