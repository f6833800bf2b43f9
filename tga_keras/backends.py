"""Runners for exported TGA artifacts, as backends of the inference core.

Every runner follows :class:`tga_keras.inference.Backend`: ``(B, F, h, w, 3)`` float32 RGB in [0, 1]
(numpy) -> ``(B, s*h, s*w, 3)`` float32, with attributes ``scale``, ``frames``, ``min_size``,
``name`` and ``precision``, so ``tga upscale``, ``tga evaluate``, ``tga benchmark`` and the
exporters' parity checks run every format through the same :class:`~tga_keras.inference.Upscaler`.

    backend = load_backend("out/onnx/model.onnx")          # format from the path
    sr = Upscaler(backend).upscale_window(lr_window)

=============  ================================  =========================================
backend        artifact                          runtime (imported only when used)
=============  ================================  =========================================
keras          ``.keras`` / ``.pth`` / ``.h5``   Keras (``tga_keras.loading.load_tga``)
savedmodel     folder with ``saved_model.pb``    ``tf.saved_model.load`` (signature
                                                 ``serving_default``)
tflite         ``.tflite``                       ``ai_edge_litert`` interpreter
onnx           ``.onnx``                         onnxruntime (CPU, or CUDA where present)
tensorrt       ``.engine`` / ``.plan``           TensorRT + cuda-python (NVIDIA GPU)
=============  ================================  =========================================

A runner learns the network's config (scale, frames, minimum size) from the ``manifest.json``
that ``python -m export`` writes next to the artifacts (or from an ONNX file's metadata, or a
TensorRT engine's JSON sidecar); without one it reads the frame count from the input shape and
measures the scale on a small probe input.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from tga_keras.errors import InputError, first_line

BACKENDS = ("keras", "savedmodel", "tflite", "onnx", "tensorrt")
KERAS_SUFFIXES = (".keras", ".pth", ".pt", ".h5")
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
MANIFEST = "manifest.json"


def detect_backend(path: str | os.PathLike) -> str:
    """The backend that runs ``path``, from its name (a folder: a SavedModel). ``ValueError`` if none."""
    path = os.fspath(path)
    lower = path.lower().rstrip("/")
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            return "savedmodel"
        raise InputError(f"{path}: a folder, but not a SavedModel (no saved_model.pb in it)")
    if lower.endswith(KERAS_SUFFIXES):
        return "keras"
    if lower.endswith(".tflite"):
        return "tflite"
    if lower.endswith(".onnx"):
        return "onnx"
    if lower.endswith(ENGINE_SUFFIXES):
        return "tensorrt"
    raise InputError(
        f"{path}: cannot tell the model format from the name; use .keras/.pth (Keras), "
        "a SavedModel folder, .tflite, .onnx or .engine (TensorRT)"
    )


# ------------------------------------------------------------------------------ metadata
def find_manifest_entry(path: str | os.PathLike) -> tuple[dict, dict] | None:
    """``(manifest, artifact entry)`` for ``path`` from the nearest ``manifest.json`` above it, or None."""
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path.rstrip(os.sep))
    for _ in range(4):
        candidate = os.path.join(folder, MANIFEST)
        if os.path.isfile(candidate):
            try:
                with open(candidate) as f:
                    manifest = json.load(f)
            except (OSError, ValueError):
                return None
            for entry in manifest.get("artifacts", []):
                if os.path.abspath(os.path.join(folder, entry.get("path", ""))).rstrip(os.sep) == path.rstrip(os.sep):
                    return manifest, entry
            return None
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return None


def _recorded_config(value: Any):
    """The TGAConfig an artifact records (a dict, or JSON text), or None when absent or unreadable: an
    artifact is a frozen graph, its config only describes it (e.g. a dilated config from before
    ``stem_bias``, which a ``.keras`` could not rebuild, still describes a graph that runs)."""
    from tga_keras.config import TGAConfig

    try:
        if isinstance(value, str):
            return TGAConfig.from_json(value)
        return TGAConfig.from_dict(value) if isinstance(value, dict) else None
    except (TypeError, ValueError):
        return None


def _config_from(manifest: dict | None):
    return _recorded_config(manifest.get("source", {}).get("config")) if manifest else None


class _ArtifactBackend:
    """Shared set-up: config from the manifest, else frames from the input shape and a probed scale."""

    name = "artifact"
    precision = "fp32"

    def __call__(self, x: np.ndarray) -> np.ndarray:  # each format's own
        raise NotImplementedError

    def _init_meta(
        self,
        path: str,
        frames: int | None,
        config=None,
        precision: str | None = None,
        probe_hw: tuple[int, int] = (8, 8),
    ):
        """``config`` (a TGAConfig) wins; else the manifest's; else ``frames`` and a probe run at ``probe_hw``."""
        self.path = path
        found = None if config is not None else find_manifest_entry(path)
        if config is None and found is not None:
            config = _config_from(found[0])
            precision = precision or found[1].get("precision")
        if precision:
            self.precision = precision
        self.config = config
        if config is not None:
            self.scale, self.frames, self.min_size = config.scale, config.frames, config.min_size
            return
        if frames is None:
            raise InputError(
                f"{path}: the input shape does not fix the frame count and no {MANIFEST} describes this artifact"
            )
        self.frames, self.min_size = int(frames), 3
        probe = np.zeros((1, self.frames, *probe_hw, 3), np.float32)
        out = np.asarray(self(probe))
        self.scale = int(out.shape[1] // probe_hw[0])


# ------------------------------------------------------------------------------ SavedModel
class SavedModelBackend(_ArtifactBackend):
    """A SavedModel folder (``python -m export savedmodel``), run through one of its signatures."""

    name = "savedmodel"

    def __init__(self, path: str | os.PathLike, signature: str = "serving_default", config=None):
        import tensorflow as tf

        path = os.fspath(path)
        try:
            self._loaded = tf.saved_model.load(path)  # keep a reference: the signature's variables live in it
        except Exception as e:  # noqa: BLE001 - TF raises many types for foreign folders
            raise InputError(f"{path}: not a readable SavedModel: {type(e).__name__}: {first_line(e)}") from None
        if signature not in self._loaded.signatures:
            raise InputError(f"{path}: no signature {signature!r} (has {sorted(self._loaded.signatures)})")
        self._fn = self._loaded.signatures[signature]
        ((self._input, spec),) = self._fn.structured_input_signature[1].items()
        if spec.dtype != tf.float32:
            raise InputError(
                f"{path}: signature {signature!r} takes {spec.dtype.name}; "
                "the inference core runs float32 signatures (serving_default)"
            )
        self._output = sorted(self._fn.structured_outputs)[0]
        self._init_meta(path, spec.shape[1], config=config)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        out = self._fn(**{self._input: tf.constant(np.ascontiguousarray(x, dtype=np.float32))})
        return out[self._output].numpy()


# ------------------------------------------------------------------------------ TFLite
class TFLiteBackend(_ArtifactBackend):
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
        return sorted({d["op_name"] for d in _bare_interpreter(self.path)._get_ops_details()})


def non_builtin_ops(op_names) -> list[str]:
    """The names in ``op_names`` that are not TFLite builtin operators (Flex/select-TF, custom, delegates)."""
    import re

    return [op for op in op_names if op == "DELEGATE" or not re.fullmatch(r"[A-Z0-9_]+", op)]


def _bare_interpreter(path: str | os.PathLike[str]) -> Any:
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
    it = _bare_interpreter(path)
    dtypes = {t["index"]: t["dtype"] for t in it.get_tensor_details()}
    counts: dict[str, int] = {}
    for op in it._get_ops_details():
        if op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
            continue
        if any(dtypes.get(int(i)) == np.float32 for i in op["inputs"] if int(i) >= 0):
            counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
    return dict(sorted(counts.items()))


# ------------------------------------------------------------------------------ ONNX
def onnx_session(path: str, threads: int | None = None, providers=None, profile_prefix: str | None = None):
    """An onnxruntime session (``threads`` intra-op threads, one inter-op; CPU unless ``providers``)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputError("the onnx backend needs onnxruntime: pip install onnxruntime") from None
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    try:
        return ort.InferenceSession(path, so, providers=providers or ["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise InputError(f"{path}: not a readable ONNX model: {first_line(e)}") from None


class ONNXBackend(_ArtifactBackend):
    """An ``.onnx`` model on onnxruntime: CPU, or the ``providers`` given (e.g. ``["CUDAExecutionProvider"]``
    with the onnxruntime-gpu build)."""

    name = "onnx"

    def __init__(self, path: str | os.PathLike, threads: int | None = None, providers=None):
        path = os.fspath(path)
        self._sess = onnx_session(path, threads, providers)
        inputs = self._sess.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 5:
            raise InputError(
                f"{path}: expected one 5-D input (batch, frames, H, W, 3), got {[(i.name, i.shape) for i in inputs]}"
            )
        self._input = inputs[0].name
        meta = self._sess.get_modelmeta().custom_metadata_map
        config = _recorded_config(meta.get("tga_config"))
        frames = inputs[0].shape[1] if isinstance(inputs[0].shape[1], int) else None
        self._init_meta(path, frames, config=config, precision=meta.get("tga_precision"))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._sess.run(None, {self._input: np.ascontiguousarray(x, dtype=np.float32)})[0]


# ------------------------------------------------------------------------------ TensorRT
class TensorRTBackend(_ArtifactBackend):
    """A serialized TensorRT engine (``python -m export tensorrt``) on an NVIDIA GPU.

    Needs the ``tensorrt`` and ``cuda-python`` packages (``pip install tga-keras[tensorrt]`` on a
    machine with the NVIDIA driver). Input shapes must lie inside the engine's optimization profile
    (its JSON sidecar lists it); the batch is split to the profile's maximum batch.
    """

    name = "tensorrt"
    precision = "fp16"

    def __init__(self, path: str | os.PathLike):
        path = os.fspath(path)
        from tga_keras.trt_runtime import EngineRunner  # imports tensorrt: only here

        self._runner = EngineRunner(path)
        sidecar = path + ".json"
        config = None
        if os.path.isfile(sidecar):
            with open(sidecar) as f:
                meta = json.load(f)
            config = _recorded_config(meta.get("config"))
        lo = self._runner.profile["min"]
        self._init_meta(path, self._runner.frames, config=config, probe_hw=(lo[2], lo[3]))
        self.min_size = max(self.min_size, lo[2], lo[3])  # smaller frames or tiles are outside the engine

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._runner(np.ascontiguousarray(x, dtype=np.float32))


# ------------------------------------------------------------------------------ loading
def load_backend(
    path: str | os.PathLike | None,
    backend: str = "auto",
    *,
    preset: str | None = None,
    precision: str = "float32",
    threads: int | None = None,
):
    """A backend for ``path``: the one function the command line loads every model format with.

    ``backend='auto'`` picks the format from the path (:func:`detect_backend`); ``keras`` goes
    through :func:`tga_keras.loading.load_tga` (``preset`` and ``precision`` apply to it only;
    ``path=None`` is an untrained ``preset``). Raises ``FileNotFoundError`` / ``ValueError``.
    """
    from tga_keras.inference import KerasBackend
    from tga_keras.loading import load_tga

    if backend not in ("auto",) + BACKENDS:
        raise InputError(f"unknown backend {backend!r}; one of {', '.join(BACKENDS)}")
    if path is None:
        if backend not in ("auto", "keras"):
            raise InputError(f"--backend {backend} needs an artifact path")
        return KerasBackend(load_tga(None, preset, precision=precision))
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model not found: {path}")
    kind = detect_backend(path) if backend == "auto" else backend
    if kind != "keras" and precision != "float32":
        raise InputError(
            f"--precision {precision} applies to the keras backend; an exported artifact has its own precision"
        )
    if kind == "keras":
        return KerasBackend(load_tga(path, preset, precision=precision))
    if kind == "savedmodel":
        if not os.path.isdir(path):
            raise InputError(f"{path}: a SavedModel is a folder (with saved_model.pb)")
        return SavedModelBackend(path)
    if os.path.isdir(path):
        raise InputError(f"{path}: a folder; the {kind} backend takes a file")
    if os.path.getsize(path) == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    if kind == "tflite":
        return TFLiteBackend(path, threads=threads)
    if kind == "onnx":
        return ONNXBackend(path, threads=threads)
    return TensorRTBackend(path)


__all__ = [
    "BACKENDS",
    "ONNXBackend",
    "SavedModelBackend",
    "TFLiteBackend",
    "TensorRTBackend",
    "detect_backend",
    "find_manifest_entry",
    "load_backend",
    "non_builtin_ops",
    "onnx_session",
    "tflite_float_ops",
    "tflite_precision",
]
