"""The graph stays exportable: SavedModel and TFLite (no op on tensors above 5-D, no resize op)."""

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
