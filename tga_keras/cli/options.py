"""Options and helpers shared by the ``tga`` commands (one definition each; every command module
has ``add_parser(sub)`` and ``run(args)``)."""

from __future__ import annotations

import argparse
import os

from tga_keras.errors import InputError


def add_precision_argument(parser) -> None:
    """``--precision float32|fast|bfloat16`` (see :func:`tga_keras.runtime.backends.backend_for_model`)."""
    parser.add_argument(
        "--precision",
        choices=["float32", "fast", "bfloat16"],
        default="float32",
        help="float32 (default): exact to the official release, on the fastest exact runtime of this machine "
        "(chosen by measurement the first time, then cached); fast: the fastest runtime whose output stays "
        "within 45 dB PSNR of float32 on real frames (int8 TFLite, bf16 on CPUs with bf16 instructions; its "
        "PSNR is printed); bfloat16: Keras in bf16 (several times faster on CPUs with AMX/AVX512-BF16 and on "
        "GPUs, outputs within about 1e-2). Keras models only: an exported artifact has its own precision",
    )


def weights_not_found(path: str, what: str = "weights file") -> FileNotFoundError:
    """The error for a ``--weights`` path that does not exist; shipped models get a hint (they are not in
    the wheel), and a bare name the list of the shipped models' names."""
    from tga_keras.models.presets import SHIPPED_HINT, known_names_text, looks_like_name

    hint = ""
    if "saved_models" in str(path).replace("\\", "/").split("/"):
        hint = f" ({SHIPPED_HINT})"
    elif looks_like_name(path):
        hint = (
            f" (nor a shipped model's name; known names: {known_names_text()}; "
            "or give a model's path, or a handle Keras loads such as hf://user/repo)"
        )
    return FileNotFoundError(f"{what} not found: {path}{hint}")


def weights_argument(value: str) -> str:
    """``--weights`` as the commands read it (the argparse ``type`` :func:`add_weights_arguments` gives it):
    a shipped model's name (``tga_small_bd_x4``) becomes the path of its file in the checkout, whether
    or not the file is there (a missing one is then reported by the command, saying where it lives);
    anything else (a path, a handle such as ``hf://user/repo``) comes back unchanged. Never raises, so
    every mistake is reported by the command (exit code 2, :func:`weights_not_found`)."""
    from tga_keras.models.presets import shipped_location

    location = shipped_location(value)
    return value if location is None else str(location)


def weights_missing(path: str | None) -> bool:
    """Whether a ``--weights`` value names nothing loadable here: not None, not an existing path and not
    a handle Keras loads itself (``hf://user/repo``), which only ``keras.saving.load_model`` can check."""
    from tga_keras.models.presets import is_handle

    return path is not None and not os.path.exists(path) and not is_handle(path)


OVERLAP_HELP = "LR pixels of context around each tile (default: half the model's receptive radius)"
TILE_HELP = "LR tile size (see `tga upscale --help`)"


def add_overlap_argument(parser, help: str = OVERLAP_HELP) -> None:
    """``--overlap N``: LR context around each tile (shared by upscale's tiling users)."""
    parser.add_argument("--overlap", type=int, default=None, metavar="N", help=help)


def add_tile_arguments(
    parser, tile_help: str = TILE_HELP, overlap_help: str = OVERLAP_HELP, tile_metavar: str | None = "N"
) -> None:
    """``--tile N`` (LR tile size, default: whole frames) and :func:`add_overlap_argument`, in that order."""
    parser.add_argument("--tile", type=int, default=None, metavar=tile_metavar, help=tile_help)
    add_overlap_argument(parser, overlap_help)


def add_no_progress_argument(parser, help: str = "no progress bar on stderr") -> None:
    """``--no-progress``."""
    parser.add_argument("--no-progress", action="store_true", help=help)


def add_align_argument(parser) -> None:
    """``--align auto|on|off``: the paper's fast spatial alignment before the network."""
    parser.add_argument(
        "--align",
        choices=("auto", "on", "off"),
        default="auto",
        help="warp every window's neighbours onto the reference frame by a feature-matched homography before "
        "the network (the paper's fast spatial alignment; OpenCV, a few ms per frame); auto: as the model's "
        "config says (align=true in the paper_full preset)",
    )


def align_choice(args) -> bool | None:
    """``--align`` as :class:`tga_keras.runtime.upscaler.Upscaler` takes it (None: the model's config)."""
    return {"auto": None, "on": True, "off": False}[args.align]


def alignment_note(upscaler) -> str | None:
    """One line on what the alignment did, or None when it was off."""
    if not upscaler.align:
        return None
    st = upscaler.alignment_stats
    warped = st["neighbours"] - st["fell_back"]
    return (
        f"alignment: {warped} of {st['neighbours']} neighbour frames warped onto their reference, "
        f"{st['fell_back']} left unwarped (too few features or an implausible homography)"
    )


MODEL_HELP = (
    "model: .keras (from `tga convert` or training), .weights.h5, an official .pth (needs torch), "
    "or an artifact of `python -m export` (SavedModel folder, .tflite, .onnx, TensorRT .engine)"
)


def add_backend_argument(parser, extra: tuple[str, ...] = (), note: str = "") -> None:
    """``--backend auto|keras|savedmodel|tflite|onnx|openvino|tensorrt`` (see :mod:`tga_keras.runtime.backends`)."""
    from tga_keras.runtime.backends import BACKENDS

    parser.add_argument(
        "--backend",
        choices=("auto",) + BACKENDS + tuple(extra),
        default="auto",
        help="runtime for --weights. auto: an exported artifact runs on its runtime (a folder savedmodel, .tflite, "
        ".onnx onnxruntime, .xml openvino, .engine tensorrt); a Keras model (.keras/.pth/.h5, a preset) on the "
        "fastest exact runtime of this machine (keras, or the model converted in-process to tflite, onnx or "
        "openvino: timed and checked against Keras once, then cached in $TGA_CACHE_DIR or ~/.cache/tga-keras; "
        "$TGA_AUTO_BACKEND=keras keeps Keras). keras, tflite, onnx, openvino with a Keras model: that runtime; "
        "openvino with an .onnx file: that file on OpenVINO" + note,
    )


def add_weights_arguments(
    parser, help: str = MODEL_HELP, extra_backends: tuple[str, ...] = (), backend_note: str = ""
) -> None:
    """``--weights MODEL`` (see :func:`weights_argument`) and then :func:`add_backend_argument`: every command
    that runs a model takes the two together, in that order."""
    shipped = f"; or a shipped model's name ({_shipped_names()}: its file in the checkout)"
    parser.add_argument("--weights", metavar="MODEL", type=weights_argument, help=help + shipped)
    add_backend_argument(parser, extra=extra_backends, note=backend_note)


def add_preset_argument(parser, help: str | None = None, default: str | None = None) -> None:
    """``--preset NAME``, one of :data:`tga_keras.models.presets.PRESETS` (None: the model file's own or the
    default architecture, as the command says)."""
    from tga_keras.models.presets import PRESETS

    parser.add_argument("--preset", choices=PRESETS, default=default, help=help)


def _shipped_names() -> str:
    from tga_keras.models.presets import TABLE

    return ", ".join(p.weights.name for p in TABLE.values() if p.weights is not None)


UNTRAINED_WARNING = (
    "WARNING: no --weights given: the network is UNTRAINED (random weights). Its output is NOT a\n"
    "WARNING: meaningful super-resolution (with random weights it is close to plain bicubic).\n"
    "WARNING: Convert the official checkpoint with `tga convert TGA.pth tga.keras` and pass --weights tga.keras."
)


def model_label(weights: str) -> str:
    """A short name for a weights path, its folder and file: ``'a/tga_small_bd_x4/model.keras'`` ->
    ``'tga_small_bd_x4/model.keras'``."""
    path = os.path.normpath(weights)
    parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return f"{parent}/{os.path.basename(path)}" if parent else os.path.basename(path)


def parse_size(text: str, option: str = "--size") -> tuple[int, int]:
    """``'144x180'`` -> ``(144, 180)`` (LR height, width); ``ValueError`` naming ``option`` otherwise."""
    try:
        h, w = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise InputError(f"{option} must look like 144x180 (height x width), got {text!r}") from None
    if h < 1 or w < 1:
        raise InputError(f"{option} must be positive, got {text!r}")
    return h, w


# ------------------------------------------------------------------------------ tga upscale, tga batch
def add_output_arguments(p: argparse.ArgumentParser) -> None:
    """The options that shape an output, shared by ``tga upscale`` and ``tga batch`` (the model, tiling,
    alignment, precision, frame range, batching, encoding and segments)."""
    from tga_keras.jobs.upscale_job import SEGMENT_PIXELS

    add_weights_arguments(p, MODEL_HELP + "; without it the network is untrained")
    add_preset_argument(
        p,
        "architecture for .pth/.weights.h5 weights or an untrained model (default: official; "
        "a .keras file carries its own)",
    )
    add_tile_arguments(
        p,
        "run in N x N LR tiles to bound memory (not bit-exact: see --overlap)",
        overlap_help="LR pixels of context around each tile (default: half the model's receptive radius, "
        "25 for the official network, 29 for paper, 11 for small, 16 for an artifact without a manifest; "
        "the small model's default stays within 1e-3 of whole frames)",
    )
    add_align_argument(p)
    add_precision_argument(p)
    p.add_argument("--start", type=int, default=0, metavar="N", help="first frame to upscale (0-based)")
    p.add_argument("--frames-limit", type=int, default=None, metavar="N", help="upscale at most N frames")
    p.add_argument("--batch-size", type=int, default=1, metavar="N", help="windows (or tiles) per model call")
    p.add_argument(
        "--fps",
        type=float,
        default=None,
        help="frame rate of an output video (default: the input's, or 25 for a folder); given, it replaces a "
        "video's own timestamps with a constant rate, and its audio is not copied",
    )
    p.add_argument(
        "--codec",
        default=None,
        metavar="NAME",
        help="video encoder (needs PyAV): h264, hevc, vp9, av1, mpeg4, mjpeg, ffv1, or any FFmpeg video "
        "encoder the container holds; None: H.264 (libx264, else libopenh264, else mpeg4) for "
        ".mp4/.mkv/.mov, mjpeg for .avi",
    )
    p.add_argument(
        "--crf",
        type=int,
        default=None,
        metavar="N",
        help="quality of a constant-rate-factor encoder, lower is better and larger: libx264/libx265 0-51, "
        "libvpx-vp9/libsvtav1 0-63; None: 18 for libx264, 22 for libx265; refused for encoders without "
        "CRF (mpeg4 and mjpeg use a fixed quantiser of 3)",
    )
    p.add_argument(
        "--lossless",
        action="store_true",
        help="write FFV1 (8-bit RGB) in a .mkv OUTPUT: decodes to exactly the frames a PNG folder gets",
    )
    p.add_argument(
        "--segment-frames",
        type=_segment_frames,
        default="auto",  # argparse converts it: None
        metavar="N",
        help=f"make the output in segments of N frames (auto: about {SEGMENT_PIXELS / 1e6:g} megapixels of "
        "input, e.g. 158 frames of 176x144, 12 of 720x480), each committed to the work folder OUTPUT.segments "
        "beside OUTPUT as it finishes; the same command again (after a crash, Ctrl-C, a kill) continues from "
        "the committed segments; at the end they are joined without re-encoding and the folder is removed. "
        "Segments read their neighbours too: the frames are exactly those of one run",
    )


def _segment_frames(text: str) -> int | None:
    """``--segment-frames``: a number of frames, or ``auto`` (``None``)."""
    if text == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of frames or auto, not {text!r}") from None


def check_output_args(args) -> None:
    """Range checks of :func:`add_output_arguments`' options (``UsageError``), and that the weights exist."""
    from tga_keras.errors import UsageError

    for name, value, low in (
        ("--start", args.start, 0),
        ("--frames-limit", args.frames_limit, 1),
        ("--overlap", args.overlap, 0),
        ("--batch-size", args.batch_size, 1),
        ("--tile", args.tile, 3),
        ("--segment-frames", args.segment_frames, 1),
    ):
        if value is not None and value < low:
            raise UsageError(f"{name} must be >= {low}, got {value}")
    if args.segment_frames is not None and args.segment_frames % args.batch_size:
        raise UsageError(
            f"--segment-frames ({args.segment_frames}) must be a multiple of --batch-size ({args.batch_size}), "
            "so that segments batch their windows as one run does"
        )
    if args.tile is not None and args.overlap is not None and args.tile <= 2 * args.overlap:
        raise UsageError(f"--tile ({args.tile}) must be larger than twice --overlap ({args.overlap})")
    if args.fps is not None and not args.fps > 0:
        raise UsageError(f"--fps must be > 0, got {args.fps}")
    if args.weights is not None and weights_missing(args.weights):
        raise weights_not_found(args.weights)


def output_options(args):
    """The :class:`~tga_keras.jobs.upscale_job.UpscaleOptions` of a parsed command line."""
    from tga_keras.jobs.upscale_job import UpscaleOptions

    return UpscaleOptions.from_args(args, align_choice(args))
