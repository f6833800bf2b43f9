"""``tga batch SRC OUTDIR`` in this process (tga_keras.cli.batch, tga_keras.jobs.batch), through ``main``.

The inputs are tiny clips written here with PyAV (48x40 frames at 25 fps: FFV1 in .mkv, the default
encoder in .mp4) and folders of PNG frames; the network is the untrained small preset (seeded: every
process builds the same weights). The references are ``tga upscale`` of each input with the same
options, in one segment, made once per module. Segments of 3 frames split every input into several.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from tga_keras.cli.main import main

SMALL = ["--preset", "small", "--no-progress"]
SEG = ["--segment-frames", "3"]
H, W = 40, 48
CLIPS = {"a.mkv": 5, "sub/b.mp4": 7, "sub/c.mkv": 9}  # relative path under SRC -> frames
OUTPUTS = {"a.mkv": "a.mkv", "sub/b.mp4": "sub/b.mkv", "sub/c.mkv": "sub/c.mkv"}  # with --lossless


# ------------------------------------------------------------------------------ inputs and outputs
def lr_frames(n: int, seed: int = 0) -> np.ndarray:
    """Smooth moving content: uint8 (n, H, W, 3); ``seed`` shifts the pattern (clips differ)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    out = []
    for k in range(n):
        r = 128 + 100 * np.sin((x + 3 * k + 5 * seed) / 9)
        g = 128 + 90 * np.cos((y - 2 * k + seed) / 7)
        b = 40 + 3 * x + 1.5 * k + 10 * seed
        out.append(np.stack([r, g, b], -1))
    return np.clip(np.stack(out), 0, 255).round().astype(np.uint8)


def make_clip(path, n: int, seed: int = 0) -> str:
    """``n`` frames at 25 fps with PyAV: FFV1 for .mkv, the container's default encoder else."""
    from tga_keras.io import video

    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ext = os.path.splitext(path)[1]
    choice = video.choose_encoder(ext, "ffv1" if ext == ".mkv" else None)
    writer = video.open_writer(path, ext, rate=Fraction(25), choice=choice)
    for frame in lr_frames(n, seed):
        writer.write(frame)
    writer.close()
    return path


def make_frames(folder, frames, names=None) -> str:
    """PNG files of ``frames`` (RGB) in ``folder``, named ``names`` (default ``f00.png`` ...)."""
    folder = str(folder)
    os.makedirs(folder, exist_ok=True)
    names = names or [f"f{i:02d}.png" for i in range(len(frames))]
    for frame, name in zip(frames, names, strict=True):
        assert cv2.imwrite(os.path.join(folder, name), frame[:, :, ::-1])
    return folder


def decoded(path) -> tuple[list[int], list[np.ndarray]]:
    """A video's frames as PyAV decodes them: (pts list, rgb24 arrays)."""
    with av.open(str(path)) as c:
        got = [(f.pts, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    return [p for p, _ in got], [f for _, f in got]


def assert_same_output(got, want) -> None:
    """Bit-identical: the PNG names and pixels of two folders, or the decoded frames and pts of two videos."""
    got, want = str(got), str(want)
    if os.path.isdir(want):
        assert os.path.isdir(got), got
        names = sorted(os.listdir(want))
        assert sorted(os.listdir(got)) == names
        for n in names:
            a = cv2.imread(os.path.join(got, n), cv2.IMREAD_UNCHANGED)
            b = cv2.imread(os.path.join(want, n), cv2.IMREAD_UNCHANGED)
            assert np.array_equal(a, b), f"{got}/{n}"
        return
    pts, frames = decoded(got)
    want_pts, want_frames = decoded(want)
    assert pts == want_pts, got
    assert len(frames) == len(want_frames) > 0
    assert all(np.array_equal(a, b) for a, b in zip(frames, want_frames, strict=True)), got


def report(outdir) -> dict[str, dict]:
    """``OUTDIR/batch_report.json``'s inputs by input path; its counts under ``"counts"``."""
    with open(os.path.join(outdir, "batch_report.json")) as f:
        data = json.load(f)
    by_input = {i["input"]: i for i in data["inputs"]}
    assert len(by_input) == len(data["inputs"])
    by_input["counts"] = data["counts"]
    return by_input


def batch(capsys, src, outdir, *extra) -> tuple[int, str, str]:
    """``tga batch SRC OUTDIR *extra`` with the small untrained network: (exit code, stdout, stderr)."""
    code = main(["batch", str(src), str(outdir), *map(str, extra), *SMALL])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def problems(err: str) -> list[str]:
    """stderr's lines but the untrained-network warning, the start line and the outputs written."""
    return [
        line for line in err.splitlines() if line.strip() and not line.startswith(("WARNING:", "batch: ", "wrote "))
    ]


def tree(folder) -> list[str]:
    """Every path under ``folder`` (relative, sorted)."""
    return sorted(os.path.relpath(os.path.join(d, n), folder) for d, ds, fs in os.walk(folder) for n in ds + fs)


def mtimes(folder) -> dict[str, int]:
    return {p: os.stat(os.path.join(folder, p)).st_mtime_ns for p in tree(folder)}


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def src(tmp_path_factory):
    """SRC: a.mkv, sub/b.mp4, sub/c.mkv (:data:`CLIPS`) and a file that is no video (not picked up)."""
    root = tmp_path_factory.mktemp("batch-src") / "src"
    for seed, (rel, n) in enumerate(CLIPS.items()):
        make_clip(root / rel, n, seed)
    (root / "sub" / "notes.txt").write_text("not a video, not listed\n")
    return root


@pytest.fixture(scope="module")
def frames_folder(tmp_path_factory):
    """A folder of 4 PNG frames."""
    return make_frames(tmp_path_factory.mktemp("batch-frames") / "shot", lr_frames(4, seed=7))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """``reference(input, suffix, *options)``: ``tga upscale INPUT ref<suffix> *options`` in one segment
    (``suffix`` ``""``: a PNG folder), made once per module."""
    root = tmp_path_factory.mktemp("batch-ref")
    made: dict[tuple, str] = {}

    def get(input, suffix: str, *options: str) -> str:
        key = (str(input), suffix, options)
        if key not in made:
            out = str(root / f"ref{len(made)}{suffix}")
            assert main(["upscale", str(input), out, *options, *SMALL]) == 0
            made[key] = out
        return made[key]

    return get


def copy_src(src, tmp_path) -> str:
    """A private copy of SRC (the tests that add files to it or change it)."""
    return shutil.copytree(src, tmp_path / "src")


# ------------------------------------------------------------------------------ a folder SRC
def test_folder_src_is_mirrored_and_matches_upscale(src, reference, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = batch(capsys, src, out, "--lossless", *SEG)
    assert code == 0, err
    assert problems(err) == []
    assert f"3 inputs from {src} -> {out} (.mkv), here" in err
    assert "batch: 3 done; report: " + str(out / "batch_report.json") in stdout
    assert tree(out) == ["a.mkv", "batch_report.json", "sub", "sub/b.mkv", "sub/c.mkv"]  # no work folders left
    got = report(out)
    assert got.pop("counts") == {"done": 3}
    assert sorted(got) == sorted(str(src / rel) for rel in CLIPS)
    for rel, n in CLIPS.items():
        item = got[str(src / rel)]
        assert item["status"] == "done" and item["error"] is None
        assert item["output"] == str(out / OUTPUTS[rel])
        assert item["frames"] == n
        assert isinstance(item["seconds"], float) and item["seconds"] >= 0
        assert_same_output(out / OUTPUTS[rel], reference(src / rel, ".mkv", "--lossless"))


# ------------------------------------------------------------------------------ a list file SRC
def make_list(src, frames_folder, tmp_path) -> str:
    """A list file in tmp_path: a video beside it (relative), one by absolute path (outside: its name),
    a folder of frames in a sub-folder (relative), a comment, a trailing comment and blank lines."""
    os.makedirs(tmp_path / "videos")
    shutil.copy(src / "a.mkv", tmp_path / "videos" / "a.mkv")
    shutil.copytree(frames_folder, tmp_path / "frames" / "shot")
    lines = [
        "# my inputs",
        "videos/a.mkv   # the first one",
        "",
        f"  {src / 'sub' / 'b.mp4'}  ",
        "   ",
        "frames/shot/",
    ]
    path = tmp_path / "inputs.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("container", [".mkv", "png"])
def test_list_file_src(src, frames_folder, reference, tmp_path, capsys, container):
    listing = make_list(src, frames_folder, tmp_path)
    out = tmp_path / "out"
    options = ["--lossless"] if container == ".mkv" else []
    code, stdout, err = batch(capsys, listing, out, "--container", container, *options, *SEG)
    assert code == 0, err
    assert problems(err) == []
    suffix = "" if container == "png" else container
    outputs = {  # input -> (output: a line outside the list's folder gives its name only, frames, same as)
        tmp_path / "videos" / "a.mkv": (out / "videos" / f"a{suffix}", 5, src / "a.mkv"),
        src / "sub" / "b.mp4": (out / f"b{suffix}", 7, src / "sub" / "b.mp4"),
        tmp_path / "frames" / "shot": (out / "frames" / f"shot{suffix}", 4, frames_folder),
    }
    got = report(out)
    assert got.pop("counts") == {"done": 3}
    assert sorted(got) == sorted(map(str, outputs))
    for input, (output, frames, same) in outputs.items():
        item = got[str(input)]
        assert (item["status"], item["output"], item["frames"], item["error"]) == ("done", str(output), frames, None)
        assert_same_output(output, reference(same, suffix, *options))
    if container == "png":  # a folder of frames keeps its PNG names
        assert sorted(os.listdir(out / "frames" / "shot")) == sorted(os.listdir(frames_folder))
    assert not [p for p in tree(out) if p.endswith(".segments") or "/." in "/" + p]


# ------------------------------------------------------------------------------ bad inputs, failures
def test_bad_inputs_are_reported_and_the_others_done(src, frames_folder, reference, tmp_path, capsys):
    shutil.copy(src / "a.mkv", tmp_path / "a.mkv")
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    (tmp_path / "empty.mp4").write_bytes(b"")
    make_frames(tmp_path / "mixed", list(lr_frames(3)) + [lr_frames(1)[0, :30]])
    make_frames(tmp_path / "cut", lr_frames(7))  # a frame whose pixels are cut off: found inside a segment
    data = (tmp_path / "cut" / "f05.png").read_bytes()
    (tmp_path / "cut" / "f05.png").write_bytes(data[: len(data) // 2])
    shutil.copytree(frames_folder, tmp_path / "shot")
    listing = tmp_path / "inputs.txt"
    listing.write_text("broken.mp4\na.mkv\nempty.mp4\nmixed\ncut\nshot\n")
    out = tmp_path / "out"
    code, stdout, err = batch(capsys, listing, out, "--lossless", *SEG)
    assert code == 2, err
    assert "Traceback" not in err
    got = report(out)
    assert got.pop("counts") == {"bad": 4, "done": 2}
    for name in ("a.mkv", "shot"):
        item = got[str(tmp_path / name)]
        assert item["status"] == "done" and item["error"] is None and item["frames"] in (4, 5)
    assert_same_output(out / "a.mkv", reference(src / "a.mkv", ".mkv", "--lossless"))
    assert_same_output(out / "shot.mkv", reference(frames_folder, ".mkv", "--lossless"))
    expected = {
        "broken.mp4": "broken.mp4",
        "empty.mp4": "empty (zero-byte) input file",
        "mixed": "frames differ in size",
        "cut": "cannot decode image " + str(tmp_path / "cut" / "f05.png"),
    }
    lines = problems(err)
    for name, words in expected.items():
        item = got[str(tmp_path / name)]
        assert item["status"] == "bad" and words in item["error"], item
        assert item["frames"] is None and item["seconds"] is None
        assert item["output"] == str(out / os.path.splitext(name)[0]) + ".mkv"
        said = [line for line in lines if f" {tmp_path / name}: " in line]
        assert said == [f"bad input {tmp_path / name}: {item['error']}"]
    assert len([line for line in lines if line.startswith("bad ")]) == 4
    assert "batch: 4 bad, 2 done;" in stdout or "batch: 2 done, 4 bad;" in stdout
    assert tree(out) == ["a.mkv", "batch_report.json", "shot.mkv"]  # nothing of the bad ones, no work folder


def fail_in_segment(monkeypatch, input_name: str, exc: BaseException, segment: int = 0, frame: int = 1) -> None:
    """Writing frame ``frame`` of segment ``segment`` (3 frames each) of the input named ``input_name``
    raises ``exc``; the other inputs and segments are untouched."""
    from tga_keras.jobs import upscale_job

    real = upscale_job._SegmentWriter.write

    def write(self, rgb_u8):
        if os.path.basename(self.job.input) == input_name and self.frame0 == 3 * segment and self.count == frame:
            raise exc
        return real(self, rgb_u8)

    monkeypatch.setattr(upscale_job._SegmentWriter, "write", write)


@pytest.mark.parametrize("segment", [0, 1])
def test_an_internal_error_in_one_input_exits_1_and_the_others_are_done(
    src, reference, tmp_path, capsys, monkeypatch, segment
):
    fail_in_segment(monkeypatch, "b.mp4", RuntimeError("boom"), segment=segment)
    out = tmp_path / "out"
    code, stdout, err = batch(capsys, src, out, "--lossless", *SEG)
    assert code == 1, err
    assert "Traceback" not in err
    assert problems(err) == [f"failed input {src / 'sub' / 'b.mp4'}: RuntimeError: boom"]
    got = report(out)
    assert got.pop("counts") == {"done": 2, "failed": 1}
    item = got[str(src / "sub" / "b.mp4")]
    assert (item["status"], item["error"], item["frames"]) == ("failed", "RuntimeError: boom", None)
    for rel in ("a.mkv", "sub/c.mkv"):
        assert got[str(src / rel)]["status"] == "done"
        assert_same_output(out / OUTPUTS[rel], reference(src / rel, ".mkv", "--lossless"))
    assert not (out / "sub" / "b.mkv").exists()
    if segment == 0:  # nothing to continue from: no work folder
        assert tree(out) == ["a.mkv", "batch_report.json", "sub", "sub/c.mkv"]
    else:  # the first segment stays committed for a rerun; the one that failed left nothing
        assert sorted(os.listdir(out / "sub" / "b.mkv.segments")) == ["000000", "job.json"]


def test_outdir_inside_src_is_not_searched_on_a_rerun(src, tmp_path, capsys):
    mine = copy_src(src, tmp_path)
    out = os.path.join(mine, "upscaled")
    assert batch(capsys, mine, out, *SEG)[0] == 0
    assert sorted(tree(out)) == ["a.mp4", "batch_report.json", "sub", "sub/b.mp4", "sub/c.mp4"]
    code, stdout, err = batch(capsys, mine, out, *SEG)  # its outputs are not taken for new inputs
    assert code == 0, err
    assert "batch: 3 inputs from" in err and "batch: 3 skipped;" in stdout
    assert sorted(tree(out)) == ["a.mp4", "batch_report.json", "sub", "sub/b.mp4", "sub/c.mp4"]


# ------------------------------------------------------------------------------ reruns
def test_rerun_of_a_complete_batch_skips_everything(src, tmp_path, capsys):
    out = tmp_path / "out"
    assert batch(capsys, src, out, "--lossless", *SEG)[0] == 0
    before = {p: t for p, t in mtimes(out).items() if p != "batch_report.json"}
    code, stdout, err = batch(capsys, src, out, "--lossless", *SEG)
    assert code == 0, err
    assert problems(err) == []
    assert "batch: 3 skipped;" in stdout
    got = report(out)
    assert got.pop("counts") == {"skipped": 3}
    for rel in CLIPS:
        assert got[str(src / rel)]["status"] == "skipped"
        assert got[str(src / rel)]["output"] == str(out / OUTPUTS[rel])
    assert {p: t for p, t in mtimes(out).items() if p != "batch_report.json"} == before  # outputs untouched


def count_segments(monkeypatch) -> list[tuple[str, int]]:
    """The ``(input name, index)`` of every run_segment call from now on, in order."""
    from tga_keras.jobs import upscale_job

    real, calls = upscale_job.run_segment, []

    def run_segment(job, index, on_frame=None):
        calls.append((os.path.basename(job.input), index))
        return real(job, index, on_frame=on_frame)

    monkeypatch.setattr(upscale_job, "run_segment", run_segment)
    return calls


def test_interrupted_batch_continues_where_it_stopped(src, reference, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    with monkeypatch.context() as m:
        fail_in_segment(m, "b.mp4", KeyboardInterrupt(), segment=1)
        code, _, err = batch(capsys, src, out, "--lossless", *SEG)
    assert code == 130, err
    assert "tga batch: interrupted" in err
    got = report(out)
    assert [got[str(src / rel)]["status"] for rel in CLIPS] == ["done", "pending", "pending"]
    work = out / "sub" / "b.mkv.segments"
    assert sorted(os.listdir(work)) == ["000000", "job.json"]  # segment 1 left no temporary folder
    seconds0 = json.loads((work / "000000" / "segment.json").read_text())["seconds"]
    # here the inputs run one after another: c had not started, and has no work folder
    assert not os.path.exists(f"{out / OUTPUTS['sub/c.mkv']}.segments")
    kept = {"b.mp4": {0}, "c.mkv": set()}

    calls = count_segments(monkeypatch)
    code, stdout, err = batch(capsys, src, out, "--lossless", *SEG)
    assert code == 0, err
    assert len(calls) == len(set(calls))  # each segment once...
    assert set(calls) == {(name, i) for name in kept for i in range(3) if i not in kept[name]}  # ...the missing ones
    got = report(out)
    assert got.pop("counts") == {"skipped": 1, "done": 2}
    assert [got[str(src / rel)]["status"] for rel in CLIPS] == ["skipped", "done", "done"]
    assert got[str(src / "sub" / "b.mp4")]["seconds"] >= round(seconds0, 2)  # counts the first run's segment
    for rel in CLIPS:
        assert_same_output(out / OUTPUTS[rel], reference(src / rel, ".mkv", "--lossless"))
    assert tree(out) == ["a.mkv", "batch_report.json", "sub", "sub/b.mkv", "sub/c.mkv"]


# ------------------------------------------------------------------------------ usage errors
def _unused_port() -> int:
    with socket.socket() as s:  # free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _usage_case(name: str, src, tmp_path, monkeypatch) -> tuple[list[str], str]:
    """(SRC, OUTDIR and options, a phrase of the error) of one mistake; its files made in tmp_path."""
    out = str(tmp_path / "out")
    if name == "SRC not found":
        return [str(tmp_path / "nope"), out], "SRC not found"
    if name == "no videos in SRC":
        (tmp_path / "empty" / "sub").mkdir(parents=True)
        (tmp_path / "empty" / "sub" / "notes.txt").write_text("hello")
        return [str(tmp_path / "empty"), out], "no videos in"
    if name == "list file without inputs":
        (tmp_path / "list.txt").write_text("# nothing yet\n\n   \n")
        return [str(tmp_path / "list.txt"), out], "lists no inputs"
    if name == "list line that does not exist":
        shutil.copy(src / "a.mkv", tmp_path / "a.mkv")
        (tmp_path / "list.txt").write_text("a.mkv\nmissing.mp4\n")
        return [str(tmp_path / "list.txt"), out], "list.txt, line 2: missing.mp4 not found"
    if name == "two inputs, one output":
        (tmp_path / "two").mkdir()
        shutil.copy(src / "a.mkv", tmp_path / "two" / "a.mkv")
        shutil.copy(src / "sub" / "b.mp4", tmp_path / "two" / "a.mp4")
        return [str(tmp_path / "two"), out], "would both be written to"
    if name == "OUTDIR not writable":
        (tmp_path / "ro").mkdir()
        os.chmod(tmp_path / "ro", 0o555)
        return [str(src), str(tmp_path / "ro" / "out")], "cannot write to"
    if name == "OUTDIR not writable, as the library sees it":  # root writes anywhere: os.access says no
        locked = str(tmp_path / "locked")
        os.mkdir(locked)
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == locked else real(p, mode, **kw))
        return [str(src), os.path.join(locked, "out")], "cannot write to"
    if name == "--segment-frames 0":
        return [str(src), out, "--segment-frames", "0"], "--segment-frames must be >= 1"
    if name == "--gpus-per-worker without --ray":
        return [str(src), out, "--gpus-per-worker", "1"], "--gpus-per-worker and --cpus-per-worker are for --ray"
    if name == "--lossless with --container png":
        return [str(src), out, "--lossless", "--container", "png"], "--lossless is for a video OUTPUT"
    if name == "--ray to an unused port":
        pytest.importorskip("ray")
        address = f"127.0.0.1:{_unused_port()}"
        return [str(src), out, "--ray", address], f"no Ray cluster at {address}: cannot connect to it"
    if name == "--ray auto without RAY_ADDRESS":
        pytest.importorskip("ray")
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
        return [str(src), out, "--ray", "auto"], "--ray auto reads the cluster address from RAY_ADDRESS"
    raise AssertionError(name)


USAGE_ERRORS = [
    "SRC not found",
    "no videos in SRC",
    "list file without inputs",
    "list line that does not exist",
    "two inputs, one output",
    pytest.param(
        "OUTDIR not writable",
        marks=pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere"),
    ),
    "OUTDIR not writable, as the library sees it",
    "--segment-frames 0",
    "--gpus-per-worker without --ray",
    "--lossless with --container png",
    "--ray to an unused port",
    "--ray auto without RAY_ADDRESS",
]


@pytest.mark.parametrize("name", USAGE_ERRORS)
def test_usage_errors_exit_2_with_one_line_and_write_nothing(name, src, tmp_path, capsys, monkeypatch):
    argv, phrase = _usage_case(name, src, tmp_path, monkeypatch)
    before = tree(tmp_path)
    t0 = time.monotonic()
    code, stdout, err = batch(capsys, *argv)
    seconds = time.monotonic() - t0
    assert code == 2, err
    assert "Traceback" not in err
    lines = problems(err)
    assert len(lines) == 1 and lines[0].startswith("tga batch: error: ") and phrase in lines[0], err
    assert tree(tmp_path) == before  # no OUTDIR, no report, no work folder
    if name.startswith("--ray"):
        import ray

        assert not ray.is_initialized()
        assert seconds < 10, f"took {seconds:.1f} s to give up"


def test_help_mentions_the_work_folder_the_report_and_ray(capsys):
    with pytest.raises(SystemExit) as e:
        main(["batch", "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for words in ("OUTPUT.segments", "batch_report.json", "--ray ADDRESS", "Ray cluster", "--segment-frames"):
        assert words in text, words
    for option in ("--container", "--overwrite", "--gpus-per-worker", "--cpus-per-worker", "--lossless"):
        assert option in text, option
