"""The presets table: every named TGA architecture, and the trained model the checkout ships.

:data:`TABLE` is the one place a preset is defined. Each :class:`Preset` has its name, a one-line
description, a config factory (:meth:`Preset.config`) and, for the shipped model, its
:class:`ShippedWeights` (the file, relative to the checkout, and its sha256). Everything that lists or
defaults a preset reads it: :data:`PRESETS` (the ``--preset`` choices), :data:`DEFAULT_PRESET`
(the architecture when nothing names one), :data:`TRAINING_PRESET` (the model of a training run
that names none). Parameter counts are computed (:func:`parameter_count`), never typed.

``--weights NAME`` (:func:`resolve_weights`) takes a shipped model by name (``tga_small_bd_x4``, or
the name of its preset, ``small``): it lives in ``saved_models/`` of the git checkout (the parent
folder of the ``tga_keras`` package), not in the pip package. A handle Keras loads itself
(``hf://user/repo``, ``gs://...``) is passed through unchanged to ``keras.saving.load_model``.

Importing this module never loads TensorFlow (and does not import :mod:`tga_keras.models.config`
either, which imports this table).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, overload

from tga_keras.errors import InputError

if TYPE_CHECKING:
    from tga_keras.models.config import TGAConfig

CHECKOUT = Path(__file__).resolve().parents[2]
"""The project's checkout: the folder above the ``tga_keras`` package (in a pip install, site-packages)."""

SHIPPED_HINT = (
    "the shipped models are in saved_models/ of the project's git checkout, not in the pip package: "
    "run from the checkout or give the model's full path"
)


def _tga(**fields: Any) -> TGAConfig:
    """A :class:`TGAConfig` with ``fields`` changed from its defaults (the ``official`` network)."""
    from tga_keras.models.config import TGAConfig

    return TGAConfig(**fields)


@dataclasses.dataclass(frozen=True)
class ShippedWeights:
    """A trained model of the checkout: ``name`` (what ``--weights`` takes), ``path`` (posix, relative to
    :data:`CHECKOUT`) and the ``sha256`` of that file (``tests/models/test_presets.py`` checks it)."""

    name: str
    path: str
    sha256: str

    @property
    def location(self) -> Path:
        """Where the file lives: ``path`` under the checkout."""
        return CHECKOUT / self.path

    def file_sha256(self) -> str:
        """The sha256 of the file at :attr:`location` (``FileNotFoundError`` if it is missing)."""
        h = hashlib.sha256()
        with open(self.location, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class Preset:
    """One named architecture: ``factory()`` builds its :class:`TGAConfig`; ``weights``: its shipped
    trained model, if the checkout has one."""

    name: str
    description: str
    factory: Callable[[], TGAConfig]
    weights: ShippedWeights | None = None

    def config(self) -> TGAConfig:
        return self.factory()


TABLE: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "official",
            'the released "TGA-without-align-dla" network (code/arch.py of the official repository)',
            _tga,
        ),
        Preset(
            "paper",
            "the dilated TGA published first with the TGA.pth checkpoint (TGA/arch.py, commit 4c5c102): "
            "per-group dilation, no stem biases",
            functools.partial(_tga, dilation=True, stem_bias=False),
        ),
        Preset(
            "paper_full",
            "the paper's full model: the paper network (same weights) with the fast spatial alignment before it",
            functools.partial(_tga, dilation=True, stem_bias=False, align=True),
        ),
        Preset(
            "small",
            "a narrow, shallow variant that trains on a 2-core CPU in hours (the shipped tga_small_bd_x4)",
            functools.partial(
                _tga,
                nf=32,
                ng=16,
                intra_units=(3, 3),
                fusion3d_units=(1, 1),
                inter_units=(3, 3),
                reconstruction_width=64,
                upsample_width=32,
            ),
            ShippedWeights(
                "tga_small_bd_x4",
                "saved_models/tga_small_bd_x4/model.keras",
                "a00571d18c5440ed983ab40d7b79828c573d7a36e7fb551770b9d0fe615e1375",
            ),
        ),
    )
}

PRESETS: tuple[str, ...] = tuple(TABLE)
"""The preset names, in table order (the ``--preset`` choices)."""

DEFAULT_PRESET = "official"
"""The architecture when neither the weights file nor the caller names one (no ``--weights``, ``.weights.h5``)."""

TRAINING_PRESET = "small"
"""The model of a training run whose config has no ``model`` (``TrainConfig.model``)."""


def get_preset(name: str) -> Preset:
    """The table entry ``name``; ``InputError`` listing the names for any other."""
    try:
        return TABLE[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown preset {name!r}; choose one of {', '.join(sorted(TABLE))}") from None


def preset_config(name: str) -> TGAConfig:
    """The :class:`TGAConfig` of preset ``name`` (``InputError`` for an unknown name)."""
    return get_preset(name).config()


@functools.lru_cache(maxsize=None)
def parameter_count(name: str) -> int:
    """Trainable parameters of preset ``name``, counted on the built Keras model (imports TensorFlow)."""
    from tga_keras.models.model import build_tga

    model = build_tga(preset_config(name))
    return sum(int(w.numpy().size) for w in model.trainable_weights)


def shipped_models() -> dict[str, ShippedWeights]:
    """The shipped models by name: each one's own name and the name of its preset."""
    names: dict[str, ShippedWeights] = {}
    for p in TABLE.values():
        if p.weights is not None:
            names[p.weights.name] = p.weights
            names[p.name] = p.weights
    return names


_HANDLE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_handle(value: str | os.PathLike[str]) -> bool:
    """Whether ``value`` is a handle Keras loads itself (``hf://user/repo``, ``gs://bucket/m.keras``)."""
    return bool(_HANDLE.match(os.fspath(value)))


def looks_like_name(value: str | os.PathLike[str]) -> bool:
    """Whether ``value`` reads as a bare model name rather than a path: no folder, no extension."""
    text = os.fspath(value)
    return bool(text) and not any(sep in text for sep in ("/", "\\", os.sep)) and "." not in text


def known_names_text() -> str:
    """The shipped model names, for error messages: ``'tga_small_bd_x4 (small preset)'``."""
    return ", ".join(
        f"{p.weights.name} (the {p.name} preset, {p.weights.path})" for p in TABLE.values() if p.weights is not None
    )


def shipped_location(value: str | os.PathLike[str]) -> Path | None:
    """Where the shipped model named ``value`` lives (whether or not the file is there), or None when
    ``value`` is an existing path, a handle or no shipped model's name."""
    text = os.fspath(value)
    if os.path.exists(text) or is_handle(text):
        return None
    shipped = shipped_models().get(text)
    return None if shipped is None else shipped.location


@overload
def resolve_weights(value: None) -> None: ...


@overload
def resolve_weights(value: str | os.PathLike[str]) -> str: ...


def resolve_weights(value: str | os.PathLike[str] | None) -> str | None:
    """What ``--weights`` names, as a path or a handle for the loaders.

    ``None``, an existing file or folder, a Keras handle (:func:`is_handle`) and any path (something
    with a folder or an extension: a missing one is the caller's ``FileNotFoundError``) come back
    unchanged (as ``str``). A shipped model's name (:func:`shipped_models`) becomes its file under the
    checkout; ``InputError`` saying where it lives if that file is missing. Any other bare name:
    ``InputError`` listing the known names.
    """
    if value is None:
        return None
    text = os.fspath(value)
    location = shipped_location(text)
    if location is not None:
        if not location.is_file():
            raise InputError(f"the shipped model {text!r} is not here: {location} is missing ({SHIPPED_HINT})")
        return str(location)
    if looks_like_name(text) and not os.path.exists(text):
        raise InputError(
            f"{text!r} is neither a file nor a shipped model's name; known names: {known_names_text()}; "
            "or give a model's path, or a handle Keras loads (hf://user/repo)"
        )
    return text


__all__ = [
    "CHECKOUT",
    "DEFAULT_PRESET",
    "PRESETS",
    "TABLE",
    "TRAINING_PRESET",
    "Preset",
    "ShippedWeights",
    "get_preset",
    "is_handle",
    "parameter_count",
    "preset_config",
    "resolve_weights",
    "shipped_models",
]
