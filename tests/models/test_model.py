"""The Keras TGA model: structure, config round-trip, shapes, bad input, save/load."""

import json

import keras
import numpy as np
import pytest

from tga_keras import TGAConfig, build_tga
from tga_keras.models.layers.conv_ops import temporal_conv


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


@pytest.mark.parametrize("preset", ["official", "paper", "paper_full", "small"])
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


def test_config_format_versions():
    """Saved configs carry "format"; one without it is format 1. A format-1 dilated config without
    ``stem_bias`` predates the exact dilated network (stem-only dilation, stem biases): refused rather
    than loaded. One with ``stem_bias`` computes as today and loads."""
    from tga_keras.models.config import CONFIG_FORMAT

    assert TGAConfig.small().to_dict()["format"] == CONFIG_FORMAT == 2
    old = {k: v for k, v in TGAConfig.small().to_dict().items() if k != "format"}
    assert TGAConfig.from_dict(old) == TGAConfig.small()  # format 1, not dilated: same network
    old_dilated = {k: v for k, v in TGAConfig.paper().to_dict().items() if k not in ("format", "stem_bias")}
    with pytest.raises(ValueError, match="no stem_bias.*convert the checkpoint again"):
        TGAConfig.from_dict(old_dilated)
    unversioned = {k: v for k, v in TGAConfig.paper().to_dict().items() if k != "format"}
    assert TGAConfig.from_dict(unversioned) == TGAConfig.paper()  # dilated, stem_bias known: as today
    with pytest.raises(ValueError, match="newer tga-keras"):
        TGAConfig.from_dict({**TGAConfig.small().to_dict(), "format": CONFIG_FORMAT + 1})
    with pytest.raises(ValueError, match="format must be a positive integer"):
        TGAConfig.from_dict({**TGAConfig.small().to_dict(), "format": "2"})


def test_unversioned_dilated_model_files(tmp_path):
    """.keras files written before the "format" field: a dilated one with ``stem_bias`` in its config
    (after the exact dilated network landed) loads and computes as before; one without it (stem-only
    dilation) is refused with the reason, not loaded as a silently different network."""
    import zipfile

    from tga_keras.models.loading import load_tga

    cfg = TGAConfig(
        nf=8,
        ng=4,
        intra_units=(1,),
        fusion3d_units=(1, 1),
        inter_units=(1,),
        reconstruction_width=8,
        upsample_width=8,
        dilation=True,
        stem_bias=False,
    )
    build_tga(cfg).save(tmp_path / "new.keras")
    with zipfile.ZipFile(tmp_path / "new.keras") as z:
        items = {n: z.read(n) for n in z.namelist()}

    def strip(node, keys):
        if isinstance(node, dict):
            return {k: strip(v, keys) for k, v in node.items() if k not in keys}
        if isinstance(node, list):
            return [strip(v, keys) for v in node]
        return node

    def rewrite(name, keys):
        config = json.loads(items["config.json"])
        assert '"format": 2' in json.dumps(config)
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            for item, data in items.items():
                z.writestr(item, json.dumps(strip(config, keys)) if item == "config.json" else data)
        return str(tmp_path / name)

    new = load_tga(str(tmp_path / "new.keras"))
    unversioned = load_tga(rewrite("unversioned.keras", {"format"}))
    assert unversioned.config == cfg
    for a, b in zip(new.get_weights(), unversioned.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="no stem_bias in its config"):
        load_tga(rewrite("old.keras", {"format", "stem_bias"}))


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


def _random_weights(model, seed, std=0.2):
    """Weights of ``model`` drawn N(0, std), BatchNorm variances |N| + 0.5: every branch matters."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(w.shape).astype(np.float32) * std for w in model.get_weights()]
    return [np.abs(w) + 0.5 if "variance" in v.path else w for w, v in zip(weights, model.weights, strict=True)]


def _he_weights(model, seed):
    """He-normal kernels and random BatchNorm parameters and statistics, assigned in place."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if w.path.endswith("kernel"):
            v = rng.standard_normal(w.shape) * np.sqrt(2.0 / np.prod(w.shape[:-1]))
        elif "moving_variance" in w.path:
            v = rng.uniform(0.5, 1.5, w.shape)
        else:  # biases, BatchNorm beta and moving mean; gamma around 1
            v = ("gamma" in w.path) + 0.1 * rng.standard_normal(w.shape)
        w.assign(v.astype("float32"))


def _reach(diff, c):
    """Largest Chebyshev distance from (c, c) of the non-zero pixels of ``diff`` (H, W); 0 if none."""
    ys, xs = np.nonzero(diff)
    return int(np.maximum(np.abs(ys - c), np.abs(xs - c)).max()) if len(ys) else 0


def test_dilation_variant_dilates_each_groups_stem_by_its_distance():
    """Same weights, dilation on: each group's stem is dilated by that group's temporal distance.

    Measured with these weights: one changed pixel reaches 10 px in every group without dilation,
    18 / 14 px (distance 3 / 2) with it (stem and 3x3x3 fusion dilated), exactly the receptive
    fields; the distance-1 group is bit-identical (|diff| 0.0) while the others move by ~1.
    """
    cfg = TGAConfig.small()
    assert cfg.groups == ((0, 3, 6), (2, 3, 4), (1, 3, 5)) and cfg.group_distances == (3, 1, 2)
    plain = build_tga(cfg)
    dilated = build_tga(cfg.replace(dilation=True))
    weights = _random_weights(plain, 1)
    plain.set_weights(weights)
    dilated.set_weights(weights)  # same weights, only the dilation differs
    x = np.random.default_rng(0).random((1, 7, 12, 12, 3), dtype=np.float32)
    assert np.asarray(plain(x)).shape == np.asarray(dilated(x)).shape == (1, 48, 48, 3)
    a = np.asarray(plain.get_layer("intra_group")(x))
    b = np.asarray(dilated.get_layer("intra_group")(x))
    np.testing.assert_allclose(b[:, 1], a[:, 1], rtol=0, atol=1e-6)  # distance 1: no dilation
    assert np.abs(b[:, 0] - a[:, 0]).max() > 0.1 and np.abs(b[:, 2] - a[:, 2]).max() > 0.1

    # One LR pixel changed in frame 0 (group 0 only) and frame 1 (group 2 only): how far it reaches
    # in each group's output is the receptive field, (stem_units + temporal conv) * distance + units.
    n = 48
    c = n // 2
    x = np.random.default_rng(0).random((1, 7, n, n, 3), dtype=np.float32)
    moved = x.copy()
    moved[0, 0, c, c] += 0.5
    moved[0, 1, c, c] += 0.5
    rest = sum(cfg.intra_units)
    for model, distances in ((plain, (1, 0, 1)), (dilated, (3, 0, 2))):
        intra = model.get_layer("intra_group")
        diff = np.abs(np.asarray(intra(moved)) - np.asarray(intra(x)))[0].max(-1)
        got = [_reach(diff[g], c) for g in range(3)]
        assert got == [(cfg.stem_units + 1) * d + rest if d else 0 for d in distances], got

    # the taps of a dilated stem are d pixels apart: on every d-th pixel it is the plain stem of that sub-grid
    frames = np.random.default_rng(2).random((7, 12, 12, 3), dtype=np.float32)
    stem = dilated.get_layer("intra_group").stem

    def run_stem(f, d):
        for unit in stem:
            f = unit(f, dilation=d, training=False)
        return np.asarray(f)

    for d in (2, 3):
        sub = run_stem(np.ascontiguousarray(frames[:, ::d, ::d]), 1)
        np.testing.assert_allclose(run_stem(frames, d)[:, ::d, ::d], sub, rtol=0, atol=1e-6)


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
    # Reference in float64: zero-pad time, then 'valid' in time and 'same' (zero) in space, tap by tap.
    xp = np.pad(x.astype(np.float64), ((0, 0), (pad, pad), (1, 1), (1, 1), (0, 0)))
    t_out = steps + 2 * pad - kt + 1
    want = np.zeros((2, t_out, 6, 7, 5)) + b
    for t in range(t_out):
        for j in range(kt):
            for dy in range(3):
                for dx in range(3):
                    want[:, t] += xp[:, t + j, dy : dy + 6, dx : dx + 7] @ k[j, dy, dx].astype(np.float64)
    assert got.shape == want.shape
    # measured max |error| 1.0e-5 on outputs up to ~40 (float32 rounding of 108-term sums)
    np.testing.assert_allclose(got, want, rtol=0, atol=4e-5)


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
    """Random weights: at its own init the residual and the attention logits are 0.0 (any model would match)."""
    model = build_tga(TGAConfig.small(), return_attention=True)
    _he_weights(model, 5)
    x = np.random.default_rng(2).random((1, 7, 9, 10, 3), dtype=np.float32)
    before = [np.asarray(t) for t in model(x)]
    fresh = [np.asarray(t) for t in build_tga(TGAConfig.small(), return_attention=True)(x)]
    # the weights matter: SR differs from a fresh model's by 1.96, attention by 0.197
    assert min(np.abs(a - b).max() for a, b in zip(before, fresh, strict=True)) > 0.1
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    after = [np.asarray(t) for t in loaded(x)]
    assert loaded.config == model.config
    for a, b in zip(before, after, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)  # measured 0.0


def test_trains_one_step():
    """Every trainable weight gets a gradient and the loss on the batch goes down (0.313988 -> 0.313927)."""
    model = build_tga(TGAConfig.small())
    # eager: three steps on 8x8 frames take a fifth of the time of tracing the training step (measured)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae", run_eagerly=True)
    rng = np.random.default_rng(3)
    x = rng.random((2, 7, 8, 8, 3), dtype=np.float32)
    y = rng.random((2, 32, 32, 3), dtype=np.float32)
    before = [w.numpy().copy() for w in model.trainable_weights]
    hist = model.fit(x, y, epochs=3, batch_size=2, verbose=0)
    loss = hist.history["loss"]
    assert np.isfinite(loss).all()
    assert loss[2] < loss[1] < loss[0], loss
    frozen = [w.path for w, b in zip(model.trainable_weights, before, strict=True) if np.array_equal(w.numpy(), b)]
    assert frozen == []


def test_fused_inference_batchnorm_equals_keras_batchnorm():
    from tga_keras.models.layers.units import PreActivation

    rng = np.random.default_rng(4)
    for shape in [(2, 5, 6, 8), (2, 3, 5, 6, 8)]:
        act = PreActivation(1e-3, 0.999)
        act.build(shape)
        act.bn.set_weights(
            [
                rng.standard_normal(8).astype(np.float32),
                rng.standard_normal(8).astype(np.float32),
                rng.standard_normal(8).astype(np.float32),
                rng.random(8).astype(np.float32) + 0.1,
            ]
        )
        x = rng.standard_normal(shape).astype(np.float32)
        want = np.maximum(np.asarray(act.bn(x, training=False)), 0)
        np.testing.assert_allclose(np.asarray(act(x, training=False)), want, atol=1e-5)
