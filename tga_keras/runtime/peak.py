"""The machine's practical peak: GFLOP/s of the TGA network's own convolutions on every runtime here.

A network's FLOPs divided by its time (:mod:`tga_keras.runtime.flops`) says little until it is put
next to what this CPU reaches on the same work. :func:`practical_peak` times the convolution shapes
that dominate a :class:`~tga_keras.models.config.TGAConfig`'s FLOPs (:func:`peak_shapes`), each
alone, on every runtime installed here, with the benchmark's thread count:

- ``tensorflow``: ``tf.nn.conv2d`` in a ``tf.function`` (float32, NHWC; oneDNN);
- ``tflite``: the same function converted to TFLite, on the LiteRT interpreter (XNNPACK);
- ``onnx``: a one-node ``Conv`` model (NCHW) on onnxruntime (CPU);
- ``openvino``: the same one-node model on OpenVINO (CPU, float32 inference precision).

The fastest of them is the practical peak (:attr:`PeakResult.peak_gflops`), which
:func:`percent_of_peak` relates a model's GFLOP/s to; ``tga benchmark --peak`` prints both. A
runtime that is not installed or fails is recorded in :attr:`PeakResult.skipped` with a one-line
reason, never raised. Where the CPU has bf16 instructions (``avx512_bf16``, ``amx_bf16``) the
TensorFlow shapes are also timed with bfloat16 inputs (:attr:`PeakResult.bf16_gflops`, kept out of
the float32 peak).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import tempfile
import time
from typing import Any, Callable

import numpy as np

from tga_keras.errors import InputError, first_line
from tga_keras.models.config import TGAConfig
from tga_keras.runtime.machine import BF16_FLAGS, has_bf16, set_tensorflow_threads

RUNTIMES = ("tensorflow", "tflite", "onnx", "openvino")
# the Python modules each runtime needs, with their pip names
_NEEDS = {
    "tensorflow": (("tensorflow", "tensorflow"),),
    "tflite": (("tensorflow", "tensorflow"), ("ai_edge_litert", "ai-edge-litert")),
    "onnx": (("onnx", "onnx"), ("onnxruntime", "onnxruntime")),
    "openvino": (("onnx", "onnx"), ("openvino", "openvino")),
}
MIN_SAMPLE_S = 0.1  # a timed sample repeats the call until it lasts about this long
MAX_REPEATS = 50


@dataclasses.dataclass(frozen=True)
class ConvShape:
    """One 'same', stride-1 2-D convolution: ``batch`` maps of ``height x width x cin`` -> ``cout``
    channels with a ``kernel x kernel`` kernel."""

    name: str
    batch: int
    height: int
    width: int
    cin: int
    cout: int
    kernel: int

    @property
    def flops(self) -> int:
        """FLOPs of one call: ``2 * batch * height * width * cout * kernel^2 * cin``."""
        return 2 * self.batch * self.height * self.width * self.cout * self.kernel * self.kernel * self.cin

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "gflop": self.flops / 1e9}


@dataclasses.dataclass
class PeakResult:
    """What :func:`practical_peak` measured.

    ``gflops[runtime][shape]``: GFLOP/s of ``shape`` (a :class:`ConvShape` name) on ``runtime``;
    ``peak_gflops`` the largest of them (0.0 when nothing could be timed, ``peak_runtime`` and
    ``peak_shape`` then None); ``skipped[runtime]`` (or ``skipped["runtime/shape"]``) the one-line
    reason a runtime (or one shape on it) was not timed; ``bf16_gflops[shape]``: TensorFlow with
    bfloat16 inputs (empty unless the CPU has bf16 instructions); ``seconds``: the wall time of the
    whole measurement.
    """

    threads: int
    height: int
    width: int
    runs: int
    shapes: list[ConvShape]
    gflops: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    bf16_gflops: dict[str, float] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def best(self) -> tuple[float, str | None, str | None]:
        """(GFLOP/s, runtime, shape) of the fastest float32 measurement; (0.0, None, None) if none."""
        best: tuple[float, str | None, str | None] = (0.0, None, None)
        for runtime, per_shape in self.gflops.items():
            for shape, value in per_shape.items():
                if value > best[0]:
                    best = (value, runtime, shape)
        return best

    @property
    def peak_gflops(self) -> float:
        return self.best[0]

    @property
    def peak_runtime(self) -> str | None:
        return self.best[1]

    @property
    def peak_shape(self) -> str | None:
        return self.best[2]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the sizes, every shape, every measurement, the skipped runtimes and the peak."""
        return {
            "threads": self.threads,
            "size": [self.height, self.width],
            "runs": self.runs,
            "shapes": {s.name: s.to_dict() for s in self.shapes},
            "gflops": {r: dict(v) for r, v in self.gflops.items()},
            "skipped": dict(self.skipped),
            "bf16_gflops": dict(self.bf16_gflops),
            "notes": list(self.notes),
            "peak_gflops": self.peak_gflops,
            "peak_runtime": self.peak_runtime,
            "peak_shape": self.peak_shape,
            "seconds": self.seconds,
        }


def percent_of_peak(gflops: float, peak: float) -> float:
    """``gflops`` as a percentage of ``peak`` (both GFLOP/s); ``ValueError`` if ``peak`` is not positive."""
    if not peak > 0:
        raise ValueError(f"the peak must be positive, got {peak!r}")
    return 100.0 * float(gflops) / float(peak)


def peak_shapes(config: TGAConfig, height: int = 144, width: int = 180) -> list[ConvShape]:
    """The convolutions that dominate ``config``'s FLOPs at LR ``height x width``, each at the batch
    it runs at in the inference graph (official config at 144x180: the dense units' 1x1 convs are
    43 % of the FLOPs, their 3x3 convs to ``ng`` channels (``3 * ng`` in the temporal units) 28 %,
    the head's 3x3 conv 10 %, the stem 4 %):

    - ``dense_1x1``: the last intra-group dense unit's 1x1 conv, ``c -> c`` with
      ``c = nf + ng * (units - 1)``, over the ``G`` groups;
    - ``dense_3x3``: that unit's 3x3 conv, ``c -> ng``, over the ``G`` groups;
    - ``head_3x3``: the upsampling head's 3x3 conv, ``reconstruction_width -> upsample_width * 4``
      (x4; ``upsample_width`` otherwise), batch 1;
    - ``stem_3x3``: a stem conv, ``nf -> nf``, over the ``frames`` LR frames.
    """
    c = config
    groups = len(c.groups)
    dense = c.nf + c.ng * (sum(c.intra_units) - 1)
    head_out = c.upsample_width * (4 if c.scale == 4 else 1)
    h, w = int(height), int(width)
    return [
        ConvShape("dense_1x1", groups, h, w, dense, dense, 1),
        ConvShape("dense_3x3", groups, h, w, dense, c.ng, 3),
        ConvShape("head_3x3", 1, h, w, c.reconstruction_width, head_out, 3),
        ConvShape("stem_3x3", c.frames, h, w, c.nf, c.nf, 3),
    ]


def _missing(runtime: str) -> str | None:
    from tga_keras.runtime.fastest import not_installed

    absent = not_installed(_NEEDS[runtime])
    return f"not installed (pip install {' '.join(absent)})" if absent else None


def _seconds_per_call(call: Callable[[], Any], runs: int) -> float:
    """Median seconds of one ``call()`` over ``runs`` samples after one warm-up; a sample repeats the
    call until it lasts about :data:`MIN_SAMPLE_S` (at most :data:`MAX_REPEATS` times)."""
    t = time.perf_counter()
    call()  # warm-up: allocation, kernel selection
    first = time.perf_counter() - t
    repeats = max(1, min(MAX_REPEATS, math.ceil(MIN_SAMPLE_S / max(first, 1e-6))))
    samples = []
    for _ in range(max(1, runs)):
        t = time.perf_counter()
        for _ in range(repeats):
            call()
        samples.append((time.perf_counter() - t) / repeats)
    return float(np.median(samples))


def _arrays(shape: ConvShape, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Input ``(N, H, W, Cin)`` and kernel ``(k, k, Cin, Cout)``, float32, He-normal scaled."""
    rng = np.random.default_rng(seed)
    x = rng.random((shape.batch, shape.height, shape.width, shape.cin), dtype=np.float32)
    fan_in = shape.kernel * shape.kernel * shape.cin
    k = (rng.standard_normal((shape.kernel, shape.kernel, shape.cin, shape.cout)) * np.sqrt(2.0 / fan_in)).astype(
        np.float32
    )
    return x, k


def _tf_conv(shape: ConvShape, kernel: np.ndarray, dtype: str = "float32") -> Any:
    """``tf.nn.conv2d`` ('SAME', stride 1, NHWC) with ``kernel`` as a constant, as a ``tf.function``
    with a static input signature."""
    import tensorflow as tf

    k = tf.constant(kernel, dtype=dtype)
    spec = tf.TensorSpec([shape.batch, shape.height, shape.width, shape.cin], dtype, name="x")

    def conv(x: Any) -> Any:
        return tf.nn.conv2d(x, k, strides=1, padding="SAME")

    return tf.function(conv, input_signature=[spec])


def _time_tensorflow(shape: ConvShape, threads: int, runs: int, dtype: str = "float32") -> float:
    import tensorflow as tf

    x, k = _arrays(shape)
    fn = _tf_conv(shape, k, dtype)
    xt = tf.constant(x, dtype=dtype)
    return _seconds_per_call(lambda: fn(xt).numpy(), runs)


def _time_tflite(shape: ConvShape, threads: int, runs: int) -> float:
    from ai_edge_litert.interpreter import Interpreter

    from tga_keras.runtime.compile import tflite_of_function
    from tga_keras.runtime.machine import native_stderr_silenced

    x, k = _arrays(shape)
    content = tflite_of_function(_tf_conv(shape, k))
    it = Interpreter(model_content=content, num_threads=threads)
    with native_stderr_silenced():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
        it.allocate_tensors()
    index = it.get_input_details()[0]["index"]
    out = it.get_output_details()[0]["index"]

    def call() -> Any:
        it.set_tensor(index, x)
        it.invoke()
        return it.get_tensor(out)

    return _seconds_per_call(call, runs)


def _onnx_conv(shape: ConvShape, kernel: np.ndarray) -> Any:
    """A one-node ONNX ``Conv`` model (NCHW, 'same' padding, no bias) with ``kernel`` as its weight."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from tga_keras.runtime.compile import ONNX_OPSET

    p = shape.kernel // 2
    weight = numpy_helper.from_array(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)), name="w")  # (Cout, Cin, k, k)
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[shape.kernel] * 2, pads=[p] * 4)
    graph = helper.make_graph(
        [node],
        shape.name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [shape.batch, shape.cin, shape.height, shape.width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [shape.batch, shape.cout, shape.height, shape.width])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
    onnx.checker.check_model(model)
    return model


def _time_one_node_conv(shape: ConvShape, runs: int, load: Callable[[str], Callable[[dict], Any]]) -> float:
    """Seconds per call of :func:`_onnx_conv` of ``shape`` on a runtime: ``load(path)`` opens the ONNX
    file (written to a temporary folder) and gives ``run(feed)``; the input is fed as NCHW."""
    x, k = _arrays(shape)
    with tempfile.TemporaryDirectory(prefix="tga-peak-") as tmp:
        path = os.path.join(tmp, f"{shape.name}.onnx")
        with open(path, "wb") as f:
            f.write(_onnx_conv(shape, k).SerializeToString())
        run = load(path)
    feed = {"x": np.ascontiguousarray(x.transpose(0, 3, 1, 2))}
    return _seconds_per_call(lambda: run(feed), runs)


def _time_onnx(shape: ConvShape, threads: int, runs: int) -> float:
    from tga_keras.runtime.backends.onnx import onnx_session

    def load(path: str) -> Callable[[dict], Any]:
        session = onnx_session(path, threads)
        return lambda feed: session.run(None, feed)

    return _time_one_node_conv(shape, runs, load)


def _time_openvino(shape: ConvShape, threads: int, runs: int) -> float:
    import openvino

    from tga_keras.runtime.backends.openvino import plugin_settings

    def load(path: str) -> Callable[[dict], Any]:
        return openvino.Core().compile_model(path, "CPU", plugin_settings(threads)).create_infer_request().infer

    return _time_one_node_conv(shape, runs, load)


_TIMERS: dict[str, Callable[[ConvShape, int, int], float]] = {
    "tensorflow": _time_tensorflow,
    "tflite": _time_tflite,
    "onnx": _time_onnx,
    "openvino": _time_openvino,
}


def practical_peak(
    config: TGAConfig,
    height: int = 144,
    width: int = 180,
    threads: int = 2,
    runtimes: list[str] | tuple[str, ...] | None = None,
    runs: int = 3,
    bf16: bool | None = None,
) -> PeakResult:
    """GFLOP/s of :func:`peak_shapes` of ``config`` at LR ``height x width`` on every runtime of
    ``runtimes`` (default :data:`RUNTIMES`) that is installed, with ``threads`` threads: the median of
    ``runs`` samples after one warm-up, each shape on its own. ``bf16``: also time TensorFlow with
    bfloat16 inputs (None: where the CPU has bf16 instructions, :func:`has_bf16`).

    TensorFlow's threads can only be set before it starts; if it already runs with another count,
    a note says so. Takes seconds to tens of seconds (docs/benchmarks.md has one machine's figures).
    """
    chosen = tuple(RUNTIMES if runtimes is None else runtimes)
    unknown = [r for r in chosen if r not in RUNTIMES]
    if unknown:
        raise InputError(f"unknown runtimes {unknown}: choose from {list(RUNTIMES)}")
    t0 = time.perf_counter()
    shapes = peak_shapes(config, height, width)
    result = PeakResult(threads=int(threads), height=int(height), width=int(width), runs=int(runs), shapes=shapes)
    if "tensorflow" in chosen or "tflite" in chosen or bf16:
        if importlib.util.find_spec("tensorflow") is not None and not set_tensorflow_threads(int(threads)):
            result.notes.append(f"TensorFlow was already initialised: it runs with its own thread count, not {threads}")
    for runtime in chosen:
        missing = _missing(runtime)
        if missing:
            result.skipped[runtime] = missing
            continue
        for shape in shapes:
            try:
                seconds = _TIMERS[runtime](shape, int(threads), int(runs))
            except Exception as e:  # noqa: BLE001 - a runtime's failure is recorded, not raised
                result.skipped[f"{runtime}/{shape.name}"] = f"{type(e).__name__}: {first_line(e)}"
                continue
            result.gflops.setdefault(runtime, {})[shape.name] = shape.flops / seconds / 1e9
    if bf16 is None:
        bf16 = "tensorflow" in chosen and has_bf16()
    if bf16 and _missing("tensorflow") is None:
        for shape in shapes:
            try:
                seconds = _time_tensorflow(shape, int(threads), int(runs), "bfloat16")
            except Exception as e:  # noqa: BLE001 - recorded, not raised
                result.skipped[f"tensorflow-bf16/{shape.name}"] = f"{type(e).__name__}: {first_line(e)}"
                continue
            result.bf16_gflops[shape.name] = shape.flops / seconds / 1e9
    result.seconds = time.perf_counter() - t0
    return result


__all__ = [
    "BF16_FLAGS",
    "RUNTIMES",
    "ConvShape",
    "PeakResult",
    "has_bf16",
    "peak_shapes",
    "percent_of_peak",
    "practical_peak",
]
