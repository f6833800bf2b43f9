"""tga_keras.evaluation.pictures and ``tga upscale --compare/--attention``: exact sizes, no smoothing, labels, the
crop choice, the heat-map scale, the attention read from the model, and the options' errors (exit 2)."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from tests.helpers.paths import REPO
from tga_keras.cli.main import main
from tga_keras.evaluation.pictures import (
    BAND_OPACITY,
    GAP,
    Crop,
    attention_maps,
    attention_picture,
    best_box,
    choose_crop,
    comparison_strip,
    enlarge,
    group_labels,
    group_order,
    header,
    heat_colors,
    heat_overlay,
    label,
)

SMALL = ["--preset", "small", "--no-progress"]


def _band_rows(picture_u8, image_u8):
    """Rows (from the top) where the picture differs from the image: the label band."""
    differs = np.any(picture_u8 != image_u8, axis=(1, 2))
    return np.flatnonzero(differs)


# ------------------------------------------------------------------------------ basics
def test_enlarge_is_nearest_neighbour_blocks():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    big = enlarge(img, 3)
    assert big.shape == (15, 21, 3) and big.dtype == np.uint8
    for y in range(5):
        for x in range(7):
            block = big[3 * y : 3 * y + 3, 3 * x : 3 * x + 3]
            assert np.all(block == img[y, x])
    with pytest.raises(ValueError, match="integer"):
        enlarge(img, 1.5)


def test_label_darkens_a_band_and_writes_text():
    img = np.full((60, 200, 3), 200, np.uint8)
    out = label(img, "bicubic")
    assert out.shape == img.shape
    rows = _band_rows(out, img)
    assert rows.size and rows[0] == 0 and rows[-1] < 30  # a band at the top, the rest untouched
    band = out[: rows[-1] + 1]
    assert band.min() < 200 * (1 - BAND_OPACITY) + 2  # darkened
    assert band.max() > 230  # white text on it
    assert np.array_equal(out[rows[-1] + 1 :], img[rows[-1] + 1 :])
    # two lines make a taller band; header() adds it above instead of covering the image
    assert _band_rows(label(img, "a\nb"), img)[-1] > rows[-1]
    top = header(img, "frames 2, 3, 4\ndistance 1")
    assert top.shape[0] > 60 and np.array_equal(top[-60:], img)


def test_comparison_strip_sizes_and_no_smoothing():
    rng = np.random.default_rng(1)
    lr = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
    bic = rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)
    sr = rng.random((16, 20, 3), dtype=np.float32)
    crop = Crop(top=4, left=6, height=8, width=10)
    pic, used, zoom = comparison_strip(lr, [("bicubic", bic), ("TGA", sr)], crop=crop, zoom=3, gap=4)
    assert used == crop and zoom == 3
    assert pic.shape == (24, 3 * 30 + 2 * 4, 3) and pic.dtype == np.uint8
    lr_panel, bic_panel = pic[:, :30], pic[:, 34:64]
    band = _band_rows(lr_panel, enlarge(lr[2:6, 3:8], 6))[-1] + 1  # the LR crop, each pixel a 6x6 block
    assert 0 < band < 24
    assert np.array_equal(lr_panel[band:], enlarge(lr[2:6, 3:8], 6)[band:])
    assert np.array_equal(bic_panel[band:], enlarge(bic[4:12, 6:16], 3)[band:])
    assert np.all(pic[:, 30:34] == 255)  # the gap
    # an overview panel in front: the whole frame scaled to the panels' height, the crop outlined
    pic2, _, _ = comparison_strip(lr, [("bicubic", bic)], crop=crop, zoom=3, context=("frame", sr))
    assert pic2.shape == (24, 30 + 4 + 30 + 4 + 30, 3)
    with pytest.raises(ValueError, match="grid"):
        comparison_strip(lr, [("bicubic", bic)], crop=Crop(1, 0, 8, 8))
    with pytest.raises(ValueError, match="multiple"):
        comparison_strip(lr, [("bicubic", bic[:15])])


def test_choose_crop_prefers_the_textured_corner():
    rng = np.random.default_rng(2)
    img = np.full((64, 80, 3), 0.5, np.float32)
    img[40:64, 56:80] = rng.random((24, 24, 3))  # texture in the bottom-right corner
    img[:20, :20] = 0.9  # a flat bright patch (one edge only)
    crop = choose_crop(img, 16, 16, grid=4)
    assert crop.top % 4 == 0 and crop.left % 4 == 0
    assert crop.top >= 40 and crop.left >= 56 and crop.top + 16 <= 64 and crop.left + 16 <= 80
    # the default crop of a strip lands there too
    lr = cv2.resize((img * 255).astype(np.uint8), (20, 16), interpolation=cv2.INTER_AREA)
    _, used, _ = comparison_strip(lr, [("HR", img)])
    assert used.top + used.height > 40 and used.left + used.width > 56
    assert used.top % 4 == 0 and used.left % 4 == 0 and used.height % 4 == 0


# ------------------------------------------------------------------------------ attention
def test_heat_colours_fixed_scale_and_monotonic():
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_INFERNO)[:, 0, ::-1]
    assert np.array_equal(heat_colors(np.zeros((2, 2)))[0, 0], lut[0])
    assert np.array_equal(heat_colors(np.ones((2, 2)))[0, 0], lut[255])
    assert np.array_equal(heat_colors(np.array([-1.0, 2.0])), lut[[0, 255]])  # clipped, not stretched
    ramp = heat_colors(np.linspace(0, 1, 101)).astype(np.float64)
    luma = ramp @ [0.299, 0.587, 0.114]
    assert np.all(np.diff(luma) >= 0) and luma[-1] - luma[0] > 200
    # over a picture: more attention, brighter
    grey = np.full((8, 8, 3), 128, np.uint8)
    low, high = heat_overlay(np.zeros((4, 4)), grey), heat_overlay(np.ones((4, 4)), grey)
    assert low.shape == (8, 8, 3) and (high.astype(int).sum() > low.astype(int).sum())


def test_attention_picture_layout():
    groups = ((0, 3, 6), (2, 3, 4), (1, 3, 5))
    assert group_order(groups) == [1, 2, 0]
    labels = group_labels(groups, 3, frame_numbers=[10, 11, 12, 13, 14, 15, 15])
    assert labels == ["frames 10, 13, 15\ndistance 3", "frames 12, 13, 14\ndistance 1", "frames 11, 13, 15\ndistance 2"]
    att = np.stack([np.zeros((6, 8)), np.full((6, 8), 0.25), np.full((6, 8), 0.75)])
    ref = np.full((24, 32, 3), 0.5, np.float32)
    pic = attention_picture(att, ref, labels, order=group_order(groups), zoom=4, title="t")
    assert pic.dtype == np.uint8 and pic.shape[1] == 3 * 128 + 2 * 4 and pic.shape[0] > 96 + 30
    with pytest.raises(ValueError, match="labels"):
        attention_picture(att, ref, labels[:2])


def test_attention_maps_match_the_models_attention_output():
    from tests.helpers.random_weights import he_normal_weights
    from tga_keras import TGAConfig, build_tga

    config = TGAConfig.small()
    model = build_tga(config)
    he_normal_weights(model, seed=3)
    window = np.random.default_rng(3).random((7, 12, 10, 3), dtype=np.float32)
    att = attention_maps(model, window)
    assert att.shape == (3, 12, 10) and att.dtype == np.float32
    np.testing.assert_allclose(att.sum(axis=0), 1.0, atol=1e-5)
    assert att.std() > 1e-3  # not the uniform 1/3 of a fresh network
    twin = build_tga(config, return_attention=True)
    twin.set_weights(model.get_weights())
    _, want = twin(window[None], training=False)
    np.testing.assert_allclose(att, np.asarray(want).reshape(3, 12, 10), atol=1e-6)
    np.testing.assert_allclose(attention_maps(twin, window), att, atol=1e-6)


# ------------------------------------------------------------------------------ tga upscale
@pytest.fixture(scope="module")
def lr_folder(tmp_path_factory):
    from tga_keras.assets import clip_path
    from tga_keras.io.video import read_video

    folder = tmp_path_factory.mktemp("lr")
    for i, frame in enumerate(read_video(clip_path(), 0, 6)[:, 40:64, 60:92]):  # 32x24
        assert cv2.imwrite(str(folder / f"{i:03d}.png"), frame[:, :, ::-1])
    return folder


def test_upscale_compare_and_attention(lr_folder, tmp_path, capsys):
    cmp, att, out = tmp_path / "cmp.png", tmp_path / "att.png", tmp_path / "sr"
    argv = ["upscale", str(lr_folder), str(out), "--compare", str(cmp), "--attention", str(att), *SMALL]
    assert main(argv + ["--compare-frame", "4"]) == 0
    text = capsys.readouterr().out
    assert "frame 4" in text and str(cmp) in text and str(att) in text
    picture = cv2.imread(str(cmp))
    # overview + 3 panels: a 48-pixel crop (half the 96x128 SR frame, a multiple of 4) enlarged x6
    side = 48 * 6
    assert picture.shape == (side, 384 + 3 * side + 3 * 4, 3)
    heat = cv2.imread(str(att))
    assert heat.shape[1] == 3 * 128 * 2 + 2 * 4  # three 128-wide SR frames, enlarged x2
    assert sorted(os.listdir(tmp_path)) == ["att.png", "cmp.png", "sr"]  # no temporary files left

    # existing files: exit 2 before any work, nothing replaced; --overwrite replaces them
    before = cmp.read_bytes()
    out2 = tmp_path / "sr2"
    assert main(["upscale", str(lr_folder), str(out2), "--compare", str(cmp), *SMALL]) == 2
    assert "exists" in capsys.readouterr().err and cmp.read_bytes() == before and not out2.exists()
    assert main(["upscale", str(lr_folder), str(out2), "--compare", str(cmp), "--overwrite", *SMALL]) == 0
    assert out2.is_dir() and cmp.exists()


@pytest.mark.parametrize(
    "extra,match",
    [
        (["--compare", "c.jpg"], ".png"),
        (["--compare", "x.png", "--attention", "x.png"], "same file"),
        (["--compare-frame", "2"], "--compare or --attention"),
        (["--compare", "c.png", "--compare-frame", "9"], "past the end"),
        (["--compare", "c.png", "--start", "2", "--compare-frame", "1"], "before --start"),
        (["--compare", "c.png", "--frames-limit", "2", "--compare-frame", "3"], "past the last"),
        (["--attention", "a.png", "--weights", "model.onnx"], "needs a Keras model"),
        (["--attention", "a.png", "--weights", "model.onnx", "--backend", "onnx"], "needs a Keras model"),
    ],
)
def test_picture_option_errors_exit_2(lr_folder, tmp_path, monkeypatch, capsys, extra, match):
    monkeypatch.chdir(tmp_path)
    for name in ("model.onnx", "model.keras"):
        (tmp_path / name).write_bytes(b"\x00" * 16)  # exist, but are never loaded: the checks come first
    before = sorted(os.listdir(tmp_path))
    assert main(["upscale", str(lr_folder), "out.mp4", *extra, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == before


def test_attention_refuses_a_backend_without_attention(tmp_path):
    """After loading: a backend that is not a Keras model (an artifact's) is a usage error."""
    import argparse

    from tga_keras.cli.upscale_pictures import FramePictures
    from tga_keras.errors import UsageError
    from tga_keras.runtime.backends.base import CallableBackend

    args = argparse.Namespace(
        compare=None, attention=str(tmp_path / "a.png"), overwrite=False, start=0, compare_frame=None
    )
    backend = CallableBackend(lambda x: x[:, 3], scale=1)
    with pytest.raises(UsageError, match="needs a Keras model"):
        FramePictures(args, backend, 0, 10)


def _temporal_picture_script():
    import importlib.util

    path = REPO / "docs" / "temporal_picture.py"
    spec = importlib.util.spec_from_file_location("temporal_picture", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_temporal_picture_shows_what_the_neighbours_change(tiny_weights, moving_and_still, tmp_path, capsys):
    """docs/temporal_picture.py: five panels, the figures of both inputs, and the crop where they differ."""
    script = _temporal_picture_script()
    out = tmp_path / "t.png"
    assert script.main([str(moving_and_still / "moving"), str(out), "--weights", tiny_weights, "--size", "16"]) == 0
    text = capsys.readouterr().out
    assert "frame 3" in text and "temporal gain" in text
    picture = cv2.imread(str(out))[..., ::-1]
    assert picture.shape[1] == 5 * 16 * 14 + 4 * GAP  # 16-pixel crops enlarged x14 (to about 224)
    _, figures = script.temporal_picture(str(moving_and_still / "moving"), tiny_weights, size=16)
    assert figures["static"] != pytest.approx(figures["tga"], abs=1e-3)  # the tiny model uses its neighbours
    _, still = script.temporal_picture(str(moving_and_still / "still"), tiny_weights, size=16)
    assert still["static"] == pytest.approx(still["tga"], abs=1e-6)  # seven copies are the window itself
    before = out.read_bytes()
    assert script.main([str(moving_and_still / "moving"), str(out), "--weights", tiny_weights]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == before
    (tmp_path / "empty").mkdir()
    assert script.main([str(tmp_path / "empty"), str(out), "--weights", tiny_weights, "--overwrite"]) == 2
    assert "no frames" in capsys.readouterr().err
    moving = [str(moving_and_still / "moving"), str(out), "--weights", tiny_weights, "--overwrite"]
    assert script.main([*moving, "--frame", "7"]) == 2
    assert "7 frames" in capsys.readouterr().err
    for bad, message in (
        (["--size", "2"], "at least 4"),
        (["--frame", "-1"], "count from 0"),
        ([], "a .png"),
    ):
        argv = [*moving, *bad] if bad else [str(moving_and_still / "moving"), str(tmp_path / "t.jpg"), "--weights", "x"]
        assert script.main(argv) == 2
        assert message in capsys.readouterr().err
    assert script.main([str(out), str(tmp_path / "u.png"), "--weights", tiny_weights]) == 2  # a file, not a folder
    assert "not a folder" in capsys.readouterr().err


def test_best_box_finds_the_largest_sum_on_the_grid():
    score = np.zeros((40, 48))
    score[21:29, 30:38] = 1.0  # an 8x8 block, off the 4-pixel grid
    score[0:8, 0:8] = -5.0
    assert best_box(score, 8, 8) == Crop(21, 30, 8, 8)
    assert best_box(score, 8, 8, grid=4) in (Crop(20, 28, 8, 8), Crop(20, 32, 8, 8), Crop(24, 28, 8, 8))
    assert best_box(np.zeros((16, 16)), 4, 4) == Crop(0, 0, 4, 4)  # ties: top-left
    assert best_box(-np.ones((16, 16)), 16, 16) == Crop(0, 0, 16, 16)
    with pytest.raises(ValueError, match="does not fit"):
        best_box(score, 41, 8)
