"""The shipped model: its files agree with each other and it still gives the figures of its ``metrics.json``.

No test reads the model card's prose: the measured figures live in ``metrics.json`` (copied from the
``tga evaluate --json`` files beside the model); the card may quote them.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers.paths import REPO
from tga_keras.assets import clip_path
from tga_keras.cli.main import main

FOLDER = os.path.join(REPO, "saved_models", "tga_small_bd_x4")


def _json(name: str) -> dict:
    with open(os.path.join(FOLDER, name)) as f:
        return json.load(f)


METRICS = _json("metrics.json")


def test_config_is_the_metrics_and_json_config():
    from tga_keras.models.config import TGAConfig
    from tga_keras.models.loading import load_tga

    model = load_tga(os.path.join(FOLDER, "model.keras"))
    assert model.config == TGAConfig.preset(METRICS["preset"])
    n = sum(int(w.numpy().size) for w in model.trainable_weights)
    assert n == METRICS["parameters"]
    # the JSON written by tga evaluate beside the model records the model's config
    assert TGAConfig.from_dict(_json("eval_carphone_official.json")["config"]) == model.config


@pytest.mark.parametrize("name", sorted(k for k, e in METRICS["evaluations"].items() if e.get("source")))
def test_metrics_are_those_of_the_eval_json(name):
    """Every figure of ``metrics.json`` with a source is that ``tga evaluate --json`` file's average."""
    entry = METRICS["evaluations"][name]
    source = _json(entry["source"])
    assert source["protocol"] == entry["protocol"]
    assert len(source["sequences"]) == entry["sequences"]
    figures = {k: v for k, v in entry.items() if isinstance(v, float)}
    assert figures, f"{name}: no figures"
    assert figures == pytest.approx({k: source["average"][k] for k in figures}, abs=1e-9)


def test_reproduces_the_metrics_on_the_bundled_clip(tmp_path, capsys):
    """All 120 carphone frames, official protocol: ``metrics.json``'s figure to 0.001 dB / 1e-4."""
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
    want = METRICS["evaluations"]["carphone_official"]
    assert got["psnr"] == pytest.approx(want["psnr"], abs=1e-3)
    assert got["ssim"] == pytest.approx(want["ssim"], abs=1e-4)
    assert got["bicubic_psnr"] == pytest.approx(want["bicubic_psnr"], abs=1e-3)
    assert got["bicubic_ssim"] == pytest.approx(want["bicubic_ssim"], abs=1e-4)


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
