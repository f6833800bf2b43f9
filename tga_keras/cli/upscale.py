"""``tga upscale INPUT OUTPUT``: super-resolve a video file or a folder of frames with TGA.

INPUT is a video (anything FFmpeg decodes, read with PyAV; OpenCV without it) or a folder of
images (natural order). OUTPUT is a video (``.mp4``, ``.mkv``, ``.mov``: H.264; ``.avi``: Motion
JPEG; ``--codec``, ``--crf``, ``--lossless`` for others) or a folder of PNG frames (a path without
extension, or an existing folder). A video keeps the source's frame timestamps (variable frame
rates too), colour tags and audio track (copied, not re-encoded) where the container allows; a
source of more than 8 bits per component is read at full precision (the output is 8-bit). The
output is written to a temporary sibling and renamed at the end, so a failed or interrupted run
leaves nothing behind. Frames are streamed: only one temporal window of frames is in memory,
whatever the length of the video.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import itertools
import os
import sys
import time
from typing import TYPE_CHECKING, Iterable, Iterator

from tga_keras.cli.options import (
    MODEL_HELP,
    UNTRAINED_WARNING,
    add_align_argument,
    add_backend_argument,
    add_precision_argument,
    align_choice,
    alignment_note,
    weights_missing,
    weights_not_found,
)
from tga_keras.cli.upscale_pictures import FramePictures, add_picture_arguments, check_picture_args
from tga_keras.errors import InputError

if TYPE_CHECKING:
    from tga_keras.io.video import EncoderChoice, VideoProbe


def add_parser(sub):
    from tga_keras.models.config import PRESETS

    p = sub.add_parser(
        "upscale",
        help="super-resolve a video or a folder of frames",
        description=__doc__.split("\n", 2)[2].strip(),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("input", help="video file or folder of frames (RGB; same size)")
    p.add_argument("output", help="output video (.mp4, .mkv, .mov or .avi) or folder for PNG frames")
    p.add_argument("--weights", metavar="MODEL", help=MODEL_HELP + "; without it the network is untrained")
    add_backend_argument(p)
    p.add_argument(
        "--preset",
        choices=PRESETS,
        default=None,
        help="architecture for .pth/.weights.h5 weights or an untrained model (default: official; "
        "a .keras file carries its own)",
    )
    p.add_argument(
        "--tile",
        type=int,
        default=None,
        metavar="N",
        help="run in N x N LR tiles to bound memory (not bit-exact: see --overlap)",
    )
    p.add_argument(
        "--overlap",
        type=int,
        default=None,
        metavar="N",
        help="LR pixels of context around each tile (default: half the model's receptive radius, "
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
    add_picture_arguments(p)
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT, --compare, --attention if they exist")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


# ------------------------------------------------------------------------------ checks
def output_kind(path: str) -> str:
    """``'folder'`` or a video extension (``'.mp4'``, ``'.mkv'``, ``'.mov'``, ``'.avi'``); ``UsageError`` else."""
    from tga_keras.errors import UsageError
    from tga_keras.io.video import CONTAINERS

    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        return "folder"
    ext = os.path.splitext(path)[1].lower()
    if ext == "":
        return "folder"
    if ext in CONTAINERS:
        return ext
    raise UsageError(
        f"unsupported output {path!r}: write a .mp4, .mkv, .mov or .avi video, or a folder (no extension) of PNG frames"
    )


def _video_plan(args, kind: str):
    """The PyAV encoder of a video OUTPUT (``tga_keras.io.video.EncoderChoice``); ``None`` for a folder or OpenCV.

    ``UsageError`` for --codec/--crf/--lossless that do not fit the output or the FFmpeg build.
    """
    from tga_keras.errors import InputError, UsageError

    options = (("--codec", args.codec), ("--crf", args.crf), ("--lossless", args.lossless))
    given = [name for name, value in options if value is not None and value is not False]
    if kind == "folder":
        if given:
            raise UsageError(f"{given[0]} is for a video OUTPUT; {args.output} is a folder of PNG frames (lossless)")
        return None
    from tga_keras.io import video

    if not video.av_available():
        if given:
            raise UsageError(f"{given[0]} needs PyAV (pip install av); without it videos are written with OpenCV")
        if kind not in video.OPENCV_FOURCCS:
            raise UsageError(f"writing a {kind} video needs PyAV (pip install av); without it write .mp4 or .avi")
        return None
    try:
        return video.choose_encoder(kind, args.codec, args.crf, args.lossless)
    except InputError as e:
        raise UsageError(str(e)) from None


def _check_args(args) -> None:
    from tga_keras.errors import UsageError

    for name, value, low in (
        ("--start", args.start, 0),
        ("--frames-limit", args.frames_limit, 1),
        ("--overlap", args.overlap, 0),
        ("--batch-size", args.batch_size, 1),
        ("--tile", args.tile, 3),
    ):
        if value is not None and value < low:
            raise UsageError(f"{name} must be >= {low}, got {value}")
    if args.tile is not None and args.overlap is not None and args.tile <= 2 * args.overlap:
        raise UsageError(f"--tile ({args.tile}) must be larger than twice --overlap ({args.overlap})")
    if args.fps is not None and not args.fps > 0:
        raise UsageError(f"--fps must be > 0, got {args.fps}")


@dataclasses.dataclass
class _Source:
    """The input's frame stream (its first ``first`` frames are context only) and the output names."""

    frames: Iterator
    first: int
    total: int | None
    names: Iterable[str]
    fps: float
    describe: str
    video: VideoProbe | None = None  # a video read with PyAV: its timing, colour tags, audio
    stamps: collections.deque | None = None  # (pts, duration) of the selected frames decoded and not yet written


def _open_source(path: str, start: int, limit: int | None, radius: int) -> _Source:
    """Open INPUT; neighbours of the first/last selected frames are read too (up to ``radius`` each side)."""
    from tga_keras.errors import UsageError
    from tga_keras.io.images import image_size, list_images, read_image

    lo = max(0, start - radius)
    hi = None if limit is None else start + limit + radius
    names: Iterable[str]  # output frame names: a list here, an endless stream for a video
    if os.path.isdir(path):
        files = list_images(path)
        if not files:
            raise UsageError(f"no image files in folder {path}")
        if start >= len(files):
            raise UsageError(f"--start {start} is past the end: {path} holds {len(files)} frames")
        files = files[lo:hi]
        sizes: dict[tuple[int, int], str] = {}
        for f in files:  # header reads: fail before any heavy work
            sizes.setdefault(image_size(f), f)
        if len(sizes) > 1:
            (s0, f0), (s1, f1) = list(sizes.items())[:2]
            raise InputError(f"frames differ in size: {f0} is {s0[1]}x{s0[0]}, {f1} is {s1[1]}x{s1[0]}")
        selected = files[start - lo :][:limit]
        stems = [os.path.splitext(os.path.basename(f))[0] for f in selected]
        names = stems if len(set(stems)) == len(stems) else [f"{start + k:06d}" for k in range(len(selected))]
        ((h, w),) = sizes
        return _Source(
            (read_image(f) for f in files),
            start - lo,
            len(selected),
            names,
            25.0,
            f"{len(selected)} frames of {w}x{h} from {path}",
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"input not found: {path}")
    return _open_video(path, start, limit, lo, hi)


def _open_video(path: str, start: int, limit: int | None, lo: int, hi: int | None) -> _Source:
    """A video read with tga_keras.io.video (PyAV, OpenCV without it): frames uint8 RGB, or float32 [0, 1]
    over 8 bits; their timestamps (``None`` with OpenCV) go to ``stamps``."""
    from tga_keras.errors import UsageError
    from tga_keras.io import video

    info = video.probe(path)  # DatasetError (a ValueError) for zero-byte, corrupt or unsupported files
    n = info.num_frames
    if n is not None and start >= n:
        raise UsageError(f"--start {start} is past the end: {path} has about {n} frames")
    total = None if n is None else (n - start if limit is None else min(limit, n - start))
    stamps: collections.deque = collections.deque()

    def frames() -> Iterator:
        for k, frame in enumerate(video.iter_frames(path, high_bit_depth=info.high_bit_depth)):
            if k >= start:  # the writer takes them one by one: only the look-ahead is held
                stamps.append((frame.pts, frame.duration))
            yield frame.image

    depth = f" {info.bit_depth}-bit" if info.high_bit_depth else ""
    count = "" if total is None else f"~{total} "
    return _Source(
        itertools.islice(frames(), lo, hi),
        start - lo,
        total,
        (f"{start + k:06d}" for k in itertools.count()),
        info.fps if info.fps > 0 else 25.0,
        f"{count}frames of {info.width}x{info.height}{depth} from {path}",
        info,
        stamps,
    )


# ------------------------------------------------------------------------------ writing
class _FolderWriter:
    def __init__(self, folder: str, names):
        os.makedirs(folder)
        self.folder, self.names, self.count = folder, iter(names), 0

    def write(self, rgb_u8):
        import cv2

        target = os.path.join(self.folder, f"{next(self.names)}.png")
        if not cv2.imwrite(target, rgb_u8[:, :, ::-1]):
            raise OSError(f"cannot write {target}")
        self.count += 1

    def close(self):
        pass


class _VideoWriter:
    """A video OUTPUT through :func:`tga_keras.io.video.open_writer`: PyAV with ``plan``, OpenCV without PyAV.

    With PyAV a video source keeps its frame timestamps (popped from ``source.stamps`` frame by
    frame), colour tags and audio track, unless ``--fps`` is given (a constant ``fps``, no audio).
    OpenCV writes ``tga_keras.io.video.OPENCV_FOURCCS[kind]`` ('mp4v', 'MJPG') at ``fps``, with neither.
    """

    def __init__(self, path: str, kind: str, fps: float, plan: EncoderChoice | None, source: _Source, args):
        from fractions import Fraction

        from tga_keras.io import video

        self.count = 0
        self.stamps: collections.deque | None = source.stamps  # popped per frame (bounded), used without --fps
        self.use_stamps = False
        self.notes: list[str] = [plan.fallback] if plan is not None and plan.fallback else []
        probe = source.video if plan is not None else None
        rate = Fraction(fps).limit_denominator(1001)
        timing: dict = {"origin": None}  # frames numbered from 0 at ``rate``
        audio = None
        if probe is not None:
            if probe.high_bit_depth:
                self.notes.append(f"the source is {probe.bit_depth}-bit; the video written is 8-bit")
            if args.fps is None:  # the source's timestamps; output time 0 is FFmpeg's (the file's start)
                self.use_stamps = True
                rate = probe.rate or rate
                origin = probe.start_time if args.start == 0 else None  # None: the first frame's time
                timing = {"time_base": probe.time_base, "origin": origin}
                if probe.audio is not None:
                    audio = video.AudioCopy(probe.path, to_end=args.frames_limit is None)
            elif probe.audio is not None:
                self.notes.append("audio track not copied: --fps retimes the video")
        self.writer = video.open_writer(
            path,
            kind,
            rate=rate if plan is not None else fps,  # OpenCV: a constant rate
            choice=plan,
            color=probe.color if probe is not None else None,
            audio=audio,
            **timing,
        )

    def write(self, rgb_u8):
        pts, duration = self.stamps.popleft() if self.stamps else (None, None)
        if not self.use_stamps:  # --fps, or OpenCV: a constant rate (the stamps were only drained)
            pts, duration = None, None
        self.writer.write(rgb_u8, pts, duration)
        self.count += 1

    def close(self):
        self.writer.close()
        self.notes += self.writer.notes

    def describe(self) -> str:
        return self.writer.describe()


# ------------------------------------------------------------------------------ run
def run(args) -> int:
    from tga_keras.errors import UsageError
    from tga_keras.models.config import TGAConfig
    from tga_keras.models.loading import DEFAULT_PRESET

    _check_args(args)
    if not os.path.exists(args.input):
        raise FileNotFoundError(f"input not found: {args.input}")
    kind = output_kind(args.output)
    plan = _video_plan(args, kind)
    if os.path.lexists(args.output) and not args.overwrite:
        raise FileExistsError(f"{args.output} exists; pass --overwrite to replace it")
    if os.path.realpath(args.output) == os.path.realpath(args.input):
        raise UsageError("OUTPUT is the INPUT; write somewhere else")
    if args.weights is not None and weights_missing(args.weights):
        raise weights_not_found(args.weights)
    if os.path.isfile(args.input) and os.path.getsize(args.input) == 0:
        raise InputError(f"empty (zero-byte) input file: {args.input}")
    check_picture_args(args)

    # the input is checked (headers, first video frame) before the slow model build
    radius = TGAConfig.preset(args.preset or DEFAULT_PRESET).frames // 2
    source = _open_source(args.input, args.start, args.frames_limit, radius)

    from tga_keras.io.files import atomic_path
    from tga_keras.runtime.backends import load_backend
    from tga_keras.runtime.upscaler import Upscaler

    if args.weights is None:
        print(UNTRAINED_WARNING, file=sys.stderr)
    backend = load_backend(args.weights, args.backend, preset=args.preset, precision=args.precision)
    if backend.frames // 2 != radius:  # a model with another window length
        source = _open_source(args.input, args.start, args.frames_limit, backend.frames // 2)
    up = Upscaler(
        backend, tile=args.tile, tile_overlap=args.overlap, batch_size=args.batch_size, align=align_choice(args)
    )
    pictures = FramePictures(args, backend, args.start - source.first, source.total)
    source.frames = pictures.watch_input(source.frames)
    fps = args.fps or source.fps
    print(
        f"upscaling {source.describe} x{backend.scale} -> {args.output} ({backend.name}, {backend.precision})",
        file=sys.stderr,
    )

    t0 = time.perf_counter()
    with atomic_path(args.output, overwrite=args.overwrite) as tmp:  # a file or a folder
        writer: _FolderWriter | _VideoWriter
        if kind == "folder":
            writer = _FolderWriter(tmp, source.names)
        else:
            writer = _VideoWriter(tmp, kind, fps, plan, source, args)
        try:
            for sr in pictures.watch_output(
                up.upscale_frames(
                    source.frames,
                    dtype="uint8",
                    progress=not args.no_progress,
                    total=source.total,
                    first=source.first,
                    count=args.frames_limit,
                )
            ):
                writer.write(sr)
        finally:
            writer.close()
        if writer.count == 0:
            raise InputError(f"no frames decoded from {args.input}")
    dt = time.perf_counter() - t0
    what = "PNG frames"
    if isinstance(writer, _VideoWriter):
        what = f"frames of {fps:g} fps video ({writer.describe()})"
        for line in writer.notes:
            print(f"note: {line}", file=sys.stderr)
    print(f"wrote {args.output}: {writer.count} {what}, {dt:.1f} s ({1000 * dt / writer.count:.0f} ms/frame)")
    if source.total is not None and writer.count < source.total:
        cap = ", capped by --frames-limit" if args.frames_limit is not None else ""
        print(
            f"note: expected about {source.total} frames (the container's count from --start on{cap}), but only "
            f"{writer.count} could be decoded (a damaged or truncated file, or a container that over-estimates "
            "its frame count)",
            file=sys.stderr,
        )
    for line in pictures.write(up):
        print(line)
    note = alignment_note(up)
    if note:
        print(note, file=sys.stderr)
    return 0
