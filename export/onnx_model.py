"""ONNX (opset 17) with ``tf2onnx``, and its fp16 copy for TensorRT.

- ``onnx/model.onnx``: float32, input ``lr_frames [batch, F, H, W, 3]`` (batch/H/W dynamic), output
  ``sr [batch, s*H, s*W, 3]``; checked on onnxruntime at the parity frames and at a second size.
- ``onnx/model_fp16.onnx``: weights and compute in float16 (``onnxconverter-common``), float32
  input and output kept, for TensorRT's strongly typed FP16 engine; checked on onnxruntime CPU.

The network's config and precision are stored in the model's metadata (``tga_config``,
``tga_precision``), so the ``onnx`` backend needs no manifest.
"""

from __future__ import annotations

from export.job import Job, removed_on_failure, tensor_io
from tga_keras.errors import ParityError
from tga_keras.runtime.compile import ONNX_OPSET as OPSET
from tga_keras.runtime.compile import to_onnx

FOLDER = "onnx"


def to_fp16(proto):
    """float16 weights and compute, float32 graph inputs and outputs."""
    import warnings

    from onnxconverter_common import float16

    with warnings.catch_warnings():  # weights below float16's range become 0 / its smallest value: expected
        warnings.filterwarnings("ignore", message=".*will be truncated to.*")
        return float16.convert_float_to_float16(proto, keep_io_types=True)


def filename(precision: str) -> str:
    return "model.onnx" if precision == "fp32" else f"model_{precision}.onnx"


def _stamp(proto, config, precision: str):
    import onnx

    for key, value in (("tga_config", config.to_json()), ("tga_precision", precision)):
        prop = proto.metadata_props.add()
        prop.key, prop.value = key, value
    proto.producer_name = "tga-keras"
    onnx.checker.check_model(proto)
    return proto


def _io(backend) -> dict:
    i, o = backend._sess.get_inputs()[0], backend._sess.get_outputs()[0]
    dtype = {"tensor(float)": "float32", "tensor(float16)": "float16"}
    return {
        "input": tensor_io(i.name, dtype.get(i.type, i.type), i.shape),
        "output": tensor_io(o.name, dtype.get(o.type, o.type), o.shape),
    }


def export(job: Job, precisions=("fp32", "fp16")) -> dict[str, str]:
    """Write ``onnx/model.onnx`` and/or ``onnx/model_fp16.onnx``; returns precision -> path."""
    import numpy as np

    from tga_keras.runtime.backends.onnx import ONNXBackend
    from tga_keras.runtime.parity import compare, sr_of

    proto = to_onnx(job.model)
    written = {}
    for precision in precisions:
        final = job.path(FOLDER, filename(precision))
        tmp = job.temp_path(final) + ".onnx"
        job.say(f"onnx {precision} (opset {OPSET}) -> {final}")
        with removed_on_failure(tmp):
            p = _stamp(to_fp16(proto) if precision == "fp16" else _copy(proto), job.config, precision)
            with open(tmp, "wb") as f:
                f.write(p.SerializeToString())
            backend = ONNXBackend(tmp, threads=job.threads)
            figures = job.check(backend, precision)
            # a second frame size (odd, not a multiple of anything) through the same session
            h, w = job.windows.shape[2:4]
            other = job.windows[:1, :, : max(job.config.min_size, h - 5), : max(job.config.min_size, w - 3)]
            ref = sr_of(job.keras, other)
            second = compare(ref, sr_of(backend, other))
            job.say(
                f"  at {other.shape[2]}x{other.shape[3]}: max |diff| {second['max_abs_diff']:.3g}, "
                f"PSNR {second['psnr_db']:.2f} dB"
            )
            from tga_keras.runtime.parity import meets

            ok, text = meets(second, precision)
            if not ok or not np.isfinite(second["max_abs_diff"]):
                raise ParityError(f"at {other.shape[2]}x{other.shape[3]}: {text}")
            io = _io(backend)
            del backend
            job.keep(tmp, final, "onnx", precision, figures, io, opset=OPSET)
        written[precision] = final
    return written


def _copy(proto):
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(proto)
    return out
