"""TGAConfig.align: the inference core and both tf.data pipelines align every window before the network."""

import json

import numpy as np
import pytest

from tests.helpers.paths import FIXTURES
from tga_keras import TGAConfig, build_tga
from tga_keras.data import SyntheticMotion, make_eval_dataset, make_train_dataset
from tga_keras.preprocess.alignment import align, align_windows
from tga_keras.runtime.upscaler import Upscaler


@pytest.fixture(scope="module")
def photo():
    """A real frame (carphone, 144x176 RGB [0, 1]) to move."""

    ops = np.load(FIXTURES / "official_ops_carphone.npz")
    return ops["hr"][3]


def _panned_window(photo, shift=2.5, frames=7):
    """LR-sized window (36x44) of a real frame panned by ``shift`` LR px per frame (large, sub-pixel)."""
    import cv2

    lr = cv2.resize(photo, (44, 36), interpolation=cv2.INTER_AREA)
    out = []
    for t in range(frames):
        d = (t - frames // 2) * shift
        m = np.float32([[1, 0, d], [0, 1, 0.4 * d]])
        out.append(cv2.warpAffine(lr, m, (44, 36), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101))
    return np.clip(np.stack(out), 0, 1).astype(np.float32)


def test_presets():
    full = TGAConfig.paper_full()
    assert full.align and full.dilation and not full.stem_bias
    assert full.replace(align=False) == TGAConfig.paper()
    assert TGAConfig.from_json(full.to_json()) == full
    assert not TGAConfig.official().align and not TGAConfig.preset("small").align


def test_upscaler_aligns_when_the_config_says_so(photo):
    cfg = TGAConfig.small().replace(nf=16, intra_units=(2,), inter_units=(2,))
    model = build_tga(cfg)
    from tests.helpers.random_weights import he_normal_weights

    he_normal_weights(model, seed=0)
    window = _panned_window(photo)
    plain = Upscaler(model)
    assert not plain.align
    aligned = Upscaler(build_tga(cfg.replace(align=True)))
    aligned.backend.model.set_weights(model.get_weights())
    assert aligned.align
    want = plain.upscale_window(align(window))
    got = aligned.upscale_window(window)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert np.abs(got - plain.upscale_window(window)).max() > 0.05  # alignment changed the input
    assert aligned.alignment_stats == {"neighbours": 6, "fell_back": 0}
    # streams go through the same path; an explicit align=False overrides the config
    frames = list(window)
    streamed = np.stack(list(aligned.upscale_frames(frames)))
    np.testing.assert_allclose(streamed[3], got, rtol=0, atol=1e-6)
    assert not Upscaler(aligned.backend, align=False).align


def test_train_pipeline_aligns_each_window():
    still = np.load(FIXTURES / "official_ops_carphone.npz")["hr"][3]
    kw = dict(batch_size=None, hr_crop=128, seed=3, augment=False, shuffle=False, epochs=1)
    source = SyntheticMotion([still], seed=1)
    plain = next(iter(make_train_dataset(source, **kw)))
    aligned = next(iter(make_train_dataset(source, align=True, **kw)))
    np.testing.assert_array_equal(aligned[1].numpy(), plain[1].numpy())  # same target
    np.testing.assert_allclose(aligned[0].numpy(), align(plain[0].numpy()), rtol=0, atol=1e-6)
    assert np.abs(aligned[0].numpy() - plain[0].numpy()).max() > 1e-3
    np.testing.assert_array_equal(aligned[0].numpy()[3], plain[0].numpy()[3])  # the reference untouched


def test_eval_pipeline_aligns_each_window():
    still = np.load(FIXTURES / "official_ops_carphone.npz")["hr"][3]
    source = SyntheticMotion([still], seed=1)
    kw = dict(batch_size=None, with_info=False, references="center")
    plain = next(iter(make_eval_dataset(source, **kw)))[0].numpy()
    aligned = next(iter(make_eval_dataset(source, align=True, **kw)))[0].numpy()
    np.testing.assert_allclose(aligned, align_windows(plain[None])[0], rtol=0, atol=1e-6)
    assert np.abs(aligned - plain).max() > 1e-3


def test_training_run_with_alignment(tmp_path):
    """A run whose model config says align=True trains and validates on aligned windows."""
    from tga_keras.data.fakes import random_frames, write_video
    from training.run import main

    write_video(str(tmp_path / "train.avi"), random_frames(9, 48, 64, seed=1))
    cfg = {
        "model": {"preset": "small", "nf": 16, "inter_units": [2], "intra_units": [2], "align": True},
        "train_videos": ["train.avi"],
        "val_videos": ["train.avi"],
        "val_frames": 1,
        "hr_crop": 32,
        "batch_size": 2,
        "steps_per_epoch": 2,
        "epochs": 1,
        "tensorboard": False,
        "stills_motion": {"velocity": 8.0},
    }
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    assert main(["--config", str(tmp_path / "cfg.json"), "--output", str(tmp_path / "run"), "--quiet"]) == 0
    import keras

    assert keras.saving.load_model(tmp_path / "run" / "best.keras", compile=False).config.align


def test_cli_align_option(photo, tmp_path, capsys):
    """--align on|off|auto on evaluate and upscale: the JSON records it and the summary counts the frames."""
    import cv2

    from tga_keras.cli.main import main

    seq = tmp_path / "clips" / "pan"
    seq.mkdir(parents=True)
    for t in range(9):  # a real frame panned 6 HR px per frame: textured, camera motion
        m = np.float32([[1, 0, 6.0 * (t - 4)], [0, 1, 2.0 * (t - 4)]])
        frame = cv2.warpAffine(photo, m, (176, 144), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
        cv2.imwrite(str(seq / f"{t:05d}.png"), (np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8)[..., ::-1])
    reports = {}
    for choice in ("on", "off", "auto"):
        out = tmp_path / f"{choice}.json"
        args = ["evaluate", str(tmp_path / "clips"), "--preset", "small", "--no-progress", "--max-frames", "2"]
        assert main([*args, "--align", choice, "--json", str(out)]) == 0
        reports[choice] = (json.loads(out.read_text()), capsys.readouterr().out)
    report, printed = reports["on"]
    assert report["aligned"] is True and report["alignment_fallbacks"] == 0
    assert "alignment: 12 of 12 neighbour frames warped onto their reference, 0 left unwarped" in printed
    for choice in ("off", "auto"):  # the small preset does not align
        report, printed = reports[choice]
        assert report["aligned"] is False and report["alignment_fallbacks"] is None and "alignment:" not in printed
    assert main(["upscale", str(seq), str(tmp_path / "up"), "--preset", "small", "--no-progress", "--align", "on"]) == 0
    assert "alignment: 54 of 54 neighbour frames warped" in capsys.readouterr().err
