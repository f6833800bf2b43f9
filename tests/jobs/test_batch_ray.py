"""``tga batch --ray ADDRESS`` on a real two-node Ray cluster on 127.0.0.1 (tests.helpers.ray_cluster).

The driver, ``python -m tga_keras.cli batch ...``, is a process of its own, as a user's would be; the
segments run as tasks on the cluster's worker processes (1 CPU per node, so 2 at a time). The outputs
must decode bit-identical (FFV1, ``--lossless``) to ``tga upscale`` of each clip in this process, also
when a worker is killed mid-job (Ray retries its task) and when the driver itself is killed and the
same command run again (it continues from the committed segments). The module's cluster is stopped,
it alone, whatever happens; so is every driver process a test started.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.ray_cluster import ray_cluster
from tests.jobs.test_batch import SMALL, assert_same_output, lr_frames, make_clip, make_frames, report
from tga_keras.cli.main import main

SEG = ["--segment-frames", "3"]
SHORT = {"a.mkv": 5, "sub/b.mp4": 7, "sub/c.mkv": 9}  # relative path under SRC -> frames
LONG = {"d.mkv": 24, "e.mp4": 24}  # 8 segments each: the job lasts long enough to interfere with


def out_name(rel: str) -> str:
    return os.path.splitext(rel)[0] + ".mkv"  # --lossless


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def cluster():
    """Two nodes of 1 CPU each, stopped (and only they) at the end of the module, however it ends."""
    pytest.importorskip("ray")
    with ray_cluster(num_nodes=2, cpus_per_node=1) as c:
        yield c


def make_src(root, clips: dict[str, int]) -> str:
    for seed, (rel, n) in enumerate(clips.items()):
        make_clip(os.path.join(root, rel), n, seed)
    return str(root)


@pytest.fixture(scope="module")
def short_src(tmp_path_factory):
    return make_src(tmp_path_factory.mktemp("ray-short") / "src", SHORT)


@pytest.fixture(scope="module")
def long_src(tmp_path_factory):
    return make_src(tmp_path_factory.mktemp("ray-long") / "src", LONG)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """``reference(clip)``: ``tga upscale CLIP ref.mkv --lossless`` here, in one segment, made once."""
    root = tmp_path_factory.mktemp("ray-ref")
    made: dict[str, str] = {}

    def get(clip: str) -> str:
        if clip not in made:
            out = str(root / f"ref{len(made)}.mkv")
            assert main(["upscale", clip, out, "--lossless", *SMALL]) == 0
            made[clip] = out
        return made[clip]

    return get


@pytest.fixture
def driver(tmp_path):
    """``driver(*args) -> Popen``: ``tga batch *args`` with the small network in a process of its own,
    stdout and stderr to files (``proc.log()``: both); every one still running at the end is killed."""
    procs: list[subprocess.Popen] = []
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("RAY_ADDRESS", None)

    def start(*args: str) -> subprocess.Popen:
        log = tmp_path / f"driver{len(procs)}.log"
        with open(log, "w") as f:
            argv = [sys.executable, "-m", "tga_keras.cli", "batch", *args, *SMALL]
            proc = subprocess.Popen(argv, env=env, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        proc.log = log.read_text  # type: ignore[attr-defined]
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait(proc: subprocess.Popen, timeout: float = 240) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"tga batch did not finish within {timeout:g} s:\n{proc.log()}")  # type: ignore[attr-defined]


def poll(what: str, check, proc: subprocess.Popen, timeout: float = 180):
    """``check()``'s first true value, polled while ``proc`` runs."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if proc.poll() is not None:
            pytest.fail(f"tga batch ended (exit {proc.returncode}) before {what}:\n{proc.log()}")  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout:g} s")
        time.sleep(0.05)


def committed_segments(out) -> list[str]:
    return sorted(glob.glob(os.path.join(str(out), "**", "*.segments", "[0-9]" * 6), recursive=True))


def mirrored(src: str, out, clips: dict[str, int]) -> dict[str, tuple[str, int]]:
    """Each clip of a folder SRC -> (its output under OUTDIR, its frames)."""
    return {os.path.join(src, rel): (os.path.join(str(out), out_name(rel)), n) for rel, n in clips.items()}


def assert_done(out, expected: dict[str, tuple[str, int]], reference, others: int = 0) -> None:
    """The report says each input of ``expected`` (input -> (output, frames)) is done or skipped (of ``others``
    more inputs, nothing), and its output is that of `tga upscale`; no work folder is left."""
    got = report(out)
    got.pop("counts")
    assert len(got) == len(expected) + others
    for input, (output, n) in expected.items():
        item = got[input]
        assert item["output"] == output
        assert item["status"] == "skipped" or (item["status"], item["frames"]) == ("done", n), item
        assert_same_output(output, reference(input))
    assert [p for p in glob.glob(os.path.join(str(out), "**", "*.segments"), recursive=True)] == []


# ------------------------------------------------------------------------------ the tests
def test_batch_on_the_cluster_matches_local_upscale(cluster, short_src, reference, tmp_path, driver):
    """Three clips and a bad input (a folder with a frame cut short: found by a task on the cluster),
    listed in a file: the clips' outputs are those of `tga upscale`, the bad input is reported."""
    cut = make_frames(tmp_path / "cut", lr_frames(7))
    data = open(os.path.join(cut, "f05.png"), "rb").read()
    open(os.path.join(cut, "f05.png"), "wb").write(data[: len(data) // 2])
    listing = tmp_path / "inputs.txt"
    listing.write_text("".join(f"{os.path.join(short_src, rel)}\n" for rel in SHORT) + "cut\n")
    out = tmp_path / "out"
    proc = driver(str(listing), str(out), "--lossless", "--ray", cluster.address, *SEG)
    code = wait(proc)
    log = proc.log()
    assert code == 2, log
    assert f"on the Ray cluster at {cluster.address}" in log and "Traceback" not in log
    assert f"bad input {cut}: cannot decode image {cut}/f05.png" in log and "batch: 3 done, 1 bad;" in log
    got = report(out)
    assert got[cut]["status"] == "bad" and got[cut]["error"].startswith(f"cannot decode image {cut}/f05.png")
    clips = {os.path.join(short_src, rel): (str(out / os.path.basename(out_name(rel))), n) for rel, n in SHORT.items()}
    assert_done(out, clips, reference, others=1)
    assert sorted(os.listdir(out)) == ["a.mkv", "b.mkv", "batch_report.json", "c.mkv"]  # nothing of the bad one


@pytest.mark.slow
def test_a_killed_worker_does_not_change_the_outputs(cluster, long_src, reference, tmp_path, driver):
    out = tmp_path / "out"
    proc = driver(long_src, str(out), "--lossless", "--ray", cluster.address, *SEG)
    poll("committed segment", lambda: committed_segments(out), proc)  # the workers have loaded the model
    [pid, *_] = poll("worker running a segment", lambda: cluster.worker_pids("run_segment"), proc)
    os.kill(pid, signal.SIGKILL)
    code = wait(proc)
    log = proc.log()
    assert code == 0, log
    assert pid not in cluster.worker_pids()
    assert "batch: 2 done;" in log and "Traceback" not in log
    assert_done(out, mirrored(long_src, out, LONG), reference)


@pytest.mark.slow
def test_a_killed_driver_continues_when_run_again(cluster, long_src, reference, tmp_path, driver):
    out = tmp_path / "out"
    args = (long_src, str(out), "--lossless", "--ray", cluster.address, *SEG)
    proc = driver(*args)
    poll("committed segment", lambda: committed_segments(out), proc)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    kept = committed_segments(out)
    assert kept and not all(os.path.exists(out / out_name(rel)) for rel in LONG)  # stopped mid-job

    again = driver(*args)
    code = wait(again)
    log = again.log()
    assert code == 0, log
    assert "Traceback" not in log
    assert_done(out, mirrored(long_src, out, LONG), reference)
