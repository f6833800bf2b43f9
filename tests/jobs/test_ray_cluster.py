"""tga_keras.jobs.ray_cluster against a real two-node Ray cluster on 127.0.0.1 (tests.helpers.ray_cluster),
with the dummy task functions of tests.helpers.ray_tasks: addresses, node spread, a worker killed mid-task,
errors raised in tasks, the per-process model cache, the shared storage check."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import ray_tasks
from tests.helpers.ray_cluster import ray_cluster
from tga_keras.errors import InputError, UsageError, first_line
from tga_keras.jobs import ray_cluster as rc

# --- without a cluster ---------------------------------------------------------------------------------------


def test_importing_the_module_does_not_import_ray():
    code = "import sys, tga_keras.jobs.ray_cluster; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_ray_installed_connect_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(UsageError, match=r"pip install 'tga-keras\[ray\]'"):
        rc.connect("127.0.0.1:6379")
    rc.disconnect()  # not connected, ray not importable: nothing to do


def test_resolve_address(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(UsageError, match="set RAY_ADDRESS or give the head node's host:port"):
        rc.resolve_address("auto")
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6380")
    assert rc.resolve_address("auto") == "10.0.0.5:6380"
    assert rc.resolve_address("head:6379") == "head:6379"
    assert rc.resolve_address("ray://head:10001") == "ray://head:10001"
    assert rc.resolve_address("[::1]:6379") == "[::1]:6379"
    for bad in ("head", "head:", ":6379", "head:port", "head:70000"):
        with pytest.raises(UsageError, match="bad Ray cluster address"):
            rc.resolve_address(bad)


@pytest.fixture
def listening():
    """A local TCP port that accepts connections and then, with ``answer=False``, says nothing, else answers
    like an HTTP/1 server: ``listening(answer) -> "127.0.0.1:port"``."""
    import socket
    import threading

    servers = []

    def start(answer: bool) -> str:
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)

        def serve() -> None:
            conns = []
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                conns.append(conn)
                if answer:
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    conn.close()

        threading.Thread(target=serve, daemon=True).start()
        return f"127.0.0.1:{server.getsockname()[1]}"

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("where", ["unused port", "silent server", "not a GCS"])
def test_connect_to_no_cluster_fails_within_seconds(where, listening):
    import socket

    pytest.importorskip("ray")
    rc.disconnect()
    if where == "unused port":
        with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
            s.bind(("127.0.0.1", 0))
            address = f"127.0.0.1:{s.getsockname()[1]}"
        expected = r"cannot connect to it \(\[Errno 111\] Connection refused, waited up to 2 s\)"
    elif where == "silent server":  # ray.init would retry for 40 s
        address, expected = listening(answer=False), "it accepts connections but does not answer within 2 s"
    else:  # e.g. a proxy that takes every connection: ray.init would retry for 20 s
        address, expected = listening(answer=True), "something answers there, but not as a Ray cluster's GCS"
    start = time.monotonic()
    with pytest.raises(UsageError, match=f"^no Ray cluster at {address}: {expected}"):
        rc.connect(address, timeout_s=2)
    assert time.monotonic() - start < 5
    import ray

    assert not ray.is_initialized()


# --- on the cluster ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """Two nodes, 1 CPU each; the head also declares 1 GPU (Ray only counts it; for the GPU task options)."""
    with ray_cluster(num_nodes=2, cpus_per_node=1, head_gpus=1) as c:
        try:
            yield c
        finally:
            rc.disconnect()


@pytest.fixture
def connected(cluster):
    """The driver connected to :func:`cluster` (again, if a test disconnected it)."""
    rc.connect(cluster.address)
    return cluster


def test_tasks_run_on_both_nodes_with_the_job_environment(connected):
    import ray

    nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(nodes) == 2
    done = []
    results = rc.run_on_ray(ray_tasks.node_task, [(i,) for i in range(6)], on_result=lambda t, r: done.append(t))
    assert [x for _, x in results] == list(range(6))  # in task order
    assert sorted(done) == [(i,) for i in range(6)]  # each once, in completion order
    assert {node for node, _ in results} == nodes
    # the nodes were started without TF_CPP_MIN_LOG_LEVEL: connect() gives it to the job's workers
    assert rc.run_on_ray(ray_tasks.env_task, [("TF_CPP_MIN_LOG_LEVEL",)]) == ["2"]


def test_connect_twice_is_a_no_op(connected):
    rc.connect(connected.address)
    rc.connect("127.0.0.1:1")  # already connected: not even checked
    assert rc.run_on_ray(ray_tasks.failing_task, [(4,)]) == [40]


def test_a_killed_worker_task_is_retried(connected, tmp_path):
    marker = str(tmp_path / "started")
    runner = rc.RayRunner(ray_tasks.slow_once_task)
    runner.submit((marker, 7))
    deadline = time.monotonic() + 60
    while not os.path.exists(marker):
        assert time.monotonic() < deadline, "the task did not start"
        time.sleep(0.05)
    pid = int(open(marker).read())
    assert pid in connected.worker_pids("slow_once_task")  # Ray titles the process ray::<function> meanwhile
    os.kill(pid, signal.SIGKILL)
    start = time.monotonic()
    [(task, outcome)] = list(runner.results())
    assert task == (marker, 7)
    rerun_pid, rerun, x = outcome
    assert rerun and x == 7 and rerun_pid != pid
    assert time.monotonic() - start < 30  # retried at once, not after the first run's minute of sleep


def test_an_error_in_a_task_reaches_the_driver_as_itself(connected):
    done = []
    with pytest.raises(InputError) as caught:
        rc.run_on_ray(ray_tasks.failing_task, [(1,), (-1,), (2,), (3,)], on_result=lambda t, r: done.append(r))
    assert type(caught.value) is InputError
    assert first_line(caught.value) == "bad input -1: negative"
    [note] = caught.value.__notes__
    assert note.startswith("raised in a Ray task: ray::failing_task() (pid=") and "bad input -1" in note
    assert sorted(done) == [10, 20, 30]  # the other tasks finished

    results = rc.run_on_ray(ray_tasks.failing_task, [(1,), (-2,), (3,)], return_exceptions=True)
    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], InputError) and str(results[1]) == "bad input -2: negative"


def test_more_tasks_can_be_submitted_while_results_come(connected):
    runner = rc.RayRunner(ray_tasks.failing_task, cpus_per_worker=0.5)
    runner.submit((1,))
    seen = []
    for task, outcome in runner.results():
        seen.append((task, outcome))
        if task == (1,):  # like a video whose first segment tells how many more there are
            runner.submit((2,))
            runner.submit((-3,))
            assert runner.pending == 2
    outcomes = dict(seen)
    assert len(seen) == 3 and seen[0] == ((1,), 10) and outcomes[(2,)] == 20
    assert isinstance(outcomes[(-3,)], InputError)
    assert runner.pending == 0


@pytest.mark.parametrize("gpus", [0, 1])
def test_the_model_loads_once_per_worker_process(connected, gpus):
    model = f"model-for-{gpus}-gpus"  # a cache entry of its own: workers are shared between the tests
    results = rc.run_on_ray(ray_tasks.cached_task, [(model, i) for i in range(8)], gpus_per_worker=gpus)
    assert [x for _, _, x in results] == list(range(8))
    assert {loads for _, loads, _ in results} == {1}  # no process loaded it twice...
    pids = {pid for pid, _, _ in results}
    assert len(pids) < len(results)  # ...and processes ran several tasks with one load
    if gpus:  # only the head declares a GPU; Ray's default for GPU tasks, a process per task, is overridden
        assert len(pids) == 1


def test_check_shared_storage(connected, tmp_path):
    out, inputs = tmp_path / "out", tmp_path / "in"
    out.mkdir()
    inputs.mkdir()
    (inputs / "clip.mp4").write_bytes(b"not really")
    rc.check_shared_storage([str(out), str(inputs)], [str(inputs / "clip.mp4")])
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["clip.mp4", "in", "out"]  # the probes are gone

    with pytest.raises(UsageError, match=f"{tmp_path / 'model.keras'} does not exist"):
        rc.check_shared_storage([str(out)], [str(tmp_path / "model.keras")])
    with pytest.raises(UsageError, match="is not a folder"):
        rc.check_shared_storage([str(tmp_path / "missing")])


def test_check_shared_storage_names_a_file_a_node_does_not_see(connected, tmp_path):
    # All nodes here share one filesystem; /proc/self/fd/N is a path that exists for this (driver) process
    # only: each process that opens it sees its own file descriptor N, which the Ray workers do not have.
    fd = os.open(tmp_path / "model.keras", os.O_CREAT | os.O_WRONLY)
    mine = os.dup2(fd, 987)
    try:
        path = f"/proc/self/fd/{mine}"
        assert os.path.exists(path)
        with pytest.raises(UsageError) as caught:
            rc.check_shared_storage([str(tmp_path)], [path])
        message = str(caught.value)
        assert message.startswith(f"file {path} is not visible from Ray node ")
        assert "must be on storage every node reaches at the same path (a shared filesystem)" in message
        assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # the probe is gone
    finally:
        os.close(mine)
        os.close(fd)
