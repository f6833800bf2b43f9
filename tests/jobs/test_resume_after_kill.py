"""``tga upscale`` killed (SIGKILL) at several moments, then run again: OUTPUT never exists half-written,
and the resumed run gives the frames of an uninterrupted one.

The killed runs are real processes (``python -m tga_keras.cli upscale ...``); the reruns and the
references (one uninterrupted one-segment run per output kind, shared by the module) run
in-process through ``main``, which also checks that separate processes build the same seeded
untrained network. A kill in the join is simulated in-process (fast) and done for real in a
process (slow). Clips: :func:`tests.jobs.test_upscale_job.make_clip` (variable frame rate, AAC).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.paths import REPO
from tests.jobs.test_upscale_job import (
    KIND_ARGS,
    ONE,
    SMALL,
    assert_same_frames,
    leftovers,
    make_clip,
    upscale,
    work_listing,
    work_of,
)
from tga_keras.cli.main import main

N = 15  # five segments of 3
SEGMENTS = ["000000", "000001", "000002", "000003", "000004"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clip") / "vfr.mp4", N)


@pytest.fixture(scope="module")
def reference(clip, tmp_path_factory):
    """``reference(ext)``: the uninterrupted one-segment output of the clip (made once per module)."""
    root = tmp_path_factory.mktemp("reference")
    made: dict[str, str] = {}

    def get(ext: str) -> str:
        if ext not in made:
            out = str(root / f"ref{ext}")
            assert main(["upscale", clip, out, *KIND_ARGS[ext], *ONE, *SMALL]) == 0
            made[ext] = out
        return made[ext]

    return get


def _args(clip, out, ext) -> list[str]:
    """The command's arguments after ``upscale`` (``SMALL`` aside: :func:`upscale` adds it)."""
    return [clip, str(out), *KIND_ARGS[ext], "--segment-frames", "3"]


def _committed(out) -> list[str]:
    work = work_of(out)
    return sorted(n for n in os.listdir(work) if n.isdigit()) if os.path.isdir(work) else []


def _kill_when(argv: list[str], ready, log, *, prefix: list[str] | None = None, timeout: float = 180) -> None:
    """Start ``tga upscale *argv`` in a process and SIGKILL it as soon as ``ready()`` (polled every 5 ms);
    ``prefix``: the command that runs instead of ``python -m tga_keras.cli``. Fails if it ends by itself."""
    cmd = [sys.executable, *(prefix or ["-m", "tga_keras.cli"]), "upscale", *argv, *SMALL]
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=f, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            if proc.poll() is not None:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"{cmd} did not reach the moment of the kill in {timeout} s")
            time.sleep(0.005)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with open(log) as f:
        text = f.read()
    assert proc.returncode == -signal.SIGKILL, f"ended by itself, exit {proc.returncode}:\n{text}"


def _resume_and_compare(clip, out, ext, reference, capsys, *, earlier: int) -> None:
    """The same command again, in-process: exit 0, the reference's frames, the work folder gone."""
    code, text, err = upscale(capsys, *_args(clip, out, ext))
    assert code == 0, err
    assert f"wrote {out}: {N} " in text
    if earlier:
        assert f"{earlier} frames were committed by an earlier run" in text
    assert not os.path.exists(work_of(out))
    assert leftovers(os.path.dirname(out)) == []
    # PNG folder, FFV1: bit-identical frames; H.264 (its pieces start with keyframes): frame count and pts;
    # and the same audio packets
    assert_same_frames(out, reference(ext), ext)


# ------------------------------------------------------------------------------ real kills
def test_sigkill_after_two_segments_then_resume(clip, reference, tmp_path, capsys):
    """The fast case: FFV1 .mkv, killed once two segments are committed."""
    out = tmp_path / "sr.mkv"
    _kill_when(_args(clip, out, ".mkv"), lambda: os.path.isdir(os.path.join(work_of(out), "000001")), tmp_path / "log")
    assert not os.path.lexists(out)  # never half-written
    done = _committed(out)
    assert done[:2] == SEGMENTS[:2] and len(done) < len(SEGMENTS), done
    assert "job.json" in work_listing(out)
    _resume_and_compare(clip, out, ".mkv", reference, capsys, earlier=3 * len(done))


@pytest.mark.slow
@pytest.mark.parametrize("ext", ["", ".mkv", ".mp4"], ids=["png-folder", "ffv1-mkv", "h264-mp4"])
def test_sigkill_before_any_commit_and_after_some_then_resume(clip, reference, tmp_path, capsys, ext):
    out = tmp_path / f"sr{ext}"
    work = work_of(out)
    # (a) as soon as the work folder is set up: the first segment is under way, none committed
    _kill_when(_args(clip, out, ext), lambda: os.path.exists(os.path.join(work, "job.json")), tmp_path / "a.log")
    assert not os.path.lexists(out)
    assert _committed(out) == []
    # (b) the same command, killed after two more segments
    _kill_when(_args(clip, out, ext), lambda: os.path.isdir(os.path.join(work, "000001")), tmp_path / "b.log")
    assert not os.path.lexists(out)
    done = _committed(out)
    assert done[:2] == SEGMENTS[:2] and len(done) < len(SEGMENTS), done
    _resume_and_compare(clip, out, ext, reference, capsys, earlier=3 * len(done))


_KILL_IN_JOIN = """
import os, signal, sys
import tga_keras.jobs.upscale_job as job
from tga_keras.io.video import VideoWriter

calls = [0]

def killing(real):
    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 3:  # two pieces joined: the output's temporary file is partly written
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return wrapper

VideoWriter.append_segment = killing(VideoWriter.append_segment)
job._link_or_copy = killing(job._link_or_copy)
from tga_keras.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("ext", ["", ".mkv"], ids=["png-folder", "ffv1-mkv"])
def test_sigkill_during_the_join_then_resume(clip, reference, tmp_path, capsys, ext):
    out = tmp_path / f"sr{ext}"
    # killed in the join: every segment committed, a third of the output written to its temporary
    _kill_when(_args(clip, out, ext), lambda: False, tmp_path / "log", prefix=["-c", _KILL_IN_JOIN])
    assert not os.path.lexists(out)
    assert _committed(out) == SEGMENTS
    assert leftovers(tmp_path) == []  # the partial output is in the work folder, where the rerun sweeps it
    assert os.path.lexists(os.path.join(work_of(out), f".tmp-output{ext}"))
    code, text, err = upscale(capsys, *_args(clip, out, ext))
    assert code == 0, err
    assert f"wrote {out}: {N} " in text and f"{N} frames were committed by an earlier run" in text
    assert not os.path.exists(work_of(out))
    assert_same_frames(out, reference(ext), ext)
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------ the join, in-process
def test_interrupted_join_of_a_video_then_resume(clip, reference, tmp_path, capsys, monkeypatch):
    """Ctrl-C in the join, after two of the five pieces were copied into the output's temporary file."""
    from tga_keras.io.video import VideoWriter

    out = tmp_path / "sr.mkv"
    real = VideoWriter.append_segment
    seen: list[tuple[bool, int]] = []

    def append_segment(self, *args, **kwargs):
        seen.append((os.path.exists(self.path), self.count))
        if len(seen) == 3:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(VideoWriter, "append_segment", append_segment)
    code, _, err = upscale(capsys, *_args(clip, out, ".mkv"))
    assert code == 130 and "interrupted" in err
    assert seen[-1] == (True, 6)  # it stopped with 6 frames copied into the output's temporary file
    assert not os.path.lexists(out) and leftovers(tmp_path) == []
    assert work_listing(out) == [*SEGMENTS, "job.json"]
    monkeypatch.undo()
    _resume_and_compare(clip, out, ".mkv", reference, capsys, earlier=N)


def test_failed_rename_of_a_folder_output_then_resume(clip, reference, tmp_path, capsys, monkeypatch):
    """The last rename of the join fails (an OSError: exit 1); the committed segments stay, the rerun finishes."""
    import tga_keras.io.files as files

    out = tmp_path / "sr"
    linked: list[int] = []

    def replace_path(source, target):
        linked.append(len(os.listdir(source)))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "replace_path", replace_path)
    code, _, err = upscale(capsys, *_args(clip, out, ""))
    assert code == 1 and "No space left on device" in err and "Traceback" not in err
    assert linked == [N]  # every frame was in the temporary folder
    assert not os.path.lexists(out) and leftovers(tmp_path) == []
    assert work_listing(out) == [*SEGMENTS, "job.json"]
    monkeypatch.undo()
    _resume_and_compare(clip, out, "", reference, capsys, earlier=N)


def test_interrupted_while_creating_the_work_folder_then_rerun(clip, tmp_path, capsys, monkeypatch):
    out = tmp_path / "sr"
    real = os.replace

    def replace(source, target, *args, **kwargs):
        if os.path.basename(os.fspath(target)) == "job.json":
            raise KeyboardInterrupt  # as a kill at this moment, the temporary record stays
        return real(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    code, _, _ = upscale(capsys, *_args(clip, out, ""), "--frames-limit", 3)
    assert code == 130 and not os.path.lexists(out)
    assert all(n.startswith(".tmp-") for n in os.listdir(work_of(out)))
    monkeypatch.undo()
    code, _, err = upscale(capsys, *_args(clip, out, ""), "--frames-limit", 3)
    assert code == 0, err
