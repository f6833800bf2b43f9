"""TensorRT FP16 engine from the fp16 ONNX, with a JSON sidecar.

TensorRT 10+ has no implicit precision flags (no ``BuilderFlag.FP16`` in TensorRT 11): the
network is *strongly typed*, its precision is the ONNX file's. So the engine is built from
``onnx/model_fp16.onnx`` (float16 weights and compute, float32 I/O) with the
``STRONGLY_TYPED`` network flag and one optimization profile (``--min/--opt/--max`` LR sizes,
batch 1 .. ``--max-batch``), then written to ``tensorrt/model_fp16.engine`` with
``model_fp16.engine.json``: TensorRT version, GPU, profile shapes, precision, config.

``tensorrt`` is imported only here. Where it or a GPU is missing, the fp16 ONNX is still written
and the exact ``trtexec`` command that builds the same engine on a GPU machine is printed.
An engine is tied to its TensorRT version and GPU model: build it where it runs.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import shutil
import subprocess

from export.job import Job, removed_on_failure, tensor_io
from tga_keras.errors import ToolMissingError, UsageError

FOLDER = "tensorrt"
ENGINE = "model_fp16.engine"
DEFAULT_MIN = (32, 32)
DEFAULT_OPT = (144, 180)
DEFAULT_MAX = (272, 480)  # 1080p / 4
WORKSPACE_GIB = 4


def profile_shapes(frames: int, min_hw, opt_hw, max_hw, max_batch: int = 1, min_size: int = 3) -> dict:
    """``{"min", "opt", "max"}`` input shapes ``[batch, frames, H, W, 3]`` of the optimization profile.

    Batch runs 1 .. ``max_batch`` (opt 1). ``UsageError`` unless every size is at least
    ``min_size`` and ``min <= opt <= max`` in both H and W.
    """
    if isinstance(max_batch, bool) or int(max_batch) != max_batch or max_batch < 1:
        raise UsageError(f"--max-batch must be an integer >= 1, got {max_batch!r}")
    sizes = {"min": tuple(min_hw), "opt": tuple(opt_hw), "max": tuple(max_hw)}
    for name, (h, w) in sizes.items():
        if h < min_size or w < min_size:
            raise UsageError(f"--{name} {h}x{w}: the model needs frames of at least {min_size}x{min_size}")
    for axis, label in ((0, "height"), (1, "width")):
        lo, mid, hi = (sizes[k][axis] for k in ("min", "opt", "max"))
        if not lo <= mid <= hi:
            raise UsageError(f"the profile's {label} must satisfy min <= opt <= max, got {lo}, {mid}, {hi}")
    return {
        "min": [1, frames, *sizes["min"], 3],
        "opt": [1, frames, *sizes["opt"], 3],
        "max": [int(max_batch), frames, *sizes["max"], 3],
    }


def contains(shapes: dict, shape) -> bool:
    """Whether input ``shape`` lies inside the profile ``shapes``."""
    return all(a <= s <= b for s, a, b in zip(shape, shapes["min"], shapes["max"], strict=True))


def trtexec_command(onnx_path: str, engine_path: str, shapes: dict, input_name: str = "lr_frames") -> str:
    """The ``trtexec`` command that builds the same strongly typed engine from the fp16 ONNX."""

    def dims(shape):
        return f"{input_name}:{'x'.join(str(int(d)) for d in shape)}"

    args = [
        "trtexec",
        f"--onnx={onnx_path}",
        "--stronglyTyped",
        f"--minShapes={dims(shapes['min'])}",
        f"--optShapes={dims(shapes['opt'])}",
        f"--maxShapes={dims(shapes['max'])}",
        f"--memPoolSize=workspace:{WORKSPACE_GIB * 1024}M",
        f"--saveEngine={engine_path}",
    ]
    return " ".join(shlex.quote(a) for a in args)


def availability() -> tuple[bool, str]:
    """``(True, version)`` when TensorRT imports and sees a GPU; else ``(False, reason)``."""
    try:
        import tensorrt as trt
    except ImportError:
        return False, "TensorRT is not installed (pip install tensorrt from NVIDIA's index, on a GPU machine)"
    except Exception as e:  # noqa: BLE001 - a broken CUDA install fails at import
        return False, f"TensorRT does not load: {e}"
    try:
        builder = trt.Builder(trt.Logger(trt.Logger.ERROR))
    except Exception as e:  # noqa: BLE001
        return False, f"TensorRT {trt.__version__} finds no usable NVIDIA GPU: {e}"
    if builder is None:
        return False, f"TensorRT {trt.__version__} finds no usable NVIDIA GPU"
    try:
        from tga_keras.runtime.backends.tensorrt_runtime import cudart

        cudart()
    except ValueError as e:  # the engine could be built but not run for its parity check
        return False, str(e)
    return True, trt.__version__


def gpu_name() -> str:
    """Name of the GPU TensorRT builds for (CUDA device 0, as CUDA_VISIBLE_DEVICES maps it)."""
    try:
        from tga_keras.runtime.backends.tensorrt_runtime import check_cuda, cudart

        name = check_cuda(cudart().cudaGetDeviceProperties(0)).name
        return (name.decode() if isinstance(name, bytes) else str(name)).strip("\x00 ")
    except Exception:  # noqa: BLE001 - no cuda-python or no device: fall back to nvidia-smi
        pass
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError):
            pass
    return "unknown"


def build_engine(onnx_path: str, shapes: dict, input_name: str = "lr_frames") -> bytes:
    """Serialized strongly typed engine of ``onnx_path`` with one optimization profile (needs a GPU)."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    with open(onnx_path, "rb") as f:
        if not parser.parse(f.read()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_GIB << 30)
    profile = builder.create_optimization_profile()
    profile.set_shape(input_name, shapes["min"], shapes["opt"], shapes["max"])
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError("TensorRT failed to build the engine (see its log above)")
    return bytes(serialized)


def export(job: Job, onnx_fp16: str, shapes: dict) -> str:
    """Build, check (fp16: PSNR >= 45 dB against Keras) and keep the engine and its sidecar."""
    final = job.path(FOLDER, ENGINE)
    command = trtexec_command(onnx_fp16, final, shapes)
    ok, detail = availability()
    if not ok:
        job.say(
            f"tensorrt: the fp16 ONNX is at {onnx_fp16}; on a machine with an NVIDIA GPU and TensorRT, "
            f"build the same engine with:\n  {command}"
        )
        raise ToolMissingError(detail)
    from tga_keras.runtime.backends.tensorrt import TensorRTBackend

    tmp = job.temp_path(final) + ".engine"
    job.say(f"tensorrt fp16 (TensorRT {detail}) -> {final}")
    with removed_on_failure(tmp, tmp + ".json"):
        engine = build_engine(onnx_fp16, shapes)
        with open(tmp, "wb") as f:
            f.write(engine)
        sidecar = {
            "tensorrt": detail,
            "gpu": gpu_name(),
            "precision": "fp16",
            "strongly_typed": True,
            "input": "lr_frames",
            "output": "sr",
            "profile": shapes,
            "onnx": os.path.relpath(onnx_fp16, os.path.dirname(final)),
            "config": job.config.to_dict(),
            "built": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "trtexec": command,
        }
        with open(tmp + ".json", "w") as f:
            json.dump(sidecar, f, indent=2)
        backend = TensorRTBackend(tmp)
        figures = job.check(backend, "fp16")
        del backend
        frames = job.config.frames
        io = {
            "input": tensor_io("lr_frames", "float32", [None, frames, None, None, 3]),
            "output": tensor_io("sr", "float32", [None, None, None, 3]),
        }
        job.keep(
            tmp,
            final,
            "tensorrt",
            "fp16",
            figures,
            io,
            companions=((tmp + ".json", final + ".json"),),
            profile=shapes,
            gpu=sidecar["gpu"],
            tensorrt=detail,
            sidecar=os.path.relpath(final + ".json", job.outdir),
        )
    return final
