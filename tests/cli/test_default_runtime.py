"""The default path of every command: a Keras model runs on the fastest exact runtime of this machine.

The suite pins ``--backend auto`` to Keras (conftest: ``$TGA_AUTO_BACKEND=keras``); these tests lift
the pin, as a user's shell has it, and give each test its own runtime cache.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from tests.helpers.runtimes import hide_modules, patch_candidates
from tga_keras.assets import clip_path
from tga_keras.cli.main import main
from tga_keras.io.images import read_image
from tga_keras.jobs import upscale_job
from tga_keras.runtime.backends import AUTO_ENV

pytest.importorskip("ai_edge_litert")
pytest.importorskip("onnxruntime")

CLIP = clip_path()


@pytest.fixture(autouse=True)
def as_a_user(tmp_path, monkeypatch):
    monkeypatch.delenv(AUTO_ENV, raising=False)
    monkeypatch.setenv("TGA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(upscale_job, "_UPSCALERS", {})  # each command as a new process: nothing loaded yet


def _frames(folder) -> np.ndarray:
    return np.stack([read_image(os.path.join(folder, n)) for n in sorted(os.listdir(folder))])


def test_upscale_runs_the_chosen_runtime_and_says_why(export_model, tmp_path, capsys):
    assert main(["upscale", CLIP, str(tmp_path / "first"), "--weights", export_model, "--frames-limit", "3"]) == 0
    err = capsys.readouterr().err
    assert "first use of this model here: checking and timing keras fp32, tflite fp32, onnx fp32" in err
    assert "choosing a runtime" in err  # the bar says what the first run's extra time goes to
    why = r"(fastest exact|the reference; no converted runtime is 5% faster)"
    found = re.search(rf"(?:^|\r)runtime: (\w+) fp32 \({why}: .* \(choosing took \d+ s\)$", err, re.M)
    assert found, err
    chosen = found.group(1)
    assert f"({chosen}, fp32;" in err  # the upscaling line names the runtime that runs

    upscale_job._UPSCALERS.clear()
    argv = ["upscale", CLIP, str(tmp_path / "again"), "--weights", export_model, "--frames-limit", "3", "--no-progress"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "runtime:" not in err and "choosing a runtime" not in err  # cached: quiet unless asked
    assert f"({chosen}, fp32;" in err

    upscale_job._UPSCALERS.clear()
    assert main(["--verbose", *argv[:2], str(tmp_path / "verbose"), *argv[3:]]) == 0
    err = capsys.readouterr().err
    assert re.search(rf"(?:^|\r)runtime: {chosen} fp32 \({why}: .*\(chosen earlier, cached in ", err, re.M), err

    upscale_job._UPSCALERS.clear()
    assert main([*argv[:2], str(tmp_path / "keras"), *argv[3:], "--backend", "keras"]) == 0
    capsys.readouterr()
    # the same frames as Keras, to the rounding of one 8-bit level
    diff = np.abs(_frames(tmp_path / "again").astype(int) - _frames(tmp_path / "keras").astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.01


def test_fast_precision_says_its_psnr(export_model, tmp_path, capsys):
    argv = ["upscale", CLIP, str(tmp_path / "fast"), "--weights", export_model, "--frames-limit", "3"]
    assert main([*argv, "--precision", "fast", "--no-progress"]) == 0
    err = capsys.readouterr().err
    why = r"(fastest within 45 dB|the reference; no converted runtime is 5% faster)"
    found = re.search(rf"(?:^|\r)runtime: (\w+) ([\w-]+) \({why}: .*; (PSNR [\d.]+ dB|max \|diff\|)", err, re.M)
    assert found, err
    psnr = re.search(r"PSNR ([\d.]+) dB", found.group(4))
    assert f"({found.group(1)}, {found.group(2)}{f' at {psnr.group(1)} dB PSNR vs float32' if psnr else ''};" in err


def test_a_runtime_that_is_not_installed_is_exit_2_with_the_hint(export_model, tmp_path, capsys, monkeypatch):
    hide_modules(monkeypatch, "onnxruntime")
    out = tmp_path / "o"
    assert main(["upscale", CLIP, str(out), "--weights", export_model, "--backend", "onnx"]) == 2
    err = capsys.readouterr().err
    assert "the onnx backend is not installed here: pip install onnxruntime" in err and "Traceback" not in err
    assert not out.exists()


def test_a_bad_auto_backend_setting_is_exit_2(export_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(AUTO_ENV, "tflite")
    assert main(["upscale", CLIP, str(tmp_path / "o"), "--weights", export_model]) == 2
    assert "TGA_AUTO_BACKEND must be 'fastest' (the default) or 'keras'" in capsys.readouterr().err


def test_a_named_runtime_that_fails_its_check_is_exit_1_with_the_way_out(export_model, tmp_path, capsys, monkeypatch):
    patch_candidates(monkeypatch, crash="tflite fp32")
    out = tmp_path / "o"
    assert main(["upscale", CLIP, str(out), "--weights", export_model, "--backend", "tflite", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "tga upscale: error: no tflite runtime passed its check here" in err and "--backend keras" in err
    assert "this is a bug" not in err and "Traceback" not in err and not out.exists()
