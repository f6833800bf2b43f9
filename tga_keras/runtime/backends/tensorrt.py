"""The ``tensorrt`` backend: a serialized TensorRT engine on an NVIDIA GPU
(:mod:`tga_keras.runtime.backends.tensorrt_runtime` holds the engine runner; it imports TensorRT)."""

from __future__ import annotations

import json
import os

import numpy as np

from tga_keras.runtime.backends.base import ArtifactBackend, recorded_config

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


class TensorRTBackend(ArtifactBackend):
    """A serialized TensorRT engine (``python -m export tensorrt``) on an NVIDIA GPU.

    Needs the ``tensorrt`` and ``cuda-python`` packages (``pip install tga-keras[tensorrt]`` on a
    machine with the NVIDIA driver). Input shapes must lie inside the engine's optimization profile
    (its JSON sidecar lists it); the batch is split to the profile's maximum batch.
    """

    name = "tensorrt"
    precision = "fp16"

    def __init__(self, path: str | os.PathLike):
        path = os.fspath(path)
        from tga_keras.runtime.backends.tensorrt_runtime import EngineRunner  # imports tensorrt: only here

        self._runner = EngineRunner(path)
        sidecar = path + ".json"
        config = None
        if os.path.isfile(sidecar):
            with open(sidecar) as f:
                meta = json.load(f)
            config = recorded_config(meta.get("config"))
        lo = self._runner.profile["min"]
        self._init_meta(path, self._runner.frames, config=config, probe_hw=(lo[2], lo[3]))
        self.min_size = max(self.min_size, lo[2], lo[3])  # smaller frames or tiles are outside the engine

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._runner(np.ascontiguousarray(x, dtype=np.float32))


__all__ = ["ENGINE_SUFFIXES", "TensorRTBackend"]
