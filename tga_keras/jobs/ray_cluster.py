"""Running units of work on a Ray cluster: the execution layer of ``tga batch ... --ray ADDRESS``.

Every segment of every video is one Ray task. This module knows nothing about segments: the caller
gives the function to run (:class:`RayRunner`, :func:`run_on_ray`) and the argument tuples.

* :func:`connect` joins an existing cluster (``ray start --head`` on one machine, ``ray start
  --address`` on the others). Nothing is uploaded: tga-keras, its dependencies and ray (the same
  version) must be installed on every node, and the function must be importable there (it is pickled
  by reference). Workers get ``TF_CPP_MIN_LOG_LEVEL=2``; their stdout and stderr stay in the cluster's
  logs (``<temp dir>/session_latest/logs`` on each node) unless ``log_to_driver=True``.
* :func:`check_shared_storage` checks, before any work starts, that every node sees the given folders
  and files (outputs, inputs, the model): tasks read and write them by path, so they must be on a
  filesystem that every node mounts at the same path.
* :class:`RayRunner` runs ``func(*task)`` for each submitted task tuple, one Ray task each, and yields
  ``(task, result or exception)`` as tasks finish; more tasks can be submitted meanwhile (a video's later
  segments once its first ones are known). A task whose worker process dies (killed, out of memory, a
  node lost) is run again by Ray, up to ``max_retries`` times; an exception that the function raises
  is not retried: it is yielded (as the function's own exception, e.g. an
  :class:`~tga_keras.errors.InputError`), and the other tasks go on.

The model loads once per worker process, not once per segment: the caller's function keeps a cache
in a module global (a dict of loaded models), and Ray keeps a worker process alive between the tasks
of one function and reuses it for the next one. That holds for GPU tasks too: Ray's default for a
function that asks for GPUs is a fresh process per task (``max_calls=1``, to release GPU memory),
which :class:`RayRunner` overrides (``max_calls=0``, no limit). A killed worker loses its cache; the
process that takes over loads the model again.

Importing this module does not import ray; the functions here do, and say how to install it.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tga_keras.errors import UsageError, first_line

if TYPE_CHECKING:
    from types import ModuleType

WORKER_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}
"""Environment variables set on every worker of a job (TensorFlow's C++ info and warning lines off)."""

_INSTALL = "pip install 'tga-keras[ray]' (ray==2.60.0, on the driver and on every node)"


def _ray() -> ModuleType:
    """The ``ray`` module, or a UsageError that says how to install it."""
    try:
        import ray
    except ImportError as e:
        raise UsageError(f"--ray needs ray: {_INSTALL} ({first_line(e)})") from None
    return ray


def resolve_address(address: str) -> str:
    """The cluster address to connect to: ``address`` itself, or for ``"auto"`` the ``RAY_ADDRESS``
    environment variable (UsageError if it is unset or empty).

    Accepted: a GCS address ``host:port`` (what ``ray start --head`` prints; the tested form; IPv6 as
    ``[addr]:port``) and a Ray Client address ``ray://host:port`` (the head's client server, passed to
    ``ray.init`` as it is). A malformed address (no port, a port that is not a number) is a UsageError.
    """
    if address == "auto":
        address = os.environ.get("RAY_ADDRESS", "").strip()
        if not address:
            raise UsageError(
                "--ray auto reads the cluster address from RAY_ADDRESS, which is not set: set RAY_ADDRESS "
                "or give the head node's host:port (what `ray start --head` printed)"
            )
    _host_port(address)
    return address


def _host_port(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``host:port``, ``[v6]:port`` or ``ray://host:port``; UsageError if malformed."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"bad Ray cluster address {address!r}: give host:port (e.g. 10.0.0.1:6379) or ray://host:port")
    return host, int(port)


def connect(address: str, *, timeout_s: float = 5.0, log_to_driver: bool = False) -> None:
    """Connects this process (the driver) to the running Ray cluster at ``address`` (see
    :func:`resolve_address`; ``"auto"`` reads ``RAY_ADDRESS``); does nothing if Ray is already initialized.

    The address's port must accept a TCP connection within ``timeout_s`` seconds and (for a GCS address)
    answer a Ray GCS request within ``timeout_s`` more, else UsageError ``no Ray cluster at ...``
    (``ray.init`` alone retries for 20 s to a minute before it gives up). The job
    uploads no code (no ``working_dir``): tga-keras must be installed on every node. Workers run with
    :data:`WORKER_ENV`; their output stays in the cluster's logs unless ``log_to_driver``. Without ray
    installed, a UsageError says how to install it.
    """
    ray = _ray()
    if ray.is_initialized():
        return
    address = resolve_address(address)
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as e:
        raise UsageError(
            f"no Ray cluster at {address}: cannot connect to it ({first_line(e)}, waited up to {timeout_s:g} s); "
            f"start one with `ray start --head --port {port}` or check the address"
        ) from None
    if not address.startswith("ray://"):  # a Ray Client server is not the GCS: only the TCP check for it
        problem = _not_a_gcs(host, port, timeout_s)
        if problem:
            raise UsageError(f"no Ray cluster at {address}: {problem}")
    try:
        ray.init(
            address=address,
            logging_level=logging.WARNING,
            log_to_driver=log_to_driver,
            runtime_env={"env_vars": dict(WORKER_ENV)},
        )
    except ConnectionError as e:
        raise UsageError(f"no Ray cluster at {address}: {first_line(e)}") from None


def _not_a_gcs(host: str, port: int, timeout_s: float) -> str | None:
    """Why ``host:port`` is not a Ray GCS (one gRPC call, ``GetClusterId``, within ``timeout_s``), or None
    if it is one (or cannot be told: grpcio missing). A port that accepts connections is not enough: a
    silent server, or a proxy that accepts every connection, would make ``ray.init`` retry for a minute."""
    try:
        import grpc  # type: ignore[import-untyped]  # grpcio ships no types; comes with tensorflow
    except ImportError:
        return None
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    with grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)]) as channel:
        get_cluster_id = channel.unary_unary("/ray.rpc.NodeInfoGcsService/GetClusterId")  # bytes in, bytes out
        try:
            get_cluster_id(b"", timeout=timeout_s)  # an empty GetClusterIdRequest
        except grpc.RpcError as e:
            code = e.code() if hasattr(e, "code") else None
            if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                return None  # a GCS that wants a token: ray.init has it (RAY_AUTH_TOKEN...) or says so
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return f"it accepts connections but does not answer within {timeout_s:g} s"
            details = e.details() if hasattr(e, "details") else str(e)
            name = code.name if code is not None else type(e).__name__
            return f"something answers there, but not as a Ray cluster's GCS ({name}: {details})"
    return None


def disconnect() -> None:
    """Disconnects from the cluster (``ray.shutdown``) if connected; the cluster itself keeps running."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def _missing_here(paths: Sequence[str]) -> list[str]:
    """The ones of ``paths`` that this process cannot see (runs as a Ray task on each node)."""
    return [p for p in paths if not os.path.exists(p)]


def check_shared_storage(folders: Iterable[str], files: Iterable[str] = ()) -> None:
    """Checks that every alive node of the connected cluster sees ``folders`` and ``files`` at the same paths
    as this driver; UsageError naming the first path and node that does not.

    For each folder (which must exist here), the driver writes a probe file with a unique name into it, then
    runs a small task pinned to each alive node (``NodeAffinitySchedulingStrategy``, not soft; no CPU asked,
    so busy nodes answer too) that looks for the probe files and ``files``; the probes are removed
    afterwards. A folder or file that does not exist here is a UsageError before any node is asked.
    """
    ray = _ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    folders = [os.path.abspath(f) for f in folders]
    files = [os.path.abspath(f) for f in files]
    for path in folders:
        if not os.path.isdir(path):
            raise UsageError(f"{path} is not a folder (the shared storage check writes a probe file into it)")
    for path in files:
        if not os.path.exists(path):
            raise UsageError(f"{path} does not exist")
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    probes: dict[str, str] = {}  # probe file -> the folder it is in
    try:
        for folder in folders:
            probe = os.path.join(folder, f".tga-ray-probe-{uuid.uuid4().hex}")
            with open(probe, "w") as f:
                f.write("written by the tga driver to check that every Ray node sees this folder\n")
            probes[probe] = folder
        wanted = [*probes, *files]
        task = ray.remote(num_cpus=0, max_retries=1)(_missing_here)
        refs = [
            task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(wanted)
            for n in nodes
        ]
        for node, missing in zip(nodes, ray.get(refs), strict=True):
            if missing:
                what = probes.get(missing[0], missing[0])
                kind = "folder" if missing[0] in probes else "file"
                raise UsageError(
                    f"{kind} {what} is not visible from Ray node {node['NodeManagerAddress']} "
                    f"(node id {node['NodeID'][:12]}): outputs, inputs and the model must be on storage every "
                    "node reaches at the same path (a shared filesystem)"
                )
    finally:
        for probe in probes:
            try:
                os.remove(probe)
            except OSError:
                pass


class RayRunner:
    """Runs ``func(*task)`` for each submitted task tuple as a Ray task on the connected cluster, and yields
    the outcomes as they come.

    Each task asks for ``cpus_per_worker`` CPUs and ``gpus_per_worker`` GPUs (fractions share a device); a
    task whose worker dies is retried up to ``max_retries`` times (``-1``: without limit), an exception
    raised by ``func`` is not. Worker processes are reused between tasks (``max_calls=0``, also for GPU
    tasks), so ``func`` can cache its model in a module global. ``func`` must be importable on the nodes.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        gpus_per_worker: float = 0,
        cpus_per_worker: float = 1,
        max_retries: int = 3,
    ) -> None:
        ray = _ray()
        self._ray = ray
        self._remote = ray.remote(
            num_cpus=cpus_per_worker,
            num_gpus=gpus_per_worker,
            max_retries=max_retries,
            retry_exceptions=False,
            max_calls=0,
        )(func)
        self._pending: dict[Any, tuple] = {}  # ObjectRef -> its task tuple, in submission order
        self._shared: dict[int, tuple[Any, Any]] = {}  # id(argument) -> (argument, its ObjectRef)

    @property
    def pending(self) -> int:
        """How many submitted tasks have not been yielded by :meth:`results` yet."""
        return len(self._pending)

    def submit(self, task: tuple) -> None:
        """Starts ``func(*task)`` on the cluster (it queues there until a worker has the resources).

        An argument that is not a plain number, string or ``None`` (a job description) goes to the object
        store once, however many tasks take it: tasks carry a reference, which Ray resolves on the worker.
        """
        self._pending[self._remote.remote(*(self._share(a) for a in task))] = task

    def _share(self, arg: Any) -> Any:
        if arg is None or isinstance(arg, (bool, int, float, str)):
            return arg
        if id(arg) not in self._shared:  # the argument is kept too, so that its id is not reused
            self._shared[id(arg)] = (arg, self._ray.put(arg))
        return self._shared[id(arg)][1]

    def results(self) -> Iterator[tuple[tuple, Any]]:
        """Yields ``(task, outcome)`` for each submitted task in the order they finish, until none is pending
        (tasks submitted meanwhile included). ``outcome`` is ``func``'s return value, or the exception the
        task ended with: the one ``func`` raised (its own type and message, the remote traceback in a note),
        or a Ray error (``ray.exceptions.WorkerCrashedError`` once the retries are spent, ``NodeDiedError``...).
        """
        ray = self._ray
        while self._pending:
            [ref], _ = ray.wait(list(self._pending), num_returns=1)
            task = self._pending.pop(ref)
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayTaskError as e:
                outcome = _cause(e)
            except ray.exceptions.RayError as e:
                outcome = e
            yield task, outcome

    def cancel(self) -> None:
        """Cancels the pending tasks (running ones are killed) and forgets them."""
        for ref in self._pending:
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # already finished or gone
                pass
        self._pending.clear()


def _cause(error: Any) -> BaseException:
    """The exception a task's function raised, from Ray's ``RayTaskError``: the original exception
    object (so ``except InputError`` and ``first_line`` work as for a local call), with a note that says
    where it was raised and the remote traceback; the RayTaskError itself if there is no usable cause."""
    cause = getattr(error, "cause", None)
    if not isinstance(cause, Exception):
        return error
    # ray.get raises a copy that is an instance of both RayTaskError and the cause's class; its str is the
    # remote traceback after a first line "ray::<function>() (pid=..., ip=...)", in terminal colours
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()
    cause.add_note(f"raised in a Ray task: {text}")
    return cause


def run_on_ray(
    func: Callable[..., Any],
    tasks: Iterable[tuple],
    *,
    gpus_per_worker: float = 0,
    cpus_per_worker: float = 1,
    max_retries: int = 3,
    on_result: Callable[[tuple, Any], None] | None = None,
    return_exceptions: bool = False,
) -> list:
    """Runs ``func(*task)`` for every task on the connected cluster (:class:`RayRunner`) and returns the
    results in task order.

    ``on_result(task, result)`` is called in completion order as each result arrives. A failed task does not
    stop the others: once all have finished, the first failure (in completion order) is raised, as
    ``func``'s own exception type (see :meth:`RayRunner.results`); with ``return_exceptions`` the exceptions
    take their tasks' places in the list instead and are passed to ``on_result`` as well. If the driver is
    interrupted (or ``on_result`` raises), the pending tasks are cancelled.
    """
    runner = RayRunner(func, gpus_per_worker=gpus_per_worker, cpus_per_worker=cpus_per_worker, max_retries=max_retries)
    tasks = list(tasks)
    index: dict[int, list[int]] = {}  # id(task) -> its places in ``tasks`` (the same tuple may come twice)
    for i, task in enumerate(tasks):
        index.setdefault(id(task), []).append(i)
        runner.submit(task)
    results: list[Any] = [None] * len(tasks)
    first_error: BaseException | None = None
    try:
        for task, outcome in runner.results():
            results[index[id(task)].pop(0)] = outcome
            if isinstance(outcome, BaseException) and not return_exceptions:
                first_error = first_error or outcome
            elif on_result is not None:
                on_result(task, outcome)
    finally:
        runner.cancel()
    if first_error is not None:
        raise first_error
    return results


__all__ = [
    "WORKER_ENV",
    "RayRunner",
    "check_shared_storage",
    "connect",
    "disconnect",
    "resolve_address",
    "run_on_ray",
]
