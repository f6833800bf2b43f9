"""Y-channel PSNR / SSIM: parity with the official test.py, Keras metrics, bad inputs."""

from __future__ import annotations

import math

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers.paths import FIXTURES
from tga_keras.evaluation.metrics import PSNRY, SSIMY, psnr_y, rgb_to_y, ssim_y

FIXTURE = FIXTURES / "official_ops_carphone.npz"


@pytest.fixture(scope="module")
def ref():
    with np.load(FIXTURE) as d:
        return {k: d[k] for k in d.files}


@pytest.fixture(scope="module")
def pairs(ref):
    """(pred, target) batches (5, 144, 176, 3): bicubic, noisy, contrast-shifted, other frame, exact."""
    hr = ref["hr"]
    noisy = hr[3] + np.random.default_rng(0).normal(0, 0.03, hr[3].shape).astype(np.float32)
    pred = np.stack([ref["up_bicubic"], noisy, hr[3] * 0.8 + 0.15, hr[2], hr[5]])
    target = np.stack([hr[3], hr[3], hr[3], hr[3], hr[5]])
    return pred, target


def test_fixture_psnr_ssim(ref):
    assert abs(psnr_y(ref["up_bicubic"], ref["hr"][3]) - float(ref["psnr_y"])) <= 1e-6
    assert abs(ssim_y(ref["up_bicubic"], ref["hr"][3]) - float(ref["ssim_y"])) <= 2e-8  # measured 4.3e-9


def test_rgb_to_y():
    img = np.array([[[0, 0, 0], [1, 1, 1], [1, 0, 0], [0.5, 0.25, 2.0]]], np.float32)
    y = rgb_to_y(img)
    assert y.dtype == np.float32 and y.shape == (1, 4)
    np.testing.assert_allclose(y[0, :3], [16.0, 235.0, 16.0 + 65.481], atol=1e-4)
    expected = 16.0 + 0.5 * 65.481 + 0.25 * 128.553 + 1.0 * 24.966  # 2.0 is clamped to 1
    assert abs(y[0, 3] - expected) < 1e-4
    np.testing.assert_array_equal(rgb_to_y(np.uint8([[[255, 255, 255]]])), rgb_to_y(np.ones((1, 1, 3))))


def test_uint8_is_divided_by_255():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (40, 44, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (40, 44, 3), dtype=np.uint8)
    af, bf = a.astype(np.float32) / 255, b.astype(np.float32) / 255
    assert psnr_y(a, b) == psnr_y(af, bf)
    assert ssim_y(a, b) == ssim_y(af, bf)


def test_identical_and_clamping(ref):
    x = ref["hr"][0]
    assert psnr_y(x, x) == math.inf
    assert abs(ssim_y(x, x) - 1.0) < 1e-12
    # prediction values outside [0, 1] are clamped before the metric, as in the official code
    assert psnr_y(x * 1.5 - 0.25, x) == psnr_y(np.clip(x * 1.5 - 0.25, 0, 1), x)


def test_crop_border(ref):
    p, t = ref["up_bicubic"], ref["hr"][3]
    assert psnr_y(p, t, crop_border=0) != psnr_y(p, t)
    c = 4
    assert psnr_y(p[c:-c, c:-c], t[c:-c, c:-c], crop_border=4) == psnr_y(p, t, crop_border=8)
    assert ssim_y(p[c:-c, c:-c], t[c:-c, c:-c], crop_border=0) == ssim_y(p, t, crop_border=4)


@pytest.mark.parametrize(
    "pred, target",
    [
        (np.zeros((40, 40, 3)), np.zeros((40, 41, 3))),  # shape mismatch
        (np.zeros((40, 40, 1)), np.zeros((40, 40, 1))),  # not RGB
        (np.zeros((40, 40, 4)), np.zeros((40, 40, 4))),
        (np.zeros((40, 40)), np.zeros((40, 40))),  # grayscale 2-D
        (np.zeros((2, 40, 40, 3)), np.zeros((2, 40, 40, 3))),  # batch: one image at a time
        (np.zeros((40, 40, 3), np.int32), np.zeros((40, 40, 3), np.int32)),  # dtype
    ],
)
def test_bad_inputs_raise(pred, target):
    for fn in (psnr_y, ssim_y):
        with pytest.raises(ValueError):
            fn(pred, target)


def test_too_small_raises():
    x = np.zeros((26, 40, 3), np.float32)
    # 10 rows left: fine for PSNR; Y differs by 0.1 * (65.481 + 128.553 + 24.966) everywhere
    assert psnr_y(x, x + 0.1) == pytest.approx(20 * math.log10(255 / 21.9), abs=1e-5)  # measured 9e-7 off
    with pytest.raises(ValueError, match="too small"):
        ssim_y(x, x)  # 10 < 11 rows left after cropping 8 + 8
    assert ssim_y(x, x, crop_border=7) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="too small"):
        psnr_y(x[:16], x[:16])
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="crop_border"):
            psnr_y(x, x, crop_border=bad)


# ---------------------------------------------------------------- Keras metrics


def test_keras_metrics_match_numpy(pairs):
    pred, target = pairs
    n = 4  # the exact pair (inf dB) is tested separately
    # measured max |Keras - numpy|: 1.8e-6 dB (PSNR, float32 result), 2.4e-6 (SSIM, float32 filtering)
    for cls, fn, tol in ((PSNRY, psnr_y, 1e-5), (SSIMY, ssim_y, 1e-5)):
        expected = [fn(p, t) for p, t in zip(pred[:n], target[:n], strict=True)]
        for i in range(n):
            m = cls()
            m.update_state(target[i : i + 1], pred[i : i + 1])
            assert abs(float(m.result()) - expected[i]) <= tol, (cls.__name__, i)
        m = cls()  # accumulate over batches: the mean over every image seen
        m.update_state(target[:3], pred[:3])
        m.update_state(target[3:n], pred[3:n])
        assert abs(float(m.result()) - np.mean(expected)) <= tol
        m.reset_state()
        assert float(m.result()) == 0.0


def test_keras_metric_exact_pair_and_weights(pairs):
    pred, target = pairs
    m = PSNRY()
    m.update_state(target[4:], pred[4:])
    assert float(m.result()) == math.inf
    s = SSIMY()
    s.update_state(target[4:], pred[4:])
    assert abs(float(s.result()) - 1.0) < 1e-5
    w = SSIMY()
    w.update_state(target[:2], pred[:2], sample_weight=np.array([0.0, 1.0], np.float32))
    assert abs(float(w.result()) - ssim_y(pred[1], target[1])) <= 1e-5  # measured 2.1e-6; unweighted: 0.12


def test_keras_metrics_in_fit_evaluate(ref):
    hr = ref["hr"]
    inp = keras.Input((None, None, 3))
    out = keras.layers.Lambda(lambda z: z * 1.2 - 0.1)(inp)  # out of [0, 1]: clamped by the metrics
    model = keras.Model(inp, out)
    model.compile(loss="mse", metrics=[PSNRY(), SSIMY(crop_border=4)])
    logs = model.evaluate(hr, hr, batch_size=3, verbose=0, return_dict=True)
    pred = hr * 1.2 - 0.1
    assert pred.min() < 0 and pred.max() > 1
    # measured |evaluate - numpy|: 4.5e-7 dB and 4.7e-7; without the clamp PSNR is 1.36 dB lower,
    # with the default crop_border 8 instead of 4 SSIM moves by 4.5e-4
    assert abs(logs["psnr_y"] - np.mean([psnr_y(p, t) for p, t in zip(pred, hr, strict=True)])) <= 3e-6
    assert abs(logs["ssim_y"] - np.mean([ssim_y(p, t, 4) for p, t in zip(pred, hr, strict=True)])) <= 3e-6


def test_keras_metrics_graph_dynamic_shapes(pairs):
    pred, target = pairs
    m = SSIMY()

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)] * 2)
    def update(t, p):
        m.update_state(t, p)

    update(tf.constant(target[:2]), tf.constant(pred[:2]))
    want = np.mean([ssim_y(p, t) for p, t in zip(pred[:2], target[:2], strict=True)])
    assert abs(float(m.result()) - want) <= 5e-6  # measured 8.0e-7


def test_keras_metrics_serialization():
    for cls in (PSNRY, SSIMY):
        m = cls(crop_border=4, name="val_metric")
        cfg = keras.saving.serialize_keras_object(m)
        assert cfg["registered_name"] == f"tga_keras>{cls.__name__}"
        m2 = keras.saving.deserialize_keras_object(cfg)
        assert type(m2) is cls and m2.crop_border == 4 and m2.name == "val_metric"
        assert m2.get_config() == m.get_config()


def test_keras_metrics_bad_inputs():
    for cls in (PSNRY, SSIMY):
        with pytest.raises(ValueError, match="crop_border"):
            cls(crop_border=-1)
        m = cls()
        with pytest.raises(ValueError, match="shape mismatch"):
            m.update_state(np.zeros((1, 40, 40, 3), np.float32), np.zeros((1, 40, 41, 3), np.float32))
        with pytest.raises(ValueError, match="RGB"):
            m.update_state(np.zeros((1, 40, 40, 1), np.float32), np.zeros((1, 40, 40, 1), np.float32))
        with pytest.raises(ValueError, match="RGB"):
            m.update_state(np.zeros((40, 40, 3), np.float32), np.zeros((40, 40, 3), np.float32))
        with pytest.raises(ValueError, match="too small"):
            m.update_state(np.zeros((1, 16, 40, 3), np.float32), np.zeros((1, 16, 40, 3), np.float32))
    with pytest.raises(ValueError, match="too small"):
        SSIMY().update_state(np.zeros((1, 26, 40, 3), np.float32), np.zeros((1, 26, 40, 3), np.float32))


@pytest.mark.parametrize("shift", [(0.25, 0.0), (0.3, -0.4), (-0.9, 0.6), (1.5, 0.8)])
def test_mean_motion_px_measures_a_known_translation(shift):
    from tga_keras.data.synthetic import motion_frame
    from tga_keras.evaluation.metrics import mean_motion_px

    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.random((96, 96, 3)).astype(np.float32), (0, 0), 1.5)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    moved = motion_frame(texture, shift, 0.0, 1.0)
    inner = (slice(16, 80), slice(16, 80))  # away from the reflected border
    got = mean_motion_px(texture[inner], moved[inner])
    assert got == pytest.approx(math.hypot(*shift), rel=0.1, abs=0.06)  # measured: +0.04 at 0.25, +0.05 at 0.5


def test_mean_motion_px_still_and_bad_input():
    from tga_keras.evaluation.metrics import mean_motion_px

    frame = np.random.default_rng(1).random((20, 24, 3)).astype(np.float32)
    assert mean_motion_px(frame, frame.copy()) == 0.0
    assert mean_motion_px((frame * 255).astype(np.uint8), (frame * 255).astype(np.uint8)) == 0.0
    with pytest.raises(ValueError, match="one size"):
        mean_motion_px(frame, frame[:10])
    with pytest.raises(ValueError, match="RGB"):
        mean_motion_px(frame[..., 0], frame[..., 0])
    with pytest.raises(ValueError, match="at least 8x8"):  # too small to measure, not "still"
        mean_motion_px(frame[:4, :4], frame[4:8, 4:8])


def test_mean_motion_px_averages_several_frames():
    from tga_keras.data.synthetic import motion_frame
    from tga_keras.evaluation.metrics import mean_motion_px

    rng = np.random.default_rng(2)
    texture = cv2.GaussianBlur(rng.random((64, 64, 3)).astype(np.float32), (0, 0), 1.5)
    left, right = motion_frame(texture, (0.5, 0.0), 0.0, 1.0), motion_frame(texture, (-1.0, 0.3), 0.0, 1.0)
    each = [mean_motion_px(texture, left), mean_motion_px(texture, right)]
    assert mean_motion_px(texture, left, right) == pytest.approx(sum(each) / 2, rel=1e-6)
    assert mean_motion_px(texture, texture, right) == pytest.approx(each[1] / 2, rel=1e-6)  # a still one counts 0
    with pytest.raises(ValueError, match="at least one other"):
        mean_motion_px(texture)
    with pytest.raises(ValueError, match="one size"):
        mean_motion_px(texture, left, right[:32])
