"""``tga upscale/evaluate/benchmark --backend``: exported artifacts through the one inference core."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest

from tests.helpers.export_helpers import TINY_EXPORT_CONFIG
from tga_keras.assets import clip_path
from tga_keras.cli.main import main
from tga_keras.io.images import read_image
from tga_keras.io.video import read_video

CLIP = clip_path()
TINY = TINY_EXPORT_CONFIG


@pytest.fixture(scope="module")
def exported(export_model, export_all):
    """The exporter tests' tiny model (He-normal kernels, non-trivial BatchNorm statistics: at its own
    init the residual is below 1e-5 and every backend would give bicubic) and its artifacts from
    ``python -m export all`` (conftest, built once per session)."""
    assert export_all.rc == 0, export_all.stderr
    out = export_all.outdir
    return {
        "keras": export_model,
        "out": out,
        "onnx": os.path.join(out, "onnx", "model.onnx"),
        "tflite": os.path.join(out, "tflite", "model_fp32.tflite"),
        "int8": os.path.join(out, "tflite", "model_int8.tflite"),
        "savedmodel": os.path.join(out, "savedmodel", "1"),
    }


@pytest.fixture(scope="module")
def lr_folder(tmp_path_factory):
    import cv2

    folder = tmp_path_factory.mktemp("lr")
    for i, f in enumerate(read_video(CLIP, 0, 4)[:, 40:76, 60:104]):
        assert cv2.imwrite(str(folder / f"{i:03d}.png"), f[:, :, ::-1])
    return str(folder)


def _upscale(src, dst, *extra):
    assert main(["upscale", src, dst, "--no-progress", *extra]) == 0
    return np.stack([read_image(os.path.join(dst, n)) for n in sorted(os.listdir(dst))])


@pytest.mark.parametrize("kind", ["onnx", "tflite"])
def test_upscale_with_an_artifact_matches_keras(exported, lr_folder, tmp_path, capsys, kind):
    want = _upscale(lr_folder, str(tmp_path / "keras"), "--weights", exported["keras"])
    got = _upscale(lr_folder, str(tmp_path / kind), "--weights", exported[kind])  # backend from the path
    assert f"({kind}, fp32;" in capsys.readouterr().err
    assert got.shape == want.shape == (4, 144, 176, 3)
    # outputs equal to ~1e-6 round to the same 8-bit PNG value except at .5 boundaries: measured one
    # level apart on 9.9e-6 (onnx) and 1.3e-5 (tflite) of the values; an error of 1e-3 moves ~25%
    assert np.abs(got - want).max() <= 1.5 / 255
    assert np.mean(got != want) < 1e-4


def test_upscale_explicit_backend_and_savedmodel_folder(exported, lr_folder, tmp_path, capsys):
    sm = exported["savedmodel"]
    got = _upscale(lr_folder, str(tmp_path / "a"), "--weights", sm, "--backend", "savedmodel", "--frames-limit", "2")
    want = _upscale(lr_folder, str(tmp_path / "b"), "--weights", exported["keras"], "--frames-limit", "2")
    assert np.abs(got - want).max() <= 1.5 / 255
    assert np.mean(got != want) < 1e-4  # measured 0.0


def test_evaluate_with_int8_tflite(exported, tmp_path, capsys):
    report = tmp_path / "eval.json"
    assert (
        main(
            [
                "evaluate",
                CLIP,
                "--weights",
                exported["int8"],
                "--max-frames",
                "2",
                "--no-progress",
                "--json",
                str(report),
            ]
        )
        == 0
    )
    data = json.loads(report.read_text())
    assert data["backend"] == "tflite" and data["precision"] == "int8"
    assert data["config"] == TINY.to_dict()  # read from the export's manifest.json
    # the same figures as the float32 Keras model, to int8 rounding: measured 0.009 dB and 2.4e-3 apart
    assert (
        main(
            [
                "evaluate",
                CLIP,
                "--weights",
                exported["keras"],
                "--max-frames",
                "2",
                "--no-progress",
                "--json",
                str(tmp_path / "keras.json"),
            ]
        )
        == 0
    )
    fp32 = json.loads((tmp_path / "keras.json").read_text())["average"]
    got = data["average"]
    assert got["bicubic_psnr"] == fp32["bicubic_psnr"] and got["bicubic_ssim"] == fp32["bicubic_ssim"]
    assert abs(got["psnr"] - fp32["psnr"]) < 0.05 and abs(got["ssim"] - fp32["ssim"]) < 5e-3


def test_benchmark_json_row_for_an_artifact(exported, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["benchmark", "--weights", exported["onnx"], "--size", "12x14", "--runs", "1", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["size"] == [12, 14] and data["threads"] == 2 and data["config"] == TINY.to_dict()
    (row,) = data["results"]
    assert row["backend"] == "onnx" and row["precision"] == "fp32"
    assert row["ms_per_frame"] > 0 and row["peak_rss_mb"] > 100
    assert row["max_abs_diff_vs_fp32"] <= 1e-5  # fp32 ONNX vs Keras, on real frames: measured 8.0e-7
    assert row["psnr_vs_fp32"] is None if row["max_abs_diff_vs_fp32"] == 0 else row["psnr_vs_fp32"] > 100
    assert "onnx" in capsys.readouterr().out
    assert main(["benchmark", "--weights", exported["onnx"], "--json", str(out)]) == 2  # exists, no --overwrite


def test_benchmark_keras_bf16_row_has_psnr(exported, tmp_path):
    out = tmp_path / "bench.json"
    assert (
        main(
            [
                "benchmark",
                "--weights",
                exported["keras"],
                "--precision",
                "bfloat16",
                "--size",
                "12x14",
                "--runs",
                "1",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    (row,) = json.loads(out.read_text())["results"]
    assert row["backend"] == "keras" and row["precision"] == "bf16"
    # bf16 rounding: close, not equal (measured max |diff| 0.014, 61.2 dB)
    assert 0 < row["max_abs_diff_vs_fp32"] < 0.1 and row["psnr_vs_fp32"] > 47


@pytest.mark.slow
def test_benchmark_artifacts_suite(exported, tmp_path, capsys, monkeypatch):
    from tga_keras.runtime.backends import AUTO_ENV

    monkeypatch.delenv(AUTO_ENV)  # the suite's default rows: the runtime chosen for the model here
    out = tmp_path / "suite.json"
    assert (
        main(["benchmark", "--artifacts", exported["out"], "--size", "12x14", "--runs", "1", "--json", str(out)]) == 0
    )
    got = [r for r in json.loads(out.read_text())["results"] if r["backend"] != "peer"]  # peer: where at hand
    with open(os.path.join(exported["out"], "manifest.json")) as f:
        manifest = json.load(f)
    # the Keras model in float32 and bfloat16, the default path (auto) exact and fast, then every artifact
    # in the manifest's order, once each, the float32 ONNX also on OpenVINO (where installed)
    default, fast = got[2], got[3]
    assert [r.get("requested") for r in got[:4]] == ["keras", "keras", "auto", "auto"]
    assert default["runtime_choice"]["reason"].startswith(f"{default['backend']} fp32 (")
    assert default["precision"] == "fp32" and (default["max_abs_diff_vs_fp32"] or 0) <= 1e-4
    assert fast["runtime_choice"]["reason"].startswith(f"{fast['backend']} {fast['precision']} (")
    assert fast["psnr_vs_fp32"] is None or fast["psnr_vs_fp32"] >= 45
    assert all(r["gflop_per_s"] > 0 and r["gflop"] == got[0]["gflop"] for r in got), got
    openvino = [("openvino", "fp32")] if importlib.util.find_spec("openvino") else []
    expected = [(e["format"], e["precision"]) for e in manifest["artifacts"]]
    after_onnx = expected.index(("onnx", "fp32")) + 1
    expected[after_onnx:after_onnx] = openvino
    keras_rows = [("keras", "fp32"), ("keras", "bf16")]
    assert [(r["backend"], r["precision"]) for r in got[:2] + got[4:]] == keras_rows + expected
    rows = {(r["backend"], r["precision"]): r for r in got}
    assert all(r["ms_per_frame"] > 0 and r["peak_rss_mb"] > 0 for r in rows.values())
    # measured max |diff| vs Keras fp32: savedmodel 0, tflite/onnx fp32 9.5e-7 / 8.0e-7; PSNR vs Keras fp32:
    # bf16 61.2 dB, fp16 80.0 (tflite) / 76.3 (onnx), int8-dynamic 49.9, int8 46.3 (bounds ~6 dB under)
    for key in [("savedmodel", "fp32"), ("tflite", "fp32"), ("onnx", "fp32"), *openvino]:
        assert rows[key]["max_abs_diff_vs_fp32"] <= 1e-5, key
    bounds = {
        ("keras", "bf16"): 55,
        ("tflite", "fp16"): 70,
        ("onnx", "fp16"): 70,
        ("tflite", "int8-dynamic"): 44,
        ("tflite", "int8"): 40,
    }
    for key, bound in bounds.items():
        assert rows[key]["psnr_vs_fp32"] > bound, key


@pytest.mark.parametrize(
    "argv, words",
    [
        (["upscale", CLIP, "OUT", "--backend", "onnx", "--weights", "TXT"], "not a readable ONNX"),
        (["upscale", CLIP, "OUT", "--backend", "keras", "--weights", "ONNX"], "--backend keras runs Keras models"),
        (["upscale", CLIP, "OUT", "--backend", "savedmodel", "--weights", "KERAS"], "export the Keras model first"),
        (["upscale", CLIP, "OUT", "--weights", "ONNX", "--precision", "bfloat16"], "applies to Keras models"),
        (["upscale", CLIP, "OUT", "--backend", "savedmodel", "--weights", "ONNX"], "SavedModel is a folder"),
        (["evaluate", CLIP, "--weights", "TXT"], "cannot tell the model format"),
        (["benchmark", "--backend", "tflite", "--weights", "TXT"], "not a readable TFLite"),
    ],
)
def test_backend_mistakes_exit_2(exported, tmp_path, capsys, argv, words):
    txt = tmp_path / "model.txt"
    txt.write_text("hello")
    names = {"KERAS": exported["keras"], "ONNX": exported["onnx"], "TXT": str(txt), "OUT": str(tmp_path / "o.mp4")}
    assert main([names.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not os.path.exists(tmp_path / "o.mp4")


def test_profile_attributes_time_to_the_network_stages(exported, capsys):
    from export.profile import main as profile_main
    from export.profile import profile

    stages, ops, total = profile(exported["onnx"], 12, 14, threads=1, runs=1)
    assert total > 0 and abs(sum(stages.values()) - total) < 1e-6
    assert {"intra_group", "inter_group", "upsample"} <= set(stages)
    assert stages["intra_group"] + stages["inter_group"] > 0.5 * total  # the convolutions live there
    assert "Conv" in ops
    assert profile_main([exported["onnx"], "--size", "12x14", "--runs", "1"]) == 0
    assert "by stage" in capsys.readouterr().out
    assert profile_main([exported["onnx"], "--size", "twelve"]) == 2


def test_an_artifacts_recorded_config_is_a_description():
    """Manifests, ONNX metadata and TensorRT sidecars record the source config: read when it can be,
    None (the artifact still runs) when absent or unreadable, never an error."""
    from tga_keras.models.config import TGAConfig
    from tga_keras.runtime.backends.base import recorded_config as _recorded_config

    assert _recorded_config(TINY.to_dict()) == TINY
    assert _recorded_config(TINY.to_json()) == TINY
    old_dilated = {k: v for k, v in TGAConfig.paper().to_dict().items() if k not in ("format", "stem_bias")}
    for unreadable in (None, old_dilated, {"depth": 3}, "not json", 7):
        assert _recorded_config(unreadable) is None


def test_an_engine_without_tensorrt_is_a_user_error(tmp_path, capsys):
    """No TensorRT here: `--weights x.engine` says what to install, exit 2 (not an internal error)."""
    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT is installed")
    except ImportError:
        pass
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"not an engine")
    assert (
        main(["upscale", clip_path(), str(tmp_path / "out.mp4"), "--weights", str(engine), "--frames-limit", "1"]) == 2
    )
    err = capsys.readouterr().err
    assert "needs TensorRT" in err and "internal error" not in err
