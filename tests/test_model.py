"""The Keras TGA model: structure, config round-trip, shapes, bad input, save/load."""
import json

import keras
import numpy as np
import pytest

from tga_keras import TGAConfig, build_tga
from tga_keras.layers.conv_ops import temporal_conv


def test_official_parameter_count_matches_release():
    model = build_tga(TGAConfig.official())
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 7_057_853


def test_named_blocks_and_summary():
    model = build_tga(TGAConfig.small())
    names = [layer.name for layer in model.layers]
    for block in ("intra_group", "attention", "inter_group", "upsample", "bicubic"):
        assert block in names
    lines = []
    model.summary(print_fn=lambda s, **k: lines.append(s))
    text = "\n".join(lines)
    assert "intra_group" in text and "inter_group" in text


@pytest.mark.parametrize("preset", ["official", "paper", "small"])
def test_config_json_round_trip(preset):
    cfg = TGAConfig.preset(preset)
    again = TGAConfig.from_json(cfg.to_json())
    assert again == cfg
    model = build_tga(cfg)
    assert TGAConfig.from_dict(model.get_config()["config"]) == cfg
    json.dumps(model.get_config())


@pytest.mark.parametrize(
    "field,value",
    [("frames", 6), ("frames", 1), ("scale", 5), ("nf", 0), ("intra_units", ()), ("fusion3d_units", (1,))],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        TGAConfig(**{field: value})


def test_config_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown"):
        TGAConfig.from_dict({"frames": 7, "depth": 3})


def test_groups_follow_temporal_distance():
    assert TGAConfig(frames=7).groups == ((0, 3, 6), (2, 3, 4), (1, 3, 5))
    assert TGAConfig(frames=5).groups == ((0, 2, 4), (1, 2, 3))
    assert TGAConfig(frames=9).groups == ((0, 4, 8), (3, 4, 5), (2, 4, 6), (1, 4, 7))
    assert TGAConfig(frames=3).groups == ((0, 1, 2),)


@pytest.mark.parametrize("frames,scale", [(7, 4), (5, 2), (3, 3), (9, 4)])
def test_output_shapes_and_attention(frames, scale):
    cfg = TGAConfig.small().replace(frames=frames, scale=scale)
    model = build_tga(cfg, return_attention=True)
    x = np.random.default_rng(0).random((2, frames, 11, 13, 3), dtype=np.float32)
    sr, att = model(x)
    assert sr.shape == (2, 11 * scale, 13 * scale, 3)
    groups = (frames - 1) // 2
    assert att.shape == (2, groups, 11 * 13)
    np.testing.assert_allclose(np.asarray(att).sum(axis=1), 1.0, atol=1e-5)


def test_dilation_variant_runs_and_differs():
    x = np.random.default_rng(0).random((1, 7, 12, 12, 3), dtype=np.float32)
    plain = build_tga(TGAConfig.small())
    dilated = build_tga(TGAConfig.small().replace(dilation=True))
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(w.shape).astype(np.float32) * 0.2 for w in plain.get_weights()]
    weights = [np.abs(w) + 0.5 if "variance" in v.path else w for w, v in zip(weights, plain.weights, strict=True)]
    plain.set_weights(weights)
    dilated.set_weights(weights)  # same weights, only the dilation differs
    a, b = np.asarray(plain(x)), np.asarray(dilated(x))
    assert a.shape == b.shape
    assert np.abs(a - b).max() > 1e-6


def test_training_and_inference_stems_agree():
    """The de-duplicated inference stem equals the grouped (official) stem used in training."""
    model = build_tga(TGAConfig.small())
    x = np.random.default_rng(1).random((1, 7, 10, 10, 3), dtype=np.float32)
    intra = model.get_layer("intra_group")
    intra.trainable = False  # frozen BatchNorm normalises with moving statistics, even in training
    a = np.asarray(intra(x, training=False))
    b = np.asarray(intra(x, training=True))
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("pad,steps,kt", [(1, 3, 3), (0, 3, 3), (1, 4, 3), (0, 4, 2), (0, 2, 1)])
def test_temporal_conv_equals_conv3d(pad, steps, kt):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, steps, 6, 7, 4)).astype(np.float32)
    k = rng.standard_normal((kt, 3, 3, 4, 5)).astype(np.float32)
    b = rng.standard_normal((5,)).astype(np.float32)
    got = np.asarray(temporal_conv(x, k, b, temporal_padding=pad))
    xp = np.pad(x, ((0, 0), (pad, pad), (0, 0), (0, 0), (0, 0)))
    want = np.asarray(keras.ops.conv(xp, k, padding="same")) if pad == 0 and kt == 1 else None
    # Direct reference: 'valid' in time over the padded input, 'same' in space.
    ref = keras.ops.conv(xp, k, strides=1, padding="valid" if False else "same")
    ref = np.asarray(ref)
    t_out = steps + 2 * pad - kt + 1
    off = kt // 2
    want = ref[:, off:off + t_out] if kt % 2 else None
    if want is None:  # even kernel: compute by hand
        want = np.stack([
            sum(np.asarray(keras.ops.conv(xp[:, t + j], k[j], padding="same")) for j in range(kt))
            for t in range(t_out)], axis=1)
    np.testing.assert_allclose(got, want + b, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    "shape,match",
    [
        ((1, 7, 16, 16), "rank 4"),
        ((1, 5, 16, 16, 3), "5 frames"),
        ((1, 7, 16, 16, 1), "1 channels"),
        ((1, 7, 1, 16, 3), "at least"),
    ],
)
def test_bad_input_is_a_clear_value_error(shape, match):
    model = build_tga(TGAConfig.small())
    with pytest.raises(ValueError, match=match):
        model(np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match=match):
        model.predict(np.zeros(shape, np.float32), verbose=0)


def test_keras_save_load_round_trip(tmp_path):
    model = build_tga(TGAConfig.small(), return_attention=True)
    x = np.random.default_rng(2).random((1, 7, 9, 10, 3), dtype=np.float32)
    before = [np.asarray(t) for t in model(x)]
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    after = [np.asarray(t) for t in loaded(x)]
    assert loaded.config == model.config
    for a, b in zip(before, after, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_trains_one_step():
    model = build_tga(TGAConfig.small())
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae")
    rng = np.random.default_rng(3)
    x = rng.random((2, 7, 8, 8, 3), dtype=np.float32)
    y = rng.random((2, 32, 32, 3), dtype=np.float32)
    hist = model.fit(x, y, epochs=2, batch_size=2, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()


def test_fused_inference_batchnorm_equals_keras_batchnorm():
    from tga_keras.layers.units import PreActivation

    rng = np.random.default_rng(4)
    for shape in [(2, 5, 6, 8), (2, 3, 5, 6, 8)]:
        act = PreActivation(1e-3, 0.999)
        act.build(shape)
        act.bn.set_weights([rng.standard_normal(8).astype(np.float32), rng.standard_normal(8).astype(np.float32),
                            rng.standard_normal(8).astype(np.float32), rng.random(8).astype(np.float32) + 0.1])
        x = rng.standard_normal(shape).astype(np.float32)
        want = np.maximum(np.asarray(act.bn(x, training=False)), 0)
        np.testing.assert_allclose(np.asarray(act(x, training=False)), want, atol=1e-5)
