"""tga-keras: TGA video super-resolution (Isobe et al., CVPR 2020) in Keras 3."""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tga_keras.config import TGAConfig  # noqa: E402

__version__ = "0.1.0"


def build_tga(config=None, return_attention=False):
    """Build a TGA ``keras.Model`` (see :func:`tga_keras.model.build_tga`)."""
    from tga_keras.model import build_tga as _build

    return _build(config, return_attention=return_attention)


__all__ = ["TGAConfig", "build_tga", "__version__"]
