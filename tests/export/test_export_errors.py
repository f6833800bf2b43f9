"""``python -m export`` on bad input: exit code 2, one line on stderr, nothing written.

Every case here fails before any conversion (in-process ``export.cli.main``), except the one that
checks ``--overwrite`` really replaces an artifact.
"""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers.export_helpers import TINY_EXPORT_CONFIG
from tests.helpers.paths import REPO as REPO_PATH
from tga_keras import build_tga

CFG = TINY_EXPORT_CONFIG
REPO = str(REPO_PATH)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    build_tga(CFG).save(str(path))
    return str(path)


def snapshot(root) -> dict | None:
    """Every file under ``root`` with its sha256 (None if ``root`` does not exist)."""
    root = str(root)
    if not os.path.exists(root):
        return None
    if os.path.isfile(root):
        with open(root, "rb") as f:
            return {".": hashlib.sha256(f.read()).hexdigest()}
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs:
            out[os.path.relpath(os.path.join(d, name), root) + "/"] = "dir"
        for name in files:
            with open(os.path.join(d, name), "rb") as f:
                out[os.path.relpath(os.path.join(d, name), root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def run_export(argv, capsys):
    """(exit code, stdout, stderr) of ``export.cli.main(argv)``, argparse's SystemExit included."""
    from export.cli import main

    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def assert_usage_error(rc, err, *fragments):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("export: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def assert_untouched(outdir, before):
    after = snapshot(outdir)
    assert after == before
    if after:
        assert not [p for p in after if ".part" in p or ".export-" in p]


# ----------------------------------------------------------------------------- MODEL
def _write_text_keras(d):
    p = d / "x.keras"
    p.write_text("this is not a Keras model\n")
    return p


def _write_empty(d):
    p = d / "empty.keras"
    p.write_bytes(b"")
    return p


def _write_unknown_suffix(d):
    p = d / "model.bin"
    p.write_bytes(b"\0" * 64)
    return p


def _make_folder(d):
    p = d / "model_dir.keras"
    p.mkdir()
    return p


def _write_other_keras_model(d):
    import keras

    p = d / "dense.keras"
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    m.save(str(p))
    return p


@pytest.mark.parametrize(
    "make, fragments",
    [
        (_write_text_keras, ("x.keras", "not a Keras model")),
        (_write_empty, ("empty.keras", "empty")),
        (lambda d: d / "missing.keras", ("not found", "missing.keras")),
        (_write_unknown_suffix, ("model.bin", "unknown weights format")),
        (_make_folder, ("folder",)),
        (_write_other_keras_model, ("dense.keras", "not a TGA model")),
    ],
    ids=["text-as-keras", "zero-bytes", "missing", "unknown-suffix", "folder", "not-tga"],
)
def test_bad_model(tmp_path, capsys, make, fragments):
    model = make(tmp_path)
    outdir = tmp_path / "out"
    rc, out, err = run_export(["onnx", model, outdir], capsys)
    assert_usage_error(rc, err, *fragments)
    assert not outdir.exists()


# ----------------------------------------------------------------------------- FORMAT, sizes, options
def test_unknown_format(tiny, tmp_path, capsys):
    outdir = tmp_path / "out"
    rc, out, err = run_export(["coreml", tiny, outdir], capsys)
    assert_usage_error(rc, err, "unknown format", "'coreml'", "savedmodel", "tensorrt")
    assert not outdir.exists()


@pytest.mark.parametrize(
    "fmt, options, fragments",
    [
        ("onnx", ["--input-size", "2x2"], ("--input-size 2x2", "at least 3x3")),
        ("all", ["--input-size", "2x2"], ("--input-size 2x2", "at least 3x3")),
        ("onnx", ["--input-size", "abc"], ("--input-size", "'abc'")),
        ("onnx", ["--input-size", "10x10x3"], ("--input-size", "'10x10x3'")),
        ("onnx", ["--input-size", "0x16"], ("--input-size", "positive")),
        ("tensorrt", ["--input-size", "20x20"], ("min <= opt <= max",)),  # opt below the default min
        ("tensorrt", ["--min", "40x40", "--opt", "36x36"], ("min <= opt <= max",)),
        ("tensorrt", ["--max", "300x2"], ("--max 300x2", "at least 3x3")),
        ("onnx", ["--max-batch", "0"], ("--max-batch",)),
        ("savedmodel", ["--savedmodel-version", "0"], ("--savedmodel-version",)),
        ("onnx", ["--threads", "0"], ("--threads",)),
        ("onnx", ["--precision", "bf8"], ("--precision", "bf8")),
        ("onnx", ["--precision", "int8"], ("--precision int8", "onnx")),
        ("tflite", ["--precision", ","], ("--precision",)),
    ],
    ids=[
        "size-2x2",
        "size-2x2-all",
        "size-abc",
        "size-3d",
        "size-zero",
        "trt-opt-below-min",
        "trt-min-above-opt",
        "trt-max-too-small",
        "max-batch-0",
        "version-0",
        "threads-0",
        "precision-unknown",
        "precision-not-onnx",
        "precision-empty",
    ],
)
def test_bad_option(tiny, tmp_path, capsys, fmt, options, fragments):
    outdir = tmp_path / "out"
    rc, out, err = run_export([fmt, tiny, outdir, *options], capsys)
    assert_usage_error(rc, err, *fragments)
    assert not outdir.exists()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["onnx"],
        ["onnx", "m.keras", "out", "--max-batch", "abc"],
        ["onnx", "m.keras", "out", "--preset", "huge"],
        ["onnx", "m.keras", "out", "--no-such-option"],
    ],
    ids=["no-args", "no-model", "max-batch-text", "bad-preset", "unknown-option"],
)
def test_argparse_errors_exit_2(tmp_path, capsys, argv, monkeypatch):
    from export.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("export: error:")
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------- --calibration
@pytest.fixture(scope="module")
def three_frame_clip(tmp_path_factory):
    import cv2

    path = tmp_path_factory.mktemp("clips") / "three.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 64))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for _ in range(3):
        writer.write(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    writer.release()
    from tga_keras.io.video import read_video

    assert read_video(path).shape == (3, 64, 64, 3)  # readable: only the frame count is wrong
    return path


def test_calibration_clip_unreadable(tiny, tmp_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video\n")
    outdir = tmp_path / "out"
    rc, out, err = run_export(["tflite", tiny, outdir, "--calibration", bad], capsys)
    assert_usage_error(rc, err, "--calibration", "bad.mp4")
    assert not outdir.exists()


def test_calibration_clip_too_short(tiny, tmp_path, capsys, three_frame_clip):
    outdir = tmp_path / "out"
    rc, out, err = run_export(["tflite", tiny, outdir, "--calibration", three_frame_clip], capsys)
    assert_usage_error(rc, err, "--calibration", "three.mp4", "only 3 decoded", "at least 7")
    assert not outdir.exists()


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_calibration_not_a_file(tiny, tmp_path, capsys, kind):
    target = tmp_path / "clip"
    if kind == "folder":
        target.mkdir()
    outdir = tmp_path / "out"
    rc, out, err = run_export(["all", tiny, outdir, "--calibration", target], capsys)
    assert_usage_error(rc, err, "--calibration")
    assert not outdir.exists()


@pytest.mark.parametrize(
    "fmt, options",
    [
        ("onnx", []),
        ("savedmodel", []),
        ("tflite", ["--precision", "fp32,fp16"]),  # no full-integer model to calibrate
    ],
    ids=["onnx", "savedmodel", "tflite-without-int8"],
)
def test_calibration_without_int8_tflite(tiny, tmp_path, capsys, three_frame_clip, fmt, options):
    outdir = tmp_path / "out"
    rc, out, err = run_export([fmt, tiny, outdir, "--calibration", three_frame_clip, *options], capsys)
    assert_usage_error(rc, err, "--calibration", "int8")
    assert not outdir.exists()


# ----------------------------------------------------------------------------- OUTDIR
def test_existing_artifact_needs_overwrite(tiny, tmp_path, capsys):
    outdir = tmp_path / "out"
    (outdir / "onnx").mkdir(parents=True)
    existing = outdir / "onnx" / "model.onnx"
    existing.write_bytes(b"an older model")
    before = snapshot(outdir)
    rc, out, err = run_export(["onnx", tiny, outdir], capsys)
    assert_usage_error(rc, err, str(existing), "--overwrite")
    assert_untouched(outdir, before)
    assert existing.read_bytes() == b"an older model"


def test_existing_savedmodel_version_needs_overwrite(tiny, tmp_path, capsys):
    outdir = tmp_path / "out"
    (outdir / "savedmodel" / "3").mkdir(parents=True)
    (outdir / "savedmodel" / "3" / "saved_model.pb").write_bytes(b"v3")
    before = snapshot(outdir)
    rc, out, err = run_export(["savedmodel", tiny, outdir, "--savedmodel-version", "3"], capsys)
    assert_usage_error(rc, err, os.path.join("savedmodel", "3"), "--overwrite")
    assert_untouched(outdir, before)


def test_overwrite_replaces_artifact_and_foreign_manifest(tiny, tmp_path, capsys):
    import onnx

    outdir = tmp_path / "out"
    (outdir / "onnx").mkdir(parents=True)
    existing = outdir / "onnx" / "model.onnx"
    existing.write_bytes(b"an older model")
    foreign = {
        "source": {"path": "/elsewhere/other.keras", "sha256": "0" * 64, "config": {}},
        "artifacts": [{"format": "onnx", "precision": "fp32", "path": "onnx/model.onnx"}],
    }
    (outdir / "manifest.json").write_text(json.dumps(foreign))
    rc, out, err = run_export(["onnx", tiny, outdir, "--precision", "fp32", "--overwrite"], capsys)
    assert rc == 0, err
    proto = onnx.load(str(existing))  # a real ONNX model now
    assert {p.key: p.value for p in proto.metadata_props}["tga_precision"] == "fp32"
    with open(outdir / "manifest.json") as f:
        manifest = json.load(f)
    with open(tiny, "rb") as f:
        assert manifest["source"]["sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert [e["path"] for e in manifest["artifacts"]] == ["onnx/model.onnx"]
    assert manifest["artifacts"][0]["bytes"] == existing.stat().st_size
    assert not (outdir / "onnx" / "model_fp16.onnx").exists()  # --precision fp32: only that one
    leftovers = [n for _, ds, fs in os.walk(outdir) for n in ds + fs if ".part" in n or n.startswith(".export-")]
    assert leftovers == []


def test_outdir_is_a_file(tiny, tmp_path, capsys):
    outdir = tmp_path / "out"
    outdir.write_text("a file, not a folder\n")
    before = snapshot(outdir)
    rc, out, err = run_export(["onnx", tiny, outdir], capsys)
    assert_usage_error(rc, err, "OUTDIR", "not a folder")
    assert_untouched(outdir, before)


def test_manifest_of_another_model(tiny, tmp_path, capsys):
    outdir = tmp_path / "out"
    outdir.mkdir()
    foreign = {
        "source": {"path": "/elsewhere/other.keras", "sha256": "0" * 64, "config": {}},
        "versions": {},
        "artifacts": [{"format": "tflite", "precision": "fp32", "path": "tflite/model_fp32.tflite"}],
    }
    (outdir / "manifest.json").write_text(json.dumps(foreign))
    before = snapshot(outdir)
    rc, out, err = run_export(["onnx", tiny, outdir], capsys)
    assert_usage_error(rc, err, "another model", "/elsewhere/other.keras", "--overwrite")
    assert_untouched(outdir, before)


# ----------------------------------------------------------------------------- the command line
def test_help_runs_as_a_module():
    r = subprocess.run(
        [sys.executable, "-m", "export", "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert text.startswith("usage: python -m export")
    for word in ("savedmodel", "tflite", "onnx", "tensorrt", "manifest.json", "--overwrite", "--calibration"):
        assert word in text, word


def test_module_exit_code_is_mains(tmp_path):
    """``python -m export`` exits with main's code (2 for a usage error), one line on stderr."""
    r = subprocess.run(
        [sys.executable, "-m", "export", "onnx", str(tmp_path / "missing.keras"), str(tmp_path / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "export: error: model not found" in r.stderr
    assert not (tmp_path / "out").exists()


def test_plan_covers_the_fp16_onnx_that_a_tensorrt_build_needs(tmp_path):
    from export.cli import _precisions, plan

    fp16 = str(tmp_path / "onnx" / "model_fp16.onnx")
    # where an engine can be built, `all` writes the fp16 ONNX even if --precision leaves it out
    assert fp16 in plan("all", str(tmp_path), _precisions("fp32", "all"), None, tensorrt_here=True)
    assert fp16 not in plan("all", str(tmp_path), _precisions("fp32", "all"), None, tensorrt_here=False)
    assert fp16 in plan("tensorrt", str(tmp_path), _precisions(None, "tensorrt"), None, tensorrt_here=False)


def test_model_by_shipped_name(tmp_path, capsys):
    """`python -m export onnx tga_small_bd_x4 OUTDIR` finds the shipped model; an unknown name lists known ones."""
    from export.cli import main

    afile = tmp_path / "a_file"
    afile.write_text("")
    assert main(["onnx", "tga_small_bd_x4", str(afile)]) == 2  # resolved: the next check (OUTDIR) speaks
    assert "exists and is not a folder" in capsys.readouterr().err
    assert main(["onnx", "no_such_model", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "tga_small_bd_x4" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- the exit-code contract (run_command)
def test_debug_adds_the_traceback_to_a_usage_error(tmp_path, capsys):
    missing = tmp_path / "missing.keras"
    rc, out, err = run_export(["onnx", missing, tmp_path / "out"], capsys)
    assert_usage_error(rc, err)
    assert err == f"export: error: model not found: {missing}\n"
    for flag in ("--debug", "--verbose"):  # --verbose (the converters' logs) implies --debug, as before
        rc, out, err = run_export(["onnx", missing, tmp_path / "out", flag], capsys)
        assert rc == 2 and "Traceback" in err, flag
        assert err.strip().splitlines()[-1] == f"export: error: model not found: {missing}"
    assert not (tmp_path / "out").exists()


def test_profile_user_mistakes_exit_2(tmp_path, capsys):
    missing = tmp_path / "missing.onnx"
    rc, out, err = run_export(["profile", missing], capsys)
    assert (rc, err) == (2, f"python -m export profile: error: no such file: {missing}\n")
    rc, out, err = run_export(["profile", missing, "--size", "abc"], capsys)
    assert rc == 2 and err.startswith("python -m export profile: error: --size must look like 144x180")
    assert len(err.strip().splitlines()) == 1
    rc, out, err = run_export(["profile", missing, "--debug"], capsys)
    assert rc == 2 and "Traceback" in err
    assert err.strip().splitlines()[-1] == f"python -m export profile: error: no such file: {missing}"
