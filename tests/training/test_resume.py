"""Resume and data parallelism of training/run.py, on real training subprocesses.

Tolerances: a resumed deterministic run equals an uninterrupted one exactly (max |diff| == 0: the
same ops on the same data in the same order). Data-parallel runs (two logical CPU devices under
MirroredStrategy; two worker processes under MultiWorkerMirroredStrategy) equal a single-process
run of the same global batch to 1e-6 (measured: 6e-8 and 7e-9; the all-reduce sums in another
order), and the workers' weights are identical (0).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers.paths import REPO
from tests.helpers.training_config import write_tiny_config, write_tiny_videos

ROOT = str(REPO)
# Runs training.run with N logical CPU devices (LOGICAL_CPUS), which must be set before TF starts.
# The child restores Python's Ctrl-C handler: a test run started in the background by a
# non-interactive shell (``pytest ... &``) passes SIGINT down as ignored, and the Ctrl-C test's
# SIGINT would then do nothing (the run finished its 50 epochs and exited 0).
RUNNER = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
import tensorflow as tf
n = int(os.environ.get("LOGICAL_CPUS", "1"))
if n > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
from training.run import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume")
    write_tiny_videos(d)
    return d


# the tiny run, longer and with larger steps (weights that move), deterministic: resumed == uninterrupted
RESUME_CHANGES = {"steps_per_epoch": 3, "epochs": 4, "learning_rate": 1e-2, "adam_epsilon": 1e-3, "deterministic": True}


def write_config(folder, **changes) -> str:
    return str(write_tiny_config(folder, **{**RESUME_CHANGES, **changes}))


def run(args, env=None, **kwargs) -> subprocess.Popen:
    full_env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def weights(path):
    import keras

    import tga_keras.models.model  # noqa: F401  (registers TGAModel)

    return keras.saving.load_model(path, compile=False).get_weights()


def max_diff(a, b) -> float:
    assert len(a) == len(b)
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


def progress(run_dir) -> dict:
    path = os.path.join(run_dir, "state", "progress.json")
    if not os.path.exists(path):
        return {"epoch": 0}
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def reference_run(data_dir):
    """An uninterrupted single-process run: the weights everything else must reproduce."""
    cfg = write_config(data_dir)
    out = data_dir / "reference"
    finish(run(["--config", cfg, "--output", str(out), "--quiet"]))
    return out


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(data_dir, reference_run):
    cfg = write_config(data_dir)
    out = data_dir / "killed"
    proc = run(["--config", cfg, "--output", str(out), "--quiet"])
    deadline = time.time() + 240
    while progress(out)["epoch"] < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # into epoch 3
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = progress(out)
    assert 2 <= stopped_at["epoch"] < 4, stopped_at
    assert stopped_at["step"] == stopped_at["epoch"] * 3
    finish(run(["--config", cfg, "--output", str(out), "--quiet"]))  # the same command continues
    assert progress(out)["epoch"] == 4
    assert max_diff(weights(out / "last.keras"), weights(reference_run / "last.keras")) == 0.0
    with open(out / "log.csv") as f:
        assert [line.split(",")[0] for line in f.read().split()[1:]] == ["1", "2", "3", "4"]
    assert sorted(os.listdir(out / "state")) == ["ckpt-00004.weights.h5", "progress.json"]


@pytest.mark.slow
def test_stop_with_epochs_then_continue_from_a_copied_folder(data_dir, reference_run, tmp_path):
    """--epochs 2 stops early; the run folder, config and data moved elsewhere continue there."""
    cfg = write_config(data_dir)
    out = data_dir / "stopped"
    finish(run(["--config", cfg, "--output", str(out), "--quiet", "--epochs", "2"]))
    assert progress(out)["epoch"] == 2
    stored = json.loads((out / "config.json").read_text())
    assert stored["train_videos"] == ["train.avi"]  # as written, not an absolute path
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for name in ("train.avi", "val.avi", "cfg.json"):
        shutil.copy(data_dir / name, moved / name)
    shutil.copytree(out, moved / "run")
    shutil.rmtree(out)
    finish(run(["--config", str(moved / "cfg.json"), "--output", str(moved / "run"), "--quiet"]))
    assert progress(moved / "run")["epoch"] == 4
    assert max_diff(weights(moved / "run" / "last.keras"), weights(reference_run / "last.keras")) == 0.0


@pytest.mark.slow
def test_mirrored_two_devices_equals_one(data_dir, reference_run):
    cfg = write_config(data_dir)
    out = data_dir / "mirrored"
    text = finish(run(["--config", cfg, "--output", str(out), "--strategy", "mirrored"], env={"LOGICAL_CPUS": "2"}))
    assert "Epoch 4" in text
    assert max_diff(weights(out / "last.keras"), weights(reference_run / "last.keras")) < 1e-6
    ref_log = (reference_run / "log.csv").read_text().splitlines()
    log = (out / "log.csv").read_text().splitlines()
    assert log[0] == ref_log[0]
    # the logged loss is the global-batch mean, as on one device (not summed over replicas)
    col = log[0].split(",").index("loss")
    for a, b in zip(log[1:], ref_log[1:], strict=True):
        assert float(a.split(",")[col]) == pytest.approx(float(b.split(",")[col]), rel=1e-4)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_localhost_equal_one_process(data_dir, reference_run):
    cfg = write_config(data_dir)
    out = data_dir / "multiworker"
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    procs = [
        run(
            ["--config", cfg, "--output", str(out), "--strategy", "multiworker"],
            env={"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})},
        )
        for i in (1, 0)
    ]
    try:
        outputs = [finish(p, timeout=400) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert "Epoch 4/4" in outputs[1]
    chief = weights(out / "last.keras")
    assert max_diff(chief, weights(out / "worker-1" / "last.keras")) == 0.0
    assert max_diff(chief, weights(reference_run / "last.keras")) < 1e-6
    assert progress(out)["epoch"] == 4
    assert sorted(os.listdir(out / "worker-1")) == ["last.keras"]  # the other worker writes nothing else


@pytest.mark.slow
def test_ctrl_c_keeps_a_usable_state(data_dir):
    cfg = write_config(data_dir, epochs=50)
    out = data_dir / "interrupted"
    proc = run(["--config", cfg, "--output", str(out), "--quiet"])
    deadline = time.time() + 240
    while progress(out)["epoch"] < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    text, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, text[-2000:]
    assert "Run the same command to continue" in text
    done = progress(out)["epoch"]
    assert done >= 1
    finish(run(["--config", cfg, "--output", str(out), "--quiet", "--epochs", str(done + 1)]))
    assert progress(out)["epoch"] == done + 1
