"""training/run.py: a tiny run trains, validates, saves, and continues after an interruption."""
import csv
import json

import numpy as np
import pytest

from tga_keras.data.fakes import random_frames, write_video
from training.run import TrainConfig, main


@pytest.fixture()
def tiny_config(tmp_path):
    frames = random_frames(12, 48, 64, seed=1)
    write_video(str(tmp_path / "train.avi"), frames)
    write_video(str(tmp_path / "val.avi"), random_frames(9, 40, 48, seed=2))
    cfg = {"model": {"preset": "small", "nf": 16, "inter_units": [2]}, "train_videos": ["train.avi"],
           "val_videos": ["val.avi"], "val_frames": 2, "hr_crop": 32, "batch_size": 2,
           "steps_per_epoch": 2, "epochs": 3, "loss": "charbonnier"}
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    return path


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_run_resume_and_outputs(tiny_config, tmp_path):
    out = tmp_path / "run"
    assert main(["--config", str(tiny_config), "--output", str(out), "--epochs", "2", "--quiet"]) == 0
    assert [r["epoch"] for r in _rows(out / "log.csv")] == ["1", "2"]
    for name in ("config.json", "last.keras", "best.keras"):
        assert (out / name).exists()
    # Running the same command again continues from the backup: only epoch 3 is added.
    assert main(["--config", str(tiny_config), "--output", str(out), "--quiet"]) == 0
    rows = _rows(out / "log.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert all(np.isfinite(float(r["loss"])) and float(r["val_psnr_y"]) > 0 for r in rows)
    import keras

    model = keras.saving.load_model(out / "last.keras")  # with its compile config (loss, metrics)
    assert model.config.nf == 16
    from tga_keras.inference import load_tga

    assert load_tga(str(out / "best.keras")).config.nf == 16


def test_other_config_in_same_folder_is_refused(tiny_config, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--config", str(tiny_config), "--output", str(out), "--epochs", "1", "--quiet"]) == 0
    cfg = json.loads(tiny_config.read_text())
    cfg["hr_crop"] = 16
    other = tmp_path / "other.json"
    other.write_text(json.dumps(cfg))
    assert main(["--config", str(other), "--output", str(out), "--quiet"]) == 2
    assert "another config" in capsys.readouterr().err


@pytest.mark.parametrize("change,match", [
    ({"train_videos": []}, "no training data"),
    ({"loss": "l2"}, "loss"),
    ({"epochs": 0}, "epochs"),
    ({"colour": 1}, "unknown"),
])
def test_bad_configs(change, match):
    base = {"train_videos": ["x.mp4"]}
    with pytest.raises(ValueError, match=match):
        TrainConfig.from_dict({**base, **change})


def test_missing_config_and_bad_json(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.json"), "--output", str(tmp_path / "o")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["--config", str(bad), "--output", str(tmp_path / "o")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_package_strips_the_optimizer(tiny_config, tmp_path):
    from training.package import main as package_main

    out = tmp_path / "run"
    assert main(["--config", str(tiny_config), "--output", str(out), "--epochs", "1", "--quiet"]) == 0
    ship = tmp_path / "ship"
    assert package_main([str(out), str(ship)]) == 0
    assert {p.name for p in ship.iterdir()} == {"model.keras", "training_config.json", "training_log.csv"}
    assert (ship / "model.keras").stat().st_size < (out / "best.keras").stat().st_size
    assert package_main([str(out), str(ship)]) == 2  # model.keras exists
    assert package_main([str(tmp_path / "nothing"), str(ship)]) == 2


def test_resumed_run_keeps_the_best_score(tmp_path):
    from training.callbacks import AtomicSave, EpochLog

    log = tmp_path / "log.csv"
    log.write_text("epoch,loss,val_psnr_y\n1,0.1,30.0\n2,0.1,25.0\n")
    scores = [float(r["val_psnr_y"]) for r in EpochLog(str(log)).rows().values()]
    saver = AtomicSave(str(tmp_path / "best.keras"), monitor="val_psnr_y", best=max(scores))
    saver.on_epoch_end(2, {"val_psnr_y": 26.0})  # worse than epoch 1: nothing written
    assert not (tmp_path / "best.keras").exists()
