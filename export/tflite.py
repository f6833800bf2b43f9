"""TFLite models for phones and edge devices, built with TensorFlow's ``TFLiteConverter``.

=============  =====================================  ==============================  =========
precision      file                                   weights / compute               I/O
=============  =====================================  ==============================  =========
fp32           ``tflite/model_fp32.tflite``           float32                         float32
fp16           ``tflite/model_fp16.tflite``           float16 weights, float compute  float32
int8-dynamic   ``tflite/model_int8_dynamic.tflite``   int8 weights, dynamic-range     float32
int8           ``tflite/model_int8.tflite``           full integer, calibrated        uint8
=============  =====================================  ==============================  =========

Only TFLite builtin ops (no Flex / select-TF ops: the converter is told so and the op list is
checked). The graph is the 2-D inference path (every Conv3D is written as 2-D convolutions), so
the full-integer model quantizes every convolution. Batch, H and W stay dynamic: the interpreter
resizes the input (``resize_tensor_input``) before ``allocate_tensors``. The full-integer model's
uint8 input is the raw pixels (the graph it is converted from fake-quantizes its input to the
256 levels of [0, 1], so the input gets scale 1/255, zero point 0 whatever the calibration clip
holds); its uint8 output carries its (scale, zero point) in the tensor details, which the ``tflite``
backend applies (``sr = scale * (q - zero_point)``).
"""

from __future__ import annotations

import os
from typing import Any

from export.job import Job, removed_on_failure, tensor_io
from tga_keras.errors import ArtifactError, UsageError

FOLDER = "tflite"
PRECISIONS = ("fp32", "fp16", "int8-dynamic", "int8")
CALIBRATION_WINDOWS = 8
CALIBRATION_START = 60  # frames of the bundled clip not used by the parity check (0 .. 20)


def filename(precision: str) -> str:
    return f"model_{precision.replace('-', '_')}.tflite"


def check_calibration(video: str | None, frames: int, scale: int) -> None:
    """``UsageError`` unless ``video`` can be read, holds at least ``frames`` frames, and is
    large enough to degrade by ``scale`` (BD) into frames the model takes."""
    from tga_keras.runtime.parity import real_windows

    if video is None:
        return
    if not os.path.exists(video):
        raise UsageError(f"--calibration {video}: no such file")
    if os.path.isdir(video):
        raise UsageError(f"--calibration {video}: a folder; give a video file")
    try:
        real_windows(frames, scale, count=1, video=video)
    except ValueError as e:  # DatasetError (unreadable, too few frames) or a frame too small to degrade
        raise UsageError(
            f"--calibration {video}: {e} (int8 calibration needs at least {frames} "
            f"readable frames, large enough to degrade x{scale})"
        ) from None


def calibration_windows(job: Job):
    """Float32 LR windows for the int8 calibration (``--calibration`` video, else the bundled clip)."""
    from tga_keras.io.video import iter_frames, probe
    from tga_keras.runtime.parity import real_windows

    cfg = job.config
    video = job.calibration
    start = 0 if video else CALIBRATION_START
    if video:
        n = probe(video).num_frames
        if n is None:  # a container without a frame count
            n = sum(1 for _ in iter_frames(video))
        count = max(1, min(CALIBRATION_WINDOWS, (n - cfg.frames) // cfg.frames + 1))
    else:
        count = CALIBRATION_WINDOWS
    import numpy as np

    windows = []
    for k in range(count):  # one window at a time: a long HD clip is never decoded whole
        try:
            windows.append(real_windows(cfg.frames, cfg.scale, count=1, video=video, start=start + k * cfg.frames)[0])
        except ValueError:  # the header's frame count was optimistic: as many windows as decode
            if not windows:
                raise
            break
    return np.stack(windows).astype("float32") / 255.0


def convert(saved_model: str, precision: str, job: Job) -> bytes:
    """The ``.tflite`` flatbuffer of the SavedModel's ``serving_default`` at ``precision``."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=["serving_default"])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif precision == "int8-dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision == "int8":
        windows = calibration_windows(job)
        job.say(
            f"  calibrating int8 on {len(windows)} windows of "
            f"{os.path.basename(job.calibration) if job.calibration else 'the bundled clip'} "
            f"({windows.shape[2]}x{windows.shape[3]} LR)"
        )

        def representative():
            for w in windows:
                yield {"lr_frames": w[None]}

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.uint8
        conv.inference_output_type = tf.uint8
    return conv.convert()


def export(job: Job, saved_model: str, precisions=PRECISIONS) -> list[str]:
    """Convert ``saved_model`` (a folder written by :mod:`export.savedmodel`) at each precision
    (``int8`` from a scratch SavedModel whose input range is pinned to [0, 1])."""
    from export.savedmodel import write
    from tga_keras.runtime.backends.tflite import TFLiteBackend, non_builtin_ops, tflite_float_ops

    written = []
    for precision in precisions:
        final = job.path(FOLDER, filename(precision))
        tmp = job.temp_path(final) + ".tflite"
        job.say(f"tflite {precision} -> {final}")
        with removed_on_failure(tmp):
            source = saved_model
            if precision == "int8":
                source = os.path.join(job.scratch(), "savedmodel_int8")
                if not os.path.isdir(source):
                    write(job.model, source, pin_input_range=True)
            flat = convert(source, precision, job)
            with open(tmp, "wb") as f:
                f.write(flat)
            backend = TFLiteBackend(tmp, threads=job.threads, config=job.config)
            ops = backend.op_names()
            foreign = non_builtin_ops(ops)
            if foreign:
                raise ArtifactError(f"the {precision} model needs ops that are not TFLite builtins: {foreign}")
            figures = job.check(backend, precision)
            extra: dict[str, Any] = {"ops": ops}
            if precision == "int8":
                extra["float_ops"] = tflite_float_ops(tmp)
                job.say(f"  ops that stay float: {extra['float_ops'] or 'none'}")
            inp, out = backend._in, backend._out
            io = {
                "input": tensor_io(inp["name"], inp["dtype"].__name__, inp["shape_signature"]),
                "output": tensor_io(out["name"], out["dtype"].__name__, out["shape_signature"]),
            }
            if precision == "int8":
                io["input"]["quantization"] = [float(v) for v in inp["quantization"]]
                io["output"]["quantization"] = [float(v) for v in out["quantization"]]
            del backend
            job.keep(tmp, final, "tflite", precision, figures, io, **extra)
        written.append(final)
    return written
