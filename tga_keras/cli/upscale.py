"""``tga upscale INPUT OUTPUT``: super-resolve a video file or a folder of frames with TGA.

INPUT is a video (anything FFmpeg decodes, read with PyAV; OpenCV without it) or a folder of
images (natural order). OUTPUT is a video (``.mp4``, ``.mkv``, ``.mov``: H.264; ``.avi``: Motion
JPEG; ``--codec``, ``--crf``, ``--lossless`` for others) or a folder of PNG frames (a path without
extension, or an existing folder). A video keeps the source's frame timestamps (variable frame
rates too), colour tags and audio track (copied, not re-encoded) where the container allows; a
source of more than 8 bits per component is read at full precision (the output is 8-bit).

The output is made in segments (--segment-frames), each committed as it finishes to the work
folder OUTPUT.segments beside OUTPUT. After a crash, Ctrl-C or a kill, the same command again
continues from the committed segments; at the end they are joined without re-encoding, OUTPUT is
renamed into place (it never exists half-written) and the work folder is removed. A work folder
from another input, model or option set is refused: --overwrite starts over. Frames are streamed:
only one temporal window of frames is in memory, whatever the length of the video.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from tga_keras.cli.options import (
    UNTRAINED_WARNING,
    add_no_progress_argument,
    add_output_arguments,
    alignment_note,
    check_output_args,
    output_options,
)
from tga_keras.cli.upscale_pictures import FramePictures, add_picture_arguments, check_picture_args


def _fidelity(backend) -> str:
    """`` at 46.2 dB PSNR vs float32`` for a runtime ``--precision fast`` chose below float32, else ``""``."""
    choice = getattr(backend, "choice", None)
    if choice is None or choice.precision == "fp32":
        return ""
    row: dict = next((r for r in choice.measured if r.get("label") == f"{choice.runtime} {choice.precision}"), {})
    return f" at {row['psnr_db']:.1f} dB PSNR vs float32" if row.get("psnr_db") else ""


def add_parser(sub):
    p = sub.add_parser(
        "upscale",
        help="super-resolve a video or a folder of frames",
        description=__doc__.split("\n", 2)[2].strip(),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("input", help="video file or folder of frames (RGB; same size)")
    p.add_argument("output", help="output video (.mp4, .mkv, .mov or .avi) or folder for PNG frames")
    add_output_arguments(p)
    add_picture_arguments(p)
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUTPUT, --compare, --attention if they exist, and delete a work folder OUTPUT.segments made "
        "from another input, model or options (one of this same command is continued)",
    )
    add_no_progress_argument(p)
    return p


# ------------------------------------------------------------------------------ run
def run(args) -> int:
    from tga_keras.errors import UsageError
    from tga_keras.jobs.upscale_job import UpscaleJob, output_kind, run_local, work_folder

    check_output_args(args)
    if not os.path.exists(args.input):
        raise FileNotFoundError(f"input not found: {args.input}")
    output_kind(args.output)
    if os.path.lexists(args.output) and not args.overwrite:
        raise FileExistsError(f"{args.output} exists; pass --overwrite to replace it")
    if os.path.realpath(args.output) == os.path.realpath(args.input):
        raise UsageError("OUTPUT is the INPUT; write somewhere else")
    check_picture_args(args)
    job = UpscaleJob.create(args.input, args.output, output_options(args))  # headers, frame index: no model yet
    from tga_keras.jobs.upscale_job import check_work_folder

    check_work_folder(job, overwrite=args.overwrite)  # another run's work folder: refused before the model loads

    if args.weights is None:
        print(UNTRAINED_WARNING, file=sys.stderr)
    from tga_keras.jobs.upscale_job import upscaler_for

    up = upscaler_for(job.options, progress=not args.no_progress)
    backend = up.backend
    FramePictures(args, backend, args.start, job.total)  # --compare-frame, --attention: checked before the work
    if job.segment_frames >= 1 << 40:
        where = "one segment: without PyAV a video output cannot be joined, so it does not resume"
    else:
        where = f"segments of {job.segment_frames} frames in {work_folder(args.output)}"
    print(
        f"upscaling {job.describe} x{backend.scale} -> {args.output} ({backend.name}, {backend.precision}"
        f"{_fidelity(backend)}; {where})",
        file=sys.stderr,
    )
    t0 = time.perf_counter()
    try:
        result, resumed = run_local(job, overwrite=args.overwrite, progress=not args.no_progress)
    except BaseException as e:
        from tga_keras.errors import InputError
        from tga_keras.jobs.upscale_job import committed

        done = committed(job)
        if done and not isinstance(e, InputError):  # an interruption or a failure: the rerun goes on
            frames = sum(r.frames for r in done.values())
            print(
                f"note: {len(done)} segments ({frames} frames) are committed in {job.work}; the same command "
                "again continues from them",
                file=sys.stderr,
            )
        raise
    dt = time.perf_counter() - t0
    made = result.frames - resumed
    pace = f", {1000 * dt / made:.0f} ms/frame" if made > 0 else ""
    again = f"; {resumed} frames were committed by an earlier run" if resumed else ""
    print(f"wrote {args.output}: {result.frames} {result.describe}, {dt:.1f} s{pace}{again}")
    for line in result.notes:
        print(f"note: {line}", file=sys.stderr)
    expected = job.listed if job.listed is not None else job.total
    if expected is not None and result.frames < expected and job.names is None:
        cap = ", capped by --frames-limit" if args.frames_limit is not None else ""
        print(
            f"note: expected about {expected} frames (the container's count from --start on{cap}), but only "
            f"{result.frames} could be decoded (a damaged or truncated file, or a container that over-estimates "
            "its frame count)",
            file=sys.stderr,
        )
    for line in _pictures(args, up, result.frames):
        print(line)
    note = alignment_note(up)
    if note:
        print(note, file=sys.stderr)
    return 0


def _pictures(args, up, frames: int) -> list[str]:
    """``--compare`` / ``--attention``: the chosen frame's window is upscaled again (one window) and drawn."""
    if not (args.compare or args.attention):
        return []
    from tga_keras.jobs.source import open_source

    pictures = FramePictures(args, up.backend, args.start, frames)
    source = open_source(args.input, pictures.frame, 1, up.frames // 2)
    pictures.start = pictures.frame
    pictures.stream_start = pictures.frame - source.first
    frames_in = pictures.watch_input(source.frames)
    for _ in pictures.watch_output(up.upscale_frames(frames_in, dtype="uint8", first=source.first, count=1)):
        pass
    return pictures.write(up)
