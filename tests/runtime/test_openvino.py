"""tga_keras.runtime.backends.openvino and OpenVINO as a runtime of the chooser and the peak.

The exporter tests' tiny model (He-normal kernels, non-trivial BatchNorm statistics) and its
artifacts from ``python -m export all`` (conftest), so that a graph OpenVINO got wrong shows.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.helpers.export_helpers import TINY_EXPORT_CONFIG
from tests.helpers.runtimes import hide_modules
from tga_keras.errors import InputError
from tga_keras.models.loading import load_tga
from tga_keras.runtime import fastest
from tga_keras.runtime.backends import detect_backend, load_backend
from tga_keras.runtime.parity import compare, real_windows, sr_of

pytest.importorskip("openvino")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TGA_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def onnx_file(export_all):
    assert export_all.rc == 0, export_all.stderr
    return os.path.join(export_all.outdir, "onnx", "model.onnx")


def test_an_exported_onnx_on_openvino_matches_onnxruntime_and_knows_its_config(onnx_file, export_model):
    from tga_keras.runtime.backends.onnx import ONNXBackend
    from tga_keras.runtime.backends.openvino import OpenVINOBackend

    backend = load_backend(onnx_file, "openvino", threads=1)
    assert isinstance(backend, OpenVINOBackend) and backend.name == "openvino" and backend.precision == "fp32"
    assert backend.config == load_tga(export_model).config  # from the file's metadata
    windows = real_windows(backend.frames, backend.scale, count=2)
    figures = compare(sr_of(ONNXBackend(onnx_file, threads=1), windows), sr_of(backend, windows))
    assert figures["max_abs_diff"] <= 1e-5, figures


def test_an_openvino_ir_saved_from_the_onnx_keeps_its_config(onnx_file, export_model, tmp_path):
    import openvino

    ir = tmp_path / "ir" / "model.xml"
    # compress_to_fp16 defaults to True: fp16 weights (1e-3 off here), not the same network
    openvino.save_model(openvino.Core().read_model(onnx_file), str(ir), compress_to_fp16=False)
    backend = load_backend(str(ir))  # the format from the name
    assert backend.name == "openvino" and backend.config == load_tga(export_model).config
    windows = real_windows(backend.frames, backend.scale, count=1)
    reference = load_backend(onnx_file, "openvino", threads=1)
    assert compare(sr_of(reference, windows), sr_of(backend, windows))["max_abs_diff"] == 0
    os.remove(ir.with_suffix(".bin"))
    with pytest.raises(InputError, match=r"model.xml: not a model OpenVINO reads: .*bin file cannot be found"):
        load_backend(str(ir))


def test_each_input_shape_is_compiled_once_and_the_oldest_are_dropped(onnx_file):
    from tga_keras.runtime.backends.openvino import MAX_SHAPES

    backend = load_backend(onnx_file, "openvino", threads=1)
    rng = np.random.default_rng(0)
    x = rng.random((1, backend.frames, 12, 14, 3), dtype=np.float32)
    first = backend(x)
    assert first.shape == (1, 12 * backend.scale, 14 * backend.scale, 3)
    request = backend._compiled[x.shape]
    np.testing.assert_array_equal(backend(x), first)  # the same compiled model, the same output
    assert backend._compiled[x.shape] is request
    for k in range(MAX_SHAPES):
        backend(rng.random((1, backend.frames, 12 + k + 1, 14, 3), dtype=np.float32))
    assert len(backend._compiled) == MAX_SHAPES and x.shape not in backend._compiled


def test_a_keras_model_converted_for_openvino_is_checked_against_keras(export_model):
    model = load_tga(export_model)
    backend = fastest.choose_backend(model, runtime="openvino", threads=1, progress=False)
    assert backend.name == "openvino" and backend.config == model.config and backend.keras_model is model
    assert backend.choice.measured[0]["max_abs_diff"] <= fastest.EXACT_MAX_DIFF
    assert os.path.basename(backend.choice.artifact) == "model_fp32.openvino.onnx"
    assert backend.choice.reason.startswith("openvino fp32 (asked for, not timed")


def test_openvino_bf16_is_a_fast_candidate_only_where_the_cpu_has_bf16(monkeypatch):
    import tga_keras.runtime.machine as machine

    labels = {c.label for c in fastest.eligible(TINY_EXPORT_CONFIG, "exact")}
    assert "openvino fp32" in labels and "openvino bf16" not in labels
    monkeypatch.setattr(machine, "has_bf16", lambda: False)
    assert "openvino bf16" not in {c.label for c in fastest.eligible(TINY_EXPORT_CONFIG, "fast")}
    monkeypatch.setattr(machine, "has_bf16", lambda: True)
    assert "openvino bf16" in {c.label for c in fastest.eligible(TINY_EXPORT_CONFIG, "fast")}


def test_bad_input(tmp_path, monkeypatch, export_model, onnx_file, capfd):
    import sys

    from tga_keras.runtime.backends.openvino import OpenVINOBackend

    junk = tmp_path / "junk.xml"
    junk.write_text("<net>not a model</net>")
    assert detect_backend(str(junk)) == "openvino"
    with pytest.raises(InputError, match=r"junk.xml: not a model OpenVINO reads: Unable to read the model"):
        load_backend(str(junk))
    assert "GraphDef" not in capfd.readouterr().err  # OpenVINO's TensorFlow front end kept quiet
    with pytest.raises(InputError, match="openvino precision must be one of fp32, bf16"):
        OpenVINOBackend(str(junk), precision="int8")
    backend = load_backend(onnx_file, "openvino", threads=1)
    with pytest.raises(InputError, match=r"OpenVINO cannot run it on input \(1, 2, 12, 14, 3\): "):
        backend(np.zeros((1, 2, 12, 14, 3), np.float32))  # two frames for a 7-frame network
    hide_modules(monkeypatch, "openvino")
    with pytest.raises(InputError, match=r"the openvino backend is not installed here: pip install openvino"):
        fastest.choose_backend(load_tga(export_model), runtime="openvino", progress=False)
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino fails
    with pytest.raises(InputError, match=r"the openvino backend needs OpenVINO: pip install openvino"):
        load_backend(onnx_file, "openvino")


def test_one_onnx_conversion_serves_onnxruntime_and_openvino(export_model, monkeypatch):
    import tga_keras.runtime.compile as compile_module

    calls = []
    real = compile_module.to_onnx
    monkeypatch.setattr(compile_module, "to_onnx", lambda model: calls.append(1) or real(model))
    model = load_tga(export_model)
    backend = fastest.choose_backend(model, threads=1, progress=False)
    labels = {r["label"] for r in backend.choice.measured if "ms" in r}
    assert {"onnx fp32", "openvino fp32"} <= labels and len(calls) == 1
    assert len(fastest._ONNX_OF) == 0  # the bytes are not kept past the choice


def test_the_peak_includes_openvino():
    from tga_keras.runtime.peak import practical_peak

    pytest.importorskip("onnx")
    result = practical_peak(TINY_EXPORT_CONFIG, 24, 28, threads=1, runtimes=("openvino",), runs=1, bf16=False)
    assert not result.skipped and len(result.gflops["openvino"]) == len(result.shapes)
    assert result.peak_runtime == "openvino" and result.peak_gflops > 0
