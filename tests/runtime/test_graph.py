"""The graph stays exportable: SavedModel and TFLite (no op on tensors above 5-D, no resize op), and
its ONNX form is free of avoidable transposes."""

import contextlib

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers.random_weights import he_normal_weights
from tga_keras import TGAConfig, build_tga


@pytest.mark.parametrize("preset", ["small", "paper"])
def test_savedmodel_and_tflite_match_keras(tmp_path, preset):
    cfg = TGAConfig.preset(preset).replace(
        nf=16, ng=8, intra_units=(2,), inter_units=(2,), reconstruction_width=16, upsample_width=8
    )
    model = build_tga(cfg)
    # He-normal kernels and random BatchNorm statistics: at its own init the network's residual is
    # below 1e-5 and any graph that computes the bicubic base would match to atol 1e-5
    he_normal_weights(model, seed=1)
    x = np.random.default_rng(0).random((1, 7, 12, 14, 3), dtype=np.float32)
    want = np.asarray(model(x))
    assert np.abs(want - np.asarray(model.get_layer("bicubic")(x[:, 3]))).max() > 0.5  # measured 0.95, 1.93
    path = str(tmp_path / "sm")
    model.export(path, format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(path)  # keep a reference: its variables live as long as it does
    got = loaded.serve(x).numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)  # measured 0.0

    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tf.lite.TFLiteConverter.from_saved_model(path).convert())
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-5)  # measured 8.3e-7 and 1.5e-6
    ops = {d["op_name"] for d in interpreter._get_ops_details()}
    assert not any("RESIZE" in op for op in ops)


def test_the_onnx_graph_has_no_transposes_around_its_5d_batch_norms(export_model):
    """The inter-group block's pre-activation BatchNorms (5-D) become multiply-adds in the ONNX graph
    (``units.multiply_add_batch_norm``): the same function, without an NCHW transpose pair around each."""
    pytest.importorskip("tf2onnx")
    from tga_keras.models.layers import units
    from tga_keras.models.loading import load_tga
    from tga_keras.runtime.compile import onnx_of_function, to_onnx
    from tga_keras.runtime.graph import inference_function

    model = load_tga(export_model)
    x = tf.random.stateless_uniform((1, model.config.frames, 12, 14, 3), seed=(1, 2))
    with units.multiply_add_batch_norm():
        as_multiply_add = model(x, training=False)
    np.testing.assert_allclose(as_multiply_add, model(x, training=False), atol=1e-6)
    assert not units._MULTIPLY_ADD_5D  # only inside the context

    def transposes(proto):
        return sum(node.op_type == "Transpose" for node in proto.graph.node)

    with pytest.MonkeyPatch.context() as mp:  # the conversion as it was: the fused kernel at every rank
        mp.setattr(units, "multiply_add_batch_norm", lambda: contextlib.nullcontext())
        fused = onnx_of_function(inference_function(model, "float32"))
    assert transposes(to_onnx(model)) < transposes(fused)
