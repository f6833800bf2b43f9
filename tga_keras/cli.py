"""The ``tga`` command line: ``tga <command> --help`` explains each command.

Exit codes: 0 success, 1 failure while working (e.g. a corrupt input), 2 usage error (bad
arguments, missing or unreadable input files). User mistakes never print a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from tga_keras.errors import InputError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# command name -> module in tga_keras.commands with `add_parser(subparsers)` and `run(args) -> int`
COMMANDS = {
    "demo": "demo",
    "upscale": "upscale",
    "convert": "convert",
    "evaluate": "evaluate",
    "benchmark": "benchmark",
    "info": "info",
}


class UsageError(InputError):
    """A mistake in how the command was called (exit code 2)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tga",
        description="TGA video super-resolution (Isobe et al., CVPR 2020) in Keras 3.",
        epilog="Run `tga <command> --help` for the options of a command.",
    )
    from tga_keras import __version__

    p.add_argument("--version", action="version", version=f"tga-keras {__version__}")
    sub = p.add_subparsers(dest="command", metavar="<command>")
    for module in COMMANDS.values():
        try:
            mod = importlib.import_module(f"tga_keras.commands.{module}")
        except ModuleNotFoundError as e:  # a command still being written: skip it
            if e.name != f"tga_keras.commands.{module}":
                raise
            continue
        sp = mod.add_parser(sub)
        sp.set_defaults(_run=mod.run)
    return p


def _quiet_tensorflow_import() -> None:
    """Import TensorFlow with C++ start-up chatter (oneDNN/absl INFO lines) kept off stderr."""
    if "tensorflow" in sys.modules or os.environ.get("TGA_VERBOSE_TF"):
        return
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr descriptor: nothing to silence
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] not in ("-h", "--help", "--version"):  # top-level help needs no TensorFlow
        _quiet_tensorflow_import()
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except UsageError as e:
        print(f"tga {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, IsADirectoryError, PermissionError) as e:
        print(f"tga {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"tga {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"tga {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
