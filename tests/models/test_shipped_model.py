"""The shipped model: its files agree with each other and it still gives its card's figures."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.helpers.paths import REPO
from tga_keras.assets import clip_path
from tga_keras.cli.main import main

FOLDER = os.path.join(REPO, "saved_models", "tga_small_bd_x4")


def _card_figure(protocol_label: str) -> tuple[float, float]:
    """PSNR-Y / SSIM-Y of the card's evaluation table row that starts with ``protocol_label``."""
    with open(os.path.join(FOLDER, "MODEL_CARD.md")) as f:
        for line in f:
            if line.startswith(f"| {protocol_label}"):
                psnr, ssim = re.search(r"\| ([\d.]+) / ([\d.]+) \|", line).groups()
                return float(psnr), float(ssim)
    raise AssertionError(f"no row {protocol_label!r} in the model card")


def test_config_is_the_card_and_json_config():
    from tga_keras.models.config import TGAConfig
    from tga_keras.models.loading import load_tga

    model = load_tga(os.path.join(FOLDER, "model.keras"))
    assert model.config == TGAConfig.preset("small")  # the card: "TGA `small` preset"
    n = sum(int(w.numpy().size) for w in model.trainable_weights)
    with open(os.path.join(FOLDER, "MODEL_CARD.md")) as f:
        assert f"({n:,} parameters" in f.read()
    with open(os.path.join(FOLDER, "eval_carphone_official.json")) as f:
        # the JSON written by tga evaluate beside the model records the model's config
        assert TGAConfig.from_dict(json.load(f)["config"]) == model.config


def test_reproduces_the_card_on_the_bundled_clip(tmp_path, capsys):
    """All 120 carphone frames, official protocol: the card's figure to 0.001 dB / 1e-4."""
    report = tmp_path / "eval.json"
    assert (
        main(
            [
                "evaluate",
                clip_path(),
                "--weights",
                os.path.join(FOLDER, "model.keras"),
                "--no-progress",
                "--json",
                str(report),
            ]
        )
        == 0
    )
    got = json.loads(report.read_text())["average"]
    psnr, ssim = _card_figure("official: HR reflect-padded")
    assert got["psnr"] == pytest.approx(psnr, abs=1e-3) and got["ssim"] == pytest.approx(ssim, abs=1e-4)
    with open(os.path.join(FOLDER, "eval_carphone_official.json")) as f:
        assert json.load(f)["average"]["psnr"] == pytest.approx(got["psnr"], abs=1e-4)


@pytest.mark.parametrize(
    "order",
    [
        "import tga_keras, keras",
        "import keras, tga_keras",
        "import tga_keras.models.layers, keras",
        "import tga_keras.evaluation.metrics, keras",
    ],
)
def test_plain_keras_loads_it_after_import_tga_keras(order):
    """`import tga_keras` registers the custom objects whichever is imported first, also when a submodule
    that imports Keras itself comes first (registering inside it would import it half-done)."""
    import subprocess
    import sys

    path = os.path.abspath(os.path.join(FOLDER, "model.keras"))
    code = f"{order}\nm = keras.saving.load_model({path!r})\nprint(type(m).__name__, m.config.nf)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["TGAModel", "32"]
