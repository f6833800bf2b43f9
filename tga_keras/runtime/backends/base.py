"""What every backend is: the :class:`Backend` protocol, and the shared set-up of exported artifacts.

A *backend* is any callable ``(B, F, h, w, 3) float32 -> (B, s*h, s*w, 3)`` (numpy in, numpy out)
with attributes ``scale``, ``frames`` and ``min_size`` (and ``name``, ``precision``). An exported
artifact learns the network's config from the ``manifest.json`` that ``python -m export`` writes
next to it (:func:`find_manifest_entry`), or from its own metadata; without one it reads the frame
count from the input shape and measures the scale on a small probe input (:class:`ArtifactBackend`).
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Protocol

import numpy as np

from tga_keras.errors import InputError

MANIFEST = "manifest.json"


class Backend(Protocol):
    """``(B, F, h, w, 3)`` float32 [0, 1] numpy -> ``(B, scale*h, scale*w, 3)`` float32 numpy."""

    scale: int
    frames: int
    min_size: int

    def __call__(self, x: np.ndarray) -> np.ndarray: ...


class CallableBackend:
    """Any function ``(B, F, h, w, 3) -> (B, s*h, s*w, 3)`` (numpy or tensors out) as a :class:`Backend`."""

    def __init__(
        self, fn: Callable[[np.ndarray], Any], scale: int, frames: int = 7, min_size: int = 3, name: str = "callable"
    ) -> None:
        self.fn, self.scale, self.frames, self.min_size, self.name = fn, int(scale), int(frames), int(min_size), name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = self.fn(x)
        return np.asarray(y.numpy() if hasattr(y, "numpy") else y, dtype=np.float32)


def find_manifest_entry(path: str | os.PathLike) -> tuple[dict, dict] | None:
    """``(manifest, artifact entry)`` for ``path`` from the nearest ``manifest.json`` above it, or None."""
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path.rstrip(os.sep))
    for _ in range(4):
        candidate = os.path.join(folder, MANIFEST)
        if os.path.isfile(candidate):
            try:
                with open(candidate) as f:
                    manifest = json.load(f)
            except (OSError, ValueError):
                return None
            for entry in manifest.get("artifacts", []):
                if os.path.abspath(os.path.join(folder, entry.get("path", ""))).rstrip(os.sep) == path.rstrip(os.sep):
                    return manifest, entry
            return None
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return None


def recorded_config(value: Any):
    """The TGAConfig an artifact records (a dict, or JSON text), or None when absent or unreadable: an
    artifact is a frozen graph, its config only describes it (e.g. a dilated config from before
    ``stem_bias``, which a ``.keras`` could not rebuild, still describes a graph that runs)."""
    from tga_keras.models.config import TGAConfig

    try:
        if isinstance(value, str):
            return TGAConfig.from_json(value)
        return TGAConfig.from_dict(value) if isinstance(value, dict) else None
    except (TypeError, ValueError):
        return None


def config_from_manifest(manifest: dict | None):
    return recorded_config(manifest.get("source", {}).get("config")) if manifest else None


class ArtifactBackend:
    """Shared set-up: config from the manifest, else frames from the input shape and a probed scale."""

    name = "artifact"
    precision = "fp32"

    def __call__(self, x: np.ndarray) -> np.ndarray:  # each format's own
        raise NotImplementedError

    def _init_meta(
        self,
        path: str,
        frames: int | None,
        config=None,
        precision: str | None = None,
        probe_hw: tuple[int, int] = (8, 8),
    ):
        """``config`` (a TGAConfig) wins; else the manifest's; else ``frames`` and a probe run at ``probe_hw``."""
        self.path = path
        found = None if config is not None else find_manifest_entry(path)
        if config is None and found is not None:
            config = config_from_manifest(found[0])
            precision = precision or found[1].get("precision")
        if precision:
            self.precision = precision
        self.config = config
        if config is not None:
            self.scale, self.frames, self.min_size = config.scale, config.frames, config.min_size
            return
        if frames is None:
            raise InputError(
                f"{path}: the input shape does not fix the frame count and no {MANIFEST} describes this artifact"
            )
        self.frames, self.min_size = int(frames), 3
        probe = np.zeros((1, self.frames, *probe_hw, 3), np.float32)
        out = np.asarray(self(probe))
        self.scale = int(out.shape[1] // probe_hw[0])


__all__ = [
    "ArtifactBackend",
    "Backend",
    "CallableBackend",
    "MANIFEST",
    "config_from_manifest",
    "find_manifest_entry",
    "recorded_config",
]
