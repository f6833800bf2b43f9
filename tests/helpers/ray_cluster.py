"""A real Ray cluster of several nodes on 127.0.0.1 for the tests, and the processes that belong to it.

:func:`ray_cluster` starts a head node (``ray start --head``) and further nodes (``ray start --address``),
all on 127.0.0.1, on ports picked free at start (GCS, node and object managers, agents, client server,
worker ports: nothing collides with another cluster on the machine, default or not) and in a private,
short ``--temp-dir`` (Ray's unix sockets live there and have a 107-character path limit). It yields a
:class:`RayCluster` (address, temp folder) and stops that cluster, and only that one, however the
``with`` block ends; an ``atexit`` hook covers an interpreter that exits without unwinding it, and a
small reaper process (``python -m tests.helpers.ray_cluster --reap``) one that is killed outright.

Why not ``ray stop``: in Ray 2.60 it has no option to choose a cluster (no ``--address``, no
``--temp-dir``); it SIGTERMs every process on the machine whose name is a Ray component's (raylet,
gcs_server, ``ray::`` workers, agents...), whichever cluster and session it belongs to, e.g. another
test run's or a developer's own cluster. So every ``ray start`` here runs with an environment variable
that names this cluster (:data:`MARKER`, its value the temp folder); every process Ray starts inherits it
(raylet, GCS, agents, the workers the raylet forks, however they are re-parented), and stopping kills
exactly the processes whose ``/proc/<pid>/environ`` holds it (SIGTERM raylets first, then the others, the
GCS last, as ``ray stop`` orders them; SIGKILL after a grace period).

The nodes run with ``PYTHONPATH`` set to the repository root, so their workers import ``tests.helpers``
(the dummy tasks of ``tests.helpers.ray_tasks``) the way the test process does; ``tga_keras`` comes from the
editable install.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.helpers.paths import REPO

MARKER = "TGA_TEST_RAY_CLUSTER"
"""Environment variable set on every process of a test cluster; its value is the cluster's temp folder."""

WORKER_PORTS_PER_NODE = 24
"""Ports each node's workers (and a driver connecting to it) may bind: a worker takes one while it lives."""


@dataclasses.dataclass(frozen=True)
class RayCluster:
    """A running test cluster: ``address`` (GCS ``127.0.0.1:port``, what ``ray.init`` takes),
    ``temp_dir`` (its private Ray temp folder, also the value of :data:`MARKER` on its processes),
    ``num_nodes``."""

    address: str
    temp_dir: str
    num_nodes: int

    def pids(self) -> list[int]:
        """Every live process of this cluster (raylets, GCS, agents, workers)."""
        return cluster_pids(self.temp_dir)

    def worker_pids(self, function_name: str | None = None) -> list[int]:
        """This cluster's Ray worker processes: see :func:`worker_pids`."""
        return worker_pids(self.temp_dir, function_name)


def _environ(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read()
    except OSError:  # gone, or not ours
        return b""


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _resolve(address_or_temp_dir: str) -> str:
    """The temp folder of a cluster started here, given it or its address."""
    for cluster in _RUNNING:
        if address_or_temp_dir in (cluster.address, cluster.temp_dir):
            return cluster.temp_dir
    return address_or_temp_dir


def cluster_pids(address_or_temp_dir: str) -> list[int]:
    """The live processes (not zombies) whose environment marks them as the given cluster's (its address
    or temp folder), in pid order."""
    want = f"{MARKER}={_resolve(address_or_temp_dir)}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        if want in _environ(int(entry)).split(b"\0"):
            try:
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state not in ("Z", "X"):
                found.append(int(entry))
    return sorted(found)


_AGENTS = {"ray::DashboardAgent", "ray::RuntimeEnvAgent"}
"""Per-node Ray processes that also title themselves ``ray::...`` but run no tasks."""


def worker_pids(address_or_temp_dir: str, function_name: str | None = None) -> list[int]:
    """The Ray worker processes of the given cluster (its address or temp folder): those whose command
    line Ray has set to ``ray::...`` (``ray::IDLE`` between tasks, ``ray::<function name>`` while a task
    runs; not the per-node agents, ``ray::DashboardAgent`` and ``ray::RuntimeEnvAgent``); with
    ``function_name``, only those running that function now."""
    pids = []
    for pid in cluster_pids(address_or_temp_dir):
        title = _cmdline(pid)
        if not title.startswith("ray::") or title.split()[0] in _AGENTS:
            continue
        if function_name is None or title.split()[0] == f"ray::{function_name}":
            pids.append(pid)
    return pids


def _free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that nothing listens on now (the kernel's pick, held open together)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _wait_gone(temp_dir: str, pids: list[int], timeout_s: float) -> list[int]:
    """Waits up to ``timeout_s`` for ``pids`` to exit; the ones still alive."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [p for p in pids if p in set(cluster_pids(temp_dir))]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def stop_cluster(temp_dir: str, grace_s: float = 5.0) -> None:
    """Stops the processes of the cluster in ``temp_dir`` (and only those, see the module docstring):
    SIGTERM to the raylets, then to the other processes but the GCS, then to the GCS; SIGKILL to what is
    left after ``grace_s`` in all; repeated while new processes of the cluster show up (a raylet that
    was still starting a worker)."""
    for _ in range(5):
        pids = cluster_pids(temp_dir)
        if not pids:
            return
        titles = {pid: _cmdline(pid) for pid in pids}
        raylets = [p for p in pids if "/raylet" in titles[p].split(" ")[0]]
        gcs = [p for p in pids if "gcs_server" in titles[p].split(" ")[0]]
        others = [p for p in pids if p not in raylets and p not in gcs]
        for group in (raylets, others, gcs):
            _signal(group, signal.SIGTERM)
            _wait_gone(temp_dir, group, grace_s / 3)
        _signal(cluster_pids(temp_dir), signal.SIGKILL)
        _wait_gone(temp_dir, pids, 2.0)


_RUNNING: list[RayCluster] = []


def _stop_all_at_exit() -> None:
    for cluster in list(_RUNNING):
        stop_cluster(cluster.temp_dir)
        shutil.rmtree(cluster.temp_dir, ignore_errors=True)


atexit.register(_stop_all_at_exit)


def _start_reaper(temp_dir: str) -> subprocess.Popen:
    """A process that stops the cluster in ``temp_dir`` once this one is gone (SIGKILLed, say): see :func:`_reap`."""
    env = {k: v for k, v in os.environ.items() if k != MARKER}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    argv = [sys.executable, "-m", "tests.helpers.ray_cluster", "--reap", str(os.getpid()), temp_dir]
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, start_new_session=True)


def _reap(owner: int, temp_dir: str) -> None:
    """Waits for process ``owner`` to exit, then stops the cluster in ``temp_dir`` and removes the folder
    (nothing left to do if the owner stopped it first, as it normally does, and then ends this process)."""
    while os.path.exists(f"/proc/{owner}") and os.path.isdir(temp_dir):
        time.sleep(1)
    stop_cluster(temp_dir)
    shutil.rmtree(temp_dir, ignore_errors=True)


def _ray_start(args: list[str], env: dict[str, str], log: Path) -> None:
    ray = [sys.executable, "-m", "ray.scripts.scripts", "start"]
    with open(log, "ab") as out:
        done = subprocess.run(ray + args, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=120)
    if done.returncode:
        raise RuntimeError(f"`ray start {' '.join(args)}` failed ({done.returncode}):\n{log.read_text()[-4000:]}")


@contextlib.contextmanager
def ray_cluster(num_nodes: int = 2, cpus_per_node: int = 1, head_gpus: int = 0) -> Iterator[RayCluster]:
    """Starts a Ray cluster of ``num_nodes`` nodes on 127.0.0.1 with ``cpus_per_node`` CPUs each (the head
    node also declares ``head_gpus`` GPUs, real or not: Ray only counts them) and yields it; stops it, and
    removes its temp folder, on leaving the block. Skips the test when ray is not installed."""
    import pytest

    pytest.importorskip("ray", reason="the Ray tests need ray (pip install 'tga-keras[ray]')")
    temp_dir = tempfile.mkdtemp(prefix="rt-", dir="/tmp")  # short: Ray's unix socket paths go in it
    env = dict(os.environ)
    env[MARKER] = temp_dir
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # what a job's workers get comes from the job (connect's runtime_env)
    log = Path(temp_dir) / "ray-start.log"
    head_port, client_port, dashboard_port, *_ = ports = _free_ports(3 + num_nodes * (6 + WORKER_PORTS_PER_NODE))
    node_ports = ports[3:]
    common = ["--num-cpus", str(cpus_per_node), "--temp-dir", temp_dir, "--node-ip-address", "127.0.0.1"]
    common += ["--disable-usage-stats", "--object-store-memory", str(100 * 1024**2)]
    cluster = RayCluster(f"127.0.0.1:{head_port}", temp_dir, num_nodes)
    _RUNNING.append(cluster)
    reaper = _start_reaper(temp_dir)
    try:
        for i in range(num_nodes):
            mine = node_ports[i * (6 + WORKER_PORTS_PER_NODE) : (i + 1) * (6 + WORKER_PORTS_PER_NODE)]
            node = [
                *("--node-manager-port", str(mine[0]), "--object-manager-port", str(mine[1])),
                *("--dashboard-agent-listen-port", str(mine[2]), "--dashboard-agent-grpc-port", str(mine[3])),
                *("--runtime-env-agent-port", str(mine[4]), "--metrics-export-port", str(mine[5])),
                *("--worker-port-list", ",".join(map(str, mine[6:]))),
            ]
            if i == 0:
                head = ["--head", "--port", str(head_port), "--ray-client-server-port", str(client_port)]
                # Ray 2.60 starts a dashboard process even without the dashboard (port 8265 by default)
                head += ["--include-dashboard=false", "--dashboard-port", str(dashboard_port)]
                head += ["--num-gpus", str(head_gpus)]
                _ray_start(head + common + node, env, log)
            else:
                _ray_start(["--address", cluster.address, *common, *node], env, log)
        yield cluster
    finally:
        stop_cluster(temp_dir)
        _RUNNING.remove(cluster)
        shutil.rmtree(temp_dir, ignore_errors=True)
        reaper.terminate()
        reaper.wait()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--reap":
        _reap(int(sys.argv[2]), sys.argv[3])
