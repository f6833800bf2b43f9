"""imresize: parity with the official (MATLAB) bicubic, TF graph paths, polyphase agreement."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers.paths import FIXTURES
from tga_keras.preprocess.resize import imresize, polyphase_upsample_taps, resize_matrix

FIXTURE = FIXTURES / "official_ops_carphone.npz"


@pytest.fixture(scope="module")
def ref():
    with np.load(FIXTURE) as d:
        return {k: d[k] for k in d.files}


# max |ours - official| measured: 2.4e-7 (numpy, TF eager, tf.data, the model's bicubic layer)
TOL = 1e-6


def test_numpy_matches_official_up_and_down(ref):
    up = imresize(ref["lr_bd"][3], 4)
    assert up.dtype == np.float32 and up.shape == (144, 176, 3)
    assert np.abs(up - ref["up_bicubic"]).max() <= TOL
    down = imresize(ref["hr"][3], 1 / 4)
    assert down.dtype == np.float32 and down.shape == (36, 44, 3)
    assert np.abs(down - ref["down_bicubic"]).max() <= TOL


def test_tf_eager_matches_official(ref):
    up = imresize(tf.constant(ref["lr_bd"][3]), 4)
    assert isinstance(up, tf.Tensor) and up.dtype == tf.float32
    assert np.abs(up.numpy() - ref["up_bicubic"]).max() <= TOL
    down = imresize(tf.constant(ref["hr"][3]), 0.25)
    assert np.abs(down.numpy() - ref["down_bicubic"]).max() <= TOL


def test_tf_dataset_map_dynamic_and_static_shapes(ref):
    frames = ref["hr"][2:5]  # (3, 144, 176, 3): batch axes are allowed

    def gen():
        yield frames

    dynamic = tf.data.Dataset.from_generator(
        gen, output_signature=tf.TensorSpec([None, None, None, 3], tf.float32)
    ).map(lambda x: imresize(x, 0.25))
    static = tf.data.Dataset.from_tensors(frames).map(lambda x: imresize(x, 0.25))
    assert static.element_spec.shape.as_list() == [3, 36, 44, 3]
    for ds in (dynamic, static):
        out = next(iter(ds)).numpy()
        assert out.shape == (3, 36, 44, 3)
        assert np.abs(out[1] - ref["down_bicubic"]).max() <= TOL


def _polyphase_reference(x: np.ndarray, scale: int) -> np.ndarray:
    """x`scale` bicubic as the model does it: symmetric pad, then per-phase taps, H then W."""
    taps, offsets = polyphase_upsample_taps(scale)
    pad = int(np.abs(offsets).max())

    def along(a: np.ndarray, axis: int) -> np.ndarray:
        a = np.moveaxis(a, axis, 0)
        n = a.shape[0]
        ap = np.pad(a, [(pad, pad)] + [(0, 0)] * (a.ndim - 1), mode="symmetric")
        out = np.zeros((n * scale,) + a.shape[1:], dtype=np.float64)
        for p in range(scale):
            for j, o in enumerate(offsets):
                out[p::scale] += taps[p, j] * ap[pad + o : pad + o + n]
        return np.moveaxis(out, 0, axis)

    return along(along(x.astype(np.float64), 0), 1)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_upsample_equals_polyphase(scale):
    x = np.random.default_rng(scale).random((13, 21, 3))
    expected = _polyphase_reference(x, scale)
    assert np.abs(imresize(x, scale) - expected).max() <= 1e-12  # float64 in, float64 math: measured 2.7e-15
    got_tf = imresize(tf.constant(x, tf.float32), scale).numpy()
    assert np.abs(got_tf - expected).max() <= 1e-6  # float32: measured 1.8e-7


def test_output_size_and_matrix_rows_sum_to_one():
    x = np.random.default_rng(0).random((37, 53, 2)).astype(np.float32)
    assert imresize(x, 1 / 3).shape == (13, 18, 2)  # ceil(37/3), ceil(53/3)
    assert imresize(x, 0.5).shape == (19, 27, 2)
    assert imresize(x, 2.5).shape == (93, 133, 2)
    for s in (0.25, 1 / 3, 0.5, 2, 4):
        m = resize_matrix(37, s)
        np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-12)
    # without antialiasing, downscaling uses the plain 4-tap kernel
    assert np.count_nonzero(resize_matrix(40, 0.25, antialiasing=False)[5]) == 4
    assert np.count_nonzero(resize_matrix(40, 0.25)[5]) > 4


def test_float64_kept_and_constant_preserved():
    x = np.full((9, 7, 3), 0.3)
    y = imresize(x, 0.5)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, 0.3, atol=1e-12)


@pytest.mark.parametrize(
    "image, scale",
    [
        (np.zeros((8, 8), np.float32), 2),  # rank 2
        (np.zeros((8, 8, 3), np.uint8), 2),  # integer dtype
        (np.zeros((8, 8, 3), np.float32), 0),
        (np.zeros((8, 8, 3), np.float32), -2),
        (np.zeros((8, 8, 3), np.float32), float("nan")),
        (np.zeros((8, 8, 3), np.float32), "4"),
        (np.zeros((0, 8, 3), np.float32), 2),  # empty
        (tf.zeros((8, 8)), 2),
        (tf.zeros((8, 8, 3), tf.int32), 2),
    ],
)
def test_bad_inputs_raise(image, scale):
    with pytest.raises(ValueError):
        imresize(image, scale)


def test_tf_unknown_rank_raises():
    f = tf.function(lambda x: imresize(x, 2), input_signature=[tf.TensorSpec(None, tf.float32)])
    with pytest.raises(ValueError, match="rank"):
        f.get_concrete_function()


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_model_bicubic_layer_equals_imresize(scale):
    """The model's in-graph bicubic (polyphase conv + depth_to_space) is imresize x scale."""
    from tga_keras.models.layers import BicubicUpsample

    x = np.random.default_rng(scale).random((2, 13, 17, 3), dtype=np.float32)
    got = np.asarray(BicubicUpsample(scale)(x))
    want = imresize(x, scale)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= TOL
