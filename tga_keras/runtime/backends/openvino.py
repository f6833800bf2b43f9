"""The ``openvino`` backend: an ``.onnx`` model (or OpenVINO IR ``.xml``) on OpenVINO's CPU plugin.

OpenVINO compiles a graph for one input shape at a time, and a static shape runs faster than a
dynamic one (the official network at 144x180: 1.3x on an AMX Xeon), so each input shape seen is
compiled once and kept (the last :data:`MAX_SHAPES`). ``precision`` is the plugin's inference
precision: ``fp32`` (``f32``: exact, the float32 graph) or ``bf16`` (convolutions in bfloat16 on CPUs
with ``avx512_bf16``/``amx_bf16``; not exact, the runtime chooser's fast mode checks its PSNR).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import numpy as np

from tga_keras.errors import InputError, first_line
from tga_keras.runtime.backends.base import ArtifactBackend, recorded_config

MAX_SHAPES = 4  # compiled input shapes kept (a video's windows, its last smaller batch, a probe)
PRECISIONS = {"fp32": "f32", "bf16": "bf16"}  # ours -> OpenVINO's INFERENCE_PRECISION_HINT


def _settings(threads: int | None, precision: str) -> dict[str, Any]:
    """The CPU plugin's settings: ``precision`` (fp32, bf16), one stream for latency, ``threads`` threads."""
    return {
        "INFERENCE_PRECISION_HINT": PRECISIONS[precision],
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        **({"INFERENCE_NUM_THREADS": int(threads)} if threads else {}),
    }


def openvino_request(path: str, threads: int | None = None, precision: str = "fp32") -> Any:
    """An infer request of the model at ``path`` as it is (its own input shapes), compiled for this CPU."""
    import openvino

    return openvino.Core().compile_model(path, "CPU", _settings(threads, precision)).create_infer_request()


def _onnx_metadata(path: str) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (where the exporter records ``tga_config``), or {}."""
    if not path.lower().endswith(".onnx"):
        return {}
    try:
        import onnx

        proto = onnx.load(path, load_external_data=False)
    except Exception:  # noqa: BLE001 - no onnx package or an unreadable file: OpenVINO's own error comes first
        return {}
    return {p.key: p.value for p in proto.metadata_props}


class OpenVINOBackend(ArtifactBackend):
    """An ``.onnx`` or ``.xml`` model on OpenVINO (CPU), ``threads`` inference threads, one stream,
    compiled per input shape. ``config``: the model's TGAConfig where the file records none (the
    runtime chooser's conversions); else read from the ONNX metadata or the manifest."""

    name = "openvino"

    def __init__(
        self, path: str | os.PathLike, threads: int | None = None, config=None, precision: str = "fp32"
    ) -> None:
        path = os.fspath(path)
        if precision not in PRECISIONS:
            raise InputError(f"openvino precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        try:
            import openvino
        except ImportError:
            raise InputError("the openvino backend needs OpenVINO: pip install openvino") from None
        self._core = openvino.Core()
        try:
            self._model = self._core.read_model(path)
        except Exception as e:  # noqa: BLE001 - OpenVINO raises RuntimeError for any unreadable model
            raise InputError(f"{path}: not a model OpenVINO reads: {first_line(e)}") from None
        inputs = self._model.inputs
        if len(inputs) != 1 or inputs[0].get_partial_shape().rank.get_length() != 5:
            shapes = [(i.get_any_name(), str(i.get_partial_shape())) for i in inputs]
            raise InputError(f"{path}: expected one 5-D input (batch, frames, H, W, 3), got {shapes}")
        self._input = inputs[0].get_any_name()
        self._settings = _settings(threads, precision)
        self._compiled: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        frames_dim = inputs[0].get_partial_shape()[1]
        frames = frames_dim.get_length() if frames_dim.is_static else None
        meta = _onnx_metadata(path)
        config = config if config is not None else recorded_config(meta.get("tga_config"))
        self._init_meta(path, frames, config=config, precision=precision if precision != "fp32" else None)

    def _request(self, shape: tuple[int, ...]) -> Any:
        """The infer request of the model compiled for input ``shape`` (compiled now if new)."""
        if shape in self._compiled:
            self._compiled.move_to_end(shape)
            return self._compiled[shape]
        model = self._model.clone()
        model.reshape({self._input: list(shape)})
        request = self._core.compile_model(model, "CPU", self._settings).create_infer_request()
        self._compiled[shape] = request
        while len(self._compiled) > MAX_SHAPES:
            self._compiled.popitem(last=False)
        return request

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        result = self._request(tuple(x.shape)).infer({self._input: x})
        return np.array(result[0], dtype=np.float32)


__all__ = ["MAX_SHAPES", "PRECISIONS", "OpenVINOBackend", "openvino_request"]
