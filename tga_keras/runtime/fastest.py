"""The fastest runtime of this machine for a Keras model, chosen by measurement and cached on disk.

A Keras TGA model can run as it is (TensorFlow/oneDNN), or converted in this process
(:mod:`tga_keras.runtime.compile`) to TFLite (XNNPACK) or ONNX (onnxruntime). Which is fastest
depends on the CPU (AVX2, AVX-512, AMX), the runtime versions and the model, so it is measured,
never looked up:

1. every candidate runtime installed here is built from the model (cached: built once);
2. each is run on real frames (the bundled clip, BD x4) and kept only if it is the same network:
   ``mode='exact'`` max |diff| <= :data:`EXACT_MAX_DIFF` against the Keras graph (float32);
   ``mode='fast'`` PSNR >= :data:`FAST_MIN_PSNR` dB (int8, bf16 where the CPU has it, and the exact ones);
3. each kept candidate, Keras included, is timed at :data:`TIMING_SIZE` with the threads it will run
   with; the fastest wins, but a converted one only if it beats Keras fp32 by :data:`MARGIN` (within
   that, run to run noise decides, and Keras is the reference itself).

The choice and the built models live in ``cache_root()/runtimes/<key>/`` (``key``: the model's
weights and config, the package and runtime versions, the CPU's SIMD flags), so later runs load
the chosen model directly (its sha256 checked). A cache entry that cannot be read is rebuilt with a
note; a cache folder that cannot be written makes the choice in a temporary folder (with a note);
a runtime that fails to build, load or agree is left out with a one-line note; Keras is always
there. Notes go to the ``tga_keras`` logger (warnings); ``tga --verbose`` also shows the choice.

    backend = choose_backend(model, threads=2)      # KerasBackend, TFLiteBackend or ONNXBackend
    backend.choice.reason                            # 'tflite fp32: 1.52x keras here (...)'
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import time
from importlib import metadata
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from tga_keras.errors import InputError, first_line

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
        absent = [pip for module, pip in self.needs if importlib.util.find_spec(module) is None]
        return f"pip install {' '.join(absent)} (or {INSTALL_HINT})" if absent else None


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

    calibration = real_windows(model.config.frames, model.config.scale, count=8, start=CALIBRATION_START)
    return to_tflite_int8(model, calibration.astype(np.float32) / 255.0)


def _onnx_fp32(model: Any) -> bytes:
    from tga_keras.runtime.compile import to_onnx

    return to_onnx(model).SerializeToString()


def _tflite_load(config: Any) -> Callable[[Any, int], Any]:
    def load(path: Any, threads: int) -> Any:
        from tga_keras.runtime.backends.tflite import TFLiteBackend

        return TFLiteBackend(path, threads=threads, config=config)

    return load


def _onnx_load(path: Any, threads: int) -> Any:
    from tga_keras.runtime.backends.onnx import ONNXBackend

    return ONNXBackend(path, threads=threads)


CALIBRATION_START = 60  # bundled-clip frames for int8 calibration, apart from the check's frames (0 .. 13)
_TFLITE = (("ai_edge_litert", "ai-edge-litert"),)
_ONNX = (("tf2onnx", "tf2onnx"), ("onnxruntime", "onnxruntime"))


def candidates(config: Any) -> list[Candidate]:
    """Every candidate for a model of ``config``, Keras float32 first (the reference and the fallback)."""
    load_tflite = _tflite_load(config)
    return [
        Candidate("keras", "fp32", (), None, None, _keras_fp32),
        Candidate("tflite", "fp32", _TFLITE, "model_fp32.tflite", _tflite_fp32, load_tflite),
        Candidate("onnx", "fp32", _ONNX, "model_fp32.onnx", _onnx_fp32, _onnx_load),
        Candidate("tflite", "int8", _TFLITE, "model_int8.tflite", _tflite_int8, load_tflite, exact=False),
        Candidate("keras", "bf16", (), None, None, _keras_bf16, exact=False),
    ]


RUNTIMES = ("keras", "tflite", "onnx")


def _bf16_hardware() -> bool:
    from tga_keras.runtime.machine import cpu_flags

    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_flags()))


def eligible(config: Any, mode: str, runtime: str | None = None) -> list[Candidate]:
    """The candidates of ``mode`` (``exact``: float32 ones; ``fast``: all, bf16 only on CPUs with bf16
    instructions), of ``runtime`` only if given, installed or not (see :meth:`Candidate.missing`)."""
    if mode not in MODES:
        raise InputError(f"mode must be one of {MODES}, got {mode!r}")
    out = []
    for c in candidates(config):
        if runtime is not None and c.runtime != runtime:
            continue
        if not c.exact and (mode == "exact" or (c.precision == "bf16" and not _bf16_hardware())):
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


def versions() -> dict[str, str | None]:
    """The versions of the packages that build and run the candidates (None: not installed)."""
    out: dict[str, str | None] = {}
    for dist in ("tga-keras", "tensorflow", "tensorflow-cpu", "keras", "ai-edge-litert", "onnxruntime", "tf2onnx"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def entry_key(model: Any) -> str:
    from tga_keras.runtime.machine import cpu_flags

    text = repr((model_digest(model), sorted(versions().items()), cpu_flags(), sys.platform))
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
def _entry(model: Any) -> Iterator[str]:
    """The cache folder of ``model`` on this machine, locked (one process chooses, the others wait and
    read its choice); a temporary folder, with a note, when the cache cannot be written."""
    folder = os.path.join(cache_root(), "runtimes", entry_key(model))
    why = _writable(folder)
    if why is not None:
        log.warning(
            "note: the runtime cache %s cannot be written (%s): choosing in a temporary folder, not kept "
            "(set TGA_CACHE_DIR to a writable folder)",
            cache_root(),
            why,
        )
        folder = tempfile.mkdtemp(prefix="tga-runtimes-")
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    with open(os.path.join(folder, ".lock"), "a") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except (ImportError, OSError):  # no flock here (Windows, some network file systems): unlocked
            pass
        yield folder


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
    """The cores this process may use (what TensorFlow uses by default)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


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
    with the install hint; given and failing its check: ``RuntimeError`` saying why.
    """
    threads = int(threads or default_threads())
    pool = eligible(model.config, mode, runtime)
    if runtime is not None:
        if runtime not in RUNTIMES:
            raise InputError(f"unknown runtime {runtime!r}; one of {', '.join(RUNTIMES)}")
        hint = pool[0].missing() if pool else None
        if hint:
            raise InputError(f"the {runtime} backend is not installed here: {hint}")
    with _entry(model) as folder:
        record = os.path.join(folder, f"choice_{mode}_{runtime or 'any'}_t{threads}.json")
        backend = _from_record(model, pool, record, folder, threads)
        if backend is not None:
            return backend
        return _choose(model, pool, mode, runtime, threads, folder, record, progress)


def _from_record(model: Any, pool: list[Candidate], record: str, folder: str, threads: int) -> Any:
    """The backend a cached choice names, its artifact checked; None (with a note) if unusable."""
    from tga_keras.io.files import read_json_object, sha256_digest

    if not os.path.exists(record):
        return None
    data = read_json_object(record)
    try:
        if data is None:
            raise ValueError("not a JSON object")
        chosen = data["chosen"]
        cand = next(c for c in pool if c.label == chosen)
        if cand.filename is None:
            backend = cand.load(model, threads)
        else:
            path = os.path.join(folder, cand.filename)
            if sha256_digest(path) != data["sha256"]:
                raise ValueError(f"{cand.filename} does not match its recorded sha256")
            backend = cand.load(path, threads)
    except Exception as e:  # noqa: BLE001 - any damage to the entry: rebuilt
        log.warning("note: the cached runtime choice %s is unusable (%s): choosing again", record, first_line(e))
        for name in os.listdir(folder):
            if name != ".lock":
                _remove(os.path.join(folder, name))
        return None
    backend.keras_model = model
    backend.choice = RuntimeChoice(
        cand.runtime,
        cand.precision,
        data["mode"],
        threads,
        data["reason"],
        data["measured"],
        cached=True,
        folder=folder,
        artifact=None if cand.filename is None else os.path.join(folder, cand.filename),
    )
    log.info("runtime: %s (chosen earlier, cached in %s)", data["reason"], folder)
    return backend


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


def _median_ms(backend: Any, x: np.ndarray) -> float:
    backend(x)  # warm-up: allocation, kernel selection
    times = []
    for _ in range(TIMING_RUNS):
        t = time.perf_counter()
        backend(x)
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
    from tga_keras.io.files import sha256_digest, write_json
    from tga_keras.runtime.backends.keras import KerasBackend
    from tga_keras.runtime.machine import describe_cpu
    from tga_keras.runtime.parity import real_windows, sr_of

    t0 = time.perf_counter()
    available = []
    measured: list[dict] = []
    for c in pool:
        hint = c.missing()
        if hint:
            measured.append({"label": c.label, "note": f"not installed ({hint})"})
        else:
            available.append(c)
    log.warning(
        "first use of this model here: checking and timing %s with %d threads (once per model and machine; "
        "cached in %s)",
        ", ".join(c.label for c in available),
        threads,
        folder,
    )
    bar = _bar(3 * len(available), progress)
    cfg = model.config
    windows = real_windows(cfg.frames, cfg.scale, count=2)
    reference = sr_of(KerasBackend(model), windows)
    x = np.random.default_rng(0).random((1, cfg.frames, *TIMING_SIZE, 3), dtype=np.float32)
    best: tuple[float, Candidate, Any, dict] | None = None
    keras: tuple[float, Candidate, Any, dict] | None = None
    try:
        for c in available:
            row: dict[str, Any] = {"label": c.label}
            measured.append(row)
            done = bar.n
            try:
                backend, figures = _check(model, c, folder, threads, reference, windows, bar)
                ok = (
                    figures["max_abs_diff"] <= EXACT_MAX_DIFF
                    if mode == "exact"
                    else figures["psnr_db"] >= FAST_MIN_PSNR
                )
                row.update(max_abs_diff=figures["max_abs_diff"], psnr_db=_finite(figures["psnr_db"]))
                if not ok:
                    row["note"] = "disagrees with keras fp32: " + _figures_text(figures)
                    log.warning("note: %s left out: %s", c.label, row["note"])
                    _discard(c, folder)
                    continue
                bar.set_description(f"choosing a runtime: timing {c.label}")
                row["ms"] = _median_ms(backend, x)
            except Exception as e:  # noqa: BLE001 - a runtime that fails: left out, Keras remains
                if c.runtime == "keras" and c.precision == "fp32":
                    raise
                row["note"] = f"failed: {type(e).__name__}: {first_line(e)}"
                log.warning("note: %s left out: %s", c.label, row["note"])
                _discard(c, folder)
                continue
            finally:
                bar.update(done + 3 - bar.n)
            if c.label == "keras fp32":
                keras = (row["ms"], c, backend, figures)
            if best is None or row["ms"] < best[0]:
                best = (row["ms"], c, backend, figures)
            del backend  # the runners-up (interpreters, sessions, their arenas) are freed as the loop goes on
    finally:
        bar.close()
    if best is not None and keras is not None and best[0] > keras[0] * (1 - MARGIN):
        best = keras  # a converted runtime must be clearly faster than the graph it was converted from
    gc.collect()
    if best is None:
        failed = "; ".join(f"{r['label']}: {r.get('note')}" for r in measured)
        raise RuntimeError(f"no {runtime or ''} runtime passed its check ({failed})".replace("  ", " "))
    ms, cand, backend, figures = best
    seconds = time.perf_counter() - t0
    reason = _reason(cand, ms, measured, figures, mode, runtime, threads)
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
        "sha256": None if cand.filename is None else sha256_digest(os.path.join(folder, cand.filename)),
    }
    write_json(record, data)
    backend.keras_model = model
    backend.choice = RuntimeChoice(
        cand.runtime,
        cand.precision,
        mode,
        threads,
        reason,
        measured,
        seconds=seconds,
        folder=folder,
        artifact=None if cand.filename is None else os.path.join(folder, cand.filename),
    )
    log.warning("runtime: %s (choosing took %.0f s)", reason, seconds)
    return backend


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


def _reason(cand: Candidate, ms: float, measured: list[dict], figures: dict, mode: str, runtime, threads) -> str:
    """One line: what runs, why (its speed against every other candidate timed), and its check."""
    h, w = TIMING_SIZE
    others = [f"{r['ms'] / ms:.2f}x {r['label']}" for r in measured if "ms" in r and r["label"] != cand.label]
    speed = ", ".join(others) if others else "the only one timed"
    check = (
        f"max |diff| {figures['max_abs_diff']:.1g} vs keras"
        if cand.exact
        else f"PSNR {figures['psnr_db']:.1f} dB vs keras fp32"
    )
    why = "asked for" if runtime else ("fastest exact" if mode == "exact" else f"fastest within {FAST_MIN_PSNR:g} dB")
    if not runtime and any(r.get("ms", ms) < ms for r in measured):  # Keras kept within MARGIN of the fastest
        why = f"the reference; no converted runtime is {MARGIN:.0%} faster"
    return f"{cand.label} ({why}: {speed}; {ms:.0f} ms at {h}x{w}, {threads} threads; {check})"


def _build(model: Any, c: Candidate, folder: str) -> str | None:
    """The artifact of ``c`` in ``folder`` (built now unless there), or None for Keras itself."""
    if c.filename is None or c.build is None:
        return None
    path = os.path.join(folder, c.filename)
    if os.path.isfile(path) and os.path.getsize(path) > 0:
        return path
    data = c.build(model)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(c.filename)[1])
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


class _NoBar:
    n = 0

    def update(self, k: int = 1) -> None:
        self.n += k

    def set_description(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, progress: bool) -> Any:
    if not progress:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, desc="choosing a runtime", unit="step", dynamic_ncols=True, leave=False)


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
    "model_digest",
]
