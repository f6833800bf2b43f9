"""SavedModel in the TF Serving layout: ``OUTDIR/savedmodel/<version>/``.

Written with ``keras.export.ExportArchive``; two signatures, batch/H/W dynamic:

- ``serving_default``: ``lr_frames`` float32 ``[batch, F, H, W, 3]`` in [0, 1] -> ``sr`` float32
  ``[batch, s*H, s*W, 3]`` (not clipped);
- ``serve_uint8``: ``lr_frames`` uint8 -> ``sr`` uint8 (clipped, rounded half up, in the graph).

TF Serving loads the highest version number in ``OUTDIR/savedmodel``; a new export takes the next
free number (``--version N`` picks one; an existing version is replaced only with ``--overwrite``).
"""

from __future__ import annotations

import os

from export.job import Job, removed_on_failure, tensor_io
from tga_keras.runtime.graph import INPUT_NAME, OUTPUT_NAME, inference_function

FOLDER = "savedmodel"


def versions(outdir: str) -> list[int]:
    """Existing version numbers under ``OUTDIR/savedmodel``."""
    root = os.path.join(outdir, FOLDER)
    if not os.path.isdir(root):
        return []
    return sorted(int(d) for d in os.listdir(root) if d.isdigit() and os.path.isdir(os.path.join(root, d)))


def target(outdir: str, version: int | None) -> str:
    """``OUTDIR/savedmodel/<version>``: ``version`` or the next free number (1 for a new folder)."""
    if version is None:
        version = (versions(outdir) or [0])[-1] + 1
    return os.path.join(outdir, FOLDER, str(int(version)))


def write(model, path: str, pin_input_range: bool = False) -> None:
    """Write the two-signature SavedModel of ``model`` to ``path`` (a new folder).

    ``pin_input_range``: ``serving_default`` alone, its input fake-quantized to [0, 1] (the source
    of the full-integer TFLite model; see :func:`tga_keras.runtime.graph.inference_function`).
    """
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", inference_function(model, "float32", pin_input_range=pin_input_range))
    if not pin_input_range:
        archive.add_endpoint("serve_uint8", inference_function(model, "uint8"))
    archive.write_out(path, verbose=False)


def export(job: Job, version: int | None = None) -> str:
    """Export, check (float32 signature, max |diff| <= 1e-4; uint8 signature run too) and keep."""
    from tga_keras.runtime.backends.savedmodel import SavedModelBackend

    final = target(job.outdir, version)
    tmp = job.temp_path(final)
    job.say(f"savedmodel -> {final}")
    with removed_on_failure(tmp):
        write(job.model, tmp)
        backend = SavedModelBackend(tmp, config=job.config)
        figures = job.check(backend, "fp32")
        _check_uint8_signature(backend, job)
        del backend
        shape_in = [None, job.config.frames, None, None, 3]
        shape_out = [None, None, None, 3]
        io = {
            "input": tensor_io(INPUT_NAME, "float32", shape_in),
            "output": tensor_io(OUTPUT_NAME, "float32", shape_out),
        }
        job.keep(
            tmp,
            final,
            "savedmodel",
            "fp32",
            figures,
            io,
            signatures={
                "serving_default": io,
                "serve_uint8": {
                    "input": tensor_io(INPUT_NAME, "uint8", shape_in),
                    "output": tensor_io(OUTPUT_NAME, "uint8", shape_out),
                },
            },
        )
    return final


def _check_uint8_signature(backend, job: Job) -> None:
    """``serve_uint8`` must give the float32 output rounded half up to uint8: one level off at most, and on
    fewer than 1 % of the values (float rounding at the .5 boundaries; truncation would fail)."""
    import numpy as np
    import tensorflow as tf

    from tga_keras.errors import ParityError
    from tga_keras.runtime.upscaler import to_output

    fn = backend._loaded.signatures["serve_uint8"]
    got = fn(**{INPUT_NAME: tf.constant(job.windows[:1])})[OUTPUT_NAME].numpy()
    want = to_output(job.reference[:1], "uint8")
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    worst, share = int(diff.max()), float(np.mean(diff > 0))
    job.say(
        f"  serve_uint8: max |diff| {worst} level(s) of 255 on {100 * share:.3f} % of the values "
        "against the rounded Keras output"
    )
    if got.dtype != np.uint8 or worst > 1 or share >= 0.01:
        raise ParityError(
            f"serve_uint8 differs from the rounded Keras output by up to {worst} levels "
            f"on {100 * share:.2f} % of the values"
        )
