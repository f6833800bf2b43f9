"""Options and helpers shared by the ``tga`` commands (one definition each; every command module
has ``add_parser(sub)`` and ``run(args)``)."""

from __future__ import annotations

import os

from tga_keras.errors import InputError


def add_precision_argument(parser) -> None:
    """``--precision float32|bfloat16`` (see :func:`tga_keras.models.loading.with_precision`)."""
    parser.add_argument(
        "--precision",
        choices=["float32", "bfloat16"],
        default="float32",
        help="compute precision: float32 is exact to the official release; bfloat16 is several times "
        "faster on CPUs with AMX/AVX512-BF16 and on GPUs, with outputs within about 1e-2 "
        "(the input and bicubic base stay float32)",
    )


def weights_not_found(path: str, what: str = "weights file") -> FileNotFoundError:
    """The error for a ``--weights`` path that does not exist; shipped models get a hint (they are not in the wheel)."""
    hint = ""
    if "saved_models" in str(path).replace("\\", "/").split("/"):
        hint = (
            " (the shipped models are in saved_models/ of the project's git checkout, not in the pip package: "
            "run from the checkout or give the model's full path)"
        )
    return FileNotFoundError(f"{what} not found: {path}{hint}")


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
        help="runtime for --weights; auto picks it from the path (.keras/.pth/.h5 keras, a folder savedmodel, "
        ".tflite, .onnx, .engine tensorrt)" + note,
    )


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
