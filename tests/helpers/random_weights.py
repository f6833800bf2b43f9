"""Weights that make a test see the network: at its own initialisation TGA's residual is ~0, so
its output is the bicubic base and a broken graph, loader or exporter would go unnoticed."""

from __future__ import annotations

import numpy as np


def he_normal_weights(model, seed: int, batch_norm_statistics: bool = True) -> int:
    """Assign He-normal conv kernels (std ``sqrt(2 / fan_in)``) in place and, with
    ``batch_norm_statistics``, random BatchNorm moving statistics (variance U(0.5, 2), mean
    N(0, 0.1^2)), drawn in weight order from ``default_rng(seed)``. Returns how many BatchNorm
    statistics were set."""
    rng = np.random.default_rng(seed)
    changed = 0
    for w in model.weights:
        if w.path.endswith("kernel"):
            w.assign((rng.standard_normal(w.shape) * np.sqrt(2.0 / np.prod(w.shape[:-1]))).astype("float32"))
        elif batch_norm_statistics and "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 2.0, w.shape).astype("float32"))
            changed += 1
        elif batch_norm_statistics and "moving_mean" in w.path:
            w.assign((0.1 * rng.standard_normal(w.shape)).astype("float32"))
            changed += 1
    return changed
