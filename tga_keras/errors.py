"""The exception that separates a user's mistake from a failure inside the program.

``InputError`` (a ``ValueError``) means the input cannot be used: bad arguments, a file that is not
what it should be, data of the wrong shape. The ``tga`` command line turns it (and its subclasses
:class:`tga_keras.data.DatasetError`, :class:`tga_keras.convert.CheckpointError` and the command
line's ``UsageError``) into a one-line message and exit code 2. Any other exception is a failure
inside the program: exit code 1, the message, and the traceback under ``--debug``.
:func:`first_line` shortens a foreign exception's message for such one-line messages.
"""

from __future__ import annotations


class InputError(ValueError):
    """The user's input (arguments, files, frames, configs) cannot be used; the message says why."""


class DatasetError(InputError):
    """Bad or inconsistent training/evaluation data; the message names the file or folder.

    Defined here (re-exported by :mod:`tga_keras.data`) so that raising it never imports TensorFlow."""


class DatasetFileNotFoundError(DatasetError, FileNotFoundError):
    """A file or folder the dataset needs does not exist (a list file, a frame, a video)."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name if it has none)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


__all__ = ["DatasetError", "DatasetFileNotFoundError", "InputError", "first_line"]
