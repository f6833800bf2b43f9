"""Exceptions raised by the data sources and pipelines (each names the offending file).

They live in :mod:`tga_keras.errors` (importing that never loads TensorFlow) and are re-exported here.
"""

from __future__ import annotations

from tga_keras.errors import DatasetError, DatasetFileNotFoundError

__all__ = ["DatasetError", "DatasetFileNotFoundError"]
