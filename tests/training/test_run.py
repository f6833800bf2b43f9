"""training/run.py: a tiny run trains, validates, saves, and continues after an interruption."""

import csv
import json
import os

import numpy as np
import pytest

from tests.helpers.paths import REPO
from tests.helpers.training_config import write_tiny_config, write_tiny_videos
from training.run import TrainConfig, main


def _write_tiny_config(folder):
    write_tiny_videos(folder)
    return write_tiny_config(folder)


@pytest.fixture()
def tiny_config(tmp_path):
    return _write_tiny_config(tmp_path)


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory):
    """``(config, run folder)`` of a finished one-epoch tiny run, for tests that only read the folder."""
    folder = tmp_path_factory.mktemp("one_epoch")
    config = _write_tiny_config(folder)
    out = folder / "run"
    assert main(["--config", str(config), "--output", str(out), "--epochs", "1", "--quiet"]) == 0
    return config, out


def _snapshot(folder):
    return {p.relative_to(folder): p.stat().st_mtime_ns for p in folder.rglob("*")}


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
    from tga_keras.models.loading import load_tga

    assert load_tga(str(out / "best.keras")).config.nf == 16


def test_other_config_in_same_folder_is_refused(one_epoch_run, capsys):
    config, out = one_epoch_run
    cfg = json.loads(config.read_text())
    cfg["hr_crop"] = 16
    other = config.parent / "other.json"
    other.write_text(json.dumps(cfg))
    before = _snapshot(out)
    assert main(["--config", str(other), "--output", str(out), "--quiet"]) == 2
    assert "another config" in capsys.readouterr().err
    assert _snapshot(out) == before  # the run folder is left as it was


@pytest.mark.parametrize(
    "change,match",
    [
        ({"train_videos": []}, "no training data"),
        ({"loss": "l2"}, "loss"),
        ({"epochs": 0}, "epochs"),
        ({"colour": 1}, "unknown"),
    ],
)
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


def test_user_error_is_one_line_and_debug_adds_the_traceback(tmp_path, capsys):
    missing = tmp_path / "nope.json"
    argv = ["--config", str(missing), "--output", str(tmp_path / "o")]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"training.run: error: {missing}: no such config file\n"
    assert main([*argv, "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1] == f"training.run: error: {missing}: no such config file"
    assert not (tmp_path / "o").exists()


def test_internal_failure_and_ctrl_c(tiny_config, tmp_path, capsys, monkeypatch):
    """A failure inside the program: exit 1, the message and the --debug hint; Ctrl-C: 130, what is kept."""
    import training.run

    def broken(*args, **kwargs):
        raise RuntimeError("the optimizer exploded\nsecond line")

    monkeypatch.setattr(training.run, "train", broken)
    argv = ["--config", str(tiny_config), "--output", str(tmp_path / "o")]
    assert main(argv) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == "training.run: internal error: RuntimeError: the optimizer exploded"
    assert len(lines) == 2 and "--debug" in lines[1]
    assert main([*argv, "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training.run, "train", interrupted)
    assert main(argv) == 130
    assert capsys.readouterr().err == (
        f"\ntraining.run: stopped; the state after epoch 0 is kept in {tmp_path / 'o'}. "
        "Run the same command to continue.\n"
    )


def test_a_bad_tf_config_is_an_input_error():
    from tga_keras.errors import InputError
    from training.distributed import DistributionError

    assert issubclass(DistributionError, InputError)


def test_package_strips_the_optimizer(one_epoch_run, tmp_path):
    from training.package import main as package_main

    _, out = one_epoch_run
    ship = tmp_path / "ship"
    assert package_main([str(out), str(ship)]) == 0
    assert {p.name for p in ship.iterdir()} == {"model.keras", "training_config.json", "training_log.csv"}
    assert (ship / "model.keras").stat().st_size < (out / "best.keras").stat().st_size
    assert package_main([str(out), str(ship)]) == 2  # model.keras exists
    assert package_main([str(tmp_path / "nothing"), str(ship)]) == 2


def test_package_averages_with_the_start_model(tmp_path):
    """``--average-with START --weight A``: every weight is (1 - A) * START + A * best; the record names both."""
    from tests.helpers.export_helpers import TINY_EXPORT_CONFIG
    from tests.helpers.random_weights import he_normal_weights
    from tga_keras import build_tga
    from tga_keras.io.files import sha256_digest
    from tga_keras.models.loading import load_tga
    from training.package import main as package_main

    run = tmp_path / "run"
    run.mkdir()
    start, best = build_tga(TINY_EXPORT_CONFIG), build_tga(TINY_EXPORT_CONFIG)
    he_normal_weights(start, seed=1)
    he_normal_weights(best, seed=2)
    start.save(str(tmp_path / "start.keras"))
    best.save(str(run / "best.keras"))
    ship = tmp_path / "ship"
    assert package_main([str(run), str(ship), "--average-with", str(tmp_path / "start.keras"), "--weight", "0.25"]) == 0
    shipped = load_tga(str(ship / "model.keras"))
    for got, s, b in zip(shipped.get_weights(), start.get_weights(), best.get_weights(), strict=True):
        np.testing.assert_allclose(got, 0.75 * s + 0.25 * b, rtol=1e-6, atol=1e-7)
    assert not np.allclose(shipped.get_weights()[0], best.get_weights()[0])  # the two really differ
    record = json.loads((ship / "averaging.json").read_text())
    assert record["weight"] == 0.25
    assert record["start"] == {"file": str(tmp_path / "start.keras"), "sha256": sha256_digest(tmp_path / "start.keras")}
    assert record["best"] == {"file": str(run / "best.keras"), "sha256": sha256_digest(run / "best.keras")}
    assert package_main([str(run), str(ship), "--overwrite"]) == 0  # a plain package drops the record
    assert not (ship / "averaging.json").exists()

    # START may be the model.keras being replaced: the record hashes what was averaged, not the result
    soup = [str(run), str(ship), "--overwrite", "--average-with"]
    assert package_main([*soup, str(tmp_path / "start.keras"), "--weight", "0.25"]) == 0
    before = sha256_digest(ship / "model.keras")
    assert package_main([*soup, str(ship / "model.keras"), "--weight", "0.5"]) == 0
    assert json.loads((ship / "averaging.json").read_text())["start"]["sha256"] == before
    got = load_tga(str(ship / "model.keras")).get_weights()[0]
    np.testing.assert_allclose(
        got, 0.375 * start.get_weights()[0] + 0.625 * best.get_weights()[0], rtol=1e-5, atol=1e-6
    )

    # user errors: exit 2, the package in place untouched
    kept = {p.name: p.read_bytes() for p in ship.iterdir()}
    other = build_tga(TINY_EXPORT_CONFIG.replace(nf=8))
    other.save(str(tmp_path / "other.keras"))
    args = [str(run), str(ship), "--overwrite", "--average-with"]
    assert package_main([*args, str(tmp_path / "other.keras"), "--weight", "0.5"]) == 2  # another architecture
    assert package_main([*args, str(tmp_path / "missing.keras"), "--weight", "0.5"]) == 2
    assert {p.name: p.read_bytes() for p in ship.iterdir()} == kept
    for argv in (["--weight", "0.5"], [*args[2:], str(tmp_path / "start.keras"), "--weight", "1.5"]):
        with pytest.raises(SystemExit) as e:  # --weight alone; a share outside [0, 1]
            package_main([str(run), str(tmp_path / "ship2"), *argv])
        assert e.value.code == 2
    assert not (tmp_path / "ship2").exists()


def test_resumed_run_keeps_the_best_score(tmp_path):
    from training.callbacks import AtomicSave, EpochLog

    log = tmp_path / "log.csv"
    log.write_text("epoch,loss,val_psnr_y\n1,0.1,30.0\n2,0.1,25.0\n")
    scores = [float(r["val_psnr_y"]) for r in EpochLog(str(log)).rows().values()]
    saver = AtomicSave(str(tmp_path / "best.keras"), monitor="val_psnr_y", best=max(scores))
    saver.on_epoch_end(2, {"val_psnr_y": 26.0})  # worse than epoch 1: nothing written
    assert not (tmp_path / "best.keras").exists()


# ---------------------------------------------------------------- bad input: exit 2, no training step
def _cfg_file(tmp_path, tiny_config, **changes):
    cfg = json.loads(tiny_config.read_text())
    cfg.update(changes)
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(cfg))
    return path


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"colour": 1}, "unknown training config fields: colour"),
        ({"batch_size": "8"}, "'batch_size' must be an integer"),
        ({"learning_rate": True}, "'learning_rate' must be a number"),
        ({"train_videos": "train.avi"}, "'train_videos' must be a list of strings"),
        ({"train_videos": ["missing.mp4"]}, "missing.mp4: no such file"),
        ({"train_stills": "nowhere"}, "train_stills"),
        ({"strategy": "ring"}, "strategy must be one of"),
        ({"mixed_precision": "int8"}, "mixed_precision"),
        ({"model": {"preset": "huge"}}, "unknown preset"),
        ({"model": {"preset": "small", "width": 3}}, "width"),
        ({"stills_motion": {"speed": 3}}, "stills_motion: unknown field 'speed'"),
        ({"stills_motion": {"velocity": -1}}, "stills_motion: velocity must be a number >= 0"),
        ({"stills_motion": [3]}, "'stills_motion' must be an object"),
        ({"stills_motion": {"objects": 1.5}}, "stills_motion: objects must be a whole number"),
        ({"model": {"preset": "small", "align": "yes"}}, "align must be true or false"),
    ],
)
def test_bad_config_is_a_clear_error_before_training(tiny_config, tmp_path, capsys, changes, message):
    out = tmp_path / "run"
    assert main(["--config", str(_cfg_file(tmp_path, tiny_config, **changes)), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (out / "state").exists()


def test_empty_dataset_and_bad_init_from(tiny_config, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert (
        main(
            [
                "--config",
                str(_cfg_file(tmp_path, tiny_config, train_videos=[], train_stills="empty")),
                "--output",
                str(tmp_path / "a"),
            ]
        )
        == 2
    )
    assert "no images in" in capsys.readouterr().err
    from tga_keras.models.config import TGAConfig
    from tga_keras.models.model import build_tga

    other = tmp_path / "other.keras"
    build_tga(TGAConfig.small()).save(other)  # nf 32, the run's model has nf 16
    assert (
        main(
            [
                "--config",
                str(_cfg_file(tmp_path, tiny_config, init_from="other.keras")),
                "--output",
                str(tmp_path / "b"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "another architecture" in err and "nf 32 there, 16 here" in err
    assert not (tmp_path / "b" / "state").exists()


@pytest.mark.parametrize(
    "tf_config,message",
    [
        ("{not json", "TF_CONFIG is not valid JSON"),
        ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "non-empty list"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "task index 3"),
    ],
)
def test_bad_tf_config(tiny_config, tmp_path, capsys, monkeypatch, tf_config, message):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    assert main(["--config", str(tiny_config), "--output", str(tmp_path / "run"), "--strategy", "multiworker"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_multiworker_without_tf_config(tiny_config, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert main(["--config", str(tiny_config), "--output", str(tmp_path / "run"), "--strategy", "multiworker"]) == 2
    assert "needs TF_CONFIG" in capsys.readouterr().err


# ---------------------------------------------------------------- features
def test_init_from_copies_the_weights(tiny_config, tmp_path):
    from tga_keras.models.model import build_tga
    from training.config import TrainConfig as Cfg
    from training.run import load_initial_weights

    cfg = Cfg.from_file(str(tiny_config))
    source = build_tga(cfg.model_config())
    source.set_weights([w + 0.5 for w in source.get_weights()])
    source.save(tmp_path / "src.keras")
    cfg.init_from = str(tmp_path / "src.keras")
    target = build_tga(cfg.model_config())
    load_initial_weights(target, cfg)
    for a, b in zip(source.get_weights(), target.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # dilation and alignment change how the weights are applied, not the weights: fine-tuning allowed
    cfg.model = {**cfg.model, "dilation": True, "align": True}
    tuned = build_tga(cfg.model_config())
    load_initial_weights(tuned, cfg)
    for a, b in zip(source.get_weights(), tuned.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    cfg.model = {**cfg.model, "stem_bias": False}  # other weights: refused
    with pytest.raises(ValueError, match="stem_bias"):
        load_initial_weights(build_tga(cfg.model_config()), cfg)


@pytest.mark.slow  # 27 s: make test stays near 10 minutes; the slow set runs before training changes land
def test_l2_weight_decay_pulls_weights_to_zero(tiny_config, tmp_path):
    """Only the L2 term differs: with a huge decay the conv kernels shrink much more than without."""
    import keras

    def norms(decay, name):
        path = _cfg_file(
            tmp_path, tiny_config, l2_weight_decay=decay, epochs=1, val_frames=0, tensorboard=False, learning_rate=1e-2
        )
        assert main(["--config", str(path), "--output", str(tmp_path / name), "--quiet"]) == 0
        model = keras.saving.load_model(tmp_path / name / "last.keras", compile=False)
        kernels = [w for w in model.trainable_weights if len(w.shape) >= 4]  # conv kernels (BN gammas sit at 1)
        return sum(float(np.sum(np.square(w))) for w in kernels)

    assert norms(50.0, "decay") < 0.5 * norms(0.0, "plain")


@pytest.mark.slow  # 22-24 s each
@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_mixed_precision_trains_and_resumes(tiny_config, tmp_path, precision):
    import keras

    path = _cfg_file(tmp_path, tiny_config, mixed_precision=precision, tensorboard=False)
    out = tmp_path / precision
    assert main(["--config", str(path), "--output", str(out), "--quiet", "--epochs", "1"]) == 0
    assert main(["--config", str(path), "--output", str(out), "--quiet"]) == 0
    rows = _rows(out / "log.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after the run
    model = keras.saving.load_model(out / "last.keras", compile=False)
    assert all(w.dtype == "float32" for w in model.weights)  # weights stay float32


def test_tensorboard_scalars_and_pictures(tiny_config, tmp_path):
    import tensorflow as tf

    path = _cfg_file(tmp_path, tiny_config, tensorboard=True, epochs=1)
    out = tmp_path / "run"
    assert main(["--config", str(path), "--output", str(out), "--quiet"]) == 0
    tags = {}
    for root, _, files in os.walk(out / "tensorboard"):
        for name in files:
            for event in tf.compat.v1.train.summary_iterator(os.path.join(root, name)):
                for value in event.summary.value:
                    tags[value.tag] = value
    for tag in (
        "epoch_loss",
        "epoch_learning_rate",
        "epoch_psnr_y",
        "bicubic | TGA | ground truth",
        "attention per group",
    ):
        assert tag in tags, sorted(tags)
    picture = tf.make_ndarray(tags["bicubic | TGA | ground truth"].tensor)
    width, height = (int(v) for v in picture[:2])
    assert (height, width) == (40, 3 * 48)  # three panels of a whole 40x48 validation frame, side by side
    attention = tf.make_ndarray(tags["attention per group"].tensor)
    assert [int(v) for v in attention[:2]] == [3 * 48, 40]  # three groups' maps, enlarged x4 to the SR size


def test_state_survives_a_crash_between_checkpoint_and_commit(one_epoch_run, tmp_path, monkeypatch):
    """A kill after the new checkpoint is written but before progress.json names it: the old state holds."""
    import shutil

    from training import state as state_mod

    config, finished = one_epoch_run
    out = tmp_path / "run"
    shutil.copytree(finished, out)  # a run folder continues wherever it is copied
    before = (out / "state" / "progress.json").read_text()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(state_mod, "atomic_path", crash)
    assert main(["--config", str(config), "--output", str(out), "--quiet", "--epochs", "2"]) == 130
    assert (out / "state" / "progress.json").read_text() == before
    progress = state_mod.RunState(str(out)).load_progress()
    assert progress.epoch == 1 and (out / "state" / progress.checkpoint).exists()
    monkeypatch.undo()
    assert main(["--config", str(config), "--output", str(out), "--quiet", "--epochs", "2"]) == 0
    assert state_mod.RunState(str(out)).load_progress().epoch == 2


def test_slurm_tf_config():
    from training.slurm import expand_nodelist, slurm_tf_config

    assert expand_nodelist("gpu[01-03,07],cpu1") == ["gpu01", "gpu02", "gpu03", "gpu07", "cpu1"]
    assert expand_nodelist("node7") == ["node7"]
    cfg = slurm_tf_config({"SLURM_JOB_NODELIST": "n[1-2]", "SLURM_PROCID": "1"}, port=999)
    assert cfg == {"cluster": {"worker": ["n1:999", "n2:999"]}, "task": {"type": "worker", "index": 1}}
    with pytest.raises(ValueError, match="one task per node"):
        slurm_tf_config({"SLURM_JOB_NODELIST": "n1", "SLURM_PROCID": "1"})
    with pytest.raises(ValueError, match="srun"):
        slurm_tf_config({})


def test_stills_motion_sets_the_motion_range():
    from tga_keras.data.synthetic import MotionRange

    cfg = TrainConfig.from_dict(
        {"train_videos": [], "train_stills": ".", "stills_motion": {"velocity": 12, "zoom": 0.02}}
    )
    assert cfg.motion_range() == MotionRange(velocity=12.0, zoom=0.02)
    assert TrainConfig.from_dict({"train_stills": "."}).motion_range() == MotionRange()
    local = TrainConfig.from_dict({"train_stills": ".", "stills_motion": {"objects": 2, "object_velocity": 1.5}})
    assert local.motion_range() == MotionRange(objects=2, object_velocity=1.5)
    assert isinstance(local.motion_range().objects, int)


def test_l1_sum_is_the_official_reduction():
    """`"loss": "l1_sum"` (paper_vimeo_bd_x4.json) is the official `nn.L1Loss(reduction="sum")(p, t) / batchsize`."""
    from tga_keras.losses import l1_sum

    rng = np.random.default_rng(0)
    pred, target = rng.random((2, 3, 16, 12, 3)).astype("float32")
    per_sample = np.asarray(l1_sum(target, pred))
    assert per_sample.shape == (3,)
    np.testing.assert_allclose(per_sample.mean(), np.abs(pred - target).sum() / 3, rtol=1e-5)
    torch = pytest.importorskip("torch")
    official = torch.nn.L1Loss(reduction="sum")(torch.from_numpy(pred), torch.from_numpy(target)) / 3
    np.testing.assert_allclose(per_sample.mean(), official.item(), rtol=1e-5)
    path = os.path.join(REPO, "training", "configs", "paper_vimeo_bd_x4.json")
    assert TrainConfig.parse(json.loads(open(path).read())).loss == "l1_sum"


def test_l1_sum_trains(tiny_config, tmp_path):
    cfg = json.loads(tiny_config.read_text()) | {"loss": "l1_sum", "epochs": 1, "val_frames": 0}
    tiny_config.write_text(json.dumps(cfg))
    out = tmp_path / "run"
    assert main(["--config", str(tiny_config), "--output", str(out), "--quiet"]) == 0
    (row,) = _rows(out / "log.csv")
    assert float(row["loss"]) > 100  # a sum over 32x32x3 pixels, not a per-pixel mean
