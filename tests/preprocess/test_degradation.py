"""BD / BI degradation: parity with the official Guassian_downsample, TF graph paths, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers.paths import FIXTURES
from tga_keras.preprocess.degradation import bd_degrade, bi_degrade, gaussian_downsample, gaussian_kernel, official_pad
from tga_keras.preprocess.resize import imresize

FIXTURE = FIXTURES / "official_ops_carphone.npz"


@pytest.fixture(scope="module")
def ref():
    with np.load(FIXTURE) as d:
        return {k: d[k] for k in d.files}


def _official_out_size(n: int, scale: int) -> int:
    """Output length of the official code: reflect pad, 13-tap stride-`scale` conv, crop 2 + 2."""
    extra = (3 - n % 3) if scale == 3 else 0
    padded = n + 2 * (6 + 2 * scale) + extra
    return (padded - 13) // scale + 1 - 4


def _slow_reference(img: np.ndarray, scale: int) -> np.ndarray:
    """Direct loops, independent of the module: explicit reflect indexing and a 2-D Gaussian."""
    sigma = 0.4 * scale
    radius = int(4 * sigma + 0.5)
    kernel = np.zeros((13, 13))
    for i in range(-radius, radius + 1):
        for j in range(-radius, radius + 1):
            kernel[6 + i, 6 + j] = np.exp(-(i * i + j * j) / (2 * sigma * sigma))
    kernel /= kernel.sum()
    h, w = img.shape
    p = 6 + 2 * scale
    rh, rw = ((3 - h % 3), (3 - w % 3)) if scale == 3 else (0, 0)

    def reflect(k: int, n: int) -> int:
        return -k if k < 0 else (2 * (n - 1) - k if k >= n else k)

    rows = [reflect(k, h) for k in range(-p, h + p + rh)]
    cols = [reflect(k, w) for k in range(-p, w + p + rw)]
    padded = img[np.ix_(rows, cols)].astype(np.float64)
    ho = (len(rows) - 13) // scale + 1
    wo = (len(cols) - 13) // scale + 1
    out = np.empty((ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[i, j] = np.sum(kernel * padded[i * scale : i * scale + 13, j * scale : j * scale + 13])
    return out[2:-2, 2:-2]


# ---------------------------------------------------------------- parity with the official release


def test_numpy_matches_official_bd(ref):
    lr = gaussian_downsample(ref["hr"], 4)
    assert lr.dtype == np.float32 and lr.shape == (7, 36, 44, 3)
    assert np.abs(lr - ref["lr_bd"]).max() <= 1e-5
    assert np.abs(bd_degrade(ref["hr"], 4) - ref["lr_bd"]).max() <= 1e-5
    padded = bd_degrade(ref["hr"], 4, protocol="official")
    assert padded.shape == (7, 40, 48, 3)
    assert np.abs(padded - ref["lr_bd_padded"]).max() <= 1e-5


def test_tf_eager_matches_official_bd(ref):
    hr = tf.constant(ref["hr"])
    lr = gaussian_downsample(hr, 4)
    assert isinstance(lr, tf.Tensor) and lr.shape == (7, 36, 44, 3)
    assert np.abs(lr.numpy() - ref["lr_bd"]).max() <= 1e-5
    padded = bd_degrade(hr, 4, protocol="official")
    assert np.abs(padded.numpy() - ref["lr_bd_padded"]).max() <= 1e-5


def test_tf_dataset_map_dynamic_shapes(ref):
    def gen():
        yield ref["hr"]

    ds = tf.data.Dataset.from_generator(gen, output_signature=tf.TensorSpec([None, None, None, 3], tf.float32)).map(
        lambda x: (bd_degrade(x, 4), bd_degrade(x, 4, "official"), bi_degrade(x, 4))
    )
    plain, padded, bicubic = (t.numpy() for t in next(iter(ds)))
    assert np.abs(plain - ref["lr_bd"]).max() <= 1e-5
    assert np.abs(padded - ref["lr_bd_padded"]).max() <= 1e-5
    assert np.abs(bicubic[3] - ref["down_bicubic"]).max() <= 1e-6  # measured 2.4e-7


def test_tf_dataset_map_static_shape_is_inferred(ref):
    ds = tf.data.Dataset.from_tensors(ref["hr"][0]).map(lambda x: gaussian_downsample(x, 4))
    assert ds.element_spec.shape.as_list() == [36, 44, 3]
    assert np.abs(next(iter(ds)).numpy() - ref["lr_bd"][0]).max() <= 1e-5


def test_bi_degrade_is_imresize(ref):
    lr = bi_degrade(ref["hr"][3], 4)
    assert np.abs(lr - ref["down_bicubic"]).max() <= 1e-6  # measured 2.4e-7
    x = np.random.default_rng(1).random((37, 53, 3)).astype(np.float32)
    np.testing.assert_array_equal(bi_degrade(x, 3), imresize(x, 1 / 3))


# ---------------------------------------------------------------- kernel, shapes, other scales


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_kernel(scale):
    k = gaussian_kernel(scale)
    assert k.shape == (13, 13) and k.dtype == np.float64
    assert abs(k.sum() - 1.0) < 1e-12
    np.testing.assert_array_equal(k, k.T)
    np.testing.assert_array_equal(k, k[::-1, ::-1])
    assert np.unravel_index(np.argmax(k), k.shape) == (6, 6)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_kernel_matches_scipy(scale):
    ndimage = pytest.importorskip("scipy.ndimage")
    delta = np.zeros((13, 13))
    delta[6, 6] = 1.0
    np.testing.assert_allclose(gaussian_kernel(scale), ndimage.gaussian_filter(delta, 0.4 * scale), atol=1e-15)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("size", [(37, 53), (36, 48), (41, 30)])
def test_against_slow_reference(scale, size):
    h, w = size
    x = np.random.default_rng(h * w + scale).random((h, w, 2)).astype(np.float32)
    expected_shape = (_official_out_size(h, scale), _official_out_size(w, scale), 2)
    expected = np.stack([_slow_reference(x[..., c], scale) for c in range(2)], axis=-1)
    assert expected.shape == expected_shape
    got = gaussian_downsample(x, scale)
    assert got.shape == expected_shape
    assert np.abs(got - expected).max() <= 1e-7  # float64 math, float32 out: measured 3.0e-8
    got_tf = gaussian_downsample(tf.constant(x), scale)
    assert np.abs(got_tf.numpy() - expected).max() <= 1e-6  # float32 conv: measured 4.7e-7


def test_scale3_pads_three_when_divisible():
    # H % 3 == 0 still gets 3 extra rows (the official formula), giving H/3 + 1 outputs
    x = np.random.default_rng(3).random((36, 48, 1)).astype(np.float32)
    assert gaussian_downsample(x, 3).shape == (13, 17, 1)
    assert gaussian_downsample(x, 2).shape == (18, 24, 1)
    assert gaussian_downsample(x, 4).shape == (9, 12, 1)


def test_constant_preserved_and_batch_axes():
    x = np.full((2, 3, 20, 24, 3), 0.25, np.float32)
    y = gaussian_downsample(x, 4)
    assert y.shape == (2, 3, 5, 6, 3)
    np.testing.assert_allclose(y, 0.25, atol=1e-6)
    y64 = gaussian_downsample(x.astype(np.float64), 2)
    assert y64.dtype == np.float64


def test_tf_dynamic_scale3_in_function():
    x = np.random.default_rng(4).random((2, 37, 53, 3)).astype(np.float32)
    f = tf.function(
        lambda t: gaussian_downsample(t, 3), input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)]
    )
    np.testing.assert_allclose(f(tf.constant(x)).numpy(), gaussian_downsample(x, 3), atol=1e-6)


def test_official_pad():
    x = np.random.default_rng(5).random((2, 20, 22, 3)).astype(np.float32)
    p = official_pad(x, 4)
    assert p.shape == (2, 36, 38, 3)
    np.testing.assert_array_equal(p[:, 8:-8, 8:-8], x)
    np.testing.assert_array_equal(p[:, 7, 8:-8], x[:, 1])  # reflect: the edge row is not repeated
    np.testing.assert_array_equal(official_pad(tf.constant(x), 4).numpy(), p)
    assert official_pad(x, 2).shape == (2, 28, 30, 3)


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("scale", [1, 5, 8, 0, 4.0, 2.5, True, "4"])
def test_unsupported_scale_raises(scale):
    x = np.zeros((40, 40, 3), np.float32)
    for fn in (gaussian_downsample, official_pad, bd_degrade, bi_degrade, gaussian_kernel):
        with pytest.raises(ValueError, match="scale"):
            fn(x, scale) if fn is not gaussian_kernel else fn(scale)


@pytest.mark.parametrize("shape", [(40,), (40, 40)])
def test_wrong_rank_raises(shape):
    for fn in (gaussian_downsample, official_pad, bd_degrade, bi_degrade):
        with pytest.raises(ValueError, match="rank|H, W, C"):
            fn(np.zeros(shape, np.float32), 4)
        with pytest.raises(ValueError, match="rank|H, W, C"):
            fn(tf.zeros(shape), 4)


@pytest.mark.parametrize(
    "shape, scale",
    [((14, 40, 3), 4), ((40, 14, 3), 4), ((10, 40, 3), 2), ((15, 40, 3), 3), ((13, 40, 3), 3)],
)
def test_too_small_raises(shape, scale):
    with pytest.raises(ValueError, match="too small"):
        gaussian_downsample(np.zeros(shape, np.float32), scale)
    with pytest.raises(ValueError, match="too small"):
        gaussian_downsample(tf.zeros(shape), scale)


def test_smallest_valid_sizes():
    assert gaussian_downsample(np.zeros((15, 15, 1), np.float32), 4).shape == (4, 4, 1)
    assert gaussian_downsample(np.zeros((14, 16, 1), np.float32), 3).shape == (5, 6, 1)
    assert gaussian_downsample(tf.zeros((11, 11, 1)), 2).shape == (6, 6, 1)


def test_too_small_dynamic_fails_at_run_time():
    f = tf.function(lambda t: gaussian_downsample(t, 4), input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="too small"):
        f(tf.zeros((12, 40, 3)))


def test_official_pad_too_small_raises():
    with pytest.raises(ValueError, match="too small"):
        official_pad(np.zeros((8, 20, 3), np.float32), 4)
    with pytest.raises(ValueError, match="too small"):
        official_pad(tf.zeros((20, 8, 3)), 4)


def test_bad_protocol_and_dtype_raise():
    x = np.zeros((40, 40, 3), np.float32)
    with pytest.raises(ValueError, match="protocol"):
        bd_degrade(x, 4, protocol="matlab")
    with pytest.raises(ValueError, match="float"):
        gaussian_downsample(np.zeros((40, 40, 3), np.uint8), 4)
    with pytest.raises(ValueError, match="float"):
        gaussian_downsample(tf.zeros((40, 40, 3), tf.int32), 4)


@pytest.mark.torch
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_against_torch_restatement(scale):
    """The official semantics restated in torch (reflect F.pad, strided F.conv2d), when torch is installed."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = np.random.default_rng(scale).random((2, 37, 53, 3)).astype(np.float32)
    t = torch.from_numpy(x).permute(0, 3, 1, 2).reshape(-1, 1, 37, 53)
    p = 6 + 2 * scale
    rh, rw = ((3 - 37 % 3), (3 - 53 % 3)) if scale == 3 else (0, 0)
    t = F.pad(t, [p, p + rw, p, p + rh], mode="reflect")
    k = torch.from_numpy(gaussian_kernel(scale)).float()[None, None]
    out = F.conv2d(t, k, stride=scale)[:, :, 2:-2, 2:-2]
    out = out.reshape(2, 3, out.shape[-2], out.shape[-1]).permute(0, 2, 3, 1).numpy()
    assert np.abs(gaussian_downsample(x, scale) - out).max() <= 2e-6  # measured 4.8e-7 (torch float32)
    assert np.abs(gaussian_downsample(tf.constant(x), scale).numpy() - out).max() <= 2e-6
