"""``tga upscale --compare PNG / --attention PNG``: pictures of one frame, made while the video streams.

The options, their checks (all before any heavy work: file names, --overwrite, a writable folder,
a Keras model for --attention) and :class:`FramePictures`, which watches the input and output
streams of ``tga upscale`` for the chosen frame, keeps its LR window and SR frame, and draws
the pictures (:mod:`tga_keras.evaluation.pictures`) once the video is written.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from tga_keras.errors import InputError

if TYPE_CHECKING:
    import numpy as np


def add_picture_arguments(p: argparse.ArgumentParser) -> None:
    """``--compare PNG``, ``--attention PNG``, ``--compare-frame N``."""
    p.add_argument(
        "--compare",
        metavar="PNG",
        help="also draw one frame as a zoomed comparison, the same crop (the most textured region) of "
        "LR enlarged without smoothing | bicubic | TGA, labelled (atomic; see --compare-frame)",
    )
    p.add_argument(
        "--attention",
        metavar="PNG",
        help="also draw the temporal group attention of that frame: one heat map per group of frames "
        "(by temporal distance) over the SR frame, fixed 0..1 scale with a colour bar. Needs a Keras "
        "model (.keras/.pth/.weights.h5), not an exported artifact; runs the model once more on the "
        "whole frame (not tiled)",
    )
    p.add_argument(
        "--compare-frame",
        type=int,
        default=None,
        metavar="N",
        help="the input frame (0-based, as --start) for --compare and --attention (default: the middle "
        "of the upscaled range)",
    )


def _writable_folder(path: str) -> bool:
    """Whether a file can be created at ``path``: its nearest existing folder is writable."""
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.isdir(folder):
        parent = os.path.dirname(folder)
        if parent == folder or os.path.exists(folder):
            return False
        folder = parent
    return os.access(folder, os.W_OK | os.X_OK)


def check_picture_args(args: argparse.Namespace) -> None:
    """Cheap checks of --compare/--attention/--compare-frame (``UsageError``/``FileExistsError``: exit 2)."""
    from tga_keras.errors import UsageError
    from tga_keras.runtime.backends import detect_backend

    pictures = [
        (option, path) for option, path in (("--compare", args.compare), ("--attention", args.attention)) if path
    ]
    if args.compare_frame is not None:
        if not pictures:
            raise UsageError("--compare-frame applies to --compare or --attention; give one of them")
        if args.compare_frame < args.start:
            raise UsageError(f"--compare-frame {args.compare_frame} is before --start {args.start}")
        if args.frames_limit is not None and args.compare_frame >= args.start + args.frames_limit:
            last = args.start + args.frames_limit - 1
            raise UsageError(f"--compare-frame {args.compare_frame} is past the last upscaled frame ({last})")
    for option, path in pictures:
        if os.path.splitext(path)[1].lower() != ".png":
            raise UsageError(f"{option} {path}: the file name must end in .png")
        if os.path.isdir(path):
            raise UsageError(f"{option} {path} is a folder; give a file name")
        if os.path.lexists(path) and not args.overwrite:
            raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
        for other, name in ((args.output, "OUTPUT"), (args.input, "INPUT")):
            if os.path.abspath(path) == os.path.abspath(other):
                raise UsageError(f"{option} names the same file as {name}")
        if not _writable_folder(path):
            raise PermissionError(f"{option} {path}: cannot write in its folder")
    if args.compare and args.attention and os.path.abspath(args.compare) == os.path.abspath(args.attention):
        raise UsageError("--compare and --attention name the same file")
    if args.attention and args.weights is not None:
        from tga_keras.models.presets import is_handle, resolve_weights

        path = resolve_weights(args.weights)  # a shipped model's name: its file
        kind = "keras" if is_handle(path) else detect_backend(path)  # a Keras model on any runtime has it
        if kind != "keras":
            raise UsageError(attention_needs_keras(kind))


def attention_needs_keras(kind: str) -> str:
    """The message for --attention with a backend that is not a Keras model."""
    return (
        f"--attention needs a Keras model (.keras, .pth or .weights.h5): the {kind} backend runs an exported "
        "graph whose only output is the SR frame, not the attention weights"
    )


class FramePictures:
    """Keeps one frame's LR window and SR output while ``tga upscale`` streams, then draws the pictures.

    ``stream_start``: the input frame number of the stream's first frame; ``start``/``total``: the
    first upscaled frame and how many (``total`` may be an estimate for a video, or None).
    """

    def __init__(self, args: argparse.Namespace, backend: Any, stream_start: int, total: int | None) -> None:
        from tga_keras.errors import UsageError
        from tga_keras.runtime.backends.keras import KerasBackend

        self.compare, self.attention = args.compare, args.attention
        self.active = bool(self.compare or self.attention)
        self.overwrite = args.overwrite
        self.start = args.start
        self.chosen = args.compare_frame is not None  # else the middle of the (possibly estimated) count
        if self.chosen:
            self.frame = args.compare_frame
        else:
            self.frame = args.start + (total // 2 if total else 0)
        if self.active and total is not None and self.frame >= args.start + total:
            last = args.start + total - 1
            raise UsageError(f"--compare-frame {self.frame} is past the end of the input (frame {last})")
        self.keras_model = backend.model if isinstance(backend, KerasBackend) else getattr(backend, "keras_model", None)
        if self.attention and self.keras_model is None:
            raise UsageError(attention_needs_keras(getattr(backend, "name", type(backend).__name__)))
        self.backend = backend
        self.radius = backend.frames // 2
        self.stream_start = stream_start
        self.lr: dict[int, np.ndarray] = {}
        self.last_seen = -1
        self.sr: np.ndarray | None = None

    def watch_input(self, frames: Iterable[Any]) -> Iterator[Any]:
        """The input stream, unchanged; frames of the chosen window are kept."""
        return self._watch_input(frames) if self.active else iter(frames)

    def _watch_input(self, frames: Iterable[Any]) -> Iterator[Any]:
        lo, hi = self.frame - self.radius, self.frame + self.radius
        for j, frame in enumerate(frames, start=self.stream_start):
            if j <= hi:
                self.last_seen = j
                if j >= lo:
                    self.lr[j] = frame
            yield frame

    def watch_output(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """The SR stream (references ``start, start + 1, ...``), unchanged; the chosen frame is kept."""
        for k, sr in enumerate(frames, start=self.start):
            if k == self.frame:
                self.sr = sr
            yield sr

    def _window(self) -> tuple[np.ndarray, list[int]]:
        """The chosen frame's LR window ``(F, h, w, 3)`` float [0, 1] and its input frame numbers (edges repeat)."""
        import numpy as np

        idx = [min(max(self.frame + k, 0), self.last_seen) for k in range(-self.radius, self.radius + 1)]
        frames = [np.asarray(self.lr[i]) for i in idx]
        window = np.stack([f / np.float32(255) if f.dtype == np.uint8 else f for f in frames]).astype(np.float32)
        return window, idx

    def write(self, up: Any) -> list[str]:
        """Draw and write the pictures (atomically); returns one line per file written."""
        from tga_keras.evaluation.pictures import (
            attention_maps,
            attention_picture,
            comparison_strip,
            group_labels,
            group_order,
            write_png,
        )
        from tga_keras.io.files import atomic_path
        from tga_keras.preprocess.resize import imresize

        if not self.active:
            return []
        if self.sr is None:
            if self.chosen:
                raise InputError(
                    f"--compare-frame {self.frame}: the input ended before that frame (the last frame upscaled is "
                    f"{self.last_seen}); nothing drawn"
                )
            raise InputError(
                f"the middle frame {self.frame}, drawn by default, was never reached: the input ended at frame "
                f"{self.last_seen}, short of the frame count its container gave; nothing drawn (pass --compare-frame)"
            )
        window, idx = self._window()
        lr = window[self.radius]
        s = self.backend.scale
        written = []
        if self.compare:
            bicubic = imresize(lr, s)
            picture, crop, zoom = comparison_strip(
                lr,
                [("bicubic", bicubic), ("TGA", self.sr)],
                crop_from=bicubic,
                context=(f"frame {self.frame} (TGA)", self.sr),
            )
            with atomic_path(self.compare, overwrite=self.overwrite) as tmp:
                write_png(tmp, picture)
            written.append(
                f"wrote {self.compare}: frame {self.frame}, LR nearest | bicubic | TGA, {crop.width}x{crop.height} "
                f"crop at ({crop.left}, {crop.top}) enlarged x{zoom}"
            )
        if self.attention:
            if up.align:
                from tga_keras.preprocess.alignment import align_windows

                window = align_windows(window[None], self.radius)[0]
            config = self.backend.config
            att = attention_maps(self.keras_model, window)
            picture = attention_picture(
                att,
                self.sr,
                group_labels(config.groups, config.center, idx),
                order=group_order(config.groups),
                title=f"temporal group attention, frame {self.frame}",
            )
            with atomic_path(self.attention, overwrite=self.overwrite) as tmp:
                write_png(tmp, picture)
            written.append(f"wrote {self.attention}: attention of the {len(config.groups)} groups, frame {self.frame}")
        return written
