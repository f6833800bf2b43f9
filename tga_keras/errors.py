"""One hierarchy of errors: what separates a user's mistake from a failure inside the program.

::

    InputError (ValueError)      the input cannot be used: exit code 2, one line
    ├── UsageError               a mistake in how a command was called (arguments, an existing output)
    │   └── ToolMissingError     a format asked for needs a toolchain or hardware missing here (TensorRT, a GPU)
    ├── DatasetError             bad or inconsistent training/evaluation data (names the file or folder)
    │   └── DatasetFileNotFoundError   a file or folder the data needs does not exist
    └── CheckpointError          an official PyTorch checkpoint that does not fit the network
    RuntimeUnusableError (RuntimeError)  a runtime asked for cannot run the model here: exit code 1, one line
    ArtifactError (RuntimeError)         a file the program made failed its check and was removed: exit code 1,
    └── ParityError                      one line ``<program>: FAILED, artifact removed: ...``; ParityError: its
                                         output is off the Keras model's by more than the bound

Every entry point (``tga``, ``python -m export``, ``python -m training.run``, ``python -m training.recipe``
and ``python -m training.tools``) runs under :func:`tga_keras.cli.main.run_command`: an ``InputError``
(and the file errors: not found, exists, permission) is ``<program>: error: <message>`` and exit code 2;
``RuntimeUnusableError`` and operating-system errors are one line and exit code 1, ``ArtifactError``
too; any other exception is a failure inside the program: exit code 1, the message and a hint to
rerun with ``--debug``, which adds the traceback (of every error); Ctrl-C is exit code 130. Entry
points that validate with plain ``ValueError`` (the training configs and recipes) turn it
into a ``UsageError`` at their edge. :func:`first_line` shortens a foreign exception's message for
such one-line messages.

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


class ToolMissingError(UsageError):
    """A format asked for needs a toolchain or hardware that is missing here (``python -m export tensorrt``
    without TensorRT or a GPU): exit code 2 with the reason."""


class RuntimeUnusableError(RuntimeError):
    """A runtime that was asked for (``--backend onnx`` on a Keras model) fails to build, load or agree
    with Keras here: not the user's mistake, not a bug to report either (exit code 1, one line)."""


class ArtifactError(RuntimeError):
    """A file the program made (an exported model) failed its check and was removed: exit code 1, one line
    ``<program>: FAILED, artifact removed: <message>`` (the message gives the figures or the reason)."""


class ParityError(ArtifactError):
    """An artifact's output is off the Keras model's by more than its precision's bound."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name if it has none)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


__all__ = [
    "ArtifactError",
    "CheckpointError",
    "DatasetError",
    "DatasetFileNotFoundError",
    "InputError",
    "ParityError",
    "RuntimeUnusableError",
    "ToolMissingError",
    "UsageError",
    "first_line",
]
