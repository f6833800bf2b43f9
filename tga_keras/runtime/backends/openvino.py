"""The ``openvino`` backend: an ``.onnx`` model (or OpenVINO IR ``.xml``) on OpenVINO's CPU plugin.

OpenVINO compiles a graph for one input shape at a time, and a static shape runs faster than a
dynamic one (the official network at 144x180: 1.3x on an AMX Xeon), so each input shape seen is
compiled once and kept (the last :data:`MAX_SHAPES`). ``precision`` is the plugin's inference
precision: ``fp32`` (``f32``: exact, the float32 graph) or ``bf16`` (convolutions in bfloat16 on CPUs
with ``avx512_bf16``/``amx_bf16``; not exact, the runtime chooser's fast mode checks its PSNR). An
ONNX file's ``metadata_props`` (the exporter's ``tga_config``, ``tga_precision``) reach OpenVINO's
``rt_info`` and stay there in an ``.xml`` saved from it, so both formats know their config.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import numpy as np

from tga_keras.errors import InputError
from tga_keras.runtime.backends.base import ArtifactBackend, recorded_config
from tga_keras.runtime.machine import native_stderr_silenced

MAX_SHAPES = 4  # compiled input shapes kept (a video's windows, its last smaller batch, a probe)
PRECISIONS = {"fp32": "f32", "bf16": "bf16"}  # ours -> OpenVINO's INFERENCE_PRECISION_HINT


def openvino_reason(error: BaseException) -> str:
    """The line of an OpenVINO exception that says what went wrong: its text starts with lines naming
    source files (``Exception from src/...``, ``Check '...' failed at ...``), the reason comes after."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    told = [line for line in lines if not line.startswith(("Exception from ", "Check '"))]
    return (told or lines or [type(error).__name__])[-1]


def plugin_settings(threads: int | None, precision: str = "fp32") -> dict[str, Any]:
    """The CPU plugin's settings: ``precision`` (fp32, bf16), one stream for latency, ``threads`` threads."""
    return {
        "INFERENCE_PRECISION_HINT": PRECISIONS[precision],
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        **({"INFERENCE_NUM_THREADS": int(threads)} if threads else {}),
    }


def _recorded(model: Any, key: str) -> str | None:
    """A ``metadata_props`` entry of the ONNX file ``model`` was read from (kept in its rt_info), or None."""
    path = ["framework", key]
    return str(model.get_rt_info(path).value) if model.has_rt_info(path) else None


class OpenVINOBackend(ArtifactBackend):
    """An ``.onnx`` or ``.xml`` model on OpenVINO (CPU), ``threads`` inference threads, one stream,
    compiled per input shape. ``config``: the model's TGAConfig where the file records none (the
    runtime chooser's conversions); else read from the file's metadata or the manifest."""

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
            with native_stderr_silenced():  # its TensorFlow front end prints parse errors while it tries a file
                self._model = self._core.read_model(path)
        except Exception as e:  # noqa: BLE001 - OpenVINO raises RuntimeError for any unreadable model
            raise InputError(f"{path}: not a model OpenVINO reads: {openvino_reason(e)}") from None
        inputs = self._model.inputs
        shapes = [(i.get_any_name(), str(i.get_partial_shape())) for i in inputs]
        rank = inputs[0].get_partial_shape().rank if len(inputs) == 1 else None
        if rank is None or not rank.is_static or rank.get_length() != 5:
            raise InputError(f"{path}: expected one 5-D input (batch, frames, H, W, 3), got {shapes}")
        self._input = inputs[0].get_any_name()
        self._settings = plugin_settings(threads, precision)
        self._compiled: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        frames_dim = inputs[0].get_partial_shape()[1]
        frames = frames_dim.get_length() if frames_dim.is_static else None
        config = config if config is not None else recorded_config(_recorded(self._model, "tga_config"))
        recorded_precision = _recorded(self._model, "tga_precision")
        label = precision if precision != "fp32" else recorded_precision  # bf16 is how it runs; else what it is
        self._init_meta(path, frames, config=config, precision=label)

    def _request(self, shape: tuple[int, ...]) -> Any:
        """The infer request of the model compiled for input ``shape`` (compiled now if new)."""
        if shape in self._compiled:
            self._compiled.move_to_end(shape)
            return self._compiled[shape]
        model = self._model.clone()
        try:
            model.reshape({self._input: list(shape)})
            request = self._core.compile_model(model, "CPU", self._settings).create_infer_request()
        except Exception as e:  # noqa: BLE001 - OpenVINO's RuntimeError: this model cannot take this input
            raise InputError(f"{self.path}: OpenVINO cannot run it on input {shape}: {openvino_reason(e)}") from None
        self._compiled[shape] = request
        while len(self._compiled) > MAX_SHAPES:
            self._compiled.popitem(last=False)
        return request

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        request = self._request(tuple(x.shape))
        try:
            result = request.infer({self._input: x}, share_inputs=True, share_outputs=True)
        except RuntimeError as e:  # the reason, not OpenVINO's source location, on the first line
            raise RuntimeError(f"{self.path}: OpenVINO failed: {openvino_reason(e)}") from e
        return np.array(result[0], dtype=np.float32)  # the one copy: the request's buffer is reused by the next call


__all__ = ["MAX_SHAPES", "PRECISIONS", "OpenVINOBackend", "openvino_reason", "plugin_settings"]
