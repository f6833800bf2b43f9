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
        "a SavedModel folder, .tflite, .onnx or .engine (TensorRT)"
    )


def load_backend(
    path: str | os.PathLike | None,
    backend: str = "auto",
    *,
    preset: str | None = None,
    precision: str = "float32",
    threads: int | None = None,
) -> Any:
    """A backend for ``path``: the one function every command loads every model format with.

    ``backend='auto'`` picks the format from the path (:func:`detect_backend`); ``keras`` goes
    through :func:`tga_keras.models.loading.load_tga` (``preset`` and ``precision`` apply to it only;
    ``path=None`` is an untrained ``preset``). ``path`` may also name a shipped model
    (``tga_small_bd_x4``: its file in the checkout) or be a handle Keras loads itself
    (``hf://user/repo``, keras backend only; see :func:`tga_keras.models.presets.resolve_weights`).
    Raises ``FileNotFoundError`` / ``InputError``.
    """
    from tga_keras.models.loading import load_tga
    from tga_keras.models.presets import is_handle, resolve_weights
    from tga_keras.runtime.backends.keras import KerasBackend

    if backend not in ("auto",) + BACKENDS:
        raise InputError(f"unknown backend {backend!r}; one of {', '.join(BACKENDS)}")
    if path is None:
        if backend not in ("auto", "keras"):
            raise InputError(f"--backend {backend} needs an artifact path")
        return KerasBackend(load_tga(None, preset, precision=precision))
    path = resolve_weights(path)
    if is_handle(path):
        if backend not in ("auto", "keras"):
            raise InputError(f"{path}: a handle Keras loads (hf://...) runs on the keras backend, not {backend}")
        return KerasBackend(load_tga(path, preset, precision=precision))
    if not os.path.exists(path):
        raise FileNotFoundError(f"model not found: {path}")
    kind = detect_backend(path) if backend == "auto" else backend
    if kind != "keras" and precision != "float32":
        raise InputError(
            f"--precision {precision} applies to the keras backend; an exported artifact has its own precision"
        )
    if kind == "keras":
        return KerasBackend(load_tga(path, preset, precision=precision))
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
    "BACKENDS",
    "REGISTRY",
    "Backend",
    "BackendSpec",
    "CallableBackend",
    "as_backend",
    "detect_backend",
    "load_backend",
]
