"""The practical peak (tga_keras.runtime.peak): the network's convolution shapes timed on each runtime."""

from __future__ import annotations

import json

import pytest

from tests.helpers.export_helpers import TINY_EXPORT_CONFIG
from tests.helpers.runtimes import hide_modules
from tga_keras import TGAConfig
from tga_keras.errors import InputError
from tga_keras.runtime import peak
from tga_keras.runtime.peak import has_bf16, peak_shapes, percent_of_peak, practical_peak

SIZE = (16, 20)  # LR h x w of the tiny measurements: milliseconds per call


def test_peak_shapes_follow_the_config():
    shapes = {s.name: s for s in peak_shapes(TGAConfig.official(), 144, 180)}
    assert [(s.batch, s.cin, s.cout, s.kernel) for s in shapes.values()] == [
        (3, 336, 336, 1),  # the last intra-group unit: 64 + 16 * 17 channels, over 3 groups
        (3, 336, 16, 3),
        (1, 256, 512, 3),  # the x4 head's 3x3 conv
        (7, 64, 64, 3),  # the stem, over 7 frames
    ]
    assert shapes["head_3x3"].flops == 2 * 144 * 180 * 512 * 9 * 256


def test_tensorflow_peak_of_a_tiny_config():
    result = practical_peak(TINY_EXPORT_CONFIG, *SIZE, threads=2, runtimes=("tensorflow",), runs=1)
    measured = result.gflops["tensorflow"]
    assert set(measured) == {s.name for s in result.shapes}
    assert all(v > 0 for v in measured.values())
    assert result.peak_gflops == max(measured.values()) and result.peak_runtime == "tensorflow"
    assert measured[result.peak_shape] == result.peak_gflops
    assert bool(result.bf16_gflops) == has_bf16()  # bf16 timed exactly where the CPU has it
    assert not result.skipped
    data = json.loads(json.dumps(result.to_dict()))
    assert data["peak_gflops"] == result.peak_gflops and data["size"] == list(SIZE)
    assert percent_of_peak(result.peak_gflops, result.peak_gflops) == pytest.approx(100.0)


def test_tflite_and_onnx_peak_of_a_tiny_config():
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    result = practical_peak(TINY_EXPORT_CONFIG, *SIZE, threads=2, runtimes=("tflite", "onnx"), runs=1, bf16=False)
    assert not result.skipped
    for runtime in ("tflite", "onnx"):
        assert len(result.gflops[runtime]) == len(result.shapes)
        assert all(v > 0 for v in result.gflops[runtime].values())


def test_a_runtime_not_installed_is_skipped(monkeypatch):
    hide_modules(monkeypatch, "onnxruntime")
    result = practical_peak(TINY_EXPORT_CONFIG, *SIZE, runtimes=("onnx",), runs=1, bf16=False)
    assert "onnx" not in result.gflops
    assert "not installed" in result.skipped["onnx"] and "onnxruntime" in result.skipped["onnx"]
    assert (result.peak_gflops, result.peak_runtime, result.peak_shape) == (0.0, None, None)


def test_a_failing_runtime_is_recorded_not_raised(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no kernel\nfor this")

    monkeypatch.setitem(peak._TIMERS, "tensorflow", broken)
    result = practical_peak(TINY_EXPORT_CONFIG, *SIZE, runtimes=("tensorflow",), runs=1, bf16=False)
    assert result.skipped == {f"tensorflow/{s.name}": "RuntimeError: no kernel" for s in result.shapes}
    assert result.peak_gflops == 0.0


def test_unknown_runtime_and_percent_of_peak():
    with pytest.raises(InputError, match="unknown runtimes"):
        practical_peak(TINY_EXPORT_CONFIG, runtimes=("tvm",))
    assert percent_of_peak(50.0, 200.0) == 25.0
    with pytest.raises(ValueError):
        percent_of_peak(50.0, 0.0)
