"""FLOPs counted from graphs: TensorFlow functions and TGA models (tga_keras.runtime.flops), ONNX models."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers.export_helpers import TINY_EXPORT_CONFIG
from tga_keras import build_tga
from tga_keras.errors import InputError
from tga_keras.runtime.flops import function_flops, function_flops_by_op, model_flops, onnx_flops


def test_one_conv_and_one_dense_count_as_by_hand():
    x = keras.Input((8, 10, 3), batch_size=1)
    y = keras.layers.Dense(4)(keras.layers.Conv2D(5, 3, padding="same")(x))
    model = keras.Model(x, y)
    fn = tf.function(lambda t: model(t), input_signature=[tf.TensorSpec((1, 8, 10, 3), tf.float32)])
    conv = 2 * (8 * 10 * 5) * (3 * 3 * 3)  # output elements * kernel volume * Cin, 2 FLOPs a MAC
    dense = 2 * (8 * 10 * 4) * 5
    assert function_flops_by_op(fn) == {"Conv2D": conv, "MatMul": dense}
    assert function_flops(fn) == conv + dense == 24800


def test_nested_functions_are_inlined_and_every_kind_counted():
    k3 = tf.constant(np.ones((3, 3, 3, 4, 6), np.float32))  # (kd, kh, kw, Cin, Cout)
    kd = tf.constant(np.ones((3, 3, 4, 2), np.float32))  # depthwise, multiplier 2
    b = tf.constant(np.ones((2, 5, 7), np.float32))

    @tf.function
    def inner(x, m):
        y = tf.nn.conv3d(x, k3, strides=[1] * 5, padding="SAME")  # (1, 4, 6, 6, 6)
        z = tf.nn.depthwise_conv2d(x[:, 0], kd, strides=[1] * 4, padding="VALID")  # (1, 4, 4, 8)
        return tf.reduce_sum(y) + tf.reduce_sum(z) + tf.reduce_sum(tf.matmul(m, b))  # (2, 3, 7)

    spec = [tf.TensorSpec((1, 4, 6, 6, 4), tf.float32), tf.TensorSpec((2, 3, 5), tf.float32)]
    outer = tf.function(lambda x, m: inner(x, m) * 2.0, input_signature=spec)
    ops = {op.type for op in outer.get_concrete_function().graph.get_operations()}
    assert ops & {"PartitionedCall", "StatefulPartitionedCall"}  # the counted ops live in a nested function
    want = {
        "Conv3D": 2 * (4 * 6 * 6 * 6) * (27 * 4),
        "DepthwiseConv2dNative": 2 * (4 * 4 * 8) * 9,
        "BatchMatMulV2": 2 * (2 * 3 * 7) * 5,
    }
    assert function_flops_by_op(outer) == want


def test_a_dynamic_shape_is_refused():
    fn = tf.function(
        lambda x: tf.nn.conv2d(x, tf.ones((3, 3, 3, 4)), 1, "SAME"),
        input_signature=[tf.TensorSpec((1, None, None, 3), tf.float32)],
    )
    with pytest.raises(InputError, match="not static"):
        function_flops(fn)


def test_tga_flops_grow_with_the_frame_area():
    model = build_tga(TINY_EXPORT_CONFIG)
    small, large = model_flops(model, 12, 14), model_flops(model, 24, 28)
    assert small > 0
    assert large == 4 * small  # every counted op's output scales with h*w ('same' convs, bicubic included)


def _one_node_model(op, inputs, output, initializers, **attrs):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node(op, [name for name, _ in inputs] + [i[0] for i in initializers], ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        op,
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, output)],
        [numpy_helper.from_array(np.ones(shape, np.float32), name=name) for name, shape in initializers],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def test_onnx_grouped_conv_counts_as_by_hand(tmp_path):
    onnx = pytest.importorskip("onnx")
    # 4 -> 6 channels in 2 groups: W (6, 2, 3, 3); 'same' padding on a dynamic N x H x W input
    model = _one_node_model(
        "Conv", [("x", ["N", 4, "H", "W"])], ["N", 6, "H", "W"], [("w", (6, 2, 3, 3))], group=2, pads=[1, 1, 1, 1]
    )
    want = 2 * (2 * 6 * 5 * 7) * (3 * 3 * 2)
    assert onnx_flops(model, {"x": (2, 4, 5, 7)}) == want
    path = tmp_path / "conv.onnx"
    onnx.save(model, str(path))
    assert onnx_flops(path, {"x": (2, 4, 5, 7)}) == want
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"  # the caller's proto is untouched
    with pytest.raises(InputError, match="dynamic dims"):
        onnx_flops(model)
    with pytest.raises(InputError, match="at axis 1"):
        onnx_flops(model, {"x": (2, 3, 5, 7)})
    with pytest.raises(InputError, match="no inputs"):
        onnx_flops(model, {"z": (1,)})


def test_onnx_conv_transpose_gemm_and_matmul():
    up = _one_node_model("ConvTranspose", [("x", [1, 4, 5, 6])], [1, 3, 10, 12], [("w", (4, 3, 2, 2))], strides=[2, 2])
    assert onnx_flops(up) == 2 * (4 * 5 * 6) * (2 * 2 * 3)  # input elements * kernel volume * Cout
    gemm = _one_node_model("Gemm", [("a", [7, 5])], [5, 4], [("b", (7, 4))], transA=1)  # A^T (5, 7) @ B (7, 4)
    assert onnx_flops(gemm) == 2 * (5 * 4) * 7
    mm = _one_node_model("MatMul", [("a", [2, 3, 5])], [2, 3, 4], [("b", (5, 4))])
    assert onnx_flops(mm) == 2 * (2 * 3 * 4) * 5


def test_onnx_export_counts_as_the_keras_graph():
    pytest.importorskip("onnx")
    pytest.importorskip("tf2onnx")
    from tga_keras.runtime.compile import to_onnx

    model = build_tga(TINY_EXPORT_CONFIG)
    keras_count = model_flops(model, 12, 14)
    onnx_count = onnx_flops(to_onnx(model), {"lr_frames": (1, TINY_EXPORT_CONFIG.frames, 12, 14, 3)})
    assert abs(onnx_count - keras_count) <= 0.02 * keras_count  # measured: equal
