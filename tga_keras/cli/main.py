"""The ``tga`` command line: ``tga <command> --help`` explains each command.

Exit codes: 0 success; 2 a user's mistake (bad arguments, a missing, unreadable or unusable input,
an existing output: :class:`tga_keras.errors.InputError` and the file errors); 1 a failure inside
the program (any other exception, or an operating-system error such as a full disk while writing);
130 interrupted (Ctrl-C). Every error is one line on stderr; ``--debug`` (anywhere on the command
line) adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import traceback
from typing import Callable, Sequence

from tga_keras.errors import ArtifactError, InputError, RuntimeUnusableError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# each command is the module tga_keras.cli.<command> with `add_parser(subparsers)` and `run(args) -> int`
COMMANDS = ("demo", "upscale", "batch", "convert", "evaluate", "benchmark", "info")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tga",
        description="TGA video super-resolution (Isobe et al., CVPR 2020) in Keras 3.",
        epilog="Run `tga <command> --help` for the options of a command. Exit codes: 0 done, 2 a mistake in the "
        "arguments or the input, 1 a failure inside the program (add --debug for its traceback), 130 interrupted.",
    )
    from tga_keras import __version__

    p.add_argument("--version", action="version", version=f"tga-keras {__version__}")
    p.add_argument("--debug", action="store_true", help="print the traceback of any error (also after the command)")
    p.add_argument(
        "--verbose",
        action="store_true",
        help="say more: which runtime runs a Keras model and why, even when the choice is read from the cache "
        "(also after the command)",
    )
    sub = p.add_subparsers(dest="command", metavar="<command>")
    for command in COMMANDS:
        mod = importlib.import_module(f"tga_keras.cli.{command}")
        sp = mod.add_parser(sub)
        sp.set_defaults(_run=mod.run)
    return p


def quiet_tensorflow_import() -> None:
    """Import TensorFlow with C++ start-up chatter (oneDNN/absl INFO lines) kept off stderr."""
    if "tensorflow" in sys.modules or os.environ.get("TGA_VERBOSE_TF"):
        return
    from tga_keras.runtime.machine import native_stderr_silenced

    with native_stderr_silenced():
        import tensorflow  # noqa: F401


# A user's input error raised inside tf.data (a numpy_function or generator) reaches us wrapped in a
# TensorFlow error whose message holds the original "DatasetError: ..." line.
_WRAPPED_INPUT_ERROR = re.compile(r"\b(?:DatasetError|DatasetFileNotFoundError|InputError|CheckpointError): (.+)")
_FILE_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)


def _wrapped_input_error(e: BaseException) -> str | None:
    """The message of a user's input error that TensorFlow wrapped (tf.data), or None."""
    if not type(e).__module__.startswith("tensorflow"):
        return None
    m = _WRAPPED_INPUT_ERROR.search(str(e))
    return m.group(1).strip() if m else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    verbose = "--verbose" in argv
    argv = [a for a in argv if a not in ("--debug", "--verbose")]
    show_library_notes(verbose)
    # top-level help needs no TensorFlow, nor a `tga batch --ray` driver (the cluster's workers run the model)
    if argv and argv[0] not in ("-h", "--help", "--version") and not (argv[0] == "batch" and "--ray" in argv):
        quiet_tensorflow_import()
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return run_command(f"tga {args.command}", lambda: args._run(args), debug)


def show_library_notes(verbose: bool = False) -> None:
    """Print the library's notes (the ``tga_keras`` logger: warnings, and with ``verbose`` the info lines
    such as which runtime runs) on stderr as plain lines."""
    import logging

    class Stderr(logging.Handler):  # sys.stderr as it is when a line is written (tests swap it)
        def emit(self, record: logging.LogRecord) -> None:
            print(record.getMessage(), file=sys.stderr, flush=True)

    logger = logging.getLogger("tga_keras")
    if not any(type(h).__name__ == "Stderr" for h in logger.handlers):
        logger.addHandler(Stderr())
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


def run_command(
    name: str,
    run: Callable[[], int | None],
    debug: bool = False,
    interrupted: Callable[[], str] | None = None,
) -> int:
    """``run()`` under the exit-code contract of every entry point (module docstring): its exit code, or
    one line ``<name>: error: ...`` on stderr and 2 (a user's mistake), 1 (a failure inside the program)
    or 130 (Ctrl-C: the line ``interrupted()`` returns, by default ``<name>: interrupted``); ``debug``
    adds the traceback. ``tga``, ``python -m export``, ``python -m training.run``, ``python -m
    training.recipe`` and ``python -m training.tools`` end here (:mod:`tga_keras.errors`)."""
    try:
        return int(run() or 0)
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(interrupted() if interrupted is not None else f"{name}: interrupted", file=sys.stderr)
        return 130
    except (InputError, *_FILE_ERRORS) as e:
        _report(name, f"error: {e}", debug)
        return 2
    except ArtifactError as e:  # a file the program made failed its check (removed): the figures say why
        _report(name, f"FAILED, artifact removed: {e}", debug)
        return 1
    except (OSError, RuntimeUnusableError) as e:  # the system failed us: a full disk, a runtime that cannot run
        _report(name, f"error: {e}", debug)
        return 1
    except Exception as e:  # noqa: BLE001 - every other failure: one line, exit 1
        wrapped = _wrapped_input_error(e)
        if wrapped is not None:
            _report(name, f"error: {wrapped}", debug)
            return 2
        text = str(e).strip().splitlines()
        _report(name, f"internal error: {type(e).__name__}: {text[0] if text else ''}", debug, internal=True)
        return 1


def _report(name: str, message: str, debug: bool, internal: bool = False) -> None:
    if debug:
        traceback.print_exc()
    print(f"{name}: {message}", file=sys.stderr)
    if internal and not debug:
        print(
            f"{name}: this is a bug or an unsupported case; run again with --debug for the traceback", file=sys.stderr
        )


if __name__ == "__main__":
    sys.exit(main())
