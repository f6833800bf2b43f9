"""One hierarchy of errors: what separates a user's mistake from a failure inside the program.

::

    InputError (ValueError)      the input cannot be used: exit code 2, one line
    ├── UsageError               a mistake in how a command was called (arguments, an existing output)
    ├── DatasetError             bad or inconsistent training/evaluation data (names the file or folder)
    │   └── DatasetFileNotFoundError   a file or folder the data needs does not exist
    └── CheckpointError          an official PyTorch checkpoint that does not fit the network
    RuntimeUnusableError (RuntimeError)  a runtime asked for cannot run the model here: exit code 1

Every entry point turns an ``InputError`` (and the file errors: not found, exists, permission) into
``<program>: error: <message>`` and exit code 2: ``tga`` and ``python -m training.tools`` through
:func:`tga_keras.cli.main.run_command`; ``python -m export`` (its own ``export.job`` errors),
``python -m training.run`` and ``python -m training.recipe`` with handlers of their own. Any other
exception is a failure inside the program: exit code 1, the message, and the traceback under
``--debug``. :func:`first_line` shortens a foreign exception's message for such one-line messages.

Importing this module never loads TensorFlow.
"""

from __future__ import annotations


class InputError(ValueError):
    """The user's input (arguments, files, frames, configs) cannot be used; the message says why."""


class UsageError(InputError):
    """A mistake in how the command was called (exit code 2)."""


class DatasetError(InputError):
    """Bad or inconsistent training/evaluation data; the message names the file or folder."""


class DatasetFileNotFoundError(DatasetError, FileNotFoundError):
    """A file or folder the dataset needs does not exist (a list file, a frame, a video)."""


class CheckpointError(InputError):
    """A PyTorch checkpoint that does not fit the TGA network; the message lists the keys at fault."""


class RuntimeUnusableError(RuntimeError):
    """A runtime that was asked for (``--backend onnx`` on a Keras model) fails to build, load or agree
    with Keras here: not the user's mistake, not a bug to report either (exit code 1, one line)."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name if it has none)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


__all__ = [
    "CheckpointError",
    "DatasetError",
    "DatasetFileNotFoundError",
    "InputError",
    "UsageError",
    "first_line",
]
