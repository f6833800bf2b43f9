"""Model loading: the one place a weights path or a preset becomes a Keras TGA model.

:func:`load_tga` is what every command, the training packager and the exporters load Keras models
with (:func:`tga_keras.runtime.backends.load_backend` calls it for the ``keras`` backend). ``weights`` is:

* ``None``: an untrained network of ``preset``;
* ``.keras``: a saved Keras model, which carries its own config (``preset``, if given, must match);
* ``.pth`` / ``.pt``: an official PyTorch checkpoint (:func:`tga_keras.models.convert.from_torch`; the
  architecture is recognised from its keys; ``preset``, if given, must match);
* ``.weights.h5``: Keras weights for ``preset``;
* a shipped model's name (``tga_small_bd_x4``): its file in the checkout
  (:func:`tga_keras.models.presets.resolve_weights`);
* a handle Keras loads itself (``hf://user/repo``): passed unchanged to ``keras.saving.load_model``.

The default rule: where neither the file nor the caller names the architecture (no weights, or
``.weights.h5``), it is :data:`DEFAULT_PRESET` (``'official'``, from :mod:`tga_keras.models.presets`).
:func:`with_precision` rebuilds a float32 model for bfloat16 compute. Frames the models take are
float32 RGB in [0, 1] (:mod:`tga_keras.runtime.upscaler`).

Imports TensorFlow and Keras only when a model is built or read, not at import time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tga_keras.errors import InputError, first_line
from tga_keras.models.presets import DEFAULT_PRESET, is_handle, preset_config, resolve_weights

if TYPE_CHECKING:
    import keras

    from tga_keras.models.config import TGAConfig
    from tga_keras.models.model import TGAModel

# the dtypes a Keras model is loaded in (with_precision, load_tga); Keras policy names
MODEL_PRECISIONS = ("float32", "bfloat16")


def with_precision(model: keras.Model, precision: str = "float32") -> keras.Model:
    """``model`` itself for ``'float32'``; for ``'bfloat16'`` the same network and weights rebuilt
    under Keras' ``mixed_bfloat16`` policy (bf16 compute, float32 weights and BatchNorm).

    bfloat16 is an opt-in speed mode: on CPUs with AMX / AVX512-BF16 (Intel Sapphire Rapids and
    later) and on GPUs it is several times faster. Only the residual branch runs in bf16 (the input
    frames, the bicubic base and the final sum stay float32); outputs differ from float32 by up to
    about 1e-2 (7.2e-3 measured on real frames with the shipped model's version 1; measure yours with
    ``tga evaluate --precision`` or ``tga benchmark``). Elsewhere it can be slower than float32.
    """
    if precision not in MODEL_PRECISIONS:
        raise InputError(f"precision must be one of {MODEL_PRECISIONS}, got {precision!r}")
    if precision == "float32":
        return model
    import keras

    from tga_keras.models.model import build_tga

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        fast = build_tga(model.config, return_attention=getattr(model, "return_attention", False))
    finally:
        keras.config.set_dtype_policy(previous)
    fast.set_weights(model.get_weights())
    return fast


def load_tga(
    weights: str | os.PathLike[str] | None = None, preset: str | None = None, precision: str = "float32"
) -> TGAModel:
    """A TGA ``keras.Model``: untrained ``preset`` if ``weights`` is None, else loaded from ``weights``.

    ``precision``: ``'float32'`` (exact) or ``'bfloat16'`` (see :func:`with_precision`).

    ``.keras``: a saved Keras model (its own config; ``preset``, if given, must match).
    ``.pth``: an official PyTorch checkpoint via :func:`tga_keras.models.convert.from_torch` (the network,
    ``official`` or the dilated ``paper``, is recognised from its keys; ``preset``, if given, must
    match). ``.weights.h5``: Keras weights for ``preset`` (default official). A shipped model's name
    (``tga_small_bd_x4``) loads its file from the checkout; a handle such as ``hf://user/repo`` goes
    to ``keras.saving.load_model`` unchanged.
    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for anything that is not a TGA model.
    """
    if precision not in MODEL_PRECISIONS:
        raise InputError(f"precision must be one of {MODEL_PRECISIONS}, got {precision!r}")
    return with_precision(_load_float32(weights, preset), precision)


def _preset_or_default(config: TGAConfig | None) -> TGAConfig:
    """``config``, or the config of :data:`DEFAULT_PRESET` when the caller named no preset."""
    return config or preset_config(DEFAULT_PRESET)


def _load_float32(weights: str | os.PathLike[str] | None, preset: str | None) -> TGAModel:
    from tga_keras.models.model import build_tga

    config = preset_config(preset) if preset is not None else None
    path = resolve_weights(weights)
    if path is None:
        return build_tga(_preset_or_default(config))
    if is_handle(path):  # Keras resolves it itself (hf://, gs://)
        return _keras_model(path, config, preset)
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    if not os.path.isfile(path):
        raise InputError(f"weights must be a file, got a folder: {path}")
    if os.path.getsize(path) == 0:
        raise InputError(f"weights file is empty (0 bytes): {path}")
    lower = path.lower()
    if lower.endswith(".pth") or lower.endswith(".pt"):
        from tga_keras.models.convert import from_torch

        return from_torch(path, config)
    if lower.endswith(".weights.h5"):
        model = build_tga(_preset_or_default(config))
        try:
            model.load_weights(path)
        except Exception as e:  # h5py/keras raise many types for foreign or mismatched files
            raise InputError(
                f"{path}: cannot load these weights into the "
                f"{preset or DEFAULT_PRESET} TGA: {type(e).__name__}: {first_line(e)}"
            ) from None
        return model
    if lower.endswith(".keras"):
        import zipfile

        if not zipfile.is_zipfile(path):
            raise InputError(f"{path}: not a Keras model (a .keras file is a zip archive; this one is not)")
        return _keras_model(path, config, preset)
    raise InputError(f"{path}: unknown weights format; use .keras, .weights.h5 or an official .pth")


def _keras_model(path: str, config: TGAConfig | None, preset: str | None) -> TGAModel:
    """The TGA model ``keras.saving.load_model`` reads from ``path`` (a ``.keras`` file or a handle such
    as ``hf://user/repo``); ``InputError`` if it is not a TGA model or not ``config``."""
    import keras

    from tga_keras.models.model import TGAModel

    try:
        model = keras.saving.load_model(path, compile=False)  # inference needs no optimizer
    except Exception as e:  # zipfile/json/keras/network errors for what is not a readable Keras model
        raise InputError(f"{path}: not a readable Keras model: {type(e).__name__}: {first_line(e)}") from None
    if not isinstance(model, TGAModel):
        raise InputError(f"{path}: holds a {type(model).__name__}, not a TGA model")
    if config is not None and model.config != config:
        raise InputError(
            f"{path}: the saved model is not the {preset!r} preset "
            f"(saved config {model.config.to_json()}); drop --preset"
        )
    return model


__all__ = ["MODEL_PRECISIONS", "load_tga", "with_precision"]
