"""One upscaling job in segments that survive a crash: ``tga upscale`` and each input of ``tga batch``.

The output is made in segments of ``segment_frames`` frames. A segment reads its frames plus the
model's ``frames // 2`` context frames on each side (replicated at the clip's ends, as in a run
over the whole input), so its SR frames are exactly those of a whole run. Each finished segment
is committed by one rename into the *work folder* ``OUTPUT.segments`` beside OUTPUT::

    OUTPUT.segments/
        job.json          what the segments are made from: the input (size, modification time),
                          the model (sha256) and every option that changes pixels
        000000/           segment 0: segment.json (frames, timestamps of its packets) and
                          piece.<ext> (a video that starts with a keyframe) or its PNG frames
        000001/ ...

Running the same job again skips the committed segments. At the end the pieces are joined
without re-encoding (:meth:`tga_keras.io.video.VideoWriter.append_segment`: stream copy, with
the source's timestamps and audio), or the PNG frames linked into one folder; OUTPUT is renamed
into place and the work folder removed. :func:`run_segment` is the unit of work: local runs call
it in order, ``tga batch --ray`` on a cluster's workers; the model is loaded once per process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable

from tga_keras.errors import InputError, UsageError
from tga_keras.io.files import read_json_object, write_json

if TYPE_CHECKING:
    from tga_keras.io.video import EncoderChoice
    from tga_keras.jobs.source import FrameSource

SEGMENT_PIXELS = 4_000_000
"""The input pixels of an automatic segment (``--segment-frames auto``): 158 frames of 176x144, 12 of 720x480."""
SEGMENT_FRAMES_RANGE = (8, 250)
WORK_SUFFIX = ".segments"
JOB_FILE = "job.json"
SEGMENT_FILE = "segment.json"
FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class UpscaleOptions:
    """The options of ``tga upscale`` that shape the output (the names of its flags, without ``--``)."""

    weights: str | None = None
    backend: str = "auto"
    preset: str | None = None
    precision: str = "float32"
    tile: int | None = None
    overlap: int | None = None
    align: bool | None = None
    batch_size: int = 1
    start: int = 0
    frames_limit: int | None = None
    fps: float | None = None
    codec: str | None = None
    crf: int | None = None
    lossless: bool = False
    segment_frames: int | None = None  # None: auto_segment_frames of the input's frame size

    @classmethod
    def from_args(cls, args: Any, align: bool | None) -> UpscaleOptions:
        """The options of a parsed ``tga upscale`` / ``tga batch`` command line (``align``: its resolved choice)."""
        names = [f.name for f in dataclasses.fields(cls) if f.name != "align"]
        return cls(align=align, **{n: getattr(args, n) for n in names})


@dataclasses.dataclass(frozen=True)
class SegmentRecord:
    """A committed segment: output frames ``first_frame .. first_frame + frames - 1`` (input numbering).

    ``ended``: no segment follows (the input or ``--frames-limit`` ends in it). ``files``: its PNG
    names, or its video piece; ``packets``/``time_base``: the piece's packet timestamps
    (:attr:`tga_keras.io.video.VideoWriter.packets`). ``seconds``: the time it took to make.
    """

    index: int
    first_frame: int
    frames: int
    ended: bool
    seconds: float
    files: list[str]
    packets: list[list[int | None]] = dataclasses.field(default_factory=list)
    time_base: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)


def auto_segment_frames(height: int, width: int, batch_size: int = 1) -> int:
    """Frames per segment for ``--segment-frames auto``: about :data:`SEGMENT_PIXELS` of input, within
    :data:`SEGMENT_FRAMES_RANGE`, rounded up to a multiple of ``batch_size``."""
    lo, hi = SEGMENT_FRAMES_RANGE
    n = min(hi, max(lo, round(SEGMENT_PIXELS / (height * width))))
    return -(-n // batch_size) * batch_size


def work_folder(output: str) -> str:
    """The work folder of OUTPUT: ``OUTPUT.segments`` beside it."""
    return os.path.abspath(output).rstrip(os.sep) + WORK_SUFFIX


def output_kind(path: str) -> str:
    """``'folder'`` or a video extension (``'.mp4'``, ``'.mkv'``, ``'.mov'``, ``'.avi'``); ``UsageError`` else."""
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


def encoder_for(kind: str, options: UpscaleOptions) -> EncoderChoice | None:
    """The PyAV encoder of a video OUTPUT; ``None`` for a folder, or for OpenCV (no PyAV).

    ``UsageError`` for --codec/--crf/--lossless that do not fit the output or the FFmpeg build.
    """
    given = [
        name
        for name, value in (("--codec", options.codec), ("--crf", options.crf), ("--lossless", options.lossless))
        if value is not None and value is not False
    ]
    if kind == "folder":
        if given:
            raise UsageError(f"{given[0]} is for a video OUTPUT; a folder output holds PNG frames (lossless)")
        return None
    from tga_keras.io import video

    if not video.av_available():
        if given:
            raise UsageError(f"{given[0]} needs PyAV (pip install av); without it videos are written with OpenCV")
        if kind not in video.OPENCV_FOURCCS:
            raise UsageError(f"writing a {kind} video needs PyAV (pip install av); without it write .mp4 or .avi")
        return None
    try:
        return video.choose_encoder(kind, options.codec, options.crf, options.lossless)
    except InputError as e:
        raise UsageError(str(e)) from None


def model_digest(weights: str | None) -> str:
    """What identifies the model's weights: the sha256 of its file (or folder); the handle itself; ``untrained``."""
    from tga_keras.io.files import sha256_digest
    from tga_keras.models.presets import is_handle, resolve_weights

    if weights is None:
        return "untrained (seed 0)"
    path = resolve_weights(weights)
    if is_handle(path):
        return path
    if not os.path.exists(path):
        raise FileNotFoundError(f"model not found: {path}")
    return "sha256:" + sha256_digest(path)


@dataclasses.dataclass(frozen=True)
class UpscaleJob:
    """Everything a process needs to make any segment of one output (picklable: sent to Ray workers).

    ``input``/``output``: absolute paths. ``total``: the frames to upscale (exact for a folder, the
    container's estimate for a video, ``None`` unknown). ``origin``: the source time (seconds, as
    ``'n/d'``) of the output's time 0. ``names``: a folder input's PNG names from ``--start`` on.
    ``fingerprint``: what ``job.json`` must match for committed segments to be reused.
    ``describe``: the input in words (frames, size, path). ``stamps``: a video's
    :func:`~tga_keras.io.video.frame_stamps` (with PyAV), what segments seek with; ``listed``:
    the frames its container lists from ``--start`` on (capped by ``--frames-limit``), which a
    damaged file may not reach.
    """

    input: str
    output: str
    options: UpscaleOptions
    kind: str
    encoder: EncoderChoice | None
    total: int | None
    origin: str | None
    names: tuple[str, ...] | None
    fingerprint: dict
    describe: str = ""
    stamps: tuple[int | None, ...] | None = None
    listed: int | None = None

    @property
    def work(self) -> str:
        return work_folder(self.output)

    @property
    def segment_frames(self) -> int:
        assert self.options.segment_frames is not None  # create() resolves auto
        return self.options.segment_frames

    def segment_dir(self, index: int) -> str:
        return os.path.join(self.work, f"{index:06d}")

    def planned_segments(self) -> int:
        """How many segments the (possibly estimated) frame count needs; at least 1."""
        if not self.total:
            return 1
        return -(-self.total // self.segment_frames)

    @classmethod
    def create(cls, input: str, output: str, options: UpscaleOptions) -> UpscaleJob:
        """Check INPUT and the options and describe the job (reads headers and the first frame, no model).

        Raises ``UsageError`` / ``InputError`` / ``FileNotFoundError`` for what cannot work.
        """
        if options.segment_frames is not None and options.segment_frames < 1:
            raise UsageError(f"--segment-frames must be >= 1, got {options.segment_frames}")
        if options.segment_frames is not None and options.segment_frames % options.batch_size:
            raise UsageError(
                f"--segment-frames ({options.segment_frames}) must be a multiple of --batch-size "
                f"({options.batch_size}), so that segments batch their windows as one run does"
            )
        input, output = os.path.abspath(input), os.path.abspath(output)
        if not os.path.exists(input):
            raise FileNotFoundError(f"input not found: {input}")
        if os.path.isfile(input) and os.path.getsize(input) == 0:
            raise InputError(f"empty (zero-byte) input file: {input}")
        kind = output_kind(output)
        encoder = encoder_for(kind, options)
        if os.path.isdir(input):
            facts = _folder_facts(input, options.start, options.frames_limit)
        else:
            keep_time = encoder is not None and options.fps is None
            facts = _video_facts(input, options.start, options.frames_limit, keep_time)
        h, w = facts.size
        if options.segment_frames is None:
            options = dataclasses.replace(options, segment_frames=auto_segment_frames(h, w, options.batch_size))
        if encoder is None and kind != "folder":  # OpenCV writes one piece it cannot join: one segment
            options = dataclasses.replace(options, segment_frames=1 << 40)
        pixels = dataclasses.asdict(options)
        pixels.pop("segment_frames")
        pixels["weights"] = model_digest(options.weights)
        fingerprint = {
            "format": FORMAT_VERSION,
            "input": {"path": input, **facts.identity},
            "output": {"kind": kind, "encoder": None if encoder is None else dataclasses.asdict(encoder)},
            "options": pixels,
            "segment_frames": options.segment_frames,
            "versions": _versions(),
        }
        return cls(
            input,
            output,
            options,
            kind,
            encoder,
            facts.total,
            None if facts.origin is None else str(facts.origin),
            facts.names,
            fingerprint,
            facts.describe,
            facts.stamps,
            facts.listed,
        )


@dataclasses.dataclass(frozen=True)
class _InputFacts:
    """What a job needs to know of its input: ``size`` (h, w), ``total`` frames to make (None: unknown),
    the ``describe`` text, its ``identity`` in the fingerprint; for a folder the frame ``names``; for a
    video the ``stamps`` of every frame (pts), the container's count (``listed``) and the output's
    time ``origin``."""

    size: tuple[int, int]
    total: int | None
    describe: str
    identity: dict
    names: tuple[str, ...] | None = None
    stamps: tuple[int | None, ...] | None = None
    listed: int | None = None
    origin: Fraction | None = None


def _folder_facts(input: str, start: int, limit: int | None) -> _InputFacts:
    """A folder of frames: its frames from ``start`` (at most ``limit``), their size from the frames read."""
    from tga_keras.jobs.source import frame_names, frame_size, list_frames

    files = list_frames(input, start)
    names = tuple(frame_names(input, start, limit))
    h, w = frame_size(files[max(0, start - 64) : start + len(names) + 64])  # the frames read, and more
    identity = {"files": len(files), "listing": _listing_digest(files)}
    return _InputFacts((h, w), len(names), f"{len(names)} frames of {w}x{h} from {input}", identity, names=names)


def _video_facts(input: str, start: int, limit: int | None, keep_time: bool) -> _InputFacts:
    """A video: its frames counted exactly where PyAV decodes it (their stamps let segments seek), else
    the container's count; ``keep_time``: the output keeps the source's timestamps from ``start``."""
    from tga_keras.io import video

    info = video.probe(input)  # DatasetError for zero-byte, corrupt or unsupported files
    n = info.num_frames
    stamps: tuple[int | None, ...] | None = None
    listed: int | None = None
    if video.av_available():  # the frames that decode, counted exactly; segments seek with them
        stamps = tuple(video.frame_stamps(input))
        listed = None if n is None else max(0, n - start if limit is None else min(limit, n - start))
        n = len(stamps)
    if n is not None and start >= n:
        raise UsageError(f"--start {start} is past the end: {input} has {n} frames")
    total = None if n is None else (n - start if limit is None else min(limit, n - start))
    depth = f" {info.bit_depth}-bit" if info.high_bit_depth else ""
    count = "" if total is None else (f"{total} " if stamps is not None else f"~{total} ")
    describe = f"{count}frames of {info.width}x{info.height}{depth} from {input}"
    stat = os.stat(input)
    identity = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    origin: Fraction | None = None
    timed = stamps is not None and all(p is not None for p in stamps)  # a raw .h264 stream has none
    if keep_time and timed:
        assert stamps is not None
        first_pts = stamps[start]
        origin = info.start_time if start == 0 or first_pts is None else first_pts * info.time_base
    return _InputFacts((info.height, info.width), total, describe, identity, None, stamps, listed, origin)


def _listing_digest(files: list[str]) -> str:
    """sha256 over every file's name, size and modification time: a frame added, removed or edited changes it."""
    import hashlib

    h = hashlib.sha256()
    for f in files:
        st = os.stat(f)
        h.update(f"{os.path.basename(f)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _versions() -> dict[str, str | None]:
    """The versions that make the pixels (read from the installed packages: nothing is imported)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in ("tga-keras", "keras", "tensorflow", "tensorflow-cpu"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


# ------------------------------------------------------------------------------ the work folder
def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new))
    out: list[str] = []
    for k in keys:
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}")
    return out


def check_work_folder(job: UpscaleJob, *, overwrite: bool = False) -> bool:
    """Whether the work folder is this job's (``True``: continue it) or there is none (``False``).

    Raises ``UsageError`` for one made from another input, model or option set, or for something
    else at its path, unless ``overwrite`` (then :func:`prepare` deletes it). Changes nothing.
    """
    work = job.work
    record = os.path.join(work, JOB_FILE)
    if not os.path.lexists(work) or (os.path.isdir(work) and _only_temporary(work)):  # none, or a crash before job.json
        return False
    old = read_json_object(record)
    if old == job.fingerprint:
        return True
    if overwrite:
        return False
    if old is None:
        raise UsageError(f"{work} exists and is not a work folder of tga upscale; move it or pass --overwrite")
    what = ", ".join(_differences(old, job.fingerprint)) or "its record"
    raise UsageError(
        f"{work} holds segments of another run (different {what}); rerun with the options it was made "
        "with, or pass --overwrite to start over (deletes them)"
    )


def prepare(job: UpscaleJob, *, overwrite: bool = False) -> dict[int, SegmentRecord]:
    """Create the work folder, or check that the one there is this job's; the committed segments by index.

    A work folder of this same job is continued (with ``overwrite`` too: the same command again
    always continues). One made from another input, model or option set is a ``UsageError``
    (nothing is deleted); ``overwrite`` deletes it and starts over. Partial files are removed.
    """
    work = job.work
    if not check_work_folder(job, overwrite=overwrite):
        if os.path.lexists(work):
            _remove(work)
        check_writable(os.path.dirname(work))
        os.makedirs(work)
        write_json(os.path.join(work, JOB_FILE), job.fingerprint)
    for name in os.listdir(work):
        if name.startswith(".tmp-"):
            _remove(os.path.join(work, name))
    return committed(job)


def _only_temporary(folder: str) -> bool:
    """Whether ``folder`` holds nothing but partial files (``.tmp-*``) or nothing at all."""
    return all(name.startswith(".tmp-") for name in os.listdir(folder))


def check_writable(folder: str, what: str = "the output folder") -> None:
    """``UsageError`` unless ``folder``, or the nearest folder above it that exists, is a folder this user can write."""
    probe = os.path.abspath(folder)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to {probe}: {what} is not writable (it must be a folder this user can write)")


def committed(job: UpscaleJob) -> dict[int, SegmentRecord]:
    """The segments committed in the work folder, by index."""
    out: dict[int, SegmentRecord] = {}
    if not os.path.isdir(job.work):
        return out
    for name in os.listdir(job.work):
        if name.isdigit():
            record = _readable_record(os.path.join(job.work, name))
            if record is not None:
                out[int(name)] = record
    return out


def complete(records: dict[int, SegmentRecord]) -> bool:
    """Whether ``records`` are every segment of the job: 0 .. k without a gap, the last one ``ended``."""
    if not records:
        return False
    last = max(records)
    return records[last].ended and all(k in records for k in range(last))


def next_segments(records: dict[int, SegmentRecord], planned: int) -> list[int]:
    """The indices still to make: the missing ones below ``planned`` and, while no committed segment
    has ``ended``, the one after the last committed."""
    ended = [k for k, r in records.items() if r.ended]
    end = min(ended) + 1 if ended else max(planned, max(records, default=-1) + 2)
    return [k for k in range(end) if k not in records]


# ------------------------------------------------------------------------------ one segment
_UPSCALERS: dict[tuple, Any] = {}


def upscaler_for(options: UpscaleOptions, progress: bool = True) -> Any:
    """The :class:`~tga_keras.runtime.upscaler.Upscaler` of ``options``, loaded once per process
    (``progress``: a bar while a Keras model's runtime is chosen the first time on this machine)."""
    fields = ("weights", "backend", "preset", "precision", "tile", "overlap", "align", "batch_size")
    key = tuple(getattr(options, f) for f in fields)
    if key not in _UPSCALERS:
        from tga_keras.runtime.backends import load_backend
        from tga_keras.runtime.upscaler import Upscaler

        _share_gpus()
        backend = load_backend(  # an untrained preset: seeded, the same network in every process
            options.weights, options.backend, preset=options.preset, precision=options.precision, progress=progress
        )
        _UPSCALERS[key] = Upscaler(
            backend, tile=options.tile, tile_overlap=options.overlap, batch_size=options.batch_size, align=options.align
        )
    return _UPSCALERS[key]


def _share_gpus() -> None:
    """Let TensorFlow take GPU memory as it needs it, not all at once: Ray workers may share a GPU."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the GPU is initialised already (the setting must come first)
            pass


def run_segment(job: UpscaleJob, index: int, on_frame: Callable[[], None] | None = None) -> SegmentRecord:
    """Make and commit segment ``index`` of ``job`` (its record if it is committed already).

    ``on_frame``: called after each frame written (a progress bar). The segment is written into a
    temporary folder in the work folder and renamed into place: a crash leaves nothing half-done.
    """
    from tga_keras.jobs.prefetch import prefetched
    from tga_keras.jobs.source import open_source

    final = job.segment_dir(index)
    done = _readable_record(final)
    if done is not None:
        return done
    t0 = time.perf_counter()
    options = job.options
    up = upscaler_for(options)
    radius = up.frames // 2
    first_frame = options.start + index * job.segment_frames
    count = job.segment_frames
    last_by_limit = False
    if options.frames_limit is not None:
        count = min(count, options.start + options.frames_limit - first_frame)
        last_by_limit = first_frame + count >= options.start + options.frames_limit
    if job.total is not None and job.names is not None:  # a folder: its length is exact
        count = min(count, options.start + job.total - first_frame)
    tmp = tempfile.mkdtemp(prefix=f".tmp-{index:06d}-", dir=job.work)
    try:
        written, files, packets, notes, tb = 0, [], [], [], None
        if count > 0:
            names = None
            if job.names is not None:
                lo = first_frame - options.start
                names = list(job.names[lo : lo + count])
            source = open_source(job.input, first_frame, count, radius, names=names, stamps=job.stamps)
            # decoding and inference in a thread, encoding here: the encoder fills the gaps inference leaves;
            # closed before the writer, so that an error here stops the thread before the next segment or job
            frames = prefetched(up.upscale_frames(source.counted(), dtype="uint8", first=source.first, count=count))
            writer = _SegmentWriter(job, tmp, source, index)
            try:
                with contextlib.closing(frames):
                    for sr in frames:
                        writer.write(sr)
                        if on_frame is not None:
                            on_frame()
            finally:
                writer.close()
            written, files, notes = writer.count, writer.files, writer.notes
            packets, tb = writer.packets, writer.time_base
            beyond = source.read > source.first + count  # a frame exists after this segment
            ended = last_by_limit or written < count or not beyond
        else:
            ended = True
        if index == 0 and written == 0:
            raise InputError(f"no frames decoded from {job.input}")
        record = SegmentRecord(index, first_frame, written, ended, time.perf_counter() - t0, files, packets, tb, notes)
        for name in files:  # on disk before the rename commits them (a power cut keeps what was committed)
            _fsync(os.path.join(tmp, name))
        write_json(os.path.join(tmp, SEGMENT_FILE), dataclasses.asdict(record))
        if os.path.isdir(final) and _readable_record(final) is None:  # a damaged commit: made again
            shutil.rmtree(final)
        try:
            os.rename(tmp, final)
        except OSError:
            if _readable_record(final) is None:  # else another process committed it first
                raise
        _fsync(job.work)
        return record
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def _readable_record(folder: str) -> SegmentRecord | None:
    """The record of a committed segment folder; ``None`` if there is none or it is damaged."""
    try:
        with open(os.path.join(folder, SEGMENT_FILE)) as f:
            record = SegmentRecord(**json.load(f))
    except (OSError, ValueError, TypeError):
        return None
    if not all(os.path.exists(os.path.join(folder, name)) for name in record.files):
        return None
    return record


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems cannot sync a folder
        pass
    finally:
        os.close(fd)


class _SegmentWriter:
    """Writes one segment's SR frames into ``folder``: PNG files, or one video piece (``piece.<ext>``)."""

    def __init__(self, job: UpscaleJob, folder: str, source: FrameSource, index: int) -> None:
        self.job, self.folder, self.source = job, folder, source
        self.count = 0
        self.files: list[str] = []
        self.notes: list[str] = []
        self.packets: list[list[int | None]] = []
        self.time_base: str | None = None
        self.writer: Any = None
        self.stamps = source.stamps if job.origin is not None else None
        self.frame0 = index * job.segment_frames  # output frame number of the first frame
        if job.kind != "folder":
            self.files = ["piece" + job.kind]
            self.writer = _open_piece(job, os.path.join(folder, self.files[0]), source)

    def write(self, rgb_u8: Any) -> None:
        if self.writer is None:
            import cv2

            name = f"{next(self.source.names)}.png"
            if not cv2.imwrite(os.path.join(self.folder, name), rgb_u8[:, :, ::-1]):
                raise OSError(f"cannot write {os.path.join(self.folder, name)}")
            self.files.append(name)
        elif self.stamps is not None:
            pts, duration = self.stamps.popleft()
            self.writer.write(rgb_u8, pts, duration)
        else:  # a constant rate: frame numbers on the 1/rate grid
            self.writer.write(rgb_u8, self.frame0 + self.count, 1)
        self.count += 1

    def close(self) -> None:
        from tga_keras.io.video import VideoWriter

        if self.writer is None:
            return
        self.writer.close()
        self.notes = list(self.writer.notes)
        if isinstance(self.writer, VideoWriter):
            self.packets = [list(p) for p in self.writer.packets]
            self.time_base = str(self.writer.packet_time_base)


def _timing(job: UpscaleJob, probe: Any) -> dict:
    """The writer's rate, time base and origin: the source's timestamps, or a constant rate (``--fps``, a folder)."""
    fps = job.options.fps or (probe.fps if probe is not None and probe.fps > 0 else 25.0)
    rate = Fraction(fps).limit_denominator(1001)
    if job.origin is not None and probe is not None:
        return {"rate": probe.rate or rate, "time_base": probe.time_base, "origin": Fraction(job.origin)}
    return {"rate": rate, "time_base": 1 / rate, "origin": Fraction(0)}


def _open_piece(job: UpscaleJob, path: str, source: FrameSource) -> Any:
    from tga_keras.io import video

    if job.encoder is None:  # OpenCV: a constant rate, no tags
        fps = job.options.fps or source.fps
        return video.open_writer(path, job.kind, rate=fps)
    probe = source.video
    color = probe.color if probe is not None else None
    return video.VideoWriter(path, job.encoder, color=color, **_timing(job, probe))


# ------------------------------------------------------------------------------ the end
@dataclasses.dataclass
class JobResult:
    """A finished output: its frames, what was written (``describe``), notes for the user, and the
    seconds spent on segments in this run and in all runs."""

    output: str
    frames: int
    describe: str
    notes: list[str]
    seconds_all_runs: float


def finish(job: UpscaleJob, records: dict[int, SegmentRecord], *, overwrite: bool = False) -> JobResult:
    """Join the committed segments into OUTPUT (renamed into place) and remove the work folder."""
    from tga_keras.io import video
    from tga_keras.io.files import replace_path

    if not complete(records):
        missing = next_segments(records, job.planned_segments())
        raise RuntimeError(f"{job.output}: segments {missing} are not committed yet")
    order = [records[k] for k in sorted(records) if records[k].frames > 0]
    frames = sum(r.frames for r in order)
    if frames == 0:
        raise InputError(f"no frames decoded from {job.input}")
    notes: list[str] = []
    if os.path.lexists(job.output) and not overwrite:
        raise FileExistsError(f"{job.output} exists; pass --overwrite to replace it")
    # built inside the work folder (a kill leaves it where the next run sweeps it), then renamed into place
    tmp = os.path.join(job.work, ".tmp-output" + ("" if job.kind == "folder" else job.kind))
    _remove(tmp)
    try:
        if job.kind == "folder":
            os.makedirs(tmp)
            for r in order:
                for name in r.files:
                    _link_or_copy(os.path.join(job.segment_dir(r.index), name), os.path.join(tmp, name))
            describe = "PNG frames"
        elif job.encoder is None:  # OpenCV: one piece, written as the output
            _link_or_copy(os.path.join(job.segment_dir(order[0].index), order[0].files[0]), tmp)
            describe = f"frames of {job.options.fps or 'the source'} fps video ({video.OPENCV_FOURCCS[job.kind]})"
        else:
            describe, notes = _join_video(job, order, tmp)
        replace_path(tmp, job.output)
    finally:
        _remove(tmp)
    shutil.rmtree(job.work, ignore_errors=True)
    seconds = sum(r.seconds for r in records.values())
    return JobResult(job.output, frames, describe, notes, seconds)


def _join_video(job: UpscaleJob, order: list[SegmentRecord], tmp: str) -> tuple[str, list[str]]:
    from tga_keras.io import video

    assert job.encoder is not None
    probe = None if os.path.isdir(job.input) else video.probe(job.input)
    notes = [job.encoder.fallback] if job.encoder.fallback else []
    audio = None
    if probe is not None:
        if probe.high_bit_depth:
            notes.append(f"the source is {probe.bit_depth}-bit; the video written is 8-bit")
        if probe.audio is not None:
            if job.origin is not None:
                audio = video.AudioCopy(
                    probe.path, to_end=job.options.frames_limit is None, from_start=job.options.start == 0
                )
            else:
                notes.append("audio track not copied: --fps retimes the video")
    writer = video.VideoWriter(tmp, job.encoder, audio=audio, **_timing(job, probe))
    try:
        for r in order:
            assert r.time_base is not None
            piece = os.path.join(job.segment_dir(r.index), r.files[0])
            writer.append_segment(piece, [tuple(p) for p in r.packets], Fraction(r.time_base))  # type: ignore[misc]
    finally:
        writer.close()
    notes += [n for n in order[0].notes if n not in notes] + writer.notes
    fps = job.options.fps or (probe.fps if probe is not None and probe.fps > 0 else 25.0)
    return f"frames of {fps:g} fps video ({writer.describe()})", notes


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


# ------------------------------------------------------------------------------ a local run
def run_local(
    job: UpscaleJob, *, overwrite: bool = False, progress: bool = True, desc: str = "upscale"
) -> tuple[JobResult, int]:
    """Make every segment not yet committed, in order, in this process; then :func:`finish`.

    Returns the result and how many frames earlier runs had committed. One progress bar covers
    the whole job, the committed segments included.
    """

    records = prepare(job, overwrite=overwrite)
    try:
        return _run_local(job, records, overwrite, progress, desc)
    except BaseException:
        if not committed(job):  # nothing to continue from: leave nothing behind
            shutil.rmtree(job.work, ignore_errors=True)
        raise


def _run_local(
    job: UpscaleJob, records: dict[int, SegmentRecord], overwrite: bool, progress: bool, desc: str
) -> tuple[JobResult, int]:
    from tqdm import tqdm

    resumed = sum(r.frames for r in records.values())
    total = None if job.total is None else max(job.total, resumed)
    bar = tqdm(total=total, initial=resumed, file=sys.stderr, unit="frame", desc=desc, disable=not progress)
    try:
        while not complete(records):
            for index in next_segments(records, job.planned_segments()):
                records[index] = run_segment(job, index, lambda: bar.update(1))
                if records[index].ended:
                    break
    finally:
        bar.close()
    return finish(job, records, overwrite=overwrite), resumed


__all__ = [
    "SEGMENT_PIXELS",
    "JobResult",
    "SegmentRecord",
    "UpscaleJob",
    "UpscaleOptions",
    "auto_segment_frames",
    "check_work_folder",
    "check_writable",
    "committed",
    "complete",
    "encoder_for",
    "finish",
    "next_segments",
    "output_kind",
    "prepare",
    "run_local",
    "run_segment",
    "upscaler_for",
    "work_folder",
]
