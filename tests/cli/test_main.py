"""The exit-code contract of every `tga` command: 0 done, 2 a user's mistake, 1 a failure inside the
program (one line; the traceback only with --debug), 130 interrupted; nothing half-written."""

from __future__ import annotations

import errno
import os

import cv2
import numpy as np
import pytest

from tests.helpers.paths import REPO
from tga_keras.cli.main import main
from tga_keras.data.fakes import random_frames, write_video

CLIP = os.path.join(str(REPO), "tga_keras", "assets", "carphone_pristine.mp4")


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "in.avi"
    write_video(str(path), random_frames(8, 24, 28, seed=0))
    return str(path)


def _run(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def _boom(*args, **kwargs):
    raise RuntimeError("boom")


# ----------------------------------------------------------------------------- 2: the user's mistake
@pytest.mark.parametrize(
    "argv,message",
    [
        (["upscale", "missing.mp4", "out.mp4"], "input not found"),
        (["upscale", CLIP, "out.xyz"], "out.xyz"),
        (["evaluate", "missing_folder"], "missing_folder"),
        (["evaluate", CLIP, "--max-frames", "0"], "--max-frames"),
        (["benchmark", "--size", "12by3"], "--size"),
        (["demo", "--frames", "0"], "--frames"),
        (["convert", "missing.pth", "out.keras"], "no such file"),
        (["convert", "x.pth", "out.h5"], ".keras"),
    ],
)
def test_user_mistakes_exit_2_without_traceback(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)  # anything written by mistake lands here
    code, err = _run(capsys, *argv)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert err.startswith(f"tga {argv[0]}: error: ")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_is_a_user_mistake(capsys, tmp_path, small_clip):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"keep me")
    code, err = _run(capsys, "upscale", small_clip, str(out), "--preset", "small", "--no-progress")
    assert code == 2 and "exists" in err
    assert out.read_bytes() == b"keep me"


def test_an_output_folder_that_cannot_exist_is_a_user_mistake(capsys, tmp_path, small_clip):
    (tmp_path / "file").write_text("a file, not a folder")
    code, err = _run(capsys, "upscale", small_clip, str(tmp_path / "file" / "out.mp4"), "--preset", "small")
    assert code == 2 and "Traceback" not in err


def test_a_frame_that_fails_to_decode_midway_in_evaluate(capsys, tmp_path):
    """The damaged frame is found inside tf.data; the user still gets one line and exit 2."""
    seq = tmp_path / "clips" / "seq"
    seq.mkdir(parents=True)
    for i, frame in enumerate(random_frames(10, 32, 40, seed=1)):
        cv2.imwrite(str(seq / f"{i:05d}.png"), frame[..., ::-1])
    data = bytearray((seq / "00006.png").read_bytes())
    data[200:-20] = bytes([7]) * len(data[200:-20])  # valid header (size checks pass), damaged pixels
    (seq / "00006.png").write_bytes(bytes(data))
    code, err = _run(capsys, "evaluate", str(tmp_path / "clips"), "--preset", "small", "--no-progress")
    assert code == 2, err
    assert "cannot decode image" in err and "00006.png" in err and "Traceback" not in err
    code, err = _run(capsys, "evaluate", str(tmp_path / "clips"), "--preset", "small", "--no-progress", "--debug")
    assert code == 2 and "Traceback" in err


# ----------------------------------------------------------------------------- 1: a failure inside the program
@pytest.mark.parametrize(
    "argv,target",
    [
        (
            ["upscale", "{clip}", "{out}/o.mp4", "--preset", "small", "--no-progress"],
            "tga_keras.runtime.upscaler.Upscaler._call",
        ),
        (["evaluate", "{clip}", "--preset", "small", "--no-progress"], "tga_keras.runtime.upscaler.Upscaler._call"),
        (
            ["demo", "--preset", "small", "--frames", "7", "--output", "{out}/demo", "--no-progress"],
            "tga_keras.runtime.upscaler.Upscaler._call",
        ),
        (
            ["benchmark", "--preset", "small", "--size", "12x12", "--runs", "1"],
            "tga_keras.runtime.upscaler.Upscaler._call",
        ),
        (["info"], "tga_keras.models.model.build_tga"),
        (["convert", "{pth}", "{out}/c.keras"], "tga_keras.models.convert.from_torch"),
    ],
)
def test_internal_failures_exit_1_with_one_line_and_a_traceback_only_under_debug(
    capsys, tmp_path, monkeypatch, small_clip, fixtures_dir, argv, target
):
    module, _, attr = target.rpartition(".")
    if module.endswith("Upscaler"):
        from tga_keras.runtime.upscaler import Upscaler

        monkeypatch.setattr(Upscaler, attr, _boom)
    else:
        monkeypatch.setattr(module + "." + attr, _boom)
    fill = {"clip": small_clip, "out": str(tmp_path), "pth": str(fixtures_dir / "official_tga_random_seed0.pth")}
    argv = [a.format(**fill) for a in argv]
    code, err = _run(capsys, *argv)
    assert code == 1, err
    assert f"tga {argv[0]}: internal error: RuntimeError: boom" in err
    assert "--debug" in err and "Traceback" not in err
    code, err = _run(capsys, *argv, "--debug")
    assert code == 1 and "Traceback" in err and "RuntimeError: boom" in err
    assert not any(p.name.startswith(".") or p.suffix == ".tmp" for p in tmp_path.rglob("*"))  # nothing half-written


def test_disk_full_while_writing_is_exit_1_and_leaves_nothing(capsys, tmp_path, monkeypatch, small_clip):
    """A full disk is not the user's mistake (exit 1) and the partial output is removed."""
    from tga_keras.jobs import upscale_job

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(upscale_job._SegmentWriter, "write", full)
    out = tmp_path / "frames"
    code, err = _run(capsys, "upscale", small_clip, str(out), "--preset", "small", "--no-progress")
    assert code == 1 and "No space left on device" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_upscale_exits_130_and_removes_the_partial_output(capsys, tmp_path, monkeypatch, small_clip):
    from tga_keras.runtime.upscaler import Upscaler

    calls = {"n": 0}
    real = Upscaler._call

    def interrupted(self, x):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, x)

    monkeypatch.setattr(Upscaler, "_call", interrupted)
    out = tmp_path / "out.mp4"
    code, err = _run(capsys, "upscale", small_clip, str(out), "--preset", "small", "--no-progress")
    assert code == 130 and "interrupted" in err
    assert calls["n"] == 3 and list(tmp_path.iterdir()) == []


def test_success_is_0(capsys, tmp_path, small_clip):
    code, err = _run(capsys, "upscale", small_clip, str(tmp_path / "f"), "--preset", "small", "--no-progress")
    assert code == 0, err
    assert len(os.listdir(tmp_path / "f")) == 8
    assert np.asarray(cv2.imread(str(next((tmp_path / "f").iterdir())))).shape == (96, 112, 3)
