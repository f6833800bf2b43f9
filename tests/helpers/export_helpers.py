"""Shared by the exporter tests: the exporter run in-process, and the tiny model every artifact comes from."""

from __future__ import annotations

import contextlib
import io

import numpy as np

from tests.helpers.random_weights import he_normal_weights
from tga_keras import TGAConfig, build_tga

# the tiny network of the export tests (a narrow `small`): seconds per artifact
TINY_EXPORT_CONFIG = TGAConfig.preset("small").replace(
    nf=16, ng=8, intra_units=(2,), inter_units=(2,), reconstruction_width=16, upsample_width=8
)


def run_export(argv) -> tuple[int, str, str]:
    """``export.cli.main(argv)`` in-process: (rc, stdout, stderr)."""
    from export.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


def save_tiny_export_model(path: str) -> str:
    """:data:`TINY_EXPORT_CONFIG` with He-normal kernels and random BatchNorm moving statistics, saved to
    ``path`` (.keras). Its residual over bicubic reaches 0.69 on real frames, so the network (BatchNorm
    folding included) shapes every artifact's output (at the model's own init it is below 1e-5)."""
    from tga_keras.runtime.parity import real_windows

    model = build_tga(TINY_EXPORT_CONFIG)
    changed = he_normal_weights(model, seed=0)
    assert changed > 0, "the tiny model has no BatchNorm moving statistics to set"
    x = real_windows(7, 4, count=1, start=30).astype(np.float32) / 255.0
    residual = np.abs(np.asarray(model(x)) - np.asarray(model.get_layer("bicubic")(x[:, 3]))).max()
    assert residual > 0.3, residual  # measured 0.69
    model.save(path)
    return path
