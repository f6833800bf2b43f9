"""`tga convert`, `tga benchmark`, `tga info`: exit codes and outputs (in-process)."""

import numpy as np
import pytest

from tga_keras.cli.main import main


def test_top_level_help_lists_commands(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    for cmd in ("demo", "upscale", "convert", "benchmark", "info"):
        assert cmd in out


def test_info_names_the_runtimes_and_the_cpu(capsys):
    from importlib.metadata import version

    from tga_keras.runtime.machine import cpu_class

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    runtimes = next(line for line in out.splitlines() if line.startswith("runtimes: "))
    assert f"onnxruntime {version('onnxruntime')}" in runtimes and "openvino " in runtimes
    assert f"({cpu_class()}: " in out and "preset official" in out


def test_benchmark_small_runs(capsys):
    assert main(["benchmark", "--preset", "small", "--size", "12x10", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "ms/frame" in out and "12x10 -> 48x40" in out


def test_benchmark_config_override(capsys):
    argv = ["benchmark", "--preset", "small", "--config", '{"nf": 16}', "--size", "9x9", "--runs", "1"]
    assert main(argv) == 0
    assert '{"nf": 16}' in capsys.readouterr().out


def test_benchmark_train_mode(capsys):
    assert main(["benchmark", "--train", "--preset", "small", "--runs", "1", "--batch", "2", "--hr-crop", "32"]) == 0
    out = capsys.readouterr().out
    assert "samples/s" in out and "training step" in out


@pytest.mark.parametrize(
    "argv,match",
    [
        (["benchmark", "--size", "big"], "--size"),
        (["benchmark", "--peer", "/nonexistent.onnx"], "no such file"),
        (["benchmark", "--train", "--hr-crop", "30"], "multiple of 4"),
        (["benchmark", "--config", "{nope"], "not valid JSON"),
        (["benchmark", "--config", '{"nf": 0}'], "nf must be"),
        (["benchmark", "--config", '{"depth": 3}'], "unknown TGAConfig fields"),
        (["convert", "x.pth", "out.h5"], ".keras"),
        (["convert", "/nonexistent.pth", "out.keras"], "no such file"),
    ],
)
def test_usage_errors_exit_2(argv, match, capsys):
    assert main(argv) == 2
    assert match in capsys.readouterr().err


def test_convert_writes_model_and_refuses_overwrite(tmp_path, fixtures_dir, capsys):
    pytest.importorskip("torch")
    import keras

    out = tmp_path / "official.keras"
    assert main(["convert", str(fixtures_dir / "official_tga_random_seed0.pth"), str(out)]) == 0
    model = keras.saving.load_model(out)
    ref = np.load(fixtures_dir / "official_tga_random_seed0.npz")
    assert np.abs(model.predict(ref["lr"], verbose=0) - ref["sr"]).max() <= 2e-6  # measured 3.6e-7
    assert main(["convert", str(fixtures_dir / "official_tga_random_seed0.pth"), str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["official.keras"]  # no temp files left


def test_convert_bad_checkpoint_exit_2_no_output(tmp_path, capsys):
    pytest.importorskip("torch")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x00" * 100)
    assert main(["convert", str(bad), str(tmp_path / "o.keras")]) == 2
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["bad.pth"]


def test_version(capsys):
    import tga_keras

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"tga-keras {tga_keras.__version__}"
