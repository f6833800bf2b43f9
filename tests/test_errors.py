"""The error hierarchy (tga_keras.errors) and the exit-code contract every entry point runs under
(tga_keras.cli.main.run_command): 2 a user's mistake, 1 a failure, 130 Ctrl-C; one line, --debug the traceback."""

from __future__ import annotations

import pytest

from tga_keras.cli.main import run_command
from tga_keras.errors import (
    ArtifactError,
    InputError,
    ParityError,
    RuntimeUnusableError,
    ToolMissingError,
    UsageError,
)


def _raise(e: BaseException):
    def run():
        raise e

    return run


@pytest.mark.parametrize(
    "error, code, line",
    [
        (UsageError("--size must be positive"), 2, "prog: error: --size must be positive"),
        (ToolMissingError("TensorRT is not installed"), 2, "prog: error: TensorRT is not installed"),
        (FileExistsError("out.mp4 exists"), 2, "prog: error: out.mp4 exists"),
        (RuntimeUnusableError("onnx cannot run here"), 1, "prog: error: onnx cannot run here"),
        (ParityError("parity with Keras: FAILS"), 1, "prog: FAILED, artifact removed: parity with Keras: FAILS"),
        (ArtifactError("foreign ops"), 1, "prog: FAILED, artifact removed: foreign ops"),
    ],
    ids=["usage", "tool-missing", "file-exists", "runtime-unusable", "parity", "artifact"],
)
def test_one_line_and_the_exit_code(capsys, error, code, line):
    assert run_command("prog", _raise(error)) == code
    assert capsys.readouterr().err == line + "\n"
    assert run_command("prog", _raise(error), debug=True) == code
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1] == line


def test_internal_failure_gives_the_hint(capsys):
    assert run_command("prog", _raise(KeyError("x"))) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == "prog: internal error: KeyError: 'x'" and "--debug" in lines[1]


def test_ctrl_c_says_what_the_entry_point_says(capsys):
    assert run_command("prog", _raise(KeyboardInterrupt())) == 130
    assert capsys.readouterr().err == "prog: interrupted\n"
    assert run_command("prog", _raise(KeyboardInterrupt()), interrupted=lambda: "prog: stopped; state kept") == 130
    assert capsys.readouterr().err == "prog: stopped; state kept\n"


def test_hierarchy():
    assert issubclass(ToolMissingError, UsageError) and issubclass(UsageError, InputError)
    assert issubclass(InputError, ValueError)
    assert issubclass(ParityError, ArtifactError) and issubclass(ArtifactError, RuntimeError)
    assert not issubclass(ArtifactError, InputError)
