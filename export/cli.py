"""``python -m export FORMAT MODEL OUTDIR``: deployment artifacts of a TGA model, each checked against Keras.

FORMAT is savedmodel, tflite, onnx, tensorrt or all (every format this machine can build).
MODEL is what ``tga upscale --weights`` takes: a .keras file (trained, converted or shipped), an
official .pth (needs torch; its keys say which network it is) or .weights.h5 (with --preset).

Artifacts (the inference graph as ``tga upscale`` runs it: every BatchNorm after a conv folded into it), under OUTDIR:
  savedmodel/<version>/         TF Serving layout; signatures serving_default (float32) and serve_uint8
  tflite/model_fp32.tflite      and model_fp16, model_int8_dynamic, model_int8 (full integer, uint8 I/O)
  onnx/model.onnx               opset 17, dynamic batch/H/W; model_fp16.onnx (float32 I/O) for TensorRT
  tensorrt/model_fp16.engine    strongly typed FP16 engine + .json sidecar (needs TensorRT and a GPU)
  manifest.json                 source model (sha256, config), tool versions, and every artifact

Each artifact is written to a temporary path, run on real frames (the bundled clip, BD x4) through
the inference core and compared with the Keras model: float32 formats must match to max |diff|
<= 1e-4, fp16 to PSNR >= 45 dB, int8 to PSNR >= 35 dB. Below that the artifact is removed and the
exit code is 1. Exit code 2: a usage error (bad MODEL, format, size, calibration clip, an existing
artifact without --overwrite, or TensorRT/GPU missing for FORMAT tensorrt). Exit code 1 also for a
failure inside the program (a converter's: add --debug for the traceback); 130 interrupted. Nothing
half-written is left behind.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from typing import TYPE_CHECKING, Any, Iterable, NoReturn, Sequence, overload

from export import FORMATS
from export.job import Job
from tga_keras.errors import ToolMissingError, UsageError

if TYPE_CHECKING:
    from tga_keras.models.config import TGAConfig
    from tga_keras.models.model import TGAModel

TFLITE_PRECISIONS = ("fp32", "fp16", "int8-dynamic", "int8")
ONNX_PRECISIONS = ("fp32", "fp16")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (and exit 2) instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"export: error: {message} (see python -m export --help)\n")


def _parser() -> argparse.ArgumentParser:
    from tga_keras.models.presets import PRESETS

    p = _Parser(
        prog="python -m export",
        description=__doc__.split("\n", 2)[2].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("format", metavar="FORMAT", help=f"one of {', '.join(FORMATS + ('all',))}")
    p.add_argument("model", metavar="MODEL", help=".keras, official .pth (needs torch) or .weights.h5")
    p.add_argument("outdir", metavar="OUTDIR", help="folder for the artifacts and manifest.json (created)")
    p.add_argument(
        "--preset",
        choices=PRESETS,
        default=None,
        help="architecture of a .weights.h5 (default official); a .keras carries its own and a .pth's is "
        "recognised from its keys (if given, it must match)",
    )
    p.add_argument(
        "--input-size",
        metavar="HxW",
        default=None,
        help="LR frame size for fixed-shape formats: the TensorRT profile's optimum "
        "(default 144x180). SavedModel, TFLite and ONNX keep H and W dynamic",
    )
    p.add_argument(
        "--min",
        dest="min_size",
        metavar="HxW",
        default=None,
        help="TensorRT profile: smallest LR frame (default 32x32)",
    )
    p.add_argument(
        "--opt",
        dest="opt_size",
        metavar="HxW",
        default=None,
        help="TensorRT profile: LR frame size to tune for (default --input-size)",
    )
    p.add_argument(
        "--max",
        dest="max_size",
        metavar="HxW",
        default=None,
        help="TensorRT profile: largest LR frame (default 272x480, 1080p / 4)",
    )
    p.add_argument(
        "--max-batch",
        type=int,
        default=1,
        metavar="N",
        help="TensorRT profile: largest batch of windows (other formats: any batch)",
    )
    p.add_argument(
        "--calibration",
        metavar="VIDEO",
        default=None,
        help="video whose frames (BD-degraded) calibrate the full-integer int8 TFLite model "
        "(default: frames 60+ of the bundled clip, which the parity check does not use)",
    )
    p.add_argument(
        "--precision",
        metavar="LIST",
        default=None,
        help=f"comma-separated precisions to export: tflite {','.join(TFLITE_PRECISIONS)} "
        f"(default all), onnx {','.join(ONNX_PRECISIONS)} (default both)",
    )
    p.add_argument(
        "--savedmodel-version",
        type=int,
        default=None,
        metavar="N",
        help="SavedModel version folder (default: the next free number)",
    )
    p.add_argument("--threads", type=int, default=None, metavar="N", help="threads for the parity runs")
    p.add_argument(
        "--overwrite", action="store_true", help="replace existing artifacts (and a manifest of another model)"
    )
    p.add_argument(
        "--verbose", action="store_true", help="show the converters' own log output (and, as --debug, tracebacks)"
    )
    p.add_argument("--debug", action="store_true", help="print the traceback of any error")
    return p


@overload
def parse_hw(text: str | None, option: str, default: tuple[int, int]) -> tuple[int, int]: ...


@overload
def parse_hw(text: str | None, option: str, default: None = None) -> tuple[int, int] | None: ...


def parse_hw(text: str | None, option: str, default: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """``'144x180'`` -> ``(144, 180)`` (``default`` for None); ``InputError`` for anything else."""
    from tga_keras.cli.options import parse_size

    return default if text is None else parse_size(text, option)


def _precisions(text: str | None, fmt: str) -> dict[str, tuple[str, ...]]:
    """Precisions per format from ``--precision``."""
    wanted = {"tflite": TFLITE_PRECISIONS, "onnx": ONNX_PRECISIONS}
    if text is None:
        return wanted
    asked = [p.strip() for p in text.split(",") if p.strip()]
    known = set(TFLITE_PRECISIONS) | set(ONNX_PRECISIONS)
    bad = [p for p in asked if p not in known]
    if bad or not asked:
        raise UsageError(f"--precision: unknown {bad or text!r}; choose from {', '.join(TFLITE_PRECISIONS)}")
    out = {k: tuple(p for p in v if p in asked) for k, v in wanted.items()}
    if fmt in out and not out[fmt]:
        raise UsageError(f"--precision {text}: none of these apply to {fmt} ({', '.join(wanted[fmt])})")
    return out


def plan(
    fmt: str,
    outdir: str,
    precisions: dict[str, tuple[str, ...]],
    version: int | None,
    tensorrt_here: bool | None = None,
) -> list[str]:
    """Final paths that this run will write (to refuse existing ones before any work).

    FORMAT tensorrt always writes the fp16 ONNX (the engine's source, or the ``trtexec`` input where
    TensorRT is missing); FORMAT all builds an engine, and so the fp16 ONNX, only where TensorRT and
    a GPU are present (``tensorrt_here``, default: :func:`export.tensorrt_engine.availability`).
    """
    from export import onnx_model, savedmodel, tensorrt_engine, tflite

    formats = formats_of(fmt, tensorrt_here)
    paths = []
    if "savedmodel" in formats:
        paths.append(savedmodel.target(outdir, version))
    if "tflite" in formats:
        paths += [os.path.join(outdir, tflite.FOLDER, tflite.filename(p)) for p in precisions["tflite"]]
    paths += [
        os.path.join(outdir, onnx_model.FOLDER, onnx_model.filename(p)) for p in onnx_precisions(formats, precisions)
    ]
    if "tensorrt" in formats:
        paths.append(os.path.join(outdir, tensorrt_engine.FOLDER, tensorrt_engine.ENGINE))
    return paths


def formats_of(fmt: str, tensorrt_here: bool | None = None) -> tuple[str, ...]:
    """The formats FORMAT stands for: ``all`` leaves TensorRT out where it cannot build an engine."""
    from export import tensorrt_engine

    if fmt != "all":
        return (fmt,)
    if tensorrt_here is None:
        tensorrt_here = tensorrt_engine.availability()[0]
    return FORMATS if tensorrt_here else tuple(f for f in FORMATS if f != "tensorrt")


def onnx_precisions(formats: Iterable[str], precisions: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """ONNX files to write: those asked for, plus fp16 when a TensorRT engine is built from it."""
    wanted = tuple(precisions["onnx"]) if "onnx" in formats else ()
    if "tensorrt" in formats and "fp16" not in wanted:
        wanted += ("fp16",)
    return wanted


def parity_size(cfg: TGAConfig) -> tuple[int, int]:
    """LR size of the parity windows: the bundled clip (176x144) degraded by the model's scale."""
    from tga_keras.assets import clip_path
    from tga_keras.io.video import probe

    info = probe(clip_path())
    return info.height // cfg.scale, info.width // cfg.scale


@dataclasses.dataclass(frozen=True)
class Request:
    """What the command line asks for, its options checked: FORMAT, the formats it stands for here,
    the precisions per format and the frame sizes (``--input-size``; the TensorRT profile's min/opt/max)."""

    fmt: str
    formats: tuple[str, ...]
    precisions: dict[str, tuple[str, ...]]
    input_size: tuple[int, int] | None
    sizes: dict[str, tuple[int, int]]

    @property
    def wants_int8(self) -> bool:
        """Whether the full-integer int8 TFLite model (the one ``--calibration`` calibrates) is written."""
        return self.fmt in ("tflite", "all") and "int8" in self.precisions["tflite"]


def read_request(args: argparse.Namespace) -> Request:
    """The options checked (``UsageError``), then MODEL and OUTDIR: nothing is loaded or written yet."""
    from export import tensorrt_engine

    fmt = args.format
    if fmt not in FORMATS + ("all",):
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS + ('all',))}")
    precisions = _precisions(args.precision, fmt)
    input_size = parse_hw(args.input_size, "--input-size")
    sizes = {
        "min": parse_hw(args.min_size, "--min", tensorrt_engine.DEFAULT_MIN),
        "opt": parse_hw(args.opt_size, "--opt", input_size or tensorrt_engine.DEFAULT_OPT),
        "max": parse_hw(args.max_size, "--max", tensorrt_engine.DEFAULT_MAX),
    }
    if args.max_batch < 1:
        raise UsageError(f"--max-batch must be >= 1, got {args.max_batch}")
    if args.savedmodel_version is not None and args.savedmodel_version < 1:
        raise UsageError(f"--savedmodel-version must be >= 1, got {args.savedmodel_version}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    check_paths(args)
    request = Request(fmt, formats_of(fmt), precisions, input_size, sizes)
    check_outputs(args, request)
    return request


def check_paths(args: argparse.Namespace) -> None:
    """MODEL (a shipped model's name becomes its file in the checkout: ``args.model``) and OUTDIR."""
    from tga_keras.models.presets import resolve_weights

    args.model = resolve_weights(args.model)
    if not os.path.exists(args.model):
        raise UsageError(f"model not found: {args.model}")
    if os.path.exists(args.outdir) and not os.path.isdir(args.outdir):
        raise UsageError(f"OUTDIR {args.outdir} exists and is not a folder")


def check_outputs(args: argparse.Namespace, request: Request) -> None:
    """Refuse existing artifacts (without ``--overwrite``) and a ``--calibration`` that calibrates nothing."""
    planned = plan(request.fmt, args.outdir, request.precisions, args.savedmodel_version, "tensorrt" in request.formats)
    existing = [p for p in planned if os.path.lexists(p)]
    if existing and not args.overwrite:
        raise UsageError(
            f"{existing[0]} exists; pass --overwrite to replace it"
            + (f" (and {len(existing) - 1} more)" if len(existing) > 1 else "")
        )
    if args.calibration is not None and not request.wants_int8:
        raise UsageError("--calibration applies to the full-integer int8 TFLite model (tflite or all)")


def load_model(args: argparse.Namespace) -> TGAModel:
    """MODEL as a Keras TGA model (``UsageError`` if it is none)."""
    from tga_keras.models.loading import load_tga

    try:
        return load_tga(args.model, args.preset)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from e


def check_model_fit(args: argparse.Namespace, request: Request, cfg: TGAConfig) -> dict[str, Any] | None:
    """The checks that need the model's config (calibration clip, frame sizes); returns the TensorRT
    optimization profile for FORMAT tensorrt and all (else None)."""
    from export import tensorrt_engine, tflite

    if request.wants_int8:
        tflite.check_calibration(args.calibration, cfg.frames, cfg.scale)
    input_size, sizes = request.input_size, request.sizes
    if input_size is not None and min(input_size) < cfg.min_size:
        raise UsageError(
            f"--input-size {args.input_size}: the model needs frames of at least {cfg.min_size}x{cfg.min_size}"
        )
    if request.fmt not in ("tensorrt", "all"):
        return None
    # checked up front, also where `all` only prints the trtexec command
    shapes = tensorrt_engine.profile_shapes(
        cfg.frames, sizes["min"], sizes["opt"], sizes["max"], args.max_batch, cfg.min_size
    )
    if "tensorrt" in request.formats:  # (FORMAT tensorrt, or all with TensorRT here)
        h, w = parity_size(cfg)
        if not tensorrt_engine.contains(shapes, (1, cfg.frames, h, w, 3)):
            raise UsageError(
                f"the parity frames ({h}x{w} LR, the bundled clip) are outside the TensorRT "
                f"profile --min {sizes['min'][0]}x{sizes['min'][1]} .. --max "
                f"{sizes['max'][0]}x{sizes['max'][1]}; widen it"
            )
    return shapes


def make_job(args: argparse.Namespace, request: Request, model: TGAModel, shapes: dict[str, Any] | None) -> Job:
    """The export job: the model as a backend, the parity windows and their Keras reference output."""
    from tga_keras.runtime.backends.keras import KerasBackend
    from tga_keras.runtime.parity import real_windows, sr_of

    cfg = model.config
    windows = real_windows(cfg.frames, cfg.scale, count=3)
    keras_backend = KerasBackend(model)
    return Job(
        model=model,
        keras=keras_backend,
        outdir=args.outdir,
        overwrite=args.overwrite,
        windows=windows,
        reference=sr_of(keras_backend, windows),
        input_size=request.input_size,
        max_batch=args.max_batch,
        calibration=args.calibration,
        profile=shapes,
        threads=args.threads,
    )


def write_artifacts(
    job: Job, args: argparse.Namespace, request: Request, shapes: dict[str, Any] | None, source: dict[str, Any]
) -> str | None:
    """Every artifact of the request, the manifest written after each (and on any failure: what was
    kept stays listed); returns why no TensorRT engine could be built here (FORMAT tensorrt), or None."""
    from export import manifest, onnx_model, savedmodel, tensorrt_engine, tflite
    from tga_keras.runtime.compile import converter_output

    formats, precisions = request.formats, request.precisions

    def record() -> None:
        manifest.write(args.outdir, source, job.entries, args.overwrite)

    missing = None
    try:
        with converter_output(args.verbose):  # the converters' log chatter off the terminal, unless --verbose
            sm_path = None
            if "savedmodel" in formats:
                sm_path = savedmodel.export(job, args.savedmodel_version)
                record()
            if "tflite" in formats:
                if sm_path is None:
                    sm_path = os.path.join(job.scratch(), "savedmodel")
                    savedmodel.write(job.model, sm_path)
                tflite.export(job, sm_path, precisions["tflite"])
                record()
            onnx_wanted = onnx_precisions(formats, precisions)
            if onnx_wanted:
                onnx_paths = onnx_model.export(job, onnx_wanted)
                record()
            if "tensorrt" in formats:
                assert shapes is not None  # made for FORMAT tensorrt and all
                try:
                    tensorrt_engine.export(job, onnx_paths["fp16"], shapes)
                    record()
                except ToolMissingError as e:
                    missing = str(e)
    except BaseException:  # a failed check, a converter's failure, Ctrl-C: reported by run_command
        if job.entries:
            record()
        raise
    return missing


def print_trtexec_hint(outdir: str, shapes: dict[str, Any] | None) -> None:
    """FORMAT all without TensorRT here: why, and how to build the engine on a machine with it."""
    from export import onnx_model, tensorrt_engine

    print(f"tensorrt skipped: {tensorrt_engine.availability()[1]}")
    fp16 = os.path.join(outdir, onnx_model.FOLDER, onnx_model.filename("fp16"))
    if os.path.exists(fp16) and shapes is not None:  # (shapes: always made for all)
        engine = os.path.join(outdir, tensorrt_engine.FOLDER, tensorrt_engine.ENGINE)
        print(
            f"on a GPU machine with TensorRT, build the engine with:\n  "
            f"{tensorrt_engine.trtexec_command(fp16, engine, shapes)}"
        )


def run(args: argparse.Namespace) -> int:
    """The export: every check before any work, then the artifacts and the manifest."""
    from export import manifest

    request = read_request(args)
    model = load_model(args)
    cfg = model.config
    shapes = check_model_fit(args, request, cfg)
    source = manifest.source_record(args.model, cfg)
    manifest.check_same_source(args.outdir, source, args.overwrite)

    print(f"exporting {args.model} (TGA x{cfg.scale}, {cfg.frames} frames) -> {args.outdir}", flush=True)
    job = make_job(args, request, model, shapes)
    t0 = time.perf_counter()
    try:
        missing = write_artifacts(job, args, request, shapes, source)
    finally:
        job.cleanup()
    print(
        f"done in {time.perf_counter() - t0:.0f} s: {len(job.entries)} artifact(s), "
        f"manifest {os.path.join(args.outdir, manifest.NAME)}"
    )
    if missing is not None:
        raise ToolMissingError(missing)
    if request.fmt == "all" and "tensorrt" not in request.formats:
        print_trtexec_hint(args.outdir, shapes)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m export``: exit codes as ``tga`` (:func:`tga_keras.cli.main.run_command`)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["profile"]:  # python -m export profile ONNX: where the time goes (export.profile)
        from export.profile import main as profile_main

        return profile_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.verbose:
        os.environ["TGA_VERBOSE_TF"] = "1"
    from tga_keras.cli.main import quiet_tensorflow_import, run_command

    quiet_tensorflow_import()
    return run_command(
        "export",
        lambda: run(args),
        debug=args.debug or args.verbose,
        interrupted=lambda: "export: interrupted; temporary files removed",
    )
