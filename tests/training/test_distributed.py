"""training/distributed.py: validation scores frames as `tga evaluate` does, with the figures it had before."""

import numpy as np
import pytest

from tga_keras.evaluation.metrics import PSNRY, SSIMY, psnr_y, ssim_y
from training.distributed import validate


@pytest.fixture(scope="module")
def model_and_batches(tiny_weights, moving_and_still):
    """The tiny (non-trivial) model compiled as training compiles it, and validation batches of both clips."""
    from tga_keras.data import FrameFolders, make_eval_dataset
    from tga_keras.models.loading import load_tga

    model = load_tga(tiny_weights)
    model.compile(optimizer="adam", loss="mean_absolute_error", metrics=[PSNRY(), SSIMY()])
    ds = make_eval_dataset(FrameFolders(str(moving_and_still)), batch_size=1, with_info=False, max_references=2)
    return model, ds


def test_validate_equals_the_metrics_by_hand_and_the_keras_metrics(model_and_batches):
    model, ds = model_and_batches
    scores = validate(model, ds)
    pairs = [(np.asarray(model(lr, training=False)), np.asarray(hr)) for lr, hr in ds]
    assert len(pairs) == 4  # two frames of each clip, batch 1
    # independently: the official metrics per image, 8-pixel crop, their mean over every image
    assert scores["val_psnr_y"] == pytest.approx(np.mean([psnr_y(s[0], h[0], 8) for s, h in pairs]), abs=1e-12)
    assert scores["val_ssim_y"] == pytest.approx(np.mean([ssim_y(s[0], h[0], 8) for s, h in pairs]), abs=1e-12)
    assert scores["val_loss"] == pytest.approx(np.mean([np.abs(s - h).mean() for s, h in pairs]), rel=1e-5)
    # what validate computed before it went through the evaluator's scoring: Keras PSNRY / SSIMY
    psnr, ssim = PSNRY(), SSIMY()
    for sr, hr in pairs:
        psnr.update_state(hr, sr)
        ssim.update_state(hr, sr)
    assert abs(scores["val_psnr_y"] - float(psnr.result())) < 1e-5  # measured 2.2e-7 dB
    assert abs(scores["val_ssim_y"] - float(ssim.result())) < 1e-5  # measured 3.4e-9
    assert 5 < scores["val_psnr_y"] < 40 and 0 < scores["val_ssim_y"] < 1
