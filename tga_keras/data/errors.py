"""Exceptions raised by the data sources and pipelines (each names the offending file)."""

from __future__ import annotations

from tga_keras.errors import InputError


class DatasetError(InputError):
    """Bad or inconsistent training/evaluation data; the message names the file or folder."""


class DatasetFileNotFoundError(DatasetError, FileNotFoundError):
    """A file or folder the dataset needs does not exist (a list file, a frame, a video)."""
