"""Convolution helpers that run 3-D (temporal) convolutions as 2-D work.

A Conv3D whose temporal kernel is 1 is the same 2-D convolution applied to every frame: the frames
are folded into the batch axis and one ``conv2d`` does the work. A temporal kernel ``kt > 1`` is
either a single 2-D conv over the ``kt`` frames stacked on channels (when it yields one step), or
one 2-D conv with ``kt`` stacked outputs followed by a shifted sum over time. Both give exactly the
Conv3D result with the same weights, at the speed of the CPU's 2-D convolution kernels.
"""

from __future__ import annotations

from keras import ops


def fold_time(x):
    """``(B, T, H, W, C) -> (B*T, H, W, C)``."""
    s = ops.shape(x)
    return ops.reshape(x, (-1, s[2], s[3], s[4]))


def unfold_time(x, steps: int):
    """``(B*T, H, W, C) -> (B, T, H, W, C)``."""
    s = ops.shape(x)
    return ops.reshape(x, (-1, steps, s[1], s[2], s[3]))


def conv2d(x, kernel, bias=None, dilation: int = 1):
    """'same' 2-D convolution, stride 1. ``kernel``: ``(kh, kw, Cin, Cout)``, cast to ``x``'s dtype."""
    y = ops.conv(x, ops.cast(kernel, x.dtype), strides=1, padding="same", dilation_rate=dilation)
    if bias is not None:
        y = y + ops.cast(bias, y.dtype)
    return y


def temporal_conv(x, kernel, bias=None, temporal_padding: int = 0, temporal_stride: int = 1, dilation: int = 1):
    """Conv3D with 'same' spatial padding on ``(B, T, H, W, C)``; ``kernel``: ``(kt, kh, kw, Cin, Cout)``.

    Temporal padding is with zeros (as PyTorch's Conv3d); ``dilation`` is spatial only (PyTorch's
    ``dilation=(1, d, d)`` with ``padding=(p, d, d)``). ``T`` must be static.
    Returns ``(B, T_out, H, W, Cout)`` with ``T_out = (T + 2*pad - kt) // stride + 1``.
    """
    steps = x.shape[1]
    if steps is None:
        raise ValueError("temporal_conv needs a static number of time steps")
    kt, kh, kw, cin, cout = kernel.shape
    t_out = (steps + 2 * temporal_padding - kt) // temporal_stride + 1
    if t_out < 1:
        raise ValueError(f"a temporal kernel of {kt} does not fit {steps} steps with padding {temporal_padding}")
    if kt == 1 and temporal_padding == 0 and temporal_stride == 1:
        y = unfold_time(conv2d(fold_time(x), kernel[0], dilation=dilation), steps)
    elif t_out == 1 and temporal_padding == 0:
        # One output step: stack the kt frames on channels, one 2-D conv with kt*Cin inputs.
        xs = ops.transpose(x[:, :kt], (0, 2, 3, 1, 4))  # (B, H, W, kt, C)
        s = ops.shape(xs)
        xs = ops.reshape(xs, (-1, s[1], s[2], kt * cin))
        k = ops.reshape(ops.transpose(kernel, (1, 2, 0, 3, 4)), (kh, kw, kt * cin, cout))
        y = ops.expand_dims(conv2d(xs, k, dilation=dilation), 1)
    else:
        # One 2-D conv with kt*Cout outputs per frame, then a shifted sum over time (tensors stay
        # 5-D at most: TFLite and TensorRT slice no higher rank).
        k = ops.reshape(ops.transpose(kernel, (1, 2, 3, 0, 4)), (kh, kw, cin, kt * cout))
        z = unfold_time(conv2d(fold_time(x), k, dilation=dilation), steps)  # (B, T, H, W, kt*Cout)
        outs = []
        for o in range(t_out):
            acc = None
            for j in range(kt):
                t = o * temporal_stride + j - temporal_padding
                if 0 <= t < steps:
                    term = z[:, t, :, :, j * cout : (j + 1) * cout]
                    acc = term if acc is None else acc + term
            outs.append(acc)
        y = ops.stack(outs, axis=1)
    if bias is not None:
        y = y + ops.cast(bias, y.dtype)
    return y
