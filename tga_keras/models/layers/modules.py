"""The four named stages of TGA: intra-group fusion, temporal attention, inter-group fusion, upsampling.

Frames arrive as ``(B, F, H, W, 3)`` in natural order. ``IntraGroupModule`` groups them by temporal
distance and turns every group into features with one set of weights; ``TemporalAttention``
weights the groups; ``InterGroupModule`` fuses them into one feature map; ``UpsampleHead`` turns it
into the high-resolution residual.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from tga_keras.models.config import TGAConfig
from tga_keras.models.layers import conv_ops
from tga_keras.models.layers.units import ConvBNReLU, DenseUnit, PreActivation, TemporalDenseUnit, _ConvWeights

_PKG = "tga_keras"
# Keras momentum = 1 - PyTorch momentum. The official code leaves PyTorch's default (0.1) on the
# middle BatchNorm of the second unit of every three-unit dense block, 1e-3 everywhere else.
_MOMENTUM = 0.999
_MOMENTUM_QUIRK = 0.9


def _block_momenta(units_per_block):
    """(momentum_in, momentum_mid) for every unit of a 2-D dense block, in order."""
    out = []
    for n in units_per_block:
        for j in range(n):
            out.append((_MOMENTUM, _MOMENTUM_QUIRK if j == 1 else _MOMENTUM))
    return out


def _config_of(config):
    return config if isinstance(config, TGAConfig) else TGAConfig.from_dict(config)


@keras.saving.register_keras_serializable(package=_PKG)
class IntraGroupModule(_ConvWeights, layers.Layer):
    """Intra-group fusion, one set of weights shared by every group.

    ``(B, F, H, W, 3)`` frames in natural order -> ``(B, G, H, W, nf + n*ng + ng + 1)``: for every
    group, the dense-block features, the last unit's ``ng`` new features and (last channel) the
    attention logit. Stages: ``stem_units`` spatial 3x3 conv-BN-ReLU units per frame, a 3x3x3
    temporal conv over the group's 3 frames (temporal stride 3, one step per group), then a 2-D
    dense block. With ``config.dilation`` each group runs the stem and the 3x3x3 conv on its own,
    spatially dilated by its temporal distance, so in training each group's stem BatchNorms see
    that group's batch statistics only (and update their moving averages once per group, in
    group order), as the first-published official dilated network.

    Without dilation and at inference, the stem runs on the ``F`` distinct frames once and is
    gathered into groups afterwards (the official code runs it on 3 copies of the reference);
    in training it runs on the grouped frames, so BatchNorm sees the official batch statistics.
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = _config_of(config)
        c = self.config
        self.stem = [
            ConvBNReLU(c.nf, c.bn_epsilon, _MOMENTUM, use_bias=c.stem_bias, name=f"stem_{i + 1}")
            for i in range(c.stem_units)
        ]
        momenta = _block_momenta(c.intra_units)
        n = len(momenta)
        self.units = [
            DenseUnit(c.ng + (1 if i == n - 1 else 0), c.bn_epsilon, m_in, m_mid, name=f"unit_{i + 1:02d}")
            for i, (m_in, m_mid) in enumerate(momenta)
        ]
        self._gather = [f for g in c.groups for f in g]  # (G*3,) frame indices

    def build(self, input_shape):
        c = self.config
        shape = (None, None, None, input_shape[-1])
        for unit in self.stem:
            unit.build(shape)
            shape = unit.compute_output_shape(shape)
        self.fusion_kernel, self.fusion_bias = self._add_conv("fusion", (3, 3, 3, c.nf, c.nf), c.stem_bias)
        shape = (None, None, None, c.nf)
        for unit in self.units:
            unit.build(shape)
            shape = shape[:-1] + (shape[-1] + c.ng,)

    def _run_stem(self, x, dilation, training):
        for unit in self.stem:
            x = unit(x, dilation=dilation, training=training)
        return x

    def _fuse(self, x, dilation):
        """The 3x3x3 fusion conv: ``(N, 3, H, W, nf)`` -> ``(N, H, W, nf)``."""
        return conv_ops.temporal_conv(x, self.fusion_kernel, self.fusion_bias, dilation=dilation)[:, 0]

    def call(self, frames, training=None):
        c = self.config
        g = len(c.groups)
        # One feature map per group, groups folded into the batch: (B*G, H, W, nf). Tensors stay
        # 5-D at most (TFLite and TensorRT handle no higher rank).
        if c.dilation:
            per_group = []
            for gi, d in enumerate(c.group_distances):
                xg = conv_ops.fold_time(ops.take(frames, list(c.groups[gi]), axis=1))  # (B*3, H, W, 3)
                per_group.append(self._fuse(conv_ops.unfold_time(self._run_stem(xg, d, training), 3), d))
            x = ops.stack(per_group, axis=1)  # (B, G, H, W, nf)
            s = ops.shape(x)
            x = ops.reshape(x, (-1, s[2], s[3], c.nf))
        else:
            if training:
                x = conv_ops.fold_time(ops.take(frames, self._gather, axis=1))
                x = conv_ops.unfold_time(self._run_stem(x, 1, training), g * 3)
            else:
                x = conv_ops.unfold_time(self._run_stem(conv_ops.fold_time(frames), 1, training), c.frames)
                x = ops.take(x, self._gather, axis=1)  # (B, G*3, H, W, nf), group-major
            s = ops.shape(x)
            x = self._fuse(ops.reshape(x, (-1, 3, s[2], s[3], c.nf)), 1)
        for unit in self.units:
            x = unit(x, training=training)
        s = ops.shape(x)
        return ops.reshape(x, (-1, g, s[1], s[2], x.shape[-1]))

    def compute_output_shape(self, input_shape):
        c = self.config
        n = sum(c.intra_units)
        return (input_shape[0], len(c.groups), input_shape[2], input_shape[3], c.nf + n * c.ng + 1)

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}


@keras.saving.register_keras_serializable(package=_PKG)
class TemporalAttention(layers.Layer):
    """Softmax over groups of a one-channel logit map, weighting the last unit's features.

    ``(B, G, H, W, C + ng + 1)`` -> features ``(B, G, H, W, C + ng)`` and attention
    ``(B, G, H, W, 1)`` (sums to 1 over ``G``). Only the last ``ng`` features are weighted, as in
    the official release.
    """

    def __init__(self, growth, **kwargs):
        super().__init__(**kwargs)
        self.growth = int(growth)

    def call(self, x):
        c = x.shape[-1] - 1 - self.growth
        att = ops.softmax(x[..., -1:], axis=1)
        return ops.concatenate([x[..., :c], x[..., c:-1] * att], axis=-1), att

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] - 1,), tuple(input_shape[:-1]) + (1,)

    def get_config(self):
        return {**super().get_config(), "growth": self.growth}


@keras.saving.register_keras_serializable(package=_PKG)
class InterGroupModule(_ConvWeights, layers.Layer):
    """Inter-group fusion: ``(B, G, H, W, C)`` -> ``(B, H, W, reconstruction_width)``.

    A 3-D dense block (``fusion3d_units[0]`` units with 3x3x3 kernels over the groups; then a unit
    whose kernel spans all ``G`` groups, reducing them to one map, keeping the distance-1 group as
    its skip input; then ``fusion3d_units[1] - 1`` 2-D units), BN-ReLU-conv 3x3 compression to
    ``nf``, a 2-D dense block and BN-ReLU-conv 3x3-ReLU to ``reconstruction_width``.
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = _config_of(config)
        c = self.config
        groups = len(c.groups)
        skip = c.group_distances.index(1) if 1 in c.group_distances else 0
        head, rest = c.fusion3d_units
        self.fusion = [
            TemporalDenseUnit(c.ng, 3, epsilon=c.bn_epsilon, momentum=_MOMENTUM, input_bn=i > 0, name=f"fusion_{i + 1}")
            for i in range(head)
        ]
        self.fusion.append(
            TemporalDenseUnit(
                c.ng,
                groups,
                reduce=True,
                skip_index=skip,
                epsilon=c.bn_epsilon,
                momentum=_MOMENTUM,
                name=f"fusion_{head + 1}",
            )
        )
        self.fusion_2d = [
            DenseUnit(c.ng, c.bn_epsilon, _MOMENTUM, name=f"fusion_{head + 2 + i}") for i in range(rest - 1)
        ]
        self.compress_act = PreActivation(c.bn_epsilon, _MOMENTUM, name="compress_act")
        self.units = [
            DenseUnit(c.ng, c.bn_epsilon, m_in, m_mid, name=f"unit_{i + 1:02d}")
            for i, (m_in, m_mid) in enumerate(_block_momenta(c.inter_units))
        ]
        self.out_act = PreActivation(c.bn_epsilon, _MOMENTUM, name="out_act")

    def build(self, input_shape):
        c = self.config
        shape = tuple(input_shape)
        for unit in self.fusion:
            unit.build(shape)
            shape = unit.compute_output_shape(shape)
        for unit in self.fusion_2d:
            unit.build(shape)
            shape = unit.compute_output_shape(shape)
        self.compress_act.build(shape)
        self.compress_kernel, self.compress_bias = self._add_conv("compress", (3, 3, shape[-1], c.nf))
        shape = shape[:-1] + (c.nf,)
        for unit in self.units:
            unit.build(shape)
            shape = unit.compute_output_shape(shape)
        self.out_act.build(shape)
        self.out_kernel, self.out_bias = self._add_conv("out", (3, 3, shape[-1], c.reconstruction_width))

    def call(self, x, training=None):
        for unit in self.fusion + self.fusion_2d:
            x = unit(x, training=training)
        x = conv_ops.conv2d(self.compress_act(x, training=training), self.compress_kernel, self.compress_bias)
        for unit in self.units:
            x = unit(x, training=training)
        x = conv_ops.conv2d(self.out_act(x, training=training), self.out_kernel, self.out_bias)
        return ops.relu(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2], input_shape[3], self.config.reconstruction_width)

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}


@keras.saving.register_keras_serializable(package=_PKG)
class UpsampleHead(_ConvWeights, layers.Layer):
    """Residual head: ``(B, H, W, reconstruction_width)`` -> ``(B, scale*H, scale*W, 3)``.

    Official x4: conv1x1-ReLU, conv3x3 -> depth_to_space(2) -> ReLU, conv1x1-ReLU, conv1x1 (12 ch)
    -> depth_to_space(2). For x2 and x3 the second depth_to_space is the only one (factor = scale).
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = _config_of(config)

    @property
    def _first_block(self):
        return 2 if self.config.scale == 4 else 1

    def build(self, input_shape):
        c = self.config
        w, u = c.reconstruction_width, c.upsample_width
        b1 = self._first_block
        b2 = c.scale // b1
        self.k1, self.b1 = self._add_conv("conv_1", (1, 1, w, w))
        self.k2, self.b2 = self._add_conv("conv_2", (3, 3, w, u * b1 * b1))
        self.k3, self.b3 = self._add_conv("conv_3", (1, 1, u, u))
        self.k4, self.b4 = self._add_conv("conv_4", (1, 1, u, 3 * b2 * b2))

    def call(self, x):
        c = self.config
        b1 = self._first_block
        x = ops.relu(conv_ops.conv2d(x, self.k1, self.b1))
        x = conv_ops.conv2d(x, self.k2, self.b2)
        if b1 > 1:
            x = ops.depth_to_space(x, b1)
        x = ops.relu(x)
        x = ops.relu(conv_ops.conv2d(x, self.k3, self.b3))
        x = conv_ops.conv2d(x, self.k4, self.b4)
        return ops.depth_to_space(x, c.scale // b1)

    def compute_output_shape(self, input_shape):
        s = self.config.scale
        b, h, w, _ = input_shape
        return (b, None if h is None else h * s, None if w is None else w * s, 3)

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}


@keras.saving.register_keras_serializable(package=_PKG)
class ReferenceFrame(layers.Layer):
    """``(B, F, H, W, C)`` -> the centre frame ``(B, H, W, C)``."""

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, x):
        return x[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "index": self.index}
