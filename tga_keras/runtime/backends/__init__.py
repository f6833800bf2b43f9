"""Runtimes for TGA models, as backends of the inference core: one registry, one loader.

Every backend follows :class:`tga_keras.runtime.backends.base.Backend`: ``(B, F, h, w, 3)`` float32
RGB in [0, 1] (numpy) -> ``(B, s*h, s*w, 3)`` float32, with attributes ``scale``, ``frames``,
``min_size``, ``name`` and ``precision``, so ``tga upscale``, ``tga evaluate``, ``tga benchmark``
and the exporters' parity checks run every format through the same
:class:`~tga_keras.runtime.upscaler.Upscaler`.

    backend = load_backend("out/onnx/model.onnx")          # format from the path
    sr = Upscaler(backend).upscale_window(lr_window)

=============  ================================  =========================================
backend        artifact                          runtime (imported only when used)
=============  ================================  =========================================
keras          ``.keras`` / ``.pth`` / ``.h5``   Keras (``tga_keras.models.loading.load_tga``)
savedmodel     folder with ``saved_model.pb``    ``tf.saved_model.load`` (signature
                                                 ``serving_default``)
tflite         ``.tflite``                       ``ai_edge_litert`` interpreter
onnx           ``.onnx``                         onnxruntime (CPU, or CUDA where present)
openvino       ``.xml`` (IR), ``.onnx`` (named)  OpenVINO (CPU; compiled per input shape)
tensorrt       ``.engine`` / ``.plan``           TensorRT + cuda-python (NVIDIA GPU)
=============  ================================  =========================================

:data:`REGISTRY` maps each name to its :class:`BackendSpec` (what paths it takes, how it loads);
adding a runtime is one module under this package and one entry there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from tga_keras.errors import InputError
from tga_keras.runtime.backends.base import Backend, CallableBackend


@dataclass(frozen=True)
class BackendSpec:
    """One runtime: the path endings it takes (a SavedModel is a folder: ``folder=True``) and its loader
    ``load(path, threads) -> Backend`` (imports its runtime only when called)."""

    suffixes: tuple[str, ...]
    load: Callable[[str, int | None], Any]
    folder: bool = False


def _savedmodel(path: str, threads: int | None) -> Any:
    from tga_keras.runtime.backends.savedmodel import SavedModelBackend

    if not os.path.isdir(path):
        raise InputError(f"{path}: a SavedModel is a folder (with saved_model.pb)")
    return SavedModelBackend(path)


def _tflite(path: str, threads: int | None) -> Any:
    from tga_keras.runtime.backends.tflite import TFLiteBackend

    return TFLiteBackend(path, threads=threads)


def _onnx(path: str, threads: int | None) -> Any:
    from tga_keras.runtime.backends.onnx import ONNXBackend

    return ONNXBackend(path, threads=threads)


def _openvino(path: str, threads: int | None) -> Any:
    from tga_keras.runtime.backends.openvino import OpenVINOBackend

    return OpenVINOBackend(path, threads=threads)


def _tensorrt(path: str, threads: int | None) -> Any:
    from tga_keras.runtime.backends.tensorrt import TensorRTBackend

    return TensorRTBackend(path)


def _keras(path: str, threads: int | None) -> Any:  # load_backend loads Keras models itself (preset, precision)
    raise AssertionError("keras models are loaded by load_backend")


REGISTRY: dict[str, BackendSpec] = {
    "keras": BackendSpec((".keras", ".pth", ".pt", ".h5"), _keras),
    "savedmodel": BackendSpec((), _savedmodel, folder=True),
    "tflite": BackendSpec((".tflite",), _tflite),
    "onnx": BackendSpec((".onnx",), _onnx),
    "openvino": BackendSpec((".xml",), _openvino),
    "tensorrt": BackendSpec((".engine", ".plan", ".trt"), _tensorrt),
}
BACKENDS = tuple(REGISTRY)


def detect_backend(path: str | os.PathLike) -> str:
    """The backend that runs ``path``, from its name (a folder: a SavedModel). ``InputError`` if none."""
    path = os.fspath(path)
    lower = path.lower().rstrip("/")
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            return "savedmodel"
        raise InputError(f"{path}: a folder, but not a SavedModel (no saved_model.pb in it)")
    for name, spec in REGISTRY.items():
        if spec.suffixes and lower.endswith(spec.suffixes):
            return name
    raise InputError(
        f"{path}: cannot tell the model format from the name; use .keras/.pth (Keras), "
        "a SavedModel folder, .tflite, .onnx, .xml (OpenVINO IR) or .engine (TensorRT)"
    )


AUTO_ENV = "TGA_AUTO_BACKEND"  # "keras": --backend auto runs Keras models on Keras (no conversion)
# what a Keras model is run in, as the commands' --precision names it (fast: the fastest runtime within
# 45 dB of float32); exported artifacts carry their own precision (tga_keras.runtime.parity.ARTIFACT_PRECISIONS)
RUN_PRECISIONS = ("float32", "bfloat16", "fast")


def auto_pinned() -> bool:
    """Whether ``$TGA_AUTO_BACKEND=keras`` keeps ``--backend auto`` on Keras for Keras models."""
    value = os.environ.get(AUTO_ENV, "").strip().lower()
    if value not in ("", "fastest", "keras"):
        raise InputError(f"${AUTO_ENV} must be 'fastest' (the default) or 'keras', got {value!r}")
    return value == "keras"


def _check_precision(precision: str) -> None:
    if precision not in RUN_PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(RUN_PRECISIONS)}, got {precision!r}")


def _export_first(backend: str) -> InputError:
    return InputError(
        f"--backend {backend} runs an exported artifact; export the Keras model first "
        f"(python -m export {backend} MODEL OUTDIR) or use --backend auto, keras, tflite, onnx or openvino"
    )


def seed_untrained() -> None:
    """Seed Keras (Python, NumPy, TensorFlow) so that an untrained preset gets the same weights in every
    process: the same network for every worker of a job, and one runtime-cache entry, not one per run."""
    import keras

    keras.utils.set_random_seed(0)


def backend_for_model(
    model: Any, backend: str = "auto", precision: str = "float32", threads: int | None = None, progress: bool = True
) -> Any:
    """The backend that runs a float32 TGA ``keras.Model`` (``backend`` and ``precision`` as :func:`load_backend`).

    ``auto`` + ``float32``: the fastest exact runtime of this machine (:mod:`tga_keras.runtime.fastest`:
    measured once, cached; Keras where nothing is faster, or with ``$TGA_AUTO_BACKEND=keras``);
    ``fast``: the fastest within 45 dB of float32; ``tflite``/``onnx``/``openvino``: the model converted
    for that runtime (cached, checked against Keras); ``keras``: Keras itself (``bfloat16``: rebuilt for bf16).
    """
    from tga_keras.models.loading import with_precision
    from tga_keras.runtime.backends.keras import KerasBackend

    _check_precision(precision)
    if backend in ("savedmodel", "tensorrt"):
        raise _export_first(backend)
    if precision == "bfloat16":
        if backend not in ("auto", "keras"):
            raise InputError(f"--precision bfloat16 runs on the keras backend, not {backend}")
        return KerasBackend(with_precision(model, "bfloat16"))
    if backend == "keras" and precision == "float32":
        return KerasBackend(model)
    if backend == "auto" and precision == "float32" and auto_pinned():
        return KerasBackend(model)
    from tga_keras.runtime.fastest import choose_backend

    return choose_backend(
        model,
        mode="fast" if precision == "fast" else "exact",
        runtime=None if backend == "auto" else backend,
        threads=threads,
        progress=progress,
    )


def load_backend(
    path: str | os.PathLike | None,
    backend: str = "auto",
    *,
    preset: str | None = None,
    precision: str = "float32",
    threads: int | None = None,
    progress: bool = True,
) -> Any:
    """A backend for ``path``: the one function every command loads every model format with.

    An exported artifact runs on its runtime (``backend='auto'`` picks it from the path,
    :func:`detect_backend`). A Keras model (``.keras``, ``.pth``, ``.h5``; ``path=None`` is an
    untrained ``preset``) goes through :func:`tga_keras.models.loading.load_tga` and
    :func:`backend_for_model`: with ``auto`` it runs on the fastest exact runtime of this machine
    (``precision='fast'``: the fastest within 45 dB; ``bfloat16``: Keras bf16), with ``tflite``,
    ``onnx`` or ``openvino`` converted for that runtime, with ``keras`` as it is; an ``.onnx`` file with
    ``backend='openvino'`` runs on OpenVINO. ``path`` may also name a shipped model
    (``tga_small_bd_x4``: its file in the checkout) or be a handle Keras loads itself
    (``hf://user/repo``; see :func:`tga_keras.models.presets.resolve_weights`). ``progress``: a bar
    while a runtime is chosen the first time. Raises ``FileNotFoundError`` / ``InputError``.
    """
    from tga_keras.models.loading import load_tga
    from tga_keras.models.presets import is_handle, resolve_weights

    if backend not in ("auto",) + BACKENDS:
        raise InputError(f"unknown backend {backend!r}; one of {', '.join(BACKENDS)}")
    _check_precision(precision)
    if path is None or is_handle(resolve_weights(path)):
        if backend in ("savedmodel", "tensorrt"):  # before loading: a Keras model is not an artifact
            raise InputError(f"--backend {backend} needs an artifact path") if path is None else _export_first(backend)
        if path is None:
            seed_untrained()
        model = load_tga(None if path is None else resolve_weights(path), preset)
        return backend_for_model(model, backend, precision, threads, progress)
    path = resolve_weights(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model not found: {path}")
    if not os.path.isdir(path) and path.lower().endswith(REGISTRY["keras"].suffixes):
        if backend in ("savedmodel", "tensorrt"):
            raise _export_first(backend)
        return backend_for_model(load_tga(path, preset), backend, precision, threads, progress)
    if backend == "keras":
        raise InputError(f"{path}: an exported artifact; --backend keras runs Keras models (.keras, .pth, .h5)")
    kind = detect_backend(path) if backend == "auto" else backend
    if precision != "float32":
        raise InputError(f"--precision {precision} applies to Keras models; an exported artifact has its own precision")
    spec = REGISTRY[kind]
    if not spec.folder:
        if os.path.isdir(path):
            raise InputError(f"{path}: a folder; the {kind} backend takes a file")
        if os.path.getsize(path) == 0:
            raise InputError(f"{path}: empty file (0 bytes)")
    return spec.load(path, threads)


def as_backend(
    model_or_backend: Any, scale: int | None = None, frames: int | None = None, min_size: int | None = None
) -> Backend:
    """A :class:`Backend` from a Keras model, a ``.keras`` path, a backend, or a plain callable (+ ``scale``)."""
    obj = model_or_backend
    if isinstance(obj, (str, os.PathLike)):
        from tga_keras.models.loading import load_tga

        obj = load_tga(obj)
    try:
        import keras

        if isinstance(obj, keras.Model):
            from tga_keras.runtime.backends.keras import KerasBackend

            return KerasBackend(obj)
    except ImportError:  # pragma: no cover - keras is a dependency
        pass
    if all(hasattr(obj, a) for a in ("scale", "frames", "min_size")) and callable(obj):
        return obj
    if callable(obj):
        if scale is None:
            raise InputError("a plain callable backend needs scale= (and frames= if not 7)")
        return CallableBackend(obj, scale, 7 if frames is None else frames, 3 if min_size is None else min_size)
    raise InputError(f"cannot run {type(obj).__name__}: expected a Keras model, a .keras path or a callable")


__all__ = [
    "AUTO_ENV",
    "BACKENDS",
    "RUN_PRECISIONS",
    "REGISTRY",
    "Backend",
    "BackendSpec",
    "CallableBackend",
    "as_backend",
    "auto_pinned",
    "backend_for_model",
    "seed_untrained",
    "detect_backend",
    "load_backend",
]
