"""tga-keras: TGA video super-resolution (Isobe et al., CVPR 2020) in Keras 3.

``import tga_keras`` stays light (no TensorFlow import) but registers every custom object with
Keras as soon as Keras is imported, before or after this package, so plain
``keras.saving.load_model("model.keras")`` works after ``import tga_keras``.
"""
import importlib.abc as _abc
import importlib.util as _util
import os as _os
import sys as _sys

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tga_keras.config import TGAConfig  # noqa: E402

__version__ = "0.1.0"


def build_tga(config=None, return_attention=False):
    """Build a TGA ``keras.Model`` (see :func:`tga_keras.model.build_tga`)."""
    from tga_keras.model import build_tga as _build

    return _build(config, return_attention=return_attention)


def register_keras_objects() -> None:
    """Import the modules whose classes and functions are ``register_keras_serializable``."""
    import tga_keras.losses  # noqa: F401
    import tga_keras.metrics  # noqa: F401
    import tga_keras.model  # noqa: F401


class _RegisterAfterKeras(_abc.MetaPathFinder):
    """Runs :func:`register_keras_objects` right after the ``keras`` package finishes importing."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        _sys.meta_path.remove(self)  # find the real spec without this finder, once
        spec = _util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            register_keras_objects()

        spec.loader.exec_module = exec_then_register
        return spec


if "keras" in _sys.modules:
    register_keras_objects()
elif not any(isinstance(f, _RegisterAfterKeras) for f in _sys.meta_path):
    _sys.meta_path.insert(0, _RegisterAfterKeras())

__all__ = ["TGAConfig", "build_tga", "register_keras_objects", "__version__"]
