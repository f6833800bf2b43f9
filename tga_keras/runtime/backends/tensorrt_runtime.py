"""Run a serialized TensorRT engine on an NVIDIA GPU (the ``tensorrt`` backend of the inference core).

Needs ``tensorrt`` (10 or later) and ``cuda-python`` (``pip install tga-keras[tensorrt]``, from
NVIDIA's package index, on a machine with the NVIDIA driver); both are imported only here, when a
TensorRT backend is made. The engine's input is ``lr_frames [batch, F, H, W, 3]`` float32 and its
output ``sr [batch, s*H, s*W, 3]`` float32 (an FP16 engine built by ``python -m export tensorrt``
keeps float32 I/O); shapes must lie inside the engine's optimization profile.
"""

from __future__ import annotations

import numpy as np

from tga_keras.errors import InputError


def cudart():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError:
            raise InputError("the tensorrt backend needs cuda-python: pip install cuda-python") from None
    return cudart


def check_cuda(result):
    """cuda-python returns ``(err, *values)``: raise on an error, return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise RuntimeError(f"CUDA error {err}")
    return values[0] if len(values) == 1 else values


class EngineRunner:
    """``(B, F, h, w, 3)`` float32 numpy -> ``(B, s*h, s*w, 3)`` float32 numpy on the GPU."""

    def __init__(self, path: str):
        try:
            import tensorrt as trt
        except ImportError:
            raise InputError(
                "the tensorrt backend needs TensorRT (pip install tensorrt from NVIDIA's index) and an NVIDIA GPU"
            ) from None
        self._trt = trt
        self._cudart = cudart()
        logger = trt.Logger(trt.Logger.WARNING)
        with open(path, "rb") as f:
            data = f.read()
        self.runtime = trt.Runtime(logger)  # must outlive the engine
        self.engine = self.runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise InputError(
                f"{path}: TensorRT cannot deserialize this engine (built by another TensorRT "
                "version or for another GPU? rebuild it with python -m export tensorrt)"
            )
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise InputError(f"{path}: expected one input and one output, got {inputs} -> {outputs}")
        self.input, self.output = inputs[0], outputs[0]
        for name in (self.input, self.output):
            if self.engine.get_tensor_dtype(name) != trt.float32:
                raise InputError(
                    f"{path}: tensor {name!r} is {self.engine.get_tensor_dtype(name)}; this runner "
                    "takes float32 I/O (engines of python -m export tensorrt have it)"
                )
        lo, opt, hi = (tuple(int(v) for v in s) for s in self.engine.get_tensor_profile_shape(self.input, 0))
        self.profile = {"min": lo, "opt": opt, "max": hi}
        self.frames = int(hi[1])
        self.stream = check_cuda(self._cudart.cudaStreamCreate())
        self._buffers: dict[str, tuple[int, int]] = {}  # name -> (device pointer, bytes)

    def _device(self, name: str, nbytes: int) -> int:
        ptr, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if ptr:
                check_cuda(self._cudart.cudaFree(ptr))
            ptr = check_cuda(self._cudart.cudaMalloc(nbytes))
            self._buffers[name] = (ptr, nbytes)
        return ptr

    def _check_shape(self, shape) -> None:
        lo, hi = self.profile["min"], self.profile["max"]
        if len(shape) != len(lo):
            raise InputError(f"expected a {len(lo)}-D input (batch, frames, H, W, 3), got shape {tuple(shape)}")
        if any(s < a or (k > 0 and s > b) for k, (s, a, b) in enumerate(zip(shape, lo, hi, strict=True))):
            raise InputError(
                f"input {tuple(shape)} is outside the engine's profile (min {lo}, max {hi}); "
                "rebuild it with python -m export tensorrt --min/--max, or use --tile"
            )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        self._check_shape(x.shape)
        step = self.profile["max"][0]
        return np.concatenate([self._run(x[i : i + step]) for i in range(0, len(x), step)])

    def _run(self, x: np.ndarray) -> np.ndarray:
        cudart = self._cudart
        if not self.context.set_input_shape(self.input, x.shape):
            raise InputError(f"TensorRT rejects input shape {x.shape} (profile {self.profile})")
        out = np.empty(tuple(self.context.get_tensor_shape(self.output)), np.float32)
        d_in, d_out = self._device("in", x.nbytes), self._device("out", out.nbytes)
        self.context.set_tensor_address(self.input, d_in)
        self.context.set_tensor_address(self.output, d_out)
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        check_cuda(cudart.cudaMemcpyAsync(d_in, x.ctypes.data, x.nbytes, h2d, self.stream))
        if not self.context.execute_async_v3(int(self.stream)):
            raise RuntimeError("TensorRT execution failed")
        check_cuda(cudart.cudaMemcpyAsync(out.ctypes.data, d_out, out.nbytes, d2h, self.stream))
        check_cuda(cudart.cudaStreamSynchronize(self.stream))
        return out

    def __del__(self):
        try:
            for ptr, _ in self._buffers.values():
                self._cudart.cudaFree(ptr)
            self._cudart.cudaStreamDestroy(self.stream)
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
