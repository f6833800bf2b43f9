"""tga_keras.evaluation.evaluator: the Python API gives what `tga evaluate --json` writes; one scoring of frames."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers.paths import REPO
from tga_keras.evaluation.evaluator import EvalData, FrameScores, evaluate, open_sources
from tga_keras.evaluation.metrics import PSNRY, SSIMY, psnr_y, ssim_y

SHIPPED = str(REPO / "saved_models" / "tga_small_bd_x4" / "model.keras")


@pytest.fixture(scope="module")
def clip():
    from tga_keras.assets import clip_path

    return clip_path()


def test_api_figures_equal_the_cli_json(clip, tmp_path):
    from tga_keras.cli.main import main

    out = tmp_path / "e.json"
    argv = ["evaluate", clip, "--weights", SHIPPED, "--max-frames", "2", "--temporal-ablation"]
    assert main([*argv, "--json", str(out), "--no-progress"]) == 0
    written = json.loads(out.read_text())
    result = evaluate(SHIPPED, clip, max_frames=2, temporal_ablation=True, progress=False)
    assert {"data": clip, "weights": SHIPPED, **result.report()} == written  # every field, every figure
    assert list(result.sequences) == ["carphone_pristine"] and result.total_frames == 2
    row = result.sequences["carphone_pristine"]
    assert row["frames"] == 2 and row["psnr"] > row["bicubic_psnr"] + 1  # a trained model, not bicubic
    assert row["temporal_gain_db"] == row["psnr"] - row["static_psnr"]
    assert result.frame_ids == {"carphone_pristine": [0, 1]}
    assert result.per_frame["carphone_pristine"]["psnr"] and np.mean(
        result.per_frame["carphone_pristine"]["psnr"]
    ) == pytest.approx(row["psnr"], abs=1e-12)
    assert (result.scale, result.frames, result.crop_border, result.protocol) == (4, 7, 0, "official")


def test_figures_equal_a_computation_by_hand(clip):
    """Frame 3 of the clip, plain BI protocol, 8-pixel crop: the dataset, the model and the metrics by hand."""
    from tga_keras import TGAConfig, build_tga
    from tga_keras.data import make_eval_dataset
    from tga_keras.preprocess.resize import imresize
    from tga_keras.runtime.upscaler import Upscaler

    model = build_tga(TGAConfig.small())  # untrained: its output is ~bicubic, but not exactly
    kw = dict(protocol="plain", degradation="bi", max_frames=1, first_frame=3)
    result = evaluate(model, clip, progress=False, **kw)
    data = open_sources(clip)
    assert isinstance(data, EvalData) and data.centre_only is False and data.path == clip
    lr, hr, info = next(
        make_eval_dataset(
            data.sources, degradation="bi", batch_size=None, max_references=1, first_reference=3
        ).as_numpy_iterator()
    )
    assert int(info["frame"]) == 3 and result.frame_ids == {"carphone_pristine": [3]}
    sr = Upscaler(model).upscale_window(lr)
    bic = np.clip(imresize(lr[3], 4), 0, 1)
    row = result.sequences["carphone_pristine"]
    assert row["psnr"] == psnr_y(sr, hr, 8) and row["ssim"] == ssim_y(sr, hr, 8)
    assert row["bicubic_psnr"] == psnr_y(bic, hr, 8) and row["bicubic_ssim"] == ssim_y(bic, hr, 8)
    assert result.average == {k: v for k, v in row.items() if k != "frames"}  # one sequence
    assert "static_psnr" not in row and result.report()["alignment_fallbacks"] is None


def test_no_frames_and_bad_arguments(clip):
    from tga_keras.errors import DatasetError, InputError

    with pytest.raises(DatasetError, match="no frames to evaluate from frame 500 on"):
        evaluate(SHIPPED, clip, first_frame=500, progress=False)
    with pytest.raises(InputError, match="crop_border"):
        evaluate(SHIPPED, clip, crop_border=-1, progress=False)
    with pytest.raises(FileNotFoundError, match="no such file"):
        open_sources("/nonexistent")


@pytest.fixture(scope="module")
def batch():
    """Four SR-like / HR pairs ``(4, 40, 48, 3)`` in [0, 1]: smooth content, and noise of growing strength."""
    from tga_keras.data.fakes import random_frames

    hr = random_frames(4, 40, 48, seed=3).astype(np.float32) / 255
    rng = np.random.default_rng(0)
    sr = np.clip(hr + rng.normal(0, 1, hr.shape) * np.array([0.01, 0.03, 0.05, 0.1])[:, None, None, None], 0, 1)
    return sr.astype(np.float32), hr.astype(np.float32)


def test_frame_scores_are_the_official_metrics_per_image(batch):
    sr, hr = batch
    scores = FrameScores(crop_border=4)
    scores.add(sr[:3], hr[:3])  # a batch
    scores.add(sr[3], hr[3])  # one frame
    assert len(scores) == 4
    assert scores.psnr == [psnr_y(s, h, 4) for s, h in zip(sr, hr, strict=True)]
    assert scores.ssim == [ssim_y(s, h, 4) for s, h in zip(sr, hr, strict=True)]
    means = scores.means()
    assert means == {"psnr": float(np.mean(scores.psnr)), "ssim": float(np.mean(scores.ssim))}
    assert FrameScores(8).means() == {"psnr": 0.0, "ssim": 0.0}  # as the Keras metrics before any image
    with pytest.raises(ValueError, match="one shape"):
        scores.add(sr[:2], hr[:1])


def test_keras_metrics_of_fit_agree_with_the_evaluator(batch):
    """model.fit's compiled PSNRY / SSIMY (TF ops) and the evaluator's scoring, on the same batch."""
    sr, hr = batch
    scores = FrameScores(crop_border=8)
    scores.add(sr, hr)
    psnr, ssim = PSNRY(), SSIMY()
    psnr.update_state(hr[:2], sr[:2])
    psnr.update_state(hr[2:], sr[2:])
    ssim.update_state(hr, sr)
    means = scores.means()
    # measured 1.3e-7 dB and 7.2e-8 apart (float32 results / float32 filtering against float64)
    assert abs(float(psnr.result()) - means["psnr"]) < 1e-5
    assert abs(float(ssim.result()) - means["ssim"]) < 1e-5


def test_importing_the_evaluator_loads_no_tensorflow():
    code = "import sys, tga_keras.evaluation.evaluator; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
