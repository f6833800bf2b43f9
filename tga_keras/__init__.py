"""tga-keras: TGA video super-resolution (Isobe et al., CVPR 2020) in Keras 3.

``import tga_keras`` stays light (no TensorFlow import) but registers every custom object with
Keras as soon as Keras is imported, before or after this package, so plain
``keras.saving.load_model("model.keras")`` works after ``import tga_keras``.
"""

import importlib.abc as _abc
import importlib.util as _util
import os as _os
import sys as _sys
import typing as _typing

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tga_keras.models.config import TGAConfig  # noqa: E402

if _typing.TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    from tga_keras.models.model import TGAModel

__version__ = "0.1.0"


def build_tga(config: "TGAConfig | None" = None, return_attention: bool = False) -> "TGAModel":
    """Build a TGA ``keras.Model`` (see :func:`tga_keras.models.model.build_tga`)."""
    from tga_keras.models.model import build_tga as _build

    return _build(config, return_attention=return_attention)


def register_keras_objects() -> None:
    """Import the modules whose classes and functions are ``register_keras_serializable``."""
    import tga_keras.evaluation.metrics  # noqa: F401
    import tga_keras.losses  # noqa: F401
    import tga_keras.models.model  # noqa: F401


def _submodule_initializing() -> bool:
    """Whether a ``tga_keras.*`` module is still executing (registering now would import it half-done)."""
    return any(
        name.startswith("tga_keras.") and getattr(getattr(m, "__spec__", None), "_initializing", False)
        for name, m in list(_sys.modules.items())
    )


class _RegisterAfterKeras(_abc.MetaPathFinder):
    """Calls :func:`register_keras_objects` once Keras is imported and no ``tga_keras`` submodule is
    half-imported: after ``keras`` finishes importing, or (when a ``tga_keras`` submodule imported
    Keras first) after that submodule finishes. Removes itself once done."""

    def find_spec(
        self, name: str, path: "Sequence[str] | None" = None, target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if name != "keras" and not name.startswith("tga_keras."):
            return None
        index = _sys.meta_path.index(self)
        _sys.meta_path.remove(self)  # find the real spec without this finder
        try:
            spec = _util.find_spec(name)
        finally:
            _sys.meta_path.insert(index, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader: _typing.Any = spec.loader  # its exec_module is wrapped on this one instance
        exec_module = loader.exec_module

        def exec_then_register(module: "ModuleType") -> None:
            exec_module(module)
            if module.__spec__ is not None:
                module.__spec__._initializing = False  # type: ignore[attr-defined]  # done, as importlib is about to note
            self.register_when_ready()

        loader.exec_module = exec_then_register
        return spec

    def register_when_ready(self) -> None:
        if "keras" not in _sys.modules or _submodule_initializing():
            return
        if self in _sys.meta_path:
            _sys.meta_path.remove(self)
        register_keras_objects()


if "keras" in _sys.modules:
    register_keras_objects()
elif not any(isinstance(f, _RegisterAfterKeras) for f in _sys.meta_path):
    _sys.meta_path.insert(0, _RegisterAfterKeras())

__all__ = ["TGAConfig", "build_tga", "register_keras_objects", "__version__"]
