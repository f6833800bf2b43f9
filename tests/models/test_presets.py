"""The presets table (tga_keras.models.presets): one definition every list and default reads, the
shipped model's file and checksum, and ``--weights NAME`` / handle resolution."""

from __future__ import annotations

import json
import os
import zipfile

import pytest

from tests.helpers.paths import REPO
from tga_keras.errors import InputError
from tga_keras.models import presets
from tga_keras.models.config import TGAConfig
from tga_keras.models.presets import (
    DEFAULT_PRESET,
    PRESETS,
    TABLE,
    TRAINING_PRESET,
    resolve_weights,
    shipped_models,
)

SHIPPED = TABLE["small"].weights


# ------------------------------------------------------------------------------------------ the table
def test_table_is_the_one_list_of_presets():
    import tga_keras.models.config as config_module
    from tga_keras.models import loading
    from training.config import TrainConfig

    assert PRESETS == tuple(TABLE) == ("official", "paper", "paper_full", "small")
    assert not hasattr(config_module, "PRESETS")  # one public path: tga_keras.models.presets
    assert all(name == p.name for name, p in TABLE.items())
    assert DEFAULT_PRESET in TABLE and TRAINING_PRESET in TABLE
    assert "DEFAULT_PRESET" not in loading.__all__  # loading uses it; its public path is models.presets
    assert TrainConfig().model == {"preset": TRAINING_PRESET}
    assert TrainConfig(model={"nf": 48}).model_config() == TGAConfig.preset(DEFAULT_PRESET).replace(nf=48)
    for p in TABLE.values():
        assert p.description and "\n" not in p.description, p.name
    with pytest.raises(InputError, match="unknown preset 'nope'; choose one of official, paper, paper_full, small"):
        TGAConfig.preset("nope")


def test_cli_preset_defaults_read_the_table():
    from tga_keras.cli.main import _parser

    parser = _parser()
    assert parser.parse_args(["benchmark"]).preset == DEFAULT_PRESET
    for command in (["upscale", "in.mp4", "out.mp4"], ["evaluate", "in.mp4"], ["demo"]):
        args = parser.parse_args(command)
        assert args.preset is None, command  # the architecture then comes from the file or DEFAULT_PRESET


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_builds_a_config_that_round_trips(name):
    config = TABLE[name].config()
    assert isinstance(config, TGAConfig)
    assert config == TGAConfig.preset(name) == getattr(TGAConfig, name)()
    assert TGAConfig.from_dict(config.to_dict()) == config
    assert TGAConfig.from_json(config.to_json()) == config


def test_presets_differ_as_documented():
    official, paper, paper_full = (TGAConfig.preset(n) for n in ("official", "paper", "paper_full"))
    assert official == TGAConfig()
    assert paper == official.replace(dilation=True, stem_bias=False)
    assert paper_full == paper.replace(align=True)
    assert len({TGAConfig.preset(n) for n in PRESETS}) == len(PRESETS)


# ------------------------------------------------------------------------------------ shipped model
def test_only_the_small_preset_ships_weights():
    assert [p.name for p in TABLE.values() if p.weights is not None] == ["small"]
    assert SHIPPED is not None
    assert SHIPPED.name == "tga_small_bd_x4"
    assert SHIPPED.path == "saved_models/tga_small_bd_x4/model.keras"
    assert not os.path.isabs(SHIPPED.path) and "\\" not in SHIPPED.path
    assert presets.CHECKOUT == REPO  # the parent of the tga_keras package
    assert SHIPPED.location == REPO / SHIPPED.path
    assert shipped_models() == {"tga_small_bd_x4": SHIPPED, "small": SHIPPED}


def test_shipped_file_matches_its_sha256_and_preset():
    assert SHIPPED is not None
    assert SHIPPED.location.is_file(), f"{SHIPPED.location} is missing from the checkout"
    assert SHIPPED.file_sha256() == SHIPPED.sha256, (
        f"{SHIPPED.path} changed: update its sha256 in tga_keras/models/presets.py (and its model card)"
    )
    with zipfile.ZipFile(SHIPPED.location) as z:
        saved = json.loads(z.read("config.json"))["config"]["config"]
    assert TGAConfig.from_dict(saved) == TGAConfig.preset("small")


def test_parameter_count_is_computed_and_loading_by_name_gives_the_shipped_model():
    from tga_keras.models.loading import load_tga

    model = load_tga("tga_small_bd_x4")
    assert model.config == TGAConfig.preset("small")
    n = presets.parameter_count("small")
    assert n == sum(int(w.numpy().size) for w in model.trainable_weights) > 0


# --------------------------------------------------------------------------------- name resolution
def test_resolve_weights_names_paths_and_handles(tmp_path, monkeypatch):
    assert SHIPPED is not None
    where = str(SHIPPED.location)
    assert resolve_weights(None) is None
    assert resolve_weights("tga_small_bd_x4") == where
    assert resolve_weights("small") == where  # the name of the preset with weights
    real = tmp_path / "model.keras"
    real.write_bytes(b"x")
    assert resolve_weights(real) == str(real)
    assert resolve_weights("some/missing.keras") == "some/missing.keras"  # a path: the loader says not found
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tga_small_bd_x4").write_bytes(b"x")  # a file of that name here wins over the shipped name
    assert resolve_weights("tga_small_bd_x4") == "tga_small_bd_x4"


@pytest.mark.parametrize("handle", ["hf://user/repo", "hf://user/tga_small_bd_x4", "gs://bucket/small.keras"])
def test_keras_handles_pass_through_unchanged(handle):
    assert presets.is_handle(handle)
    assert resolve_weights(handle) == handle


def test_unknown_name_lists_the_known_names():
    with pytest.raises(InputError) as e:
        resolve_weights("tga_large")
    message = str(e.value)
    assert "'tga_large' is neither a file nor a shipped model's name" in message
    assert "tga_small_bd_x4" in message and "hf://" in message


def test_missing_shipped_file_says_where_it_lives(tmp_path, monkeypatch):
    monkeypatch.setattr(presets, "CHECKOUT", tmp_path)  # as in a pip install: no saved_models/
    with pytest.raises(InputError) as e:
        resolve_weights("tga_small_bd_x4")
    message = str(e.value)
    assert str(tmp_path / "saved_models/tga_small_bd_x4/model.keras") in message
    assert "git checkout, not in the pip package" in message


def test_load_tga_passes_a_handle_to_keras_untouched(monkeypatch):
    import keras

    from tga_keras.models.loading import load_tga

    seen = []

    def fake_load_model(path, *args, **kwargs):
        seen.append(path)
        raise OSError("no network here")

    monkeypatch.setattr(keras.saving, "load_model", fake_load_model)
    with pytest.raises(InputError, match="hf://user/repo: not a readable Keras model: OSError: no network here"):
        load_tga("hf://user/repo")
    assert seen == ["hf://user/repo"]


def test_load_backend_resolves_names_and_refuses_handles_as_artifacts():
    from tga_keras.runtime.backends import load_backend

    with pytest.raises(InputError, match="tga_small_bd_x4"):
        load_backend("tga_large")
    # a handle is a Keras model: it may be converted (tflite, onnx), not run as an exported artifact
    with pytest.raises(InputError, match="--backend savedmodel runs an exported artifact; export the Keras model"):
        load_backend("hf://user/repo", "savedmodel")
    backend = load_backend("tga_small_bd_x4")
    assert backend.name == "keras" and backend.scale == 4


# ------------------------------------------------------------------------------------------- the CLI
def test_weights_option_takes_the_shipped_name():
    from tga_keras.cli.main import _parser

    assert SHIPPED is not None
    parser = _parser()
    for command in (["upscale", "in.mp4", "out.mp4"], ["evaluate", "in.mp4"], ["demo"], ["benchmark"]):
        args = parser.parse_args([*command, "--weights", "tga_small_bd_x4"])
        assert args.weights == str(SHIPPED.location), command
        assert parser.parse_args([*command, "--weights", "hf://user/repo"]).weights == "hf://user/repo"


def test_cli_unknown_name_and_missing_shipped_file(tmp_path, monkeypatch, capsys):
    from tga_keras.cli.main import main

    clip = str(REPO / "tga_keras/assets/carphone_pristine.mp4")
    assert main(["evaluate", clip, "--weights", "tga_large"]) == 2
    err = capsys.readouterr().err
    assert "not found: tga_large" in err and "known names: tga_small_bd_x4" in err
    assert "Traceback" not in err

    monkeypatch.setattr(presets, "CHECKOUT", tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", clip, "--weights", "tga_small_bd_x4"]) == 2
    err = capsys.readouterr().err
    assert f"not found: {tmp_path / 'saved_models/tga_small_bd_x4/model.keras'}" in err
    assert "git checkout, not in the pip package" in err
