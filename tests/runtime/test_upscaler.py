"""The inference core: windows, streaming, tiling, backends, validation and model loading."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.paths import REPO
from tests.helpers.random_weights import he_normal_weights
from tga_keras.models.config import TGAConfig
from tga_keras.models.loading import load_tga
from tga_keras.runtime.backends.base import CallableBackend
from tga_keras.runtime.backends.keras import KerasBackend
from tga_keras.runtime.tiling import tile_spans
from tga_keras.runtime.upscaler import Upscaler, to_output
from tga_keras.runtime.windows import sequence_windows as window_indices


def _smooth_frames(n, h, w, seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    x = rng.random((n, h, w, 3)).astype(np.float32)
    return np.stack([cv2.GaussianBlur(f, (0, 0), 1.2) for f in x])


@pytest.fixture(scope="module")
def small_model():
    """A small TGA with random weights strong enough that the residual branch matters (~0.04)."""
    from tga_keras.models.model import build_tga

    model = build_tga(TGAConfig.small())
    rng = np.random.default_rng(0)
    for w in model.weights:
        if w.name.endswith("kernel"):
            fan_in = int(np.prod(w.shape[:-1]))
            w.assign(rng.normal(0.0, np.sqrt(1.0 / fan_in), w.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def upscaler(small_model):
    return Upscaler(small_model)


def nearest_backend(calls=None, poison=0, scale=2):
    """A local backend: nearest-neighbour x``scale`` of the centre frame; ``poison`` SR px of NaN at tile edges."""

    def fn(x):
        if calls is not None:
            calls.append(x.shape)
        y = np.repeat(np.repeat(x[:, x.shape[1] // 2], scale, axis=1), scale, axis=2).copy()
        if poison:
            y[:, :poison], y[:, -poison:], y[:, :, :poison], y[:, :, -poison:] = np.nan, np.nan, np.nan, np.nan
        return y

    return CallableBackend(fn, scale=scale, frames=7)


# ------------------------------------------------------------------------------ windows
def test_window_indices_replicate_boundaries():
    assert window_indices(4, 5) == [[0, 0, 0, 1, 2], [0, 0, 1, 2, 3], [0, 1, 2, 3, 3], [1, 2, 3, 3, 3]]
    assert window_indices(1, 7) == [[0] * 7]
    w = window_indices(10)
    assert w[5] == [2, 3, 4, 5, 6, 7, 8] and w[0] == [0, 0, 0, 0, 1, 2, 3] and w[9] == [6, 7, 8, 9, 9, 9, 9]
    for bad in [(0, 7), (3, 4), (3, 0), (2.5, 7)]:
        with pytest.raises(ValueError):
            window_indices(*bad)


@pytest.mark.parametrize("length,tile,overlap", [(10, 10, 2), (48, 40, 8), (100, 40, 8), (37, 9, 4), (64, 16, 0)])
def test_tile_spans_partition_with_margins(length, tile, overlap):
    spans = tile_spans(length, tile, overlap)
    assert spans[0][2] == 0 and spans[-1][3] == length
    for k, (s, e, a, b) in enumerate(spans):
        assert e - s == min(tile, length) and 0 <= s <= a < b <= e <= length
        if k:
            assert a == spans[k - 1][3]  # kept parts are contiguous
            assert a - s >= overlap
        if k < len(spans) - 1:
            assert e - b >= overlap
    with pytest.raises(ValueError):
        tile_spans(50, 16, 8)


# ------------------------------------------------------------------------------ streaming
def test_streaming_equals_windows_and_reads_ahead_only_one_window(upscaler):
    frames = _smooth_frames(9, 12, 14)
    want = upscaler.upscale_window(np.stack([frames[idx] for idx in window_indices(9)]))
    assert want.shape == (9, 48, 56, 3)

    consumed = []

    def stream():
        for k, f in enumerate(frames):
            consumed.append(k)
            yield f

    got = []
    for i, sr in enumerate(upscaler.upscale_frames(stream())):
        assert len(consumed) <= i + 3 + 1  # at most r = 3 frames of look-ahead
        got.append(sr)
    np.testing.assert_allclose(np.stack(got), want, atol=1e-5)

    batched = Upscaler(upscaler.backend, batch_size=4)
    np.testing.assert_allclose(np.stack(list(batched.upscale_frames(frames))), want, atol=1e-5)
    # a segment uses the real neighbours around it: equal to the same frames of the whole sequence
    seg = np.stack(list(upscaler.upscale_frames(frames[1:], first=3, count=2)))
    np.testing.assert_allclose(seg, want[4:6], atol=1e-5)


def test_short_sequences_and_empty_streams():
    up = Upscaler(nearest_backend())
    frames = _smooth_frames(2, 5, 6)
    out = list(up.upscale_frames(iter(frames)))
    assert len(out) == 2 and np.array_equal(out[1], np.repeat(np.repeat(frames[1], 2, 0), 2, 1))
    with pytest.raises(ValueError, match="empty"):
        list(up.upscale_frames(iter([])))
    with pytest.raises(ValueError, match="2 frames"):
        list(up.upscale_frames(frames, first=5))


def test_uint8_output_and_uint8_input():
    up = Upscaler(nearest_backend())
    frames = _smooth_frames(3, 6, 6) * 1.4 - 0.2  # out of range on purpose: outputs are clipped
    out = list(up.upscale_frames(frames, dtype="uint8"))
    assert out[0].dtype == np.uint8 and out[0].shape == (12, 12, 3)
    ref = np.clip(np.repeat(np.repeat(frames[0], 2, 0), 2, 1), 0, 1)
    np.testing.assert_array_equal(out[0], np.round(ref * 255).astype(np.uint8))
    f32 = list(up.upscale_frames(frames))[0]
    assert f32.dtype == np.float32 and f32.min() >= 0 and f32.max() <= 1
    u8_in = (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)
    np.testing.assert_allclose(
        up.upscale_window(u8_in[[0] * 7]), np.repeat(np.repeat(u8_in[0] / 255, 2, 0), 2, 1), atol=1e-6
    )
    assert to_output(np.array([[-1.0, 0.5, 2.0]]), "uint8").tolist() == [[0, 128, 255]]


# ------------------------------------------------------------------------------ tiling
@pytest.mark.parametrize("h,w,tile,overlap", [(23, 31, 8, 2), (20, 20, 9, 3), (16, 40, 12, 0)])
def test_tiles_are_stitched_from_their_centres_exactly(h, w, tile, overlap):
    x = _smooth_frames(7, h, w)
    plain = Upscaler(nearest_backend()).upscale_window(x)
    tiled = Upscaler(nearest_backend(poison=2 * overlap), tile=tile, tile_overlap=overlap, batch_size=5)
    out = tiled.upscale_window(x)
    b = 2 * overlap  # the poisoned ring survives only where a tile edge is the image edge
    assert out.shape == plain.shape == (2 * h, 2 * w, 3)
    inner = out[b : out.shape[0] - b, b : out.shape[1] - b]
    assert not np.isnan(inner).any()
    np.testing.assert_array_equal(inner, plain[b : plain.shape[0] - b, b : plain.shape[1] - b])


def test_tiled_model_matches_untiled(small_model, upscaler):
    """Measured max |tiled - whole| 6e-8 with 16 pixels of context; 4.1e-6 with 8, 2 or 0 (seams)."""
    x = _smooth_frames(7, 40, 52, seed=1)
    tiled = Upscaler(small_model, tile=36, tile_overlap=16, batch_size=4).upscale_window(np.stack([x, x[::-1]]))
    assert tiled.shape == (2, 160, 208, 3)
    np.testing.assert_allclose(tiled[0], upscaler.upscale_window(x), rtol=0, atol=3e-7)
    np.testing.assert_allclose(tiled[1], upscaler.upscale_window(x[::-1]), rtol=0, atol=3e-7)


def test_keras_backend_traces_once_for_all_sizes(small_model):
    backend = KerasBackend(small_model)
    for h, w in ((8, 9), (12, 10), (8, 9)):
        assert backend(np.zeros((1, 7, h, w, 3), np.float32)).shape == (1, 4 * h, 4 * w, 3)
    assert backend.traces == 1


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "shape,match",
    [
        ((6, 8, 8, 3), "got 6 frames"),
        ((1, 7, 8, 8, 1), "channels"),
        ((7, 2, 8, 3), "at least 3x3"),
        ((8, 8, 3), "rank"),
        ((1, 1, 7, 8, 8, 3), "rank"),
    ],
)
def test_bad_windows_fail_before_running_the_backend(shape, match):
    calls = []
    up = Upscaler(nearest_backend(calls))
    with pytest.raises(ValueError, match=match):
        up.upscale_window(np.zeros(shape, np.float32))
    assert calls == []


def test_bad_streams_and_options():
    calls = []
    up = Upscaler(nearest_backend(calls))
    with pytest.raises(ValueError, match="same size"):
        list(up.upscale_frames([np.zeros((8, 8, 3))] * 3 + [np.zeros((8, 9, 3))] * 3))
    with pytest.raises(ValueError, match="at least 3x3"):
        list(up.upscale_frames([np.zeros((2, 8, 3))] * 3))
    with pytest.raises(ValueError, match="dtype"):
        up.upscale_window(np.zeros((7, 8, 8, 3), np.int32))
    with pytest.raises(ValueError, match="dtype"):
        up.upscale_frames([np.zeros((8, 8, 3))], dtype="float16")  # checked at the call, not at the first frame
    assert calls == []
    for kwargs in ({"tile": 2}, {"tile": 16, "tile_overlap": 8}, {"tile": 16, "tile_overlap": -1}, {"batch_size": 0}):
        with pytest.raises(ValueError):
            Upscaler(nearest_backend(), **kwargs)
    with pytest.raises(ValueError, match="scale"):
        Upscaler(lambda x: x)
    with pytest.raises(RuntimeError, match="backend returned shape"):
        Upscaler(CallableBackend(lambda x: x[:, 0], scale=2)).upscale_window(np.zeros((7, 4, 4, 3), np.float32))


def test_load_tga(tmp_path, small_model):
    with pytest.raises(FileNotFoundError):
        load_tga(tmp_path / "missing.keras")
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a Keras model"):
        load_tga(garbage)
    (tmp_path / "w.onnx").write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown weights format"):
        load_tga(tmp_path / "w.onnx")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_tga(tmp_path / "empty.pth")
    assert load_tga(None, "small").config == TGAConfig.small()
    path = tmp_path / "small.keras"
    small_model.save(path)  # random weights: an untrained model's output is bicubic, whatever its weights
    loaded = load_tga(path)
    assert loaded.config == TGAConfig.small()
    with pytest.raises(ValueError, match="not the 'official' preset"):
        load_tga(path, "official")
    x = _smooth_frames(7, 6, 6)
    want = Upscaler(small_model).upscale_window(x)
    assert np.abs(want - Upscaler(load_tga(None, "small")).upscale_window(x)).max() > 1e-3  # weights matter
    np.testing.assert_allclose(Upscaler(str(path)).upscale_window(x), want, rtol=0, atol=1e-6)  # measured 0.0


def test_bfloat16_precision_is_close_and_float32_untouched(official_model, fixtures_dir):
    from tga_keras.models.loading import with_precision

    ref = np.load(fixtures_dir / "official_tga_random_seed0.npz")
    assert with_precision(official_model, "float32") is official_model
    fast = with_precision(official_model, "bfloat16")
    assert fast.get_layer("intra_group").dtype_policy.compute_dtype == "bfloat16"
    out = np.asarray(fast(ref["lr"]), np.float32)
    diff = np.abs(out - ref["sr"]).max()
    # bf16 rounding of the residual only (input and bicubic base stay float32): 3.4e-4 measured here
    # (2.4e-3 when the reference frame was still rounded to bf16 before the base)
    assert 0 < diff < 1e-3
    import keras

    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    with pytest.raises(ValueError, match="precision"):
        with_precision(official_model, "int8")


def test_default_tile_overlap_keeps_the_shipped_model_within_1e4_of_whole_frames():
    """Trained weights on real frames: tiled (48-pixel LR tiles, default overlap) vs whole-frame output.

    Measured max |diff| with version 8: 1.9e-5 at the default overlap 11 (a two-hundredth of one 8-bit
    grey level); 5.3e-4 at 8, 1.3e-2 at 4, 0.049 at 2. Version 7: 4.8e-5 at 11; version 6: 5.6e-5;
    version 5: 5.0e-5; version 4: 6.0e-5; version 3: 9.1e-6.
    """
    import os

    from tga_keras.assets import clip_path
    from tga_keras.io.images import u8_to_float
    from tga_keras.io.video import read_video
    from tga_keras.models.loading import load_tga

    shipped = os.path.join(REPO, "saved_models", "tga_small_bd_x4", "model.keras")
    model = load_tga(shipped)
    assert (model.config.receptive_radius, model.config.tile_overlap) == (21, 11)
    lr = u8_to_float(read_video(clip_path(), 30, 7))[:, :96, :120]  # real frames used as LR input
    full = Upscaler(model).upscale_window(lr)
    tiled = Upscaler(model, tile=48, batch_size=4)
    assert tiled.tile_overlap == 11
    err = np.abs(tiled.upscale_window(lr) - full).max()
    assert err < 1e-4, err
    # and the margin matters: 2 pixels of context give a visible seam with these weights
    assert np.abs(Upscaler(model, tile=48, tile_overlap=2).upscale_window(lr) - full).max() > 1e-2


def test_receptive_radius_of_the_presets():
    from tga_keras.models.config import TGAConfig

    assert TGAConfig.official().receptive_radius == 50 and TGAConfig.official().tile_overlap == 25
    assert TGAConfig.preset("paper").receptive_radius == 50 + 4 * 2  # stem and 3x3x3 fusion dilated up to 3


def test_receptive_radius_is_the_networks_reach():
    """Changing one LR pixel changes the residual exactly ``receptive_radius`` LR pixels away, no farther.

    With He-normal kernels the reach is the full receptive field (21 of 21 for small); at the
    model's own small init it is only 14, which would hide an under-counted radius.
    """
    import keras

    from tga_keras import TGAConfig, build_tga

    cfg = TGAConfig.preset("small")
    model = build_tga(cfg)
    he_normal_weights(model, seed=0, batch_norm_statistics=False)
    residual = keras.Model(model.input, model.get_layer("upsample").output)
    n = 2 * cfg.receptive_radius + 24
    x = np.random.default_rng(0).random((1, 7, n, n, 3), dtype=np.float32)
    c = n // 2
    moved = x.copy()
    moved[0, :, c, c, :] += 0.5
    changed = np.abs(np.asarray(residual(moved)) - np.asarray(residual(x)))[0].max(-1) > 0
    ys, xs = np.nonzero(changed)
    reach = int(np.maximum(np.abs(ys // cfg.scale - c), np.abs(xs // cfg.scale - c)).max())
    assert reach == cfg.receptive_radius == 21
