"""``python -m export``: every artifact of a tiny random model, end to end, checked against Keras.

One ``python -m export all MODEL OUTDIR`` (in-process, once per session: conftest's ``export_all``,
shared with the ``tga --backend`` tests) builds every artifact this machine can build; the tests
then inspect the manifest and load each artifact with its own runtime (``tf.saved_model``,
``saved_model_cli``, the LiteRT interpreter, onnxruntime) and through the inference core
(``tga_keras.runtime.backends``). The model has He-normal kernels and non-trivial BatchNorm moving
statistics, so the network (BatchNorm folding included) shapes the output: its residual over
bicubic reaches 0.69 on real frames (at the model's own init it is below 1e-5, and an artifact
computing bicubic alone would pass every comparison).
"""

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers.export_helpers import TINY_EXPORT_CONFIG
from tests.helpers.export_helpers import run_export as _main
from tga_keras import TGAConfig

CFG = TINY_EXPORT_CONFIG

# (format, precision) -> path relative to OUTDIR, for every artifact `all` builds without TensorRT
EXPECTED = {
    ("savedmodel", "fp32"): "savedmodel/1",
    ("tflite", "fp32"): "tflite/model_fp32.tflite",
    ("tflite", "fp16"): "tflite/model_fp16.tflite",
    ("tflite", "int8-dynamic"): "tflite/model_int8_dynamic.tflite",
    ("tflite", "int8"): "tflite/model_int8.tflite",
    ("onnx", "fp32"): "onnx/model.onnx",
    ("onnx", "fp16"): "onnx/model_fp16.onnx",
}
# Against Keras, with this model (real frames, several sizes): fp32 artifacts max |diff| <= 1.25e-6;
# fp16 >= 76.0 dB (ONNX) / 79.8 dB (TFLite), int8-dynamic >= 49.6 dB, int8 >= 46.2 dB. The bounds
# below are ~4x the measured error (6 dB); the exporter's own gate (tga_keras.runtime.parity.BOUNDS) is 45 / 35 / 35 dB.
FP32_TOL = 5e-6
PSNR_BOUND = {"fp16": 70.0, "int8-dynamic": 44.0, "int8": 40.0}


def _tensorrt_importable() -> bool:
    try:
        import tensorrt  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken install fails in many ways
        return False
    return True


def _psnr(a, b) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else -10 * np.log10(mse)


def _size(path) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    return os.path.getsize(path)


def _leftovers(root) -> list[str]:
    """Temporary files/folders of the exporter (``.part`` / ``.export-``) anywhere under ``root``."""
    found = []
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            if ".part" in name or name.startswith(".export-"):
                found.append(os.path.join(d, name))
    return found


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tiny(export_model):
    """The tiny model saved as .keras, with He-normal kernels and random BatchNorm moving statistics."""
    return export_model


@pytest.fixture(scope="module")
def keras_backend(tiny):
    from tga_keras.models.loading import load_tga
    from tga_keras.runtime.backends.keras import KerasBackend

    return KerasBackend(load_tga(tiny))


@pytest.fixture(scope="module")
def window():
    """One real LR window (frames 30..36 of the bundled clip: neither parity nor calibration frames)."""
    from tga_keras.runtime.parity import real_windows

    return real_windows(7, 4, count=1, start=30)


@pytest.fixture(scope="module")
def exported(export_all):
    """``python -m export all`` of :func:`tiny` (conftest: built once per session, shared with the
    ``--backend`` tests of ``tga``)."""
    return export_all


@pytest.fixture(scope="module")
def entries(exported):
    assert exported.rc == 0, exported.stderr
    return {(e["format"], e["precision"]): e for e in exported.manifest["artifacts"]}


def _artifact(exported, key) -> str:
    return os.path.join(exported.outdir, EXPECTED[key])


# ----------------------------------------------------------------------------- the run and its manifest
def test_all_exits_zero_and_leaves_no_temporary_files(exported):
    from export.tensorrt_engine import availability

    assert exported.rc == 0, exported.stderr
    assert "Traceback" not in exported.stderr
    n = len(EXPECTED) + (1 if availability()[0] else 0)
    assert f"{n} artifact(s)" in exported.stdout
    if not availability()[0]:
        assert "tensorrt skipped" in exported.stdout
        trt_dir = os.path.join(exported.outdir, "tensorrt")
        assert not os.path.isdir(trt_dir) or not os.listdir(trt_dir)
    assert _leftovers(exported.outdir) == []


def test_manifest_source_is_the_model(exported, tiny):
    source = exported.manifest["source"]
    with open(tiny, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert source["sha256"] == digest
    assert os.path.abspath(source["path"]) == os.path.abspath(tiny)
    assert source["config"] == CFG.to_dict()
    assert TGAConfig.from_dict(source["config"]) == CFG


def test_manifest_versions(exported):
    import keras
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    v = exported.manifest["versions"]
    assert v["tensorflow"] == tf.__version__
    assert v["keras"] == keras.__version__
    assert v["tf2onnx"] == tf2onnx.__version__
    assert v["onnx"] == onnx.__version__
    assert v["onnxruntime"] == onnxruntime.__version__
    assert v["numpy"] == np.__version__


def test_manifest_lists_each_artifact_once(exported, entries):
    from export.tensorrt_engine import availability

    got = [(e["format"], e["precision"]) for e in exported.manifest["artifacts"]]
    assert len(got) == len(set(got))
    want = set(EXPECTED) | ({("tensorrt", "fp16")} if availability()[0] else set())
    assert set(got) == want
    for key, rel in EXPECTED.items():
        assert entries[key]["path"] == rel


@pytest.mark.parametrize("key", list(EXPECTED), ids=lambda k: "-".join(k))
def test_manifest_entry_describes_the_file(exported, entries, key):
    entry = entries[key]
    path = os.path.join(exported.outdir, entry["path"])
    assert not os.path.isabs(entry["path"])
    assert os.path.exists(path)
    assert entry["bytes"] == _size(path) > 0
    fmt, precision = key
    io_dtype = "uint8" if key == ("tflite", "int8") else "float32"
    assert entry["input"]["dtype"] == io_dtype
    assert entry["output"]["dtype"] == io_dtype
    assert entry["input"]["shape"] == [None, CFG.frames, None, None, 3]
    assert entry["output"]["shape"] == [None, None, None, 3]
    assert "lr_frames" in entry["input"]["name"]
    if fmt != "tflite":  # the TFLite converter names its tensors after the signature's graph
        assert entry["input"]["name"] == "lr_frames"
        assert entry["output"]["name"] == "sr"
    if key == ("tflite", "int8"):
        scale, zero = entry["input"]["quantization"]
        assert scale == pytest.approx(1 / 255, rel=1e-6) and zero == 0  # raw uint8 pixels go in as they are
        scale, zero = entry["output"]["quantization"]
        assert scale > 0 and 0 <= zero <= 255


@pytest.mark.parametrize("key", list(EXPECTED), ids=lambda k: "-".join(k))
def test_manifest_parity_figures_meet_bounds(entries, key):
    entry = entries[key]
    diff, psnr = entry["max_abs_diff"], entry["psnr_db"]
    assert diff is not None and diff >= 0
    assert psnr is None or psnr > 0
    assert (psnr is None) == (diff == 0)  # infinite PSNR is written as null
    if key[1] == "fp32":
        assert diff <= FP32_TOL
    else:
        assert psnr is not None and psnr >= PSNR_BOUND[key[1]]


@pytest.mark.parametrize("key", list(EXPECTED), ids=lambda k: "-".join(k))
def test_manifest_parity_figures_are_reproducible(exported, entries, keras_backend, key):
    """The recorded figures are what the artifact gives on the bundled parity frames."""
    from tga_keras.runtime.backends import load_backend
    from tga_keras.runtime.parity import compare, real_windows, sr_of

    windows = real_windows(CFG.frames, CFG.scale, count=3)
    figures = compare(sr_of(keras_backend, windows), sr_of(load_backend(_artifact(exported, key)), windows))
    entry = entries[key]
    assert figures["max_abs_diff"] == pytest.approx(entry["max_abs_diff"], rel=0.05, abs=1e-6)
    if entry["psnr_db"] is not None and entry["psnr_db"] < 100:
        assert figures["psnr_db"] == pytest.approx(entry["psnr_db"], abs=0.1)


# ----------------------------------------------------------------------------- SavedModel
def test_savedmodel_layout(exported):
    from export import savedmodel

    root = os.path.join(exported.outdir, "savedmodel")
    assert sorted(os.listdir(root)) == ["1"]
    assert savedmodel.versions(exported.outdir) == [1]
    assert os.path.isfile(os.path.join(root, "1", "saved_model.pb"))
    assert os.path.isdir(os.path.join(root, "1", "variables"))


def test_savedmodel_signatures_match_keras(exported, keras_backend, window):
    import tensorflow as tf

    loaded = tf.saved_model.load(_artifact(exported, ("savedmodel", "fp32")))
    assert {"serving_default", "serve_uint8"} <= set(loaded.signatures)
    x = window.astype(np.float32) / 255.0
    want = keras_backend(x)
    got = loaded.signatures["serving_default"](lr_frames=tf.constant(x))["sr"].numpy()
    assert got.dtype == np.float32 and got.shape == (1, 4 * 36, 4 * 44, 3)
    np.testing.assert_allclose(got, want, rtol=0, atol=FP32_TOL)

    got8 = loaded.signatures["serve_uint8"](lr_frames=tf.constant(window))["sr"].numpy()
    assert got8.dtype == np.uint8 and got8.shape == want.shape
    want8 = np.floor(np.clip(want, 0.0, 1.0) * 255.0 + 0.5)
    assert np.abs(got8.astype(np.int32) - want8).max() <= 1
    assert np.mean(got8 != want8) < 1e-3  # off by one only where float noise meets a .5 boundary (measured 0)

    # batch 2 at another size through the same signature
    x2 = np.concatenate([x, x[:, ::-1]])[:, :, :17, :23]
    got2 = loaded.signatures["serving_default"](lr_frames=tf.constant(np.ascontiguousarray(x2)))["sr"].numpy()
    np.testing.assert_allclose(got2, keras_backend(x2), rtol=0, atol=FP32_TOL)


def _saved_model_cli(*args, timeout=300):
    exe = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_saved_model_cli_show(exported):
    r = _saved_model_cli("show", "--all", "--dir", _artifact(exported, ("savedmodel", "fp32")))
    assert r.returncode == 0, r.stderr[-2000:]
    text = r.stdout
    assert "signature_def['serving_default']" in text
    assert "signature_def['serve_uint8']" in text
    assert "inputs['lr_frames']" in text
    assert "outputs['sr']" in text
    assert "DT_UINT8" in text and "DT_FLOAT" in text
    assert "(-1, 7, -1, -1, 3)" in text


@pytest.mark.parametrize("signature", ["serving_default", "serve_uint8"])
def test_saved_model_cli_run(exported, keras_backend, window, tmp_path, signature):
    x = window if signature == "serve_uint8" else window.astype(np.float32) / 255.0
    np.save(tmp_path / "x.npy", x)
    outdir = tmp_path / "result"
    r = _saved_model_cli(
        "run",
        "--dir",
        _artifact(exported, ("savedmodel", "fp32")),
        "--tag_set",
        "serve",
        "--signature_def",
        signature,
        "--inputs",
        f"lr_frames={tmp_path / 'x.npy'}",
        "--outdir",
        str(outdir),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    got = np.load(outdir / "sr.npy")
    want = keras_backend(window.astype(np.float32) / 255.0)
    assert got.shape == want.shape
    if signature == "serve_uint8":
        assert got.dtype == np.uint8
        want8 = np.floor(np.clip(want, 0.0, 1.0) * 255.0 + 0.5)
        assert np.abs(got.astype(np.int32) - want8).max() <= 1
        assert np.mean(got != want8) < 1e-3
    else:
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=FP32_TOL)


def test_second_savedmodel_export_takes_next_version(exported, tiny, tmp_path):
    outdir = tmp_path / "out"
    shutil.copytree(exported.outdir, outdir)
    rc, out, err = _main(["savedmodel", tiny, str(outdir)])
    assert rc == 0, err
    assert sorted(os.listdir(outdir / "savedmodel")) == ["1", "2"]
    with open(outdir / "manifest.json") as f:
        manifest = json.load(f)
    paths = [e["path"] for e in manifest["artifacts"]]
    assert "savedmodel/1" in paths and "savedmodel/2" in paths
    assert len(paths) == len(set(paths)) == len(exported.manifest["artifacts"]) + 1
    assert set(paths) >= set(EXPECTED.values())  # the other formats' entries are kept
    assert _leftovers(outdir) == []

    # an explicit existing version is refused without --overwrite, before any work
    before = _size(outdir / "savedmodel" / "1")
    rc, out, err = _main(["savedmodel", tiny, str(outdir), "--savedmodel-version", "1"])
    assert rc == 2
    assert "exists" in err and "--overwrite" in err and "Traceback" not in err
    assert _size(outdir / "savedmodel" / "1") == before


# ----------------------------------------------------------------------------- TFLite
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8-dynamic", "int8"])
def test_tflite_uses_builtin_ops_only(exported, entries, precision):
    from tga_keras.runtime.backends.tflite import TFLiteBackend

    ops = TFLiteBackend(_artifact(exported, ("tflite", precision))).op_names()
    assert "CONV_2D" in ops
    assert not [op for op in ops if op.startswith(("FLEX", "CUSTOM")) or op == "DELEGATE"]
    assert entries[("tflite", precision)]["ops"] == ops


def test_tflite_int8_has_uint8_io(exported, entries):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=_artifact(exported, ("tflite", "int8")))
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert inp["dtype"] == np.uint8
    assert out["dtype"] == np.uint8
    entry = entries[("tflite", "int8")]
    assert entry["input"]["quantization"] == pytest.approx([float(v) for v in inp["quantization"]])
    assert entry["output"]["quantization"] == pytest.approx([float(v) for v in out["quantization"]])
    for name in ("fp32", "fp16", "int8-dynamic"):  # the other models keep float32 I/O
        other = Interpreter(model_path=_artifact(exported, ("tflite", name))).get_input_details()[0]
        assert other["dtype"] == np.float32


def test_tflite_float_ops(exported, entries):
    from tga_keras.runtime.backends.tflite import tflite_float_ops

    int8 = tflite_float_ops(_artifact(exported, ("tflite", "int8")))
    assert isinstance(int8, dict)
    assert all(isinstance(k, str) and isinstance(v, int) and v > 0 for k, v in int8.items())
    assert entries[("tflite", "int8")]["float_ops"] == int8
    assert "float_ops" not in entries[("tflite", "fp32")]
    # the same function does see float compute: in the fp32 model every convolution is float
    fp32 = tflite_float_ops(_artifact(exported, ("tflite", "fp32")))
    assert fp32.get("CONV_2D", 0) > 0
    assert int8.get("CONV_2D", 0) == 0  # full integer: every convolution quantized


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8-dynamic", "int8"])
def test_tflite_runs_at_other_sizes(exported, keras_backend, window, precision):
    from tga_keras.runtime.backends.tflite import TFLiteBackend

    backend = TFLiteBackend(_artifact(exported, ("tflite", precision)))
    x = window.astype(np.float32) / 255.0
    for batch in (x[:, :, :20, :27], np.concatenate([x, x[:, ::-1]]), x[:, :, 5:, 3:]):
        batch = np.ascontiguousarray(batch)
        got, want = backend(batch), keras_backend(batch)
        assert got.shape == want.shape == (len(batch), 4 * batch.shape[2], 4 * batch.shape[3], 3)
        if precision == "fp32":
            np.testing.assert_allclose(got, want, rtol=0, atol=FP32_TOL)
        else:
            assert _psnr(np.clip(got, 0, 1), np.clip(want, 0, 1)) >= PSNR_BOUND[precision]


# ----------------------------------------------------------------------------- ONNX
def test_onnx_input_is_dynamic(exported):
    import onnxruntime as ort

    sess = ort.InferenceSession(_artifact(exported, ("onnx", "fp32")), providers=["CPUExecutionProvider"])
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    assert inp.name == "lr_frames" and out.name == "sr"
    assert inp.type == out.type == "tensor(float)"
    assert len(inp.shape) == 5 and inp.shape[1] == CFG.frames and inp.shape[4] == 3
    for d in (inp.shape[0], inp.shape[2], inp.shape[3]):
        assert d is None or isinstance(d, str), inp.shape
    assert len(out.shape) == 4 and out.shape[3] == 3


def test_onnx_runs_at_two_sizes_and_batch_2(exported, keras_backend, window):
    import onnxruntime as ort

    sess = ort.InferenceSession(_artifact(exported, ("onnx", "fp32")), providers=["CPUExecutionProvider"])
    x = window.astype(np.float32) / 255.0
    second = np.ascontiguousarray(np.concatenate([x, x[:, ::-1]])[:, :, :19, :30])  # batch 2, 19x30
    for batch in (x, second):
        got = sess.run(None, {"lr_frames": batch})[0]
        want = keras_backend(batch)
        assert got.shape == want.shape == (len(batch), 4 * batch.shape[2], 4 * batch.shape[3], 3)
        np.testing.assert_allclose(got, want, rtol=0, atol=FP32_TOL)


def test_onnx_fp16_keeps_float32_io(exported, keras_backend, window):
    import onnx
    import onnxruntime as ort

    path = _artifact(exported, ("onnx", "fp16"))
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].type == "tensor(float)"
    assert sess.get_outputs()[0].type == "tensor(float)"
    proto = onnx.load(path)
    kinds = [i.data_type for i in proto.graph.initializer]
    assert kinds.count(onnx.TensorProto.FLOAT16) > 0
    assert onnx.TensorProto.FLOAT not in kinds  # every float weight is float16
    fp32 = onnx.load(_artifact(exported, ("onnx", "fp32")))
    assert onnx.TensorProto.FLOAT16 not in [i.data_type for i in fp32.graph.initializer]
    x = window.astype(np.float32) / 255.0
    got = sess.run(None, {"lr_frames": x})[0]
    assert got.dtype == np.float32
    assert _psnr(np.clip(got, 0, 1), np.clip(keras_backend(x), 0, 1)) >= PSNR_BOUND["fp16"]


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_onnx_opset_and_metadata(exported, precision):
    import onnx

    proto = onnx.load(_artifact(exported, ("onnx", precision)))
    onnx.checker.check_model(proto)
    opsets = {o.domain: o.version for o in proto.opset_import}
    assert opsets.get("", opsets.get("ai.onnx")) == 17
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["tga_config"]) == CFG.to_dict()
    assert meta["tga_precision"] == precision


# ----------------------------------------------------------------------------- TensorRT
def test_tensorrt_without_tensorrt_writes_onnx_and_prints_trtexec(tiny, tmp_path, capsys, monkeypatch):
    """The no-GPU path, also where TensorRT is installed (availability says no, as on a GPU-less machine)."""
    import export.tensorrt_engine
    from export.cli import main

    monkeypatch.setattr(
        export.tensorrt_engine, "availability", lambda: (False, "TensorRT finds no usable NVIDIA GPU (test)")
    )
    outdir = tmp_path / "out"
    rc = main(["tensorrt", tiny, str(outdir)])
    out, err = capsys.readouterr()
    assert rc == 2
    onnx_path = outdir / "onnx" / "model_fp16.onnx"
    assert onnx_path.is_file() and onnx_path.stat().st_size > 0
    assert not (outdir / "onnx" / "model.onnx").exists()  # only the fp16 model TensorRT needs
    lines = [line.strip() for line in out.splitlines() if line.strip().startswith("trtexec --onnx=")]
    assert len(lines) == 1, out
    words = shlex.split(lines[0])
    assert f"--onnx={onnx_path}" in words
    assert "--stronglyTyped" in words
    assert "--minShapes=lr_frames:1x7x32x32x3" in words
    assert "--optShapes=lr_frames:1x7x144x180x3" in words
    assert "--maxShapes=lr_frames:1x7x272x480x3" in words
    assert f"--saveEngine={outdir / 'tensorrt' / 'model_fp16.engine'}" in words
    err_lines = err.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("export: error:") and "TensorRT" in err_lines[0]
    assert "Traceback" not in err
    trt_dir = outdir / "tensorrt"
    assert not trt_dir.exists() or not os.listdir(trt_dir)
    assert _leftovers(outdir) == []
    with open(outdir / "manifest.json") as f:
        manifest = json.load(f)
    assert [(e["format"], e["precision"]) for e in manifest["artifacts"]] == [("onnx", "fp16")]


def _tensorrt_reason() -> str:
    from export.tensorrt_engine import availability

    return availability()[1]


def _tensorrt_ready():
    if not _tensorrt_importable():
        return False
    from export.tensorrt_engine import availability

    return availability()[0]


@pytest.mark.skipif(not _tensorrt_ready(), reason=f"needs TensorRT and an NVIDIA GPU: {_tensorrt_reason()}")
def test_tensorrt_engine_on_gpu(tiny, tmp_path, keras_backend, window):
    from export.tensorrt_engine import profile_shapes
    from tga_keras.runtime.backends import detect_backend, load_backend
    from tga_keras.runtime.backends.tensorrt import TensorRTBackend
    from tga_keras.runtime.upscaler import Upscaler

    outdir = tmp_path / "out"
    rc, out, err = _main(
        ["tensorrt", tiny, str(outdir), "--min", "16x16", "--opt", "36x44", "--max", "64x64", "--max-batch", "2"]
    )
    assert rc == 0, err
    engine = outdir / "tensorrt" / "model_fp16.engine"
    assert engine.is_file() and engine.stat().st_size > 0
    with open(str(engine) + ".json") as f:
        sidecar = json.load(f)
    shapes = profile_shapes(7, (16, 16), (36, 44), (64, 64), 2, 3)
    assert sidecar["precision"] == "fp16" and sidecar["strongly_typed"] is True
    assert sidecar["profile"] == shapes
    assert sidecar["config"] == CFG.to_dict()
    assert sidecar["input"] == "lr_frames" and sidecar["output"] == "sr"
    with open(outdir / "manifest.json") as f:
        manifest = json.load(f)
    entry = next(e for e in manifest["artifacts"] if e["format"] == "tensorrt")
    assert entry["path"] == "tensorrt/model_fp16.engine"
    assert entry["sidecar"] == "tensorrt/model_fp16.engine.json"
    assert entry["bytes"] == engine.stat().st_size
    assert entry["profile"] == shapes
    assert entry["psnr_db"] >= 45.0
    assert detect_backend(engine) == "tensorrt"
    backend = load_backend(engine)
    assert isinstance(backend, TensorRTBackend)
    assert (backend.scale, backend.frames) == (4, 7)
    x = window.astype(np.float32) / 255.0
    got = Upscaler(backend).upscale_window(x)
    want = Upscaler(keras_backend).upscale_window(x)
    assert _psnr(got, want) >= 45.0
    batch = np.ascontiguousarray(np.concatenate([x, x[:, ::-1], x])[:, :, :20, :24])  # 3 > max batch: split
    assert _psnr(backend(batch).clip(0, 1), keras_backend(batch).clip(0, 1)) >= 45.0
    assert _leftovers(outdir) == []
    # the command line, through the one inference core
    from tga_keras.assets import clip_path
    from tga_keras.cli.main import main as tga_main

    video = tmp_path / "sr.mp4"
    assert (
        tga_main(
            [
                "upscale",
                clip_path(),
                str(video),
                "--weights",
                str(engine),
                "--backend",
                "tensorrt",
                "--frames-limit",
                "2",
                "--tile",
                "32",
                "--overlap",
                "8",
                "--no-progress",
            ]
        )
        == 0
    )
    assert video.stat().st_size > 0


def test_profile_shapes_valid():
    from export.tensorrt_engine import profile_shapes

    assert profile_shapes(7, (32, 32), (144, 180), (272, 480)) == {
        "min": [1, 7, 32, 32, 3],
        "opt": [1, 7, 144, 180, 3],
        "max": [1, 7, 272, 480, 3],
    }
    assert profile_shapes(5, [3, 4], [3, 4], [3, 4], max_batch=4, min_size=3) == {
        "min": [1, 5, 3, 4, 3],
        "opt": [1, 5, 3, 4, 3],
        "max": [4, 5, 3, 4, 3],
    }


@pytest.mark.parametrize(
    "args, match",
    [
        (((40, 32), (36, 180), (272, 480), 1), "height"),  # min > opt
        (((32, 32), (144, 500), (272, 480), 1), "width"),  # opt > max
        (((32, 32), (300, 180), (272, 480), 1), "height"),  # opt > max
        (((2, 32), (144, 180), (272, 480), 1), "--min 2x32"),  # below min_size
        (((32, 32), (144, 2), (272, 480), 1), "--opt 144x2"),
        (((32, 32), (144, 180), (272, 480), 0), "max-batch"),
        (((32, 32), (144, 180), (272, 480), -3), "max-batch"),
        (((32, 32), (144, 180), (272, 480), 1.5), "max-batch"),
        (((32, 32), (144, 180), (272, 480), True), "max-batch"),
    ],
    ids=[
        "min>opt",
        "opt>max-w",
        "opt>max-h",
        "min-too-small",
        "opt-too-small",
        "batch0",
        "batch-neg",
        "batch-float",
        "batch-bool",
    ],
)
def test_profile_shapes_rejects(args, match):
    from export.tensorrt_engine import profile_shapes
    from tga_keras.errors import UsageError

    min_hw, opt_hw, max_hw, batch = args
    with pytest.raises(UsageError, match=match):
        profile_shapes(7, min_hw, opt_hw, max_hw, batch, 3)


def test_profile_contains():
    from export.tensorrt_engine import contains, profile_shapes

    shapes = profile_shapes(7, (32, 32), (144, 180), (272, 480), max_batch=2)
    assert contains(shapes, (1, 7, 36, 44, 3))
    assert contains(shapes, (2, 7, 32, 480, 3))
    assert contains(shapes, [1, 7, 272, 32, 3])
    assert not contains(shapes, (3, 7, 36, 44, 3))  # batch above max
    assert not contains(shapes, (1, 7, 31, 44, 3))  # below min height
    assert not contains(shapes, (1, 7, 36, 481, 3))  # above max width
    assert not contains(shapes, (1, 6, 36, 44, 3))  # another frame count
    assert not contains(shapes, (0, 7, 36, 44, 3))


def test_trtexec_command():
    from export.tensorrt_engine import profile_shapes, trtexec_command

    shapes = profile_shapes(7, (32, 32), (144, 180), (272, 480), max_batch=2)
    cmd = trtexec_command("out/onnx/model_fp16.onnx", "out/tensorrt/model_fp16.engine", shapes)
    assert cmd == (
        "trtexec --onnx=out/onnx/model_fp16.onnx --stronglyTyped "
        "--minShapes=lr_frames:1x7x32x32x3 --optShapes=lr_frames:1x7x144x180x3 "
        "--maxShapes=lr_frames:2x7x272x480x3 --memPoolSize=workspace:4096M "
        "--saveEngine=out/tensorrt/model_fp16.engine"
    )
    # paths with spaces stay one shell word each
    cmd = trtexec_command("my dir/m.onnx", "my dir/m.engine", shapes, input_name="x")
    words = shlex.split(cmd)
    assert words[0] == "trtexec"
    assert "--onnx=my dir/m.onnx" in words and "--saveEngine=my dir/m.engine" in words
    assert "--minShapes=x:1x7x32x32x3" in words


@pytest.mark.skipif(_tensorrt_importable(), reason="TensorRT is installed here")
def test_availability_without_tensorrt():
    from export.tensorrt_engine import availability

    ok, reason = availability()
    assert ok is False
    assert "TensorRT" in reason and "not installed" in reason


# ----------------------------------------------------------------------------- backends
ARTIFACT_KINDS = {"savedmodel": "savedmodel", "tflite": "tflite", "onnx": "onnx"}


@pytest.mark.parametrize("key", [None] + list(EXPECTED), ids=lambda k: "keras" if k is None else "-".join(k))
def test_load_backend_runs_through_upscaler(exported, tiny, keras_backend, window, key):
    from tga_keras.runtime.backends import detect_backend, load_backend
    from tga_keras.runtime.upscaler import Upscaler

    path = tiny if key is None else _artifact(exported, key)
    kind = "keras" if key is None else ARTIFACT_KINDS[key[0]]
    assert detect_backend(path) == kind
    backend = load_backend(path)
    assert backend.name == kind
    assert (backend.scale, backend.frames, backend.min_size) == (4, 7, 3)
    if key is not None:
        assert backend.precision == key[1]
    got = Upscaler(backend).upscale_window(window[0])  # one window (F, h, w, 3), uint8 frames
    want = Upscaler(keras_backend).upscale_window(window[0])
    assert got.shape == want.shape == (144, 176, 3)
    assert got.min() >= 0.0 and got.max() <= 1.0
    precision = "fp32" if key is None else key[1]
    if precision == "fp32":
        np.testing.assert_allclose(got, want, rtol=0, atol=FP32_TOL)
    else:
        assert _psnr(got, want) >= PSNR_BOUND[precision]
    # uint8 output of a two-window batch through the same backend
    got8 = Upscaler(backend, batch_size=2).upscale_window(np.concatenate([window, window]), dtype="uint8")
    assert got8.dtype == np.uint8 and got8.shape == (2, 144, 176, 3)


@pytest.mark.parametrize(
    "key",
    [
        ("savedmodel", "fp32"),
        ("tflite", "fp32"),
        ("tflite", "fp16"),
        ("tflite", "int8-dynamic"),
        ("tflite", "int8"),
        ("onnx", "fp16"),
    ],
    ids=lambda k: "-".join(k),
)
def test_backend_without_manifest(exported, tmp_path, key):
    """Copied away from manifest.json, an artifact still gives scale and frames (shape, probe, metadata)."""
    from tga_keras.runtime.backends import load_backend
    from tga_keras.runtime.backends.base import find_manifest_entry

    src = _artifact(exported, key)
    dst = tmp_path / "lone" / os.path.basename(src)
    (tmp_path / "lone").mkdir()
    (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, dst)
    assert find_manifest_entry(dst) is None
    backend = load_backend(dst)
    assert (backend.scale, backend.frames) == (4, 7)
    assert backend.precision == key[1]


def test_find_manifest_entry(exported, entries, tmp_path):
    from tga_keras.runtime.backends.base import find_manifest_entry

    for key in EXPECTED:
        found = find_manifest_entry(_artifact(exported, key))
        assert found is not None, key
        manifest, entry = found
        assert entry == entries[key]
        assert manifest["source"]["config"] == CFG.to_dict()
    stray = os.path.join(exported.outdir, "onnx", "not_listed.onnx")
    assert find_manifest_entry(stray) is None


@pytest.mark.parametrize(
    "name, kind",
    [
        ("m.keras", "keras"),
        ("m.pth", "keras"),
        ("m.weights.h5", "keras"),
        ("m.tflite", "tflite"),
        ("M.ONNX", "onnx"),
        ("m.engine", "tensorrt"),
        ("m.plan", "tensorrt"),
    ],
)
def test_detect_backend_by_name(tmp_path, name, kind):
    from tga_keras.runtime.backends import detect_backend

    assert detect_backend(tmp_path / name) == kind


def test_detect_backend_rejects(tmp_path):
    from tga_keras.runtime.backends import detect_backend

    for name in ("model.bin", "model.txt", "model"):
        with pytest.raises(ValueError, match="cannot tell"):
            detect_backend(tmp_path / name)
    folder = tmp_path / "not_a_savedmodel"
    folder.mkdir()
    (folder / "variables").mkdir()
    with pytest.raises(ValueError, match="saved_model.pb"):
        detect_backend(folder)


def test_load_backend_rejects_bad_files(exported, tmp_path):
    from tga_keras.runtime.backends import load_backend

    with pytest.raises(FileNotFoundError):
        load_backend(tmp_path / "missing.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_backend(tmp_path / "empty.onnx")
    (tmp_path / "junk.onnx").write_text("not an onnx model\n")
    with pytest.raises(ValueError, match="not a readable ONNX"):
        load_backend(tmp_path / "junk.onnx")
    (tmp_path / "junk.tflite").write_text("not a tflite model\n")
    with pytest.raises(ValueError, match="not a readable TFLite"):
        load_backend(tmp_path / "junk.tflite")
    fake = tmp_path / "fake_sm"
    fake.mkdir()
    (fake / "saved_model.pb").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable SavedModel"):
        load_backend(fake)
    with pytest.raises(ValueError, match="precision"):
        load_backend(_artifact(exported, ("onnx", "fp32")), precision="bfloat16")
    with pytest.raises(ValueError, match="unknown backend"):
        load_backend(_artifact(exported, ("onnx", "fp32")), backend="coreml")


# ----------------------------------------------------------------------------- failures leave nothing behind
def test_parity_failure_removes_the_artifact(tiny, tmp_path, monkeypatch, capsys):
    import tga_keras.runtime.parity
    from export.cli import main

    monkeypatch.setitem(tga_keras.runtime.parity.BOUNDS, "fp32", ("max_abs_diff", -1.0))  # impossible
    outdir = tmp_path / "out3"
    rc = main(["onnx", tiny, str(outdir), "--precision", "fp32"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "parity" in err.lower()
    assert "Traceback" not in err
    assert not (outdir / "onnx" / "model.onnx").exists()
    assert not (outdir / "onnx" / "model_fp16.onnx").exists()
    assert _leftovers(outdir) == []
    assert not (outdir / "manifest.json").exists()  # no artifact: nothing to list


def test_int8_below_its_bound_is_removed_and_earlier_precisions_kept(tiny, tmp_path, monkeypatch, capsys):
    """A PSNR bound (not only the fp32 max |diff|) removes the artifact; what passed before stays listed."""
    import tga_keras.runtime.parity
    from export.cli import main

    monkeypatch.setitem(tga_keras.runtime.parity.BOUNDS, "int8", ("psnr_db", 500.0))  # no int8 model reaches it
    outdir = tmp_path / "out5"
    rc = main(["tflite", tiny, str(outdir), "--precision", "fp16,int8"])
    out, err = capsys.readouterr()
    assert rc == 1 and "FAILS PSNR >= 500 dB" in err
    assert (outdir / "tflite" / "model_fp16.tflite").is_file()
    assert not (outdir / "tflite" / "model_int8.tflite").exists()
    assert _leftovers(outdir) == []
    with open(outdir / "manifest.json") as f:
        listed = [(a["format"], a["precision"]) for a in json.load(f)["artifacts"]]
    assert listed == [("tflite", "fp16")]


def test_parity_failure_of_savedmodel_removes_the_folder(tiny, tmp_path, monkeypatch, capsys):
    import tga_keras.runtime.parity
    from export.cli import main

    monkeypatch.setitem(tga_keras.runtime.parity.BOUNDS, "fp32", ("max_abs_diff", -1.0))
    outdir = tmp_path / "out4"
    rc = main(["savedmodel", tiny, str(outdir)])
    out, err = capsys.readouterr()
    assert rc == 1 and "parity" in err.lower()
    root = outdir / "savedmodel"
    assert not root.exists() or os.listdir(root) == []
    assert _leftovers(outdir) == []
    assert not (outdir / "manifest.json").exists()


def test_interrupt_midway_keeps_finished_artifacts_only(tiny, tmp_path, monkeypatch, capsys):
    """Ctrl-C while the second ONNX model is being checked: the first stays, the second's temp file goes."""
    import tga_keras.runtime.backends.onnx
    from export.cli import main

    real = tga_keras.runtime.backends.onnx.ONNXBackend
    calls = []

    def interrupted(path, *args, **kwargs):
        calls.append(path)
        assert os.path.exists(path)  # the temporary file is written when the check starts
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(path, *args, **kwargs)

    monkeypatch.setattr(tga_keras.runtime.backends.onnx, "ONNXBackend", interrupted)
    outdir = tmp_path / "out"
    rc = main(["onnx", tiny, str(outdir)])
    out, err = capsys.readouterr()
    assert rc == 130
    assert "interrupted" in err and "Traceback" not in err
    assert len(calls) == 2 and ".part" in os.path.basename(calls[1])
    assert not os.path.exists(calls[1])
    assert (outdir / "onnx" / "model.onnx").is_file()
    assert not (outdir / "onnx" / "model_fp16.onnx").exists()
    assert _leftovers(outdir) == []
    with open(outdir / "manifest.json") as f:
        manifest = json.load(f)
    assert [e["path"] for e in manifest["artifacts"]] == ["onnx/model.onnx"]


def test_runtime_failure_is_one_line_exit_1(tiny, tmp_path, monkeypatch, capsys):
    import tga_keras.runtime.backends.onnx
    from export.cli import main

    def broken(path, *args, **kwargs):
        raise RuntimeError("onnxruntime exploded\nsecond line of detail")

    monkeypatch.setattr(tga_keras.runtime.backends.onnx, "ONNXBackend", broken)
    outdir = tmp_path / "out"
    rc = main(["onnx", tiny, str(outdir), "--precision", "fp32"])
    out, err = capsys.readouterr()
    assert rc == 1
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in err, err  # the failure, and the hint (as every entry point)
    assert lines[0] == "export: internal error: RuntimeError: onnxruntime exploded"
    assert "--debug" in lines[1]
    assert "second line" not in err
    assert not (outdir / "onnx" / "model.onnx").exists()
    assert _leftovers(outdir) == []


# ----------------------------------------------------------------------------- tflite alone, own calibration clip
def test_tflite_int8_alone_with_calibration_clip(tiny, tmp_path, capsys):
    """FORMAT tflite builds its SavedModel in a scratch folder (removed) and calibrates on --calibration."""
    from export.cli import main
    from tga_keras.assets import clip_path

    outdir = tmp_path / "out"
    rc = main(["tflite", tiny, str(outdir), "--precision", "int8", "--calibration", clip_path()])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "calibrating int8 on 8 windows of carphone_pristine.mp4" in out
    assert sorted(os.listdir(outdir)) == ["manifest.json", "tflite"]  # no savedmodel, no scratch folder
    assert os.listdir(outdir / "tflite") == ["model_int8.tflite"]
    with open(outdir / "manifest.json") as f:
        manifest = json.load(f)
    (entry,) = manifest["artifacts"]
    assert (entry["format"], entry["precision"]) == ("tflite", "int8")
    assert entry["psnr_db"] >= PSNR_BOUND["int8"]  # measured 46.3 dB
    assert _leftovers(outdir) == []


def test_non_builtin_ops_flags_flex_custom_and_delegates():
    from tga_keras.runtime.backends.tflite import non_builtin_ops

    assert non_builtin_ops(["CONV_2D", "DEPTH_TO_SPACE", "ADD"]) == []
    assert non_builtin_ops(["CONV_2D", "FlexConv3D", "DELEGATE", "MyCustomOp"]) == [
        "FlexConv3D",
        "DELEGATE",
        "MyCustomOp",
    ]
