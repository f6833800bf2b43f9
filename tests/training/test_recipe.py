"""``python -m training.recipe``: the shipped model's chain of stages, its checks, and a tiny run of it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import pytest

from tests.helpers.paths import REPO
from tga_keras.data.fakes import random_frames, write_video
from training.config import TrainConfig
from training.recipe import (
    DEFAULT_RECIPE,
    Recipe,
    main,
    parse_overrides,
    same_run,
    stage_config,
    stage_train_config,
)

PATH_FIELDS = ("train_videos", "val_videos", "train_stills", "val_stills", "init_from")


def test_shipped_recipe_chains_every_stage_from_scratch(tmp_path):
    folder = str(tmp_path / "runs" / "configs")  # OUTPUT/configs
    recipe = Recipe.from_file(DEFAULT_RECIPE)
    assert recipe.model == "tga_small_bd_x4"
    assert recipe.stages[0].init is None  # from scratch
    names = [s.name for s in recipe.stages]
    for earlier, stage in zip(recipe.stages, recipe.stages[1:], strict=False):
        assert stage.init == earlier.name  # each stage fine-tunes the one before
    assert len(set(names)) == len(names)
    init_model = str(tmp_path / "runs" / "earlier" / "model" / "model.keras")
    for stage in recipe.stages:
        raw = stage_config(stage, init_model if stage.init else None, {}, folder)
        written = json.loads(Path(stage.config).read_text())
        assert {k: v for k, v in raw.items() if k not in PATH_FIELDS} == {
            k: v for k, v in written.items() if k not in PATH_FIELDS
        }  # the stage config's own fields
        cfg = TrainConfig.parse(raw)  # field types checked; the data need not exist here
        cfg.model_config()  # a valid model
        assert ("init_from" in raw) == (stage.init is not None)
        # no machine paths in OUTPUT/configs: every path is relative to it and names the stage's own files
        paths = cfg.train_videos + cfg.val_videos + [p for p in (cfg.train_stills, cfg.val_stills) if p]
        assert paths
        for p, mine in zip(paths, written.get("train_videos", []) + written.get("val_videos", []), strict=False):
            assert not os.path.isabs(p)
            assert os.path.normpath(os.path.join(folder, p)) == os.path.normpath(
                os.path.join(os.path.dirname(stage.config), mine)
            )
        for p in cfg.train_videos + [cfg.train_stills] if cfg.train_stills else cfg.train_videos:
            assert os.path.normpath(os.path.join(folder, p)).startswith(str(REPO / "data") + os.sep)  # prepared
        if stage.init:
            assert raw["init_from"] == os.path.join("..", "earlier", "model", "model.keras")


def test_stage_paths_resolve_against_the_stage_config(tmp_path):
    """A stage config's relative paths name files beside it, whatever the current folder is."""
    from tests.helpers.training_config import write_tiny_config, write_tiny_videos
    from training.recipe import Stage

    folder = tmp_path / "configs"
    folder.mkdir()
    write_tiny_videos(folder)
    stage = Stage("a", str(write_tiny_config(folder)))
    out = tmp_path / "runs" / "configs"
    raw = stage_config(stage, None, parse_overrides(["epochs=1"]), str(out))
    assert raw["train_videos"] == [os.path.join("..", "..", "configs", "train.avi")] and raw["epochs"] == 1
    cfg = stage_train_config(raw, str(out))
    assert cfg.train_videos == [str(folder / "train.avi")] and cfg.val_videos == [str(folder / "val.avi")]
    # the recorded file runs as it is: `training.run --config OUTPUT/configs/a.json` resolves against its folder
    out.mkdir(parents=True)
    (out / "a.json").write_text(json.dumps(raw))
    again = TrainConfig.from_dict(json.loads((out / "a.json").read_text()), base=str(out))
    assert again.to_dict() == cfg.to_dict()
    # a stage recorded with absolute paths (as older versions wrote) is the same run; other files are not
    absolute = {**raw, "train_videos": [str(folder / "train.avi")], "val_videos": [str(folder / "val.avi")]}
    assert same_run(absolute, raw, str(out))
    assert not same_run({**absolute, "val_videos": [str(folder / "train.avi")]}, raw, str(out))
    assert not same_run({**raw, "epochs": 2}, raw, str(out))
    assert not same_run({"epochs": "x"}, raw, str(out))


def test_recipe_exit_codes_debug_and_ctrl_c(tmp_path, capsys, monkeypatch):
    import training.recipe

    bad = tmp_path / "r.json"
    bad.write_text(json.dumps({"stages": []}))
    argv = [str(bad), "--output", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"python -m training.recipe: error: {bad}: a recipe is a JSON object with a non-empty list 'stages'\n"
    assert main([*argv, "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].endswith("a non-empty list 'stages'")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training.recipe, "run_recipe", interrupted)
    assert main(["--output", str(tmp_path / "o")]) == 130
    assert capsys.readouterr().err == "\npython -m training.recipe: stopped; run the same command to continue.\n"
    assert not (tmp_path / "o").exists()


def test_recipe_errors_and_overrides(tmp_path, capsys):
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps({"stages": [{"name": "a", "config": "a.json", "init": "b"}]}))
    assert main([str(bad), "--output", str(tmp_path / "o")]) == 2
    assert "init 'b' is not an earlier stage" in capsys.readouterr().err
    bad.write_text(json.dumps({"stages": [{"name": "a", "config": "a.json", "stop_after_epochs": 0}]}))
    assert main([str(bad), "--output", str(tmp_path / "o")]) == 2
    assert "stop_after_epochs must be a whole number >= 1" in capsys.readouterr().err
    bad.write_text(json.dumps({"stages": []}))
    assert main([str(bad), "--output", str(tmp_path / "o")]) == 2
    assert "non-empty list 'stages'" in capsys.readouterr().err
    assert main(["--output", str(tmp_path / "o"), "--set", "epochs"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    got = parse_overrides(["epochs=1", "train_stills=s", 'train_videos=["a.mp4"]', "loss=l1"])
    assert got == {
        "epochs": 1,
        "train_stills": os.path.abspath("s"),
        "train_videos": [os.path.abspath("a.mp4")],
        "loss": "l1",
    }


@pytest.mark.slow
def test_tiny_form_of_the_whole_chain_runs_and_resumes(tmp_path, capsys, monkeypatch):
    """Every stage of the shipped recipe, one short epoch each on random data; a rerun skips them all."""
    write_video(str(tmp_path / "train.avi"), random_frames(12, 48, 64, seed=1))
    write_video(str(tmp_path / "val.avi"), random_frames(9, 40, 48, seed=2))
    for split, n in (("train", 3), ("val", 2)):
        os.makedirs(tmp_path / split)
        for i in range(n):
            cv2.imwrite(str(tmp_path / split / f"{i}.png"), random_frames(1, 96, 96, seed=10 + i)[0])
    tiny = [
        f'train_videos=["{tmp_path / "train.avi"}"]',
        f'val_videos=["{tmp_path / "val.avi"}"]',
        f"train_stills={tmp_path / 'train'}",
        f"val_stills={tmp_path / 'val'}",
        'model={"preset": "small", "nf": 16, "inter_units": [2]}',
        "epochs=1",
        "steps_per_epoch=1",
        "batch_size=2",
        "hr_crop=32",
        "val_frames=2",
        "tensorboard=false",
    ]
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs"
    argv = ["--output", "runs", "--no-prepare", "--quiet", *[a for t in tiny for a in ("--set", t)]]
    assert main(argv) == 0
    recipe = Recipe.from_file(DEFAULT_RECIPE)
    for stage in recipe.stages:
        assert (out / stage.name / "model" / "model.keras").is_file()
        cfg = json.loads((out / "configs" / f"{stage.name}.json").read_text())
        if stage.init:
            init = os.path.normpath(out / "configs" / cfg["init_from"])
            assert init == str(out / stage.init / "model" / "model.keras")
        written = json.loads(Path(stage.config).read_text())
        for key in ("stills_motion", "train_stills_weight"):  # the stage's own fields, as written there
            assert cfg.get(key) == written.get(key)
    averaged = [s for s in recipe.stages if s.average_with_init is not None]
    assert averaged and all((out / s.name / "model" / "averaging.json").is_file() for s in averaged)
    assert (out / "model.keras").is_file()
    capsys.readouterr()
    assert main(argv) == 0
    assert capsys.readouterr().out.count(": done (") == len(recipe.stages)
    assert main([*argv, "--set", "seed=5"]) == 2  # the same folder with another config is refused
    assert "was run with another config" in capsys.readouterr().err
