"""The ``tflite`` backend: a ``.tflite`` model on the LiteRT interpreter (``ai_edge_litert``), and
what the exporter reads of a TFLite model (its operators, their precision)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tga_keras.errors import InputError, first_line
from tga_keras.runtime.backends.base import ArtifactBackend
from tga_keras.runtime.machine import native_stderr_silenced


class TFLiteBackend(ArtifactBackend):
    """A ``.tflite`` model on the LiteRT interpreter (``ai_edge_litert``), input resized per shape.

    Float models take the frames as they are; a full-integer model (uint8 input and output)
    quantizes the frames with the input tensor's (scale, zero point) and dequantizes the output.
    """

    name = "tflite"

    def __init__(self, path: str | os.PathLike, threads: int | None = None, config=None):
        path = os.fspath(path)
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise InputError("the tflite backend needs the LiteRT interpreter: pip install ai-edge-litert") from None
        try:
            self._it = Interpreter(model_path=path, num_threads=threads)
        except (ValueError, RuntimeError) as e:
            raise InputError(f"{path}: not a readable TFLite model: {first_line(e)}") from None
        self._in = self._it.get_input_details()[0]
        self._out = self._it.get_output_details()[0]
        self._shape: tuple[int, ...] | None = None
        sig = self._in.get("shape_signature", self._in["shape"])
        self._init_meta(
            path,
            int(sig[1]) if len(sig) == 5 and sig[1] > 0 else None,
            config=config,
            precision=tflite_precision(self._it),
        )

    @property
    def quantized_io(self) -> bool:
        return self._in["dtype"] == np.uint8

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self._shape != x.shape:
            self._it.resize_tensor_input(self._in["index"], x.shape, strict=False)
            with native_stderr_silenced():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
                self._it.allocate_tensors()
            self._in = self._it.get_input_details()[0]
            self._out = self._it.get_output_details()[0]
            self._shape = x.shape
        if self._in["dtype"] == np.uint8:
            s, z = self._in["quantization"]
            x = np.clip(np.round(x / s + z), 0, 255).astype(np.uint8)
        self._it.set_tensor(self._in["index"], x)
        self._it.invoke()
        y = self._it.get_tensor(self._out["index"])
        if self._out["dtype"] == np.uint8:
            s, z = self._out["quantization"]
            y = (y.astype(np.float32) - np.float32(z)) * np.float32(s)
        return np.array(y, dtype=np.float32)

    def op_names(self) -> list[str]:
        """The model's operators (sorted), read without the XNNPACK delegate: builtin ops are upper-case
        names (``CONV_2D``); select-TF and custom ops keep their own names (``FlexConv3D``)."""
        return sorted({d["op_name"] for d in bare_interpreter(self.path)._get_ops_details()})


def non_builtin_ops(op_names) -> list[str]:
    """The names in ``op_names`` that are not TFLite builtin operators (Flex/select-TF, custom, delegates)."""
    import re

    return [op for op in op_names if op == "DELEGATE" or not re.fullmatch(r"[A-Z0-9_]+", op)]


def bare_interpreter(path: str | os.PathLike[str]) -> Any:
    """An interpreter of ``path`` without the default delegates (its op list is the model's own)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter(
        model_path=os.fspath(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )


def tflite_precision(interpreter) -> str:
    """``int8`` (uint8/int8 input), ``int8-dynamic`` (int8 weights, float I/O), ``fp16`` (float16
    weights) or ``fp32``, read from the tensor types of a ``.tflite`` model."""
    if interpreter.get_input_details()[0]["dtype"] in (np.uint8, np.int8):
        return "int8"
    dtypes = {t["dtype"] for t in interpreter.get_tensor_details()}
    if np.int8 in dtypes:
        return "int8-dynamic"
    if np.float16 in dtypes:
        return "fp16"
    return "fp32"


def tflite_float_ops(path: str | os.PathLike) -> dict[str, int]:
    """Operators of a ``.tflite`` model that compute in float32 (a float32 input), with their counts.

    In a full-integer model these are the ops that stay float (between DEQUANTIZE and QUANTIZE).
    """
    it = bare_interpreter(path)
    dtypes = {t["index"]: t["dtype"] for t in it.get_tensor_details()}
    counts: dict[str, int] = {}
    for op in it._get_ops_details():
        if op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
            continue
        if any(dtypes.get(int(i)) == np.float32 for i in op["inputs"] if int(i) >= 0):
            counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
    return dict(sorted(counts.items()))


__all__ = ["TFLiteBackend", "bare_interpreter", "non_builtin_ops", "tflite_float_ops", "tflite_precision"]
