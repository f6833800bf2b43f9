"""The fastest runtime of this machine for a Keras model, chosen by measurement and cached on disk.

A Keras TGA model can run as it is (TensorFlow/oneDNN), or converted in this process
(:mod:`tga_keras.runtime.compile`) to TFLite (XNNPACK) or ONNX, run by onnxruntime or by OpenVINO
(which compiles the whole graph for the CPU; bf16 too where it has bf16 instructions). Which is fastest
depends on the CPU (AVX2, AVX-512, AMX), the runtime versions and the model, so it is measured,
never looked up:

1. every candidate runtime installed here is built from the model (cached: built once);
2. each is run on real frames (the bundled clip, BD x4) and kept only if it is the same network:
   ``mode='exact'`` max |diff| <= :data:`EXACT_MAX_DIFF` against the Keras graph (float32);
   ``mode='fast'`` PSNR >= :data:`FAST_MIN_PSNR` dB (int8, bf16 where the CPU has it, and the exact ones);
3. each kept candidate, Keras included, is timed at :data:`TIMING_SIZE` with the threads it will run
   with; the fastest wins, but a converted one only if it beats Keras fp32 by :data:`MARGIN` (within
   that, run to run noise decides, and Keras is the reference itself).

The choice and the chosen converted file live in ``cache_root()/runtimes/<key>/`` (``key``:
:func:`entry_key`), so later runs load the chosen model directly (its sha256 checked). A cache
entry that cannot be read is rebuilt with a note; a cache folder that cannot be written is read if
it holds the choice, else the choice is made in a temporary folder (with a note); a runtime that
fails to build, load or agree is left out with a one-line note; Keras is always there. Nothing is
measured with Keras the only runtime installed or a GPU at hand (Keras runs). Notes go to the
``tga_keras`` logger (warnings); ``tga --verbose`` also shows the choice.

    backend = choose_backend(model, threads=2)      # KerasBackend, TFLiteBackend, ONNXBackend, OpenVINOBackend
    backend.choice.reason    # 'keras fp32 (fastest exact: 1.10x tflite fp32, 1.30x onnx fp32; 3323 ms at ...)'
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import importlib.util
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import weakref
from importlib import metadata
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from tga_keras.errors import InputError, RuntimeUnusableError, first_line

if TYPE_CHECKING:
    import keras

log = logging.getLogger("tga_keras.runtime")

EXACT_MAX_DIFF = 1e-4  # the fp32 bound of the exporters' parity check
FAST_MIN_PSNR = 45.0  # dB against float32 on real frames
TIMING_SIZE = (144, 176)  # LR h x w the candidates are timed at (the bundled clip's size, near Vid4's 144x180)
TIMING_RUNS = 3  # median of, after one warm-up
MARGIN = 0.05  # Keras fp32 runs unless a converted runtime is at least this much faster (timings move ~5-15 %)
MODES = ("exact", "fast")
INSTALL_HINT = "pip install 'tga-keras[export]'"


# --------------------------------------------------------------------------------------- candidates
@dataclasses.dataclass(frozen=True)
class Candidate:
    """One way to run a Keras model: a runtime at a precision, with what it needs and how it is built.

    ``needs``: (import name, pip name) pairs; ``build(model) -> bytes`` writes the artifact (None for
    Keras itself); ``load(path_or_model, threads)`` gives the backend.
    """

    runtime: str
    precision: str
    needs: tuple[tuple[str, str], ...]
    filename: str | None
    build: Callable[[Any], bytes] | None
    load: Callable[[Any, int], Any]
    exact: bool = True

    @property
    def label(self) -> str:
        return f"{self.runtime} {self.precision}"

    def missing(self) -> str | None:
        """The install hint if a module it needs is not installed here, else None."""
        absent = not_installed(self.needs)
        return f"pip install {' '.join(absent)} (or {INSTALL_HINT})" if absent else None


def not_installed(needs: tuple[tuple[str, str], ...]) -> list[str]:
    """The pip names of the ``(import name, pip name)`` pairs of ``needs`` whose module is not installed."""
    return [pip for module, pip in needs if importlib.util.find_spec(module) is None]


def _keras_fp32(model: Any, threads: int) -> Any:
    from tga_keras.runtime.backends.keras import KerasBackend

    return KerasBackend(model)


def _keras_bf16(model: Any, threads: int) -> Any:
    from tga_keras.models.loading import with_precision
    from tga_keras.runtime.backends.keras import KerasBackend

    return KerasBackend(with_precision(model, "bfloat16"))


def _tflite_fp32(model: Any) -> bytes:
    from tga_keras.runtime.compile import to_tflite

    return to_tflite(model)


def _tflite_int8(model: Any) -> bytes:
    from tga_keras.runtime.compile import to_tflite_int8
    from tga_keras.runtime.parity import real_windows

    frames = model.config.frames
    start = min(CALIBRATION_START, CLIP_FRAMES - 8 * frames)  # past the check's frames where the clip allows
    calibration = real_windows(frames, model.config.scale, count=8, start=max(0, start))
    return to_tflite_int8(model, calibration.astype(np.float32) / 255.0)


def _tflite_int8_dynamic(model: Any) -> bytes:
    from tga_keras.runtime.compile import to_tflite_int8_dynamic

    return to_tflite_int8_dynamic(model)


_ONNX_OF: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its ONNX bytes, during one choice


def _onnx_fp32(model: Any) -> bytes:
    """The float32 ONNX of ``model``, converted once per choice (onnxruntime and OpenVINO run the same file)."""
    from tga_keras.runtime.compile import to_onnx

    if model not in _ONNX_OF:
        _ONNX_OF[model] = to_onnx(model).SerializeToString()
    return _ONNX_OF[model]


def _tflite_load(config: Any) -> Callable[[Any, int], Any]:
    def load(path: Any, threads: int) -> Any:
        from tga_keras.runtime.backends.tflite import TFLiteBackend

        return TFLiteBackend(path, threads=threads, config=config)

    return load


def _onnx_load(config: Any) -> Callable[[Any, int], Any]:
    def load(path: Any, threads: int) -> Any:
        from tga_keras.runtime.backends.onnx import ONNXBackend

        return ONNXBackend(path, threads=threads, config=config)

    return load


def _openvino_load(config: Any, precision: str) -> Callable[[Any, int], Any]:
    def load(path: Any, threads: int) -> Any:
        from tga_keras.runtime.backends.openvino import OpenVINOBackend

        return OpenVINOBackend(path, threads=threads, config=config, precision=precision)

    return load


CALIBRATION_START = 60  # bundled-clip frames for int8 calibration, apart from the check's frames (0 .. 13)
CLIP_FRAMES = 120  # frames of the bundled clip
_TFLITE = (("ai_edge_litert", "ai-edge-litert"),)
_ONNX = (("tf2onnx", "tf2onnx"), ("onnxruntime", "onnxruntime"))
_OPENVINO = (("tf2onnx", "tf2onnx"), ("onnx", "onnx"), ("openvino", "openvino"))


def candidates(config: Any) -> list[Candidate]:
    """Every candidate for a model of ``config``, Keras float32 first (the reference and the fallback)."""
    load_tflite = _tflite_load(config)
    return [
        Candidate("keras", "fp32", (), None, None, _keras_fp32),
        Candidate("tflite", "fp32", _TFLITE, "model_fp32.tflite", _tflite_fp32, load_tflite),
        Candidate("onnx", "fp32", _ONNX, "model_fp32.onnx", _onnx_fp32, _onnx_load(config)),
        Candidate(
            "openvino", "fp32", _OPENVINO, "model_fp32.openvino.onnx", _onnx_fp32, _openvino_load(config, "fp32")
        ),
        Candidate("tflite", "int8", _TFLITE, "model_int8.tflite", _tflite_int8, load_tflite, exact=False),
        Candidate(
            "tflite",
            "int8-dynamic",
            _TFLITE,
            "model_int8_dynamic.tflite",
            _tflite_int8_dynamic,
            load_tflite,
            exact=False,
        ),
        Candidate("keras", "bf16", (), None, None, _keras_bf16, exact=False),
        Candidate(
            "openvino",
            "bf16",
            _OPENVINO,
            "model_bf16.openvino.onnx",  # the float32 ONNX, which OpenVINO runs in bf16
            _onnx_fp32,
            _openvino_load(config, "bf16"),
            exact=False,
        ),
    ]


RUNTIMES = ("keras", "tflite", "onnx", "openvino")


def gpu_names() -> list[str]:
    """The GPUs TensorFlow sees here (names), empty on a CPU-only machine or process."""
    import tensorflow as tf

    return [d.name for d in tf.config.list_physical_devices("GPU")]


def eligible(config: Any, mode: str, runtime: str | None = None, gpu: bool = False) -> list[Candidate]:
    """The candidates of ``mode`` (``exact``: float32 ones; ``fast``: all, bf16 only on CPUs with bf16
    instructions), of ``runtime`` only if given, installed or not (see :meth:`Candidate.missing`).
    ``gpu``: TensorFlow has a GPU here, so Keras runs on it: Keras candidates only (unless ``runtime``
    names another), bf16 included (GPUs compute it natively)."""
    from tga_keras.runtime.machine import has_bf16

    if mode not in MODES:
        raise InputError(f"mode must be one of {MODES}, got {mode!r}")
    out = []
    for c in candidates(config):
        if runtime is not None and c.runtime != runtime:
            continue
        if runtime is None and gpu and c.runtime != "keras":
            continue
        if not c.exact and (mode == "exact" or (c.precision == "bf16" and not (gpu or has_bf16()))):
            continue
        out.append(c)
    return out


# -------------------------------------------------------------------------------------------- cache
def cache_root() -> str:
    """``$TGA_CACHE_DIR``, else ``$XDG_CACHE_HOME/tga-keras``, else ``~/.cache/tga-keras``."""
    if os.environ.get("TGA_CACHE_DIR"):
        return os.environ["TGA_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tga-keras")


def model_digest(model: Any) -> str:
    """sha256 of the model's config and weights (what makes two models the same network)."""
    h = hashlib.sha256(model.config.to_json().encode())
    for w in model.get_weights():
        a = np.ascontiguousarray(w)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


CACHE_VERSION = 3  # of the cache's layout and of what the conversions write: a change makes new entries
_DISTRIBUTIONS = (
    "tga-keras",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "ai-edge-litert",
    "onnx",
    "onnxruntime",
    "tf2onnx",
    "openvino",
)


def versions() -> dict[str, str | None]:
    """The versions of the packages that build and run the candidates (None: not installed)."""
    out: dict[str, str | None] = {}
    for dist in _DISTRIBUTIONS:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def entry_key(model: Any, gpus: list[str] | None = None) -> str:
    """The cache entry of ``model`` here: its weights and config, the cache and package versions, the
    CPU (name, architecture, SIMD flags), the platform and the GPUs TensorFlow sees."""
    from tga_keras.runtime.machine import cpu_flags, cpu_name

    machine = (cpu_name(), platform.machine(), cpu_flags(), sys.platform, tuple(gpus or ()))
    text = repr((CACHE_VERSION, model_digest(model), sorted(versions().items()), machine))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _writable(folder: str) -> str | None:
    """None if ``folder`` can be made and written, else why not."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as e:
        return first_line(e)
    return None


@contextlib.contextmanager
def _entry(key: str, record_name: str) -> Iterator[tuple[str, bool]]:
    """``(folder, writable)``: the cache folder of entry ``key``, locked (one process chooses, the others
    wait, with a note, and read its choice). A cache that cannot be written is read if it holds the
    record ``record_name``; else the choice is made in a temporary folder, with a note."""
    folder = os.path.join(cache_root(), "runtimes", key)
    why = _writable(folder)
    if why is not None:
        if os.path.isfile(os.path.join(folder, record_name)):  # a read-only cache made earlier
            yield folder, False
            return
        log.warning(
            "note: the runtime cache %s cannot be written (%s): choosing in a temporary folder, not kept, so "
            "every run chooses again (set TGA_CACHE_DIR to a writable folder, or TGA_AUTO_BACKEND=keras)",
            cache_root(),
            why,
        )
        tmp = tempfile.mkdtemp(prefix="tga-runtimes-")
        try:
            yield tmp, True
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    with open(os.path.join(folder, ".lock"), "a") as lock:
        _lock(lock, folder)
        yield folder, True


def _lock(lock: Any, folder: str) -> None:
    """An exclusive lock on the open file ``lock``; a note first if another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; two processes may both choose (same result)
        return
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        log.warning("note: another process is choosing the runtime of this model (%s): waiting for it", folder)
    except OSError:  # no flock on this file system (some network ones): unlocked
        return
    with contextlib.suppress(OSError):
        fcntl.flock(lock, fcntl.LOCK_EX)


# ---------------------------------------------------------------------------------------- the choice
@dataclasses.dataclass
class RuntimeChoice:
    """What runs and why: ``runtime``/``precision`` chosen; ``reason`` one line; ``measured`` one dict
    per candidate (``label``, ``ms``, ``max_abs_diff``, ``psnr_db``, ``note``); ``seconds`` the cost of
    choosing (0 when read from the cache); ``cached`` whether it was read from ``folder``; ``artifact``
    the converted file that runs (None: Keras itself)."""

    runtime: str
    precision: str
    mode: str
    threads: int
    reason: str
    measured: list[dict]
    seconds: float = 0.0
    cached: bool = False
    folder: str | None = None
    artifact: str | None = None


def default_threads() -> int:
    """The cores this process may use (its CPU affinity, as TensorFlow counts them), at most
    ``$OMP_NUM_THREADS`` where that is set (Ray sets it to a task's CPUs)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    omp = os.environ.get("OMP_NUM_THREADS", "")
    return min(cores, int(omp)) if omp.isdigit() and int(omp) > 0 else cores


def choose_backend(
    model: keras.Model,
    *,
    mode: str = "exact",
    runtime: str | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> Any:
    """The fastest backend of ``model`` here among the candidates of ``mode`` (and ``runtime``, if given),
    with ``backend.choice`` (a :class:`RuntimeChoice`) and ``backend.keras_model`` (``model``: what
    the attention pictures are drawn with, whatever runtime runs the SR). The first call for a model
    on a machine builds, checks and times the candidates (a progress bar on stderr if ``progress``);
    later calls read the choice from the cache. ``runtime`` given and not installed: ``InputError``
    with the install hint; given and failing its check: :class:`~tga_keras.errors.RuntimeUnusableError`.
    Where TensorFlow has a GPU, Keras runs (on it) unless ``runtime`` names another; where Keras is
    the only candidate installed, it runs without any measurement. ``threads`` (default
    :func:`default_threads`) is what TFLite, onnxruntime and OpenVINO get; Keras runs with TensorFlow's own
    setting: by default every core this process may use, which is ``default_threads()`` unless
    ``$OMP_NUM_THREADS`` lowers it (``tga benchmark --threads`` sets both; a library caller sets
    TensorFlow's with ``tf.config.threading.set_intra_op_parallelism_threads``).
    """
    threads = int(threads or default_threads())
    if runtime is not None and runtime not in RUNTIMES:
        raise InputError(f"unknown runtime {runtime!r}; one of {', '.join(RUNTIMES)}")
    gpus = gpu_names() if runtime is None else []
    pool = eligible(model.config, mode, runtime, gpu=bool(gpus))
    if runtime is not None:
        hint = pool[0].missing() if pool else None
        if hint:
            raise InputError(f"the {runtime} backend is not installed here: {hint}")
    available = [c for c in pool if c.missing() is None]
    if runtime is None and [c.label for c in available] == ["keras fp32"]:
        why = f"TensorFlow runs it on {', '.join(gpus)}" if gpus else f"the only runtime installed here; {INSTALL_HINT}"
        return _attach(
            _keras_fp32(model, threads), model, RuntimeChoice("keras", "fp32", mode, threads, f"keras fp32 ({why})", [])
        )
    record_name = f"choice_{mode}_{runtime or 'any'}_t{threads}.json"
    with _entry(entry_key(model, gpus), record_name) as (folder, writable):
        record = os.path.join(folder, record_name)
        backend = _from_record(model, pool, record, folder, threads, writable)
        if backend is not None:
            return backend
        if writable:
            return _choose(model, pool, mode, runtime, threads, folder, record, progress)
        with tempfile.TemporaryDirectory(prefix="tga-runtimes-") as tmp:  # a read-only cache, its record unusable
            return _choose(model, pool, mode, runtime, threads, tmp, os.path.join(tmp, record_name), progress)


def _attach(backend: Any, model: Any, choice: RuntimeChoice) -> Any:
    """``backend`` with ``.choice`` and ``.keras_model`` (the model it runs), the choice's line logged."""
    backend.keras_model = model
    backend.choice = choice
    if choice.cached:
        log.info("runtime: %s (chosen earlier, cached in %s)", choice.reason, choice.folder)
    elif not choice.measured:
        log.info("runtime: %s", choice.reason)
    return backend


def _from_record(model: Any, pool: list[Candidate], record: str, folder: str, threads: int, writable: bool) -> Any:
    """The backend a cached choice names, its artifact checked; None (with a note) if unusable (the
    entry is then emptied, where it can be written, for the choice to be made again)."""
    from tga_keras.io.files import read_json_object, sha256_digest

    if not os.path.exists(record):
        return None
    data = read_json_object(record)
    try:
        if data is None:
            raise ValueError("not a JSON object")
        chosen, mode, reason, measured = data["chosen"], data["mode"], data["reason"], data["measured"]
        if not (isinstance(reason, str) and isinstance(measured, list) and mode in MODES):
            raise ValueError("a field of the wrong type")
        cand = next((c for c in pool if c.label == chosen), None)
        if cand is None:
            raise ValueError(f"{chosen!r} is not a candidate here")
        artifact = None if cand.filename is None else os.path.join(folder, cand.filename)
        if artifact is not None and sha256_digest(artifact) != data["sha256"]:
            raise ValueError(f"{cand.filename} does not match its recorded sha256")
        backend = cand.load(model if artifact is None else artifact, threads)
    except Exception as e:  # noqa: BLE001 - any damage to the entry: rebuilt
        log.warning("note: the cached runtime choice %s is unusable (%s): choosing again", record, first_line(e))
        if writable:
            for name in os.listdir(folder):
                if name != ".lock":
                    _remove(os.path.join(folder, name))
        return None
    choice = RuntimeChoice(
        cand.runtime, cand.precision, mode, threads, reason, measured, cached=True, folder=folder, artifact=artifact
    )
    return _attach(backend, model, choice)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.remove(path)


def _discard(c: Candidate, folder: str) -> None:
    """Remove the artifact of a candidate that was left out (a later choice builds it afresh)."""
    if c.filename is not None:
        _remove(os.path.join(folder, c.filename))


def median_ms(call: Callable[[], Any], runs: int = TIMING_RUNS) -> float:
    """Median milliseconds of ``call()`` over ``runs`` calls after one warm-up (tracing, allocation,
    kernel selection): how the chooser and ``tga benchmark`` time a backend."""
    call()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1000.0


def _choose(
    model: Any,
    pool: list[Candidate],
    mode: str,
    runtime: str | None,
    threads: int,
    folder: str,
    record: str,
    progress: bool,
) -> Any:
    """Check and time every installed candidate of ``pool``, write the choice to ``record``, return its
    backend (see the module docstring). One candidate (a runtime asked for) is checked, not timed."""
    from tga_keras.runtime.parity import real_windows, sr_of

    t0 = time.perf_counter()
    hints = {c.label: c.missing() for c in pool}
    available = [c for c in pool if hints[c.label] is None]
    measured: list[dict] = [
        {"label": c.label, "note": f"not installed ({hints[c.label]})"} for c in pool if hints[c.label]
    ]
    timed = len(available) > 1
    log.warning(
        "first use of this model here: %s %s with %d threads (once per model and machine, cached in %s; "
        "TGA_AUTO_BACKEND=keras skips this)",
        "checking and timing" if timed else "checking",
        ", ".join(c.label for c in available),
        threads,
        folder,
    )
    bar = _bar((3 if timed else 2) * len(available), progress)
    cfg = model.config
    windows = real_windows(cfg.frames, cfg.scale, count=2)
    reference = sr_of(_keras_fp32(model, threads), windows)
    x = np.random.default_rng(0).random((1, cfg.frames, *TIMING_SIZE, 3), dtype=np.float32)
    best: tuple[float, Candidate, Any, dict] | None = None
    keras: tuple[float, Candidate, Any, dict] | None = None
    try:
        for c in available:
            row: dict[str, Any] = {"label": c.label}
            measured.append(row)
            done = bar.n
            try:
                kept = _measure(model, c, mode, folder, threads, reference, windows, x if timed else None, row, bar)
            finally:
                bar.update(done + (3 if timed else 2) - bar.n)
            if kept is None:
                continue
            backend, figures = kept
            ms = row.get("ms", 0.0)
            if c.label == "keras fp32":
                keras = (ms, c, backend, figures)
            if best is None or ms < best[0]:
                best = (ms, c, backend, figures)
            del backend, kept  # the runners-up (interpreters, sessions, their arenas) are freed as the loop goes on
    finally:
        bar.close()
        _ONNX_OF.pop(model, None)
    if best is not None and keras is not None and best[0] > keras[0] * (1 - MARGIN):
        best = keras  # a converted runtime must be clearly faster than the graph it was converted from
    gc.collect()
    if best is None:
        failed = "; ".join(f"{r['label']}: {r.get('note')}" for r in measured)
        raise RuntimeUnusableError(
            f"no {runtime + ' ' if runtime else ''}runtime passed its check here ({failed}); "
            "--backend keras (or TGA_AUTO_BACKEND=keras) runs the model on Keras"
        )
    ms, cand, backend, figures = best
    seconds = time.perf_counter() - t0
    reason = _reason(cand, ms if timed else None, measured, figures, mode, runtime, threads)
    artifact = None if cand.filename is None else os.path.join(folder, cand.filename)
    _write_record(record, cand, mode, runtime, threads, reason, measured, seconds, artifact)
    _keep_only_recorded(folder)
    choice = RuntimeChoice(
        cand.runtime, cand.precision, mode, threads, reason, measured, seconds=seconds, folder=folder, artifact=artifact
    )
    log.warning("runtime: %s (choosing took %.0f s)", reason, seconds)
    return _attach(backend, model, choice)


def _measure(
    model: Any,
    c: Candidate,
    mode: str,
    folder: str,
    threads: int,
    reference: np.ndarray,
    windows: np.ndarray,
    x: np.ndarray | None,
    row: dict[str, Any],
    bar: Any,
) -> tuple[Any, dict] | None:
    """Check candidate ``c`` against ``reference`` (the Keras fp32 output on ``windows``) and, with an
    input ``x``, time it; fill ``row`` (the record's entry: figures, ``ms`` or a ``note``). Its backend
    and figures, or None (with a note) for a candidate that disagrees or fails; a Keras fp32 that
    fails raises, since nothing else can run."""
    try:
        backend, figures = _check(model, c, folder, threads, reference, windows, bar)
        ok = figures["max_abs_diff"] <= EXACT_MAX_DIFF if mode == "exact" else figures["psnr_db"] >= FAST_MIN_PSNR
        row.update(max_abs_diff=figures["max_abs_diff"], psnr_db=_finite(figures["psnr_db"]))
        if not ok:
            row["note"] = "disagrees with keras fp32: " + _figures_text(figures)
            _note(bar, "note: %s left out: %s", c.label, row["note"])
            _discard(c, folder)
            return None
        if x is not None:
            bar.set_description(f"choosing a runtime: timing {c.label}")
            row["ms"] = median_ms(functools.partial(backend, x))
    except Exception as e:  # noqa: BLE001 - a runtime that fails: left out, Keras remains
        if c.runtime == "keras" and c.precision == "fp32":
            raise
        row["note"] = f"failed: {type(e).__name__}: {first_line(e)}"
        _note(bar, "note: %s left out: %s", c.label, row["note"])
        _discard(c, folder)
        return None
    return backend, figures


def _write_record(
    record: str,
    cand: Candidate,
    mode: str,
    runtime: str | None,
    threads: int,
    reason: str,
    measured: list[dict],
    seconds: float,
    artifact: str | None,
) -> None:
    """The choice's record (read back by later runs; the artifact's sha256 guards its file)."""
    from tga_keras.io.files import sha256_digest, write_json
    from tga_keras.runtime.machine import describe_cpu

    data = {
        "chosen": cand.label,
        "mode": mode,
        "runtime": runtime,
        "threads": threads,
        "reason": reason,
        "measured": measured,
        "timing_size": list(TIMING_SIZE),
        "cpu": describe_cpu(),
        "versions": versions(),
        "seconds": seconds,
        "sha256": None if artifact is None else sha256_digest(artifact),
    }
    write_json(record, data)


def _note(bar: Any, message: str, *args: Any) -> None:
    """A warning line while the bar shows: the bar is cleared first and drawn again after it."""
    bar.clear()
    log.warning(message, *args)
    bar.refresh()


def _keep_only_recorded(folder: str) -> None:
    """Remove the converted files of ``folder`` that no choice record there names (the runners-up)."""
    from tga_keras.io.files import read_json_object

    files = {c.label: c.filename for c in candidates(None) if c.filename}  # labels and names: no config needed
    kept = set()
    for name in os.listdir(folder):
        if name.startswith("choice_") and name.endswith(".json"):
            chosen = (read_json_object(os.path.join(folder, name)) or {}).get("chosen")
            if isinstance(chosen, str) and chosen in files:
                kept.add(files[chosen])
    for name in set(files.values()) - kept:
        _remove(os.path.join(folder, name))


def _check(model: Any, c: Candidate, folder: str, threads: int, reference, windows, bar) -> tuple[Any, dict]:
    """Build (or find) and load ``c``, and compare its output on ``windows`` with ``reference``."""
    from tga_keras.runtime.parity import compare, sr_of

    bar.set_description(f"choosing a runtime: building {c.label}")
    cached = c.filename is not None and os.path.isfile(os.path.join(folder, c.filename))
    path = _build(model, c, folder)
    bar.update(1)
    bar.set_description(f"choosing a runtime: checking {c.label}")
    try:
        backend = c.load(model if path is None else path, threads)
    except Exception as e:  # noqa: BLE001 - a damaged cached artifact: built again, once
        if not cached or path is None:
            raise
        log.warning("note: the cached %s is unusable (%s): building it again", path, first_line(e))
        _remove(path)
        path = _build(model, c, folder)
        backend = c.load(path, threads)
    figures = compare(reference, sr_of(backend, windows))
    bar.update(1)
    return backend, figures


def _finite(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def _figures_text(figures: dict) -> str:
    psnr = figures["psnr_db"]
    return f"max |diff| {figures['max_abs_diff']:.3g}, PSNR {psnr:.1f} dB"


def _reason(cand: Candidate, ms: float | None, measured: list[dict], figures: dict, mode: str, runtime, threads) -> str:
    """One line: what runs, why (its speed against every other candidate timed), and its check."""
    h, w = TIMING_SIZE
    check = (
        f"max |diff| {figures['max_abs_diff']:.1g} vs keras"
        if cand.exact
        else f"PSNR {figures['psnr_db']:.1f} dB vs keras fp32"
    )
    if ms is None:
        return (
            f"{cand.label} ({'asked for' if runtime else 'the only candidate'}, not timed; {threads} threads; {check})"
        )
    others = [f"{r['ms'] / ms:.2f}x {r['label']}" for r in measured if "ms" in r and r["label"] != cand.label]
    speed = ", ".join(others) if others else "the only one timed"
    why = "asked for" if runtime else ("fastest exact" if mode == "exact" else f"fastest within {FAST_MIN_PSNR:g} dB")
    if not runtime and any(r.get("ms", ms) < ms for r in measured):  # Keras kept within MARGIN of the fastest
        why = f"the reference; no converted runtime is {MARGIN:.0%} faster"
    return f"{cand.label} ({why}: {speed}; {ms:.0f} ms at {h}x{w}, {threads} threads; {check})"


def _build(model: Any, c: Candidate, folder: str) -> str | None:
    """The artifact of ``c`` in ``folder`` (built now unless there), or None for Keras itself."""
    from tga_keras.io.files import atomic_path

    if c.filename is None or c.build is None:
        return None
    path = os.path.join(folder, c.filename)
    if os.path.isfile(path) and os.path.getsize(path) > 0:
        return path
    data = c.build(model)
    with atomic_path(path, overwrite=True) as tmp, open(tmp, "wb") as f:  # a plain open(): the umask's mode
        f.write(data)
    return path


def _bar(total: int, progress: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        file=sys.stderr,
        desc="choosing a runtime",
        unit="step",
        dynamic_ncols=True,
        leave=False,
        disable=not progress,
    )


__all__ = [
    "EXACT_MAX_DIFF",
    "FAST_MIN_PSNR",
    "MARGIN",
    "MODES",
    "RUNTIMES",
    "TIMING_SIZE",
    "Candidate",
    "RuntimeChoice",
    "cache_root",
    "candidates",
    "choose_backend",
    "default_threads",
    "eligible",
    "median_ms",
    "model_digest",
    "not_installed",
]
