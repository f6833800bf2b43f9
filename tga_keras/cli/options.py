"""Options and helpers shared by the ``tga`` commands (one definition each; every command module
has ``add_parser(sub)`` and ``run(args)``)."""

from __future__ import annotations

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
    """``--weights`` as the commands read it (the argparse ``type`` :func:`add_backend_argument` gives it):
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


def add_overlap_argument(parser) -> None:
    """``--overlap N``: LR context around each tile (shared by upscale's tiling users)."""
    parser.add_argument(
        "--overlap",
        type=int,
        default=None,
        metavar="N",
        help="LR pixels of context around each tile (default: half the model's receptive radius)",
    )


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
    """``--backend auto|keras|savedmodel|tflite|onnx|tensorrt`` (see :mod:`tga_keras.runtime.backends`)."""
    from tga_keras.runtime.backends import BACKENDS

    parser.add_argument(
        "--backend",
        choices=("auto",) + BACKENDS + tuple(extra),
        default="auto",
        help="runtime for --weights. auto: an exported artifact runs on its runtime (a folder savedmodel, .tflite, "
        ".onnx, .engine tensorrt); a Keras model (.keras/.pth/.h5, a preset) on the fastest exact runtime of "
        "this machine (keras, or the model converted in-process to tflite or onnx: timed and checked against "
        "Keras once, then cached in $TGA_CACHE_DIR or ~/.cache/tga-keras; $TGA_AUTO_BACKEND=keras keeps Keras). "
        "keras, tflite, onnx with a Keras model: that runtime" + note,
    )
    # every command that takes --weights adds it just before --backend: let it take a shipped model's name
    for action in parser._actions:
        if action.dest == "weights" and action.type is None:
            action.type = weights_argument
            if action.help:
                action.help += f"; or a shipped model's name ({_shipped_names()}: its file in the checkout)"


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
