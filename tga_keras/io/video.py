"""The one video layer: every command and data pipeline reads and writes video files here.

PyAV (FFmpeg's libraries) first: frames with their timestamps, colour tags and audio. PyAV
(``pip install av``; its wheels bundle FFmpeg) is a dependency, but where ``import av`` fails
(:func:`av_available`) this module, and only this module, falls back to OpenCV: ``cv2.VideoCapture``
(BGR -> RGB, 8-bit, no timestamps, colour tags or audio) and ``cv2.VideoWriter`` (:data:`OPENCV_FOURCCS`).

Reading (:func:`probe`, :func:`iter_frames`, :func:`read_video`)
    Frames are decoded one at a time (streaming, constant memory) and converted to RGB with the
    stream's own colour matrix and range (BT.601 and limited range where the file does not say, as
    FFmpeg assumes):

    * 8 bits per component -> ``uint8`` ``(H, W, 3)`` in [0, 255];
    * more (``yuv420p10le``, ``gbrp12le``, ``rgb48le``, ...) -> ``float32`` ``(H, W, 3)`` in [0, 1],
      decoded as 16-bit RGB and divided by 65535: never truncated to 8 bits.

    Each frame keeps its presentation timestamp (``pts``, in the stream's ``time_base``), so a
    variable-frame-rate source keeps its timing when written back with :class:`VideoWriter`.

    :func:`read_video` decodes a span of frames into one array (the same frames as :func:`iter_frames`).
    :data:`VIDEO_EXTENSIONS` are the file names taken as videos when a folder is listed.

Writing (:func:`choose_encoder`, :class:`VideoWriter`, :func:`open_writer`)
    ``uint8`` RGB ``(H, W, 3)`` frames. The container comes from the extension (:data:`CONTAINERS`);
    the encoder, unless ``codec`` names one, is the first the FFmpeg build has of:

    * ``.mp4``, ``.mov``, ``.mkv``: H.264 (``libx264``, then ``libopenh264``), else MPEG-4 part 2 (``mpeg4``);
    * ``.mkv`` with ``lossless``: FFV1 in 8-bit RGB (``bgr0``): decodes to exactly the frames written;
    * ``.avi``: Motion JPEG (``mjpeg``).

    Quality: ``crf`` for the encoders with a constant-rate-factor mode (:data:`CRF_ENCODERS`, default
    18 for libx264); the quantiser-based encoders (``mpeg4``, ``mjpeg``) use a fixed quantiser of
    :data:`DEFAULT_QSCALE` (``crf`` is refused for them). Output frames carry the source's timestamps
    (``pts`` per frame; AVI, which has no timestamps, gets them on a 1/rate grid), its colour tags
    (range, matrix, primaries, transfer; the RGB -> YUV conversion uses the same matrix and range) and
    a copy of its audio track (packets remuxed, not re-encoded) where the container can hold it.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import math
import os
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from tga_keras.errors import InputError

if TYPE_CHECKING:
    import av
    import av.container
    import av.packet
    import av.stream
    import cv2

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".y4m", ".wmv", ".flv")
"""Input files taken as videos (any case) when a folder is listed; any file FFmpeg decodes can be given by name."""

CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
"""Output extension -> FFmpeg container format (the videos that can be written)."""

OPENCV_FOURCCS = {".mp4": "mp4v", ".avi": "MJPG"}
"""Output extension -> ``cv2.VideoWriter`` fourcc, the writers without PyAV."""

H264_ENCODERS = ("libx264", "libopenh264")
DEFAULT_ENCODERS = {
    ".mp4": (*H264_ENCODERS, "mpeg4"),
    ".mov": (*H264_ENCODERS, "mpeg4"),
    ".mkv": (*H264_ENCODERS, "mpeg4"),
    ".avi": ("mjpeg",),
}
"""Encoders tried in order for each extension (the first the FFmpeg build has is used)."""

LOSSLESS_ENCODER = "ffv1"
LOSSLESS_EXTENSIONS = (".mkv",)

CODEC_ALIASES = {
    "h264": H264_ENCODERS,
    "avc": H264_ENCODERS,
    "hevc": ("libx265",),
    "h265": ("libx265",),
    "vp9": ("libvpx-vp9",),
    "av1": ("libsvtav1", "libaom-av1"),
}
"""``--codec`` short names -> FFmpeg encoders tried in order; any other value must name an FFmpeg video encoder."""

CRF_ENCODERS: dict[str, tuple[int, int, int]] = {
    "libx264": (0, 51, 18),
    "libx264rgb": (0, 51, 18),
    "libx265": (0, 51, 22),
    "libvpx-vp9": (0, 63, 31),
    "libsvtav1": (0, 63, 35),
    "libaom-av1": (0, 63, 30),
}
"""Encoder -> (lowest, highest, default) constant rate factor: lower is better quality and larger files."""

DEFAULT_QSCALE = 3
"""Fixed quantiser (FFmpeg's ``-q:v``; 2 is best, 31 worst) of the quantiser-based encoders."""
QSCALE_ENCODERS = ("mpeg4", "mjpeg", "msmpeg4", "msmpeg4v2", "mpeg1video", "mpeg2video", "h263p")

_RGB_FIRST = ("ffv1", "png", "ffvhuff", "huffyuv", "utvideo", "qtrle", "libx264rgb", "zlib", "rawvideo")
"""Encoders fed RGB when they take it (lossless ones): no YUV conversion, no chroma subsampling."""
_RGB_FORMATS = ("bgr0", "gbrp", "rgb24", "bgr24", "bgra", "rgba")

# FFmpeg's colour enums (AVColorRange, AVColorSpace, AVColorPrimaries, AVColorTransferCharacteristic)
RANGE_UNSPECIFIED, RANGE_LIMITED, RANGE_FULL = 0, 1, 2
SPACE_RGB, SPACE_BT709, SPACE_UNSPECIFIED = 0, 1, 2
_SWS_MATRIX = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}
"""AVColorSpace -> swscale matrix (SWS_CS_*): BT.709, FCC, BT.601 (twice), SMPTE 240M, BT.2020 (twice)."""
_SWS_DEFAULT = 5  # BT.601: what FFmpeg assumes for an untagged YUV stream


def _dataset_error(message: str) -> Exception:
    """A :class:`tga_keras.errors.DatasetError`."""
    from tga_keras.errors import DatasetError

    return DatasetError(message)


def av_available() -> bool:
    """Whether PyAV imports (``False`` when it is not installed, or is blocked by ``sys.modules['av'] = None``)."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------------------------ reading
@dataclasses.dataclass(frozen=True)
class ColorInfo:
    """A stream's colour tags, as FFmpeg's enum values (``av.video.reformatter`` names them).

    ``color_range``: 0 unspecified, 1 limited ("tv", 16-235), 2 full ("pc", 0-255).
    ``colorspace`` (the YUV matrix): 0 RGB, 1 BT.709, 2 unspecified, 5/6 BT.601, 9 BT.2020, ...
    ``color_primaries`` and ``color_trc`` (transfer): 1 BT.709, 2 unspecified, 13 sRGB (trc), ...
    """

    color_range: int = RANGE_UNSPECIFIED
    colorspace: int = SPACE_UNSPECIFIED
    color_primaries: int = 2
    color_trc: int = 2

    def describe(self) -> str:
        return (
            f"range {self.color_range}, matrix {self.colorspace}, "
            f"primaries {self.color_primaries}, transfer {self.color_trc}"
        )


RGB_FRAMES_COLOR = ColorInfo(RANGE_LIMITED, SPACE_BT709, 1, 1)
"""Tags for video made from RGB pictures (a folder of frames, or OpenCV-decoded frames): BT.709, limited range."""


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """The first audio stream of a file: codec name, sample rate (Hz), channels."""

    codec: str
    sample_rate: int
    channels: int


@dataclasses.dataclass(frozen=True)
class VideoProbe:
    """What :func:`probe` finds in a file (its first video stream, whose first frame decoded).

    ``fps``: the average frame rate (frames / duration; 0.0 if unknown). ``rate``: the nominal
    (base) frame rate, the finest regular grid of the timestamps, or ``None``. ``time_base``: the
    unit of the frames' ``pts`` (seconds). ``num_frames``: the container's count or an estimate from
    the duration, ``None`` when neither is known. ``codec``: FFmpeg's codec name (``'h264'``, ``'ffv1'``,
    not the decoder's). ``bit_depth``: bits per component of ``pix_fmt``;
    over 8, :func:`iter_frames` yields float32 frames. ``start_time``: the file's first timestamp
    (seconds, of the video and audio streams; 0 if unknown), which FFmpeg maps to 0 when it converts a file.
    """

    path: str
    width: int
    height: int
    fps: float
    rate: Fraction | None
    time_base: Fraction
    num_frames: int | None
    codec: str
    pix_fmt: str
    bit_depth: int
    color: ColorInfo
    audio: AudioInfo | None
    start_time: Fraction = Fraction(0)

    @property
    def high_bit_depth(self) -> bool:
        return self.bit_depth > 8


class DecodedFrame(NamedTuple):
    """One decoded frame: ``image`` uint8 ``(H, W, 3)`` [0, 255] or float32 [0, 1] (over 8 bits);
    ``pts`` and ``duration`` in the stream's ``time_base`` (``None`` where the file has none)."""

    image: np.ndarray
    pts: int | None
    duration: int | None


def _frac(value: Fraction | int | None) -> Fraction | None:
    """A positive rate or time base as a Fraction, else ``None``."""
    if value is None:
        return None
    f = Fraction(value)
    return f if f > 0 else None


def _bit_depth(pix_fmt: str) -> int:
    import av

    comps = av.VideoFormat(pix_fmt).components
    return max((c.bits for c in comps), default=8)


def _open_input(path: str) -> av.container.InputContainer:
    import av

    if not os.path.exists(path):
        from tga_keras.errors import DatasetFileNotFoundError

        raise DatasetFileNotFoundError(f"video not found: {path}")
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise _dataset_error(f"empty (zero-byte) file: {path}")
    try:
        return av.open(path, "r")
    except av.FFmpegError as e:
        raise _dataset_error(f"FFmpeg cannot open video {path} (corrupt, truncated or unsupported): {e}") from e


def _video_stream(container: av.container.InputContainer, path: str) -> av.VideoStream:
    """The first video stream of ``container``; :class:`DatasetError` when it has none."""
    if not container.streams.video:
        raise _dataset_error(f"{path} has no video stream")
    return container.streams.video[0]


def probe(path: str | os.PathLike) -> VideoProbe:
    """Open ``path`` and decode its first video frame; :class:`DatasetError` if that fails.

    Without PyAV (OpenCV): ``codec`` is the fourcc, ``pix_fmt`` ``'bgr24'``, no colour tags, no audio.
    """
    path = os.fspath(path)
    if not av_available():
        return _probe_cv(path)
    return _probe_av(path)


def _probe_av(path: str) -> VideoProbe:
    import av

    container = _open_input(path)
    try:
        stream = _video_stream(container, path)
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as e:
            raise _dataset_error(f"video {path} has no decodable frame: {e}") from e
        if first is None:
            raise _dataset_error(f"video {path} has no decodable frame")
        tb = _frac(stream.time_base) or Fraction(1, 90000)
        avg = _frac(stream.average_rate)
        rate = _frac(stream.guessed_rate) or _frac(stream.base_rate) or avg
        n: int | None = int(stream.frames) if stream.frames else None
        if n is None:
            seconds: Fraction | None = None
            if stream.duration:
                seconds = stream.duration * tb
            elif container.duration:
                seconds = Fraction(container.duration, av.time_base)
            fr = avg or rate
            if seconds is not None and fr is not None:
                n = max(1, round(seconds * fr))
        cc = stream.codec_context
        color = ColorInfo(
            int(first.color_range or cc.color_range or 0),
            int(_tag(first.colorspace, cc.colorspace, SPACE_UNSPECIFIED)),
            int(_tag(first.color_primaries, cc.color_primaries, 2)),
            int(_tag(first.color_trc, cc.color_trc, 2)),
        )
        audio = None
        if container.streams.audio:
            a = container.streams.audio[0]
            acc = a.codec_context
            audio = AudioInfo(acc.name, int(acc.sample_rate or 0), int(acc.channels or 0))
        pix_fmt = first.format.name
        return VideoProbe(
            path=path,
            width=int(first.width),
            height=int(first.height),
            fps=float(avg or rate or 0.0),
            rate=rate,
            time_base=tb,
            num_frames=n,
            codec=cc.codec.canonical_name,
            pix_fmt=pix_fmt,
            bit_depth=_bit_depth(pix_fmt),
            color=color,
            audio=audio,
            start_time=_start_time(container),
        )
    finally:
        container.close()


def _start_time(container: av.container.InputContainer) -> Fraction:
    """The earliest start (seconds) of the first video and audio streams, exact; else the container's."""
    starts = [
        s.start_time * s.time_base
        for s in (container.streams.video[:1] + container.streams.audio[:1])
        if s.start_time is not None and s.time_base
    ]
    if starts:
        return min(starts)
    return Fraction(container.start_time or 0, 1_000_000)  # AV_TIME_BASE


def _tag(frame_value: int | None, stream_value: int | None, unspecified: int) -> int:
    """The frame's tag unless unspecified, else the stream's."""
    for v in (frame_value, stream_value):
        if v is not None and int(v) != unspecified:
            return int(v)
    return unspecified


def iter_frames(
    path: str | os.PathLike,
    *,
    high_bit_depth: bool | None = None,
    first: int = 0,
    stamps: Sequence[int | None] | None = None,
) -> Iterator[DecodedFrame]:
    """Decode the first video stream frame by frame (streaming): see :class:`DecodedFrame`.

    ``high_bit_depth``: ``None`` decides from the stream's pixel format (float32 frames for more
    than 8 bits per component, uint8 otherwise); ``True``/``False`` force float32/uint8.
    ``first``: start at frame ``first`` (0-based, in decoding order). With ``stamps``, the file's
    :func:`frame_stamps`, the decoder seeks to the keyframe before it; the frames are checked
    against ``stamps`` (a seek that lands elsewhere falls back to decoding from the start, a later
    mismatch is a :class:`DatasetError`). Without, the frames before it are decoded, not converted.
    Decoding errors become :class:`DatasetError` naming the file. Without PyAV (OpenCV): uint8
    frames (float32 with ``high_bit_depth=True``), ``pts`` and ``duration`` ``None``.
    """
    path = os.fspath(path)
    if not av_available():
        return itertools.islice(_iter_frames_cv(path, bool(high_bit_depth)), first, None)
    return _iter_frames_av(path, high_bit_depth, first, stamps)


def frame_stamps(path: str | os.PathLike) -> list[int | None]:
    """The ``pts`` of every frame of the first video stream, in the order :func:`iter_frames` yields
    them (a decode-only pass: no colour conversion, about 1 ms per SD frame). Needs PyAV."""
    import av

    path = os.fspath(path)
    container = _open_input(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        try:
            return [frame.pts for frame in container.decode(stream)]
        except av.FFmpegError as e:
            raise _dataset_error(f"cannot decode video {path}: {e}") from e
    finally:
        container.close()


def _iter_frames_av(
    path: str, high_bit_depth: bool | None, first: int, stamps: Sequence[int | None] | None
) -> Iterator[DecodedFrame]:
    import av

    container = _open_input(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        frames = container.decode(stream)
        index = 0  # the number of the next frame ``frames`` gives
        target = stamps[first] if stamps is not None and 0 < first < len(stamps) else None
        if target is not None:
            assert stamps is not None
            head = None
            back = 0  # frames before ``first`` to seek to: demuxers that land after the time asked (MPEG-TS)
            while head is None and back < first:
                aim = stamps[first - back]
                try:
                    if aim is None:
                        break
                    container.seek(aim, stream=stream, backward=True, any_frame=False)
                    frames = container.decode(stream)
                    head = next((f for f in frames if f.pts is None or f.pts >= target), None)
                except av.FFmpegError:
                    break
                if head is None or head.pts != target:
                    head, back = None, max(8, 2 * back)
            if head is not None:
                frames, index = itertools.chain([head], frames), first
            else:  # no seek landed before the frame: decode from the start
                container.seek(0, stream=stream, backward=True, any_frame=False)
                frames = container.decode(stream)
        wide = high_bit_depth
        held: av.VideoFrame | None = None  # one frame of look-ahead: a frame lasts until the next one's pts
        try:
            for frame in frames:
                if index < first:
                    index += 1
                    continue
                if stamps is not None and index < len(stamps) and frame.pts != stamps[index]:
                    raise _dataset_error(
                        f"video {path}: frame {index} decoded with pts {frame.pts}, not {stamps[index]} as when "
                        "it was indexed (the file changed, or its decoding is not repeatable)"
                    )
                index += 1
                if wide is None:
                    wide = _bit_depth(frame.format.name) > 8
                if held is not None:
                    yield _decoded(held, wide, frame.pts)
                held = frame
            if held is not None:
                yield _decoded(held, bool(wide), None)
        except av.FFmpegError as e:
            raise _dataset_error(f"cannot decode video {path}: {e}") from e
    finally:
        container.close()


def _decoded(frame: av.VideoFrame, wide: bool, next_pts: int | None) -> DecodedFrame:
    """A :class:`DecodedFrame`; its duration is the gap to the next frame (decoders' own durations can
    be those of another frame after B-frame reordering), for the last frame the decoder's."""
    pts = frame.pts
    if pts is not None and next_pts is not None and next_pts > pts:
        duration: int | None = next_pts - pts
    else:
        duration = frame.duration or None
    return DecodedFrame(_to_rgb(frame, wide), pts, duration)


def _to_rgb(frame: av.VideoFrame, wide: bool) -> np.ndarray:
    """RGB of a decoded frame, with its own matrix and range: uint8 [0, 255] or (``wide``) float32 [0, 1]."""
    fmt = frame.format
    matrix: int | None = None
    color_range: int | None = None
    if not fmt.is_rgb and not fmt.name.startswith("gray"):
        matrix = _SWS_MATRIX.get(int(frame.colorspace), _SWS_DEFAULT)
        color_range = int(frame.color_range) or RANGE_LIMITED
    if wide:
        rgb16 = frame.to_ndarray(format="rgb48le", src_colorspace=matrix, src_color_range=color_range)
        out = rgb16.astype(np.float32)
        out *= np.float32(1.0 / 65535.0)
        return out
    return np.ascontiguousarray(frame.to_ndarray(format="rgb24", src_colorspace=matrix, src_color_range=color_range))


def read_video(path: str | os.PathLike, start: int = 0, count: int | None = None) -> np.ndarray:
    """Frames ``start .. start+count-1`` (all from ``start`` if ``count`` is None) as ``(N, H, W, 3)``.

    The frames of :func:`iter_frames` (the reader of ``tga upscale``): uint8 RGB for 8 bits per
    component, float32 [0, 1] for more. Frames are counted in decoding order from the first (exact;
    no seeking). :class:`DatasetError` if the video cannot be opened, if fewer than ``count`` frames
    can be decoded from ``start``, or if the frame size changes.
    """
    path = os.fspath(path)
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    frames: list[np.ndarray] = []
    it = iter_frames(path)
    try:
        for k, frame in enumerate(it):
            if k < start:
                continue
            if count is not None and len(frames) >= count:
                break
            frames.append(frame.image)
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()
    if count is not None and len(frames) < count:
        raise _dataset_error(
            f"video {path}: needed frames {start}..{start + count - 1} but only {len(frames)} decoded from {start}"
        )
    if not frames:
        raise _dataset_error(f"video {path} has no decodable frame from index {start}")
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise _dataset_error(f"video {path} changes frame size mid-stream: {sorted(shapes)}")
    return np.stack(frames)


# ------------------------------------------------------------------------------------ OpenCV reading
def _open_cv(path: str) -> cv2.VideoCapture:
    import cv2

    if not os.path.isfile(path):
        from tga_keras.errors import DatasetFileNotFoundError

        raise DatasetFileNotFoundError(f"video not found: {path}")
    if os.path.getsize(path) == 0:
        raise _dataset_error(f"empty (zero-byte) file: {path}")
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise _dataset_error(f"OpenCV cannot open video {path} (corrupt, truncated or unsupported codec)")
    return cap


def _cv_rgb(frame: np.ndarray, path: str) -> np.ndarray:
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    if frame.dtype != np.uint8:
        raise _dataset_error(f"video {path} decodes to {frame.dtype} frames; only 8-bit is supported")
    return np.ascontiguousarray(frame[:, :, 2::-1])


def _probe_cv(path: str) -> VideoProbe:
    import cv2

    cap = _open_cv(path)
    try:
        ok, frame = cap.read()
        if not ok or frame is None:
            raise _dataset_error(f"video {path} has no decodable frame")
        n = int(round(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        code = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
    finally:
        cap.release()
    rate = Fraction(fps).limit_denominator(1001) if fps > 0 else None
    fourcc = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ") or "unknown"
    return VideoProbe(
        path=path,
        width=int(frame.shape[1]),
        height=int(frame.shape[0]),
        fps=fps if fps > 0 else 0.0,
        rate=rate,
        time_base=1 / rate if rate else Fraction(1, 25),
        num_frames=max(n, 1),
        codec=fourcc.lower(),
        pix_fmt="bgr24",
        bit_depth=8,
        color=ColorInfo(),
        audio=None,
    )


def _iter_frames_cv(path: str, wide: bool) -> Iterator[DecodedFrame]:
    cap = _open_cv(path)
    try:
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                return
            rgb = _cv_rgb(frame, path)
            if wide:
                rgb = rgb.astype(np.float32) / np.float32(255.0)
            yield DecodedFrame(rgb, None, None)
    finally:
        cap.release()


# ------------------------------------------------------------------------------------ writing
@dataclasses.dataclass(frozen=True)
class EncoderChoice:
    """How a video file is written: FFmpeg container ``format``, ``encoder`` and its quality setting.

    ``crf``: the constant rate factor (encoders of :data:`CRF_ENCODERS`), else ``None``;
    ``qscale``: the fixed quantiser (quantiser-based encoders), else ``None``; ``lossless``: FFV1.
    ``fallback``: a note when the preferred encoder (H.264) is missing from the FFmpeg build.
    """

    extension: str
    format: str
    encoder: str
    crf: int | None = None
    qscale: int | None = None
    lossless: bool = False
    fallback: str | None = None

    def describe(self) -> str:
        quality = (
            " (lossless)"
            if self.lossless
            else f" (crf {self.crf})"
            if self.crf is not None
            else f" (q {self.qscale})"
            if self.qscale is not None
            else ""
        )
        return f"{self.encoder}{quality}"


def _video_encoders() -> set[str]:
    import av

    names = set()
    for name in av.codecs_available:
        try:
            codec = av.Codec(name, "w")
        except Exception:  # a decoder only
            continue
        if codec.type == "video":
            names.add(name)
    return names


def _container_codecs(fmt: str) -> set[str]:
    import av

    with av.open(io.BytesIO(), "w", format=fmt) as out:
        return set(out.supported_codecs)


def choose_encoder(
    extension: str, codec: str | None = None, crf: int | None = None, lossless: bool = False
) -> EncoderChoice:
    """The encoder for an output of ``extension`` (``'.mp4'`` ...), checked against the FFmpeg build.

    ``codec``: an alias of :data:`CODEC_ALIASES` or an FFmpeg video encoder name (default: the
    extension's order, :data:`DEFAULT_ENCODERS`). ``crf``: quality of a CRF encoder. ``lossless``:
    FFV1 (``.mkv`` only; not with ``codec`` or ``crf``). Raises :class:`InputError` with a message
    for a bad combination, an unknown encoder, or one the container cannot hold.
    """
    import av

    ext = extension.lower()
    if ext not in CONTAINERS:
        raise InputError(f"no video container for {extension!r}: write one of {', '.join(CONTAINERS)}")
    fmt = CONTAINERS[ext]
    if lossless:
        if codec is not None:
            raise InputError(f"--lossless writes {LOSSLESS_ENCODER.upper()}: leave out --codec")
        if crf is not None:
            raise InputError("--lossless and --crf exclude each other (lossless has no quality setting)")
        if ext not in LOSSLESS_EXTENSIONS:
            raise InputError(
                f"--lossless writes {LOSSLESS_ENCODER.upper()}, which goes in a .mkv file: "
                f"name the output .mkv (got {ext})"
            )
    available = _video_encoders()
    fallback = None
    if lossless:
        candidates: tuple[str, ...] = (LOSSLESS_ENCODER,)
    elif codec is not None:
        candidates = CODEC_ALIASES.get(codec.lower(), (codec,))
    else:
        candidates = DEFAULT_ENCODERS[ext]
    found = [c for c in candidates if c in available]
    if not found:
        if codec is not None:
            aliases = ", ".join(CODEC_ALIASES)
            raise InputError(
                f"--codec {codec}: this FFmpeg build (PyAV {av.__version__}) has no such video encoder "
                f"(tried {', '.join(candidates)}); give one of {aliases}, mpeg4, mjpeg, ffv1, or an FFmpeg "
                'encoder name from `python -c "import av; print(sorted(av.codecs_available))"`'
            )
        raise InputError(f"this FFmpeg build has none of the encoders {', '.join(candidates)} for {ext}")
    encoder = found[0]
    if codec is None and not lossless and encoder != candidates[0]:
        fallback = f"no H.264 encoder in this FFmpeg build: writing {encoder}"
    supported = _container_codecs(fmt)
    canonical = av.Codec(encoder, "w").name
    if encoder not in supported and canonical not in supported:
        raise InputError(f"a {ext} file cannot hold {encoder} video: pick another --codec or extension")
    if crf is not None:
        if encoder not in CRF_ENCODERS:
            raise InputError(
                f"--crf needs an encoder with a constant-rate-factor mode ({', '.join(CRF_ENCODERS)}); "
                f"{encoder} has none" + (" (it uses a fixed quantiser)" if encoder in QSCALE_ENCODERS else "")
            )
        lo, hi, _ = CRF_ENCODERS[encoder]
        if not lo <= crf <= hi:
            raise InputError(f"--crf for {encoder} must be in {lo}..{hi}, got {crf}")
    elif encoder in CRF_ENCODERS:
        crf = CRF_ENCODERS[encoder][2]
    qscale = DEFAULT_QSCALE if encoder in QSCALE_ENCODERS else None
    return EncoderChoice(ext, fmt, encoder, crf, qscale, lossless or encoder == LOSSLESS_ENCODER, fallback)


def _rescale(value: int, source: Fraction, target: Fraction) -> int:
    """``value`` in units of ``source`` as units of ``target``, rounded as FFmpeg rounds (halves away from 0)."""
    x = value * source / target
    n = math.floor(abs(x) + Fraction(1, 2))
    return n if x >= 0 else -n


def _pick_pix_fmt(encoder: str, width: int, height: int) -> str:
    """The pixel format to encode: RGB for the lossless encoders, else the most common YUV that fits the size."""
    import av

    formats = [f.name for f in (av.Codec(encoder, "w").video_formats or ())]
    if not formats:
        return "yuv420p"
    # 4:2:0 needs even sizes, 4:2:2 an even width
    yuv = ["yuv420p"] * (width % 2 == 0 and height % 2 == 0) + ["yuv422p"] * (width % 2 == 0) + ["yuv444p"]
    prefs = [*_RGB_FORMATS, *yuv] if encoder in _RGB_FIRST else [*yuv, *_RGB_FORMATS]
    for p in prefs:
        if p in formats:
            return p
    return formats[0]


@dataclasses.dataclass(frozen=True)
class AudioCopy:
    """Copy the first audio track of ``path`` (its packets, unchanged) into the output.

    ``to_end``: copy up to the end of the source; else stop at the end of the last video frame
    (an output that stops early). Packets before the first frame are dropped when the output's
    timestamps are shifted to start at 0 (an output that starts late: the writer's ``origin`` is
    ``None``, or ``from_start`` is False).
    """

    path: str
    to_end: bool = True
    from_start: bool = True


class VideoWriter:
    """Encode ``uint8`` RGB ``(H, W, 3)`` frames to a video file (opened at the first frame, which sets the size).

    ``rate``: the nominal frame rate; ``time_base``: the unit of the ``pts`` given to :meth:`write`
    (default ``1 / rate``; frames without ``pts`` follow the previous one by ``1 / rate``).
    ``origin``: the source time (seconds) that becomes output time 0, for the video and the audio
    alike (default 0: timestamps kept); ``None``: the first frame's time, for an output that starts
    late in its source (the audio before it is dropped).
    ``color``: the colour tags to write (default :data:`RGB_FRAMES_COLOR`); the RGB -> YUV
    conversion uses their matrix and range. ``audio``: an audio track to copy. ``notes`` collects
    what was changed or left out (an audio track the container cannot hold, a range forced by the codec).

    ``packets`` lists the ``(pts, dts, duration)`` of every encoded video packet in decode order,
    in units of :attr:`packet_time_base`, as the encoder gave them to the muxer (a demuxer may
    return other timestamps: MP4 edit lists shift them, Matroska drops ``dts``).
    :meth:`append_segment` builds a file from such pieces instead of encoding frames: their
    packets are copied (no re-encoding) with these recorded timestamps, so the muxer gets what it
    would have got from one encoder.
    """

    def __init__(
        self,
        path: str,
        choice: EncoderChoice,
        *,
        rate: Fraction,
        time_base: Fraction | None = None,
        origin: Fraction | None = Fraction(0),
        color: ColorInfo | None = None,
        audio: AudioCopy | None = None,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.path, self.choice = path, choice
        self.rate = Fraction(rate)
        self.in_time_base = Fraction(time_base) if time_base else 1 / self.rate
        self.origin = origin
        self.color = color or RGB_FRAMES_COLOR
        self.audio = audio
        self.count = 0
        self.notes: list[str] = []
        self.audio_copied = False
        self.pix_fmt: str | None = None
        self._written_color = self.color  # the tags written (the codec may force some: see _open)
        self._out: av.container.OutputContainer | None = None
        self._vstream: av.VideoStream | None = None
        self._tb = self.in_time_base  # the time base of the encoded frames (see _open)
        self._offset: Fraction | None = None  # source time (seconds) of the output's zero
        self._next_pts = 0  # the input pts of a frame given none
        self._last_out: int | None = None
        self._last_end = Fraction(0)  # seconds: end of the last frame written
        self._audio_in: av.container.InputContainer | None = None
        self._audio_out: av.stream.Stream | None = None
        self._audio_packets: Iterator[av.packet.Packet] | None = None
        self._audio_pending: av.packet.Packet | None = None
        self._audio_shift = 0
        self._closed = False
        self._copying = False  # append_segment: packets copied, no encoder
        self._last_dts: int | None = None  # append_segment: of the last packet copied, in the muxer's time base
        self.packets: list[tuple[int | None, int | None, int]] = []
        self.packet_time_base: Fraction = self.in_time_base

    # -------------------------------------------------------------- setup
    def _open(self, width: int, height: int) -> None:
        import av

        choice = self.choice
        self._out = out = av.open(self.path, "w", format=choice.format)
        stream = out.add_stream(choice.encoder, rate=self.rate)
        if not isinstance(stream, av.VideoStream):
            raise ValueError(f"{choice.encoder} is not a video encoder")
        self.pix_fmt = pix = _pick_pix_fmt(choice.encoder, width, height)
        stream.width, stream.height, stream.pix_fmt = width, height, pix
        # AVI has no timestamps (it counts frames): encode on the 1/rate grid; same for the time bases
        # that MPEG-4 part 2 cannot code (denominator over 16 bits)
        self._tb = self._encode_time_base()
        self.packet_time_base = self._tb
        cc = stream.codec_context
        cc.time_base = self._tb
        stream.time_base = self._tb
        rgb = av.VideoFormat(pix).is_rgb
        color = self.color
        if rgb:
            color = dataclasses.replace(color, color_range=RANGE_FULL, colorspace=SPACE_RGB)
        elif choice.encoder == "mjpeg" and color.color_range != RANGE_FULL:
            color = dataclasses.replace(color, color_range=RANGE_FULL)
            self.notes.append("Motion JPEG is full range: the output is tagged full range")
        self._written_color = color
        cc.color_range = color.color_range
        cc.colorspace = color.colorspace
        cc.color_primaries = color.color_primaries
        cc.color_trc = color.color_trc
        options: dict[str, str] = {}
        if choice.crf is not None:
            options["crf"] = str(choice.crf)
            if choice.encoder in ("libvpx-vp9", "libaom-av1"):
                options["b"] = "0"  # constant quality, no bitrate target
        if choice.qscale is not None:
            cc.qmin = cc.qmax = choice.qscale
            cc.bit_rate = 1_000_000_000  # no bitrate cap: the quantiser decides
        if choice.encoder == LOSSLESS_ENCODER:
            options.update({"level": "3", "slicecrc": "1"})
        if choice.encoder == "libx265":
            options["x265-params"] = "log-level=error"  # x265 prints a page of settings to stderr otherwise
        if choice.encoder == "libsvtav1":
            os.environ.setdefault("SVT_LOG", "1")  # errors only (SVT-AV1 reads it when the encoder opens)
        cc.options = options
        self._vstream = stream
        if self.audio is not None:
            self._open_audio(out, self.audio.path)

    def _encode_time_base(self) -> Fraction:
        """The time base frames are encoded in: the input's, but AVI counts frames (no timestamps), and
        MPEG-4 part 2 cannot code a time base whose denominator is over 16 bits: ``1 / rate`` there."""
        choice = self.choice
        if choice.format == "avi" or (choice.encoder in QSCALE_ENCODERS and self.in_time_base.denominator > 65535):
            return 1 / self.rate
        return self.in_time_base

    def _open_copy(self, template: av.VideoStream, time_base: Fraction) -> None:
        """Open the output for :meth:`append_segment`: a video stream with ``template``'s codec parameters."""
        import av

        self._out = out = av.open(self.path, "w", format=self.choice.format)
        stream = out.add_stream_from_template(template)
        if not isinstance(stream, av.VideoStream):
            raise ValueError(f"{template} is not a video stream")
        stream.time_base = time_base
        stream.codec_context.framerate = self.rate  # as add_stream(rate=) sets it: muxers time the last frame by it
        self._tb = self.packet_time_base = time_base
        self._vstream = stream
        self._copying = True
        if self.audio is not None:
            self._open_audio(out, self.audio.path)
        if self.origin is None:
            raise ValueError("append_segment needs an explicit origin (the source time of output time 0)")
        self._offset = self.origin
        self._audio_shift_from(self._offset)
        out.start_encoding()  # the header: the muxer settles its time bases

    def append_segment(self, path: str, packets: list[tuple[int | None, int | None, int]], time_base: Fraction) -> int:
        """Copy the video packets of ``path`` (a file this class wrote) to the output, without re-encoding.

        ``packets``/``time_base``: that writer's :attr:`packets` and :attr:`packet_time_base`; they
        replace the timestamps the demuxer returns. Pieces are appended in order; the first one sets
        the stream's codec parameters (every piece must come from the same encoder settings), and the
        audio (``audio``) is interleaved as with encoded frames. Returns the number of packets copied.
        Raises ``OSError`` when the file does not hold the packets recorded for it.
        """
        import av

        if self._closed or (self._out is not None and not self._copying):
            raise ValueError("append_segment needs a writer that has not encoded frames and is not closed")
        try:
            source = av.open(path, "r")
        except av.FFmpegError as e:
            raise OSError(f"cannot read video piece {path}: {e}") from e
        try:
            stream = source.streams.video[0]
            if self._out is None:
                self._open_copy(stream, Fraction(time_base))
            assert self._out is not None and self._vstream is not None
            demuxed = [p for p in source.demux(stream) if p.size > 0]
            if len(demuxed) != len(packets):
                raise OSError(f"{path} holds {len(demuxed)} video packets, its record lists {len(packets)}")
            tb = Fraction(time_base)
            out_tb = Fraction(self._vstream.time_base or time_base)  # the muxer's, fixed once the header is written
            for packet, (pts, dts, duration) in zip(demuxed, packets, strict=True):
                packet.stream = self._vstream
                packet.time_base = out_tb
                packet.pts = None if pts is None else _rescale(pts, tb, out_tb)
                packet.duration = _rescale(duration, tb, out_tb)
                if dts is not None:
                    # each piece's encoder started its decode clock on its own (before its first frame by
                    # its B-frame delay, from its own guess of a frame's length): kept where it follows the
                    # previous piece, moved just after it where not (never after the packet's own pts)
                    dts = _rescale(dts, tb, out_tb)
                    if self._last_dts is not None and dts <= self._last_dts:
                        dts = self._last_dts + 1
                        if packet.pts is not None and dts > packet.pts:
                            raise OSError(f"{path}: its packets cannot follow the previous piece's in decoding order")
                    self._last_dts = dts
                packet.dts = dts
                if pts is not None:
                    self._last_end = max(self._last_end, (pts + duration) * tb)
                self._out.mux(packet)
                if pts is not None:
                    self._pump_audio(pts * tb)
            self.count += len(demuxed)
            return len(demuxed)
        except av.FFmpegError as e:
            raise OSError(f"cannot copy video piece {path} into {self.path}: {e}") from e
        finally:
            source.close()

    def _mux_encoded(self, packets: list[av.packet.Packet]) -> None:
        assert self._out is not None
        for packet in packets:
            if packet.size > 0:
                self.packets.append((packet.pts, packet.dts, int(packet.duration or 0)))
            self._out.mux(packet)

    def _open_audio(self, out: av.container.OutputContainer, path: str) -> None:
        import av

        source = av.open(path, "r")
        if not source.streams.audio:
            source.close()
            return
        astream = source.streams.audio[0]
        name = astream.codec_context.name
        if name not in out.supported_codecs:
            self.notes.append(f"audio track ({name}) not copied: a {self.choice.extension} file cannot hold it")
            source.close()
            return
        self._audio_in = source
        self._audio_out = out.add_stream_from_template(astream)
        self._audio_packets = source.demux(astream)
        self.audio_copied = True

    # -------------------------------------------------------------- frames
    def write(self, rgb: np.ndarray, pts: int | None = None, duration: int | None = None) -> None:
        """Encode one frame. ``pts``/``duration``: in ``time_base`` units (``None``: follow the previous frame)."""
        import av

        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"frames must be uint8 (H, W, 3) RGB, got {rgb.dtype} {rgb.shape}")
        if self._copying:
            raise ValueError("this writer copies pieces (append_segment); it does not encode frames")
        if self._out is None:
            self._open(rgb.shape[1], rgb.shape[0])
        assert self._out is not None and self._vstream is not None and self.pix_fmt is not None
        step = max(1, round((1 / self.rate) / self.in_time_base))
        if pts is None:
            pts = self._next_pts
        if self._offset is None:
            self._offset = pts * self.in_time_base if self.origin is None else self.origin
            self._audio_shift_from(self._offset)
        self._next_pts = pts + (duration or step)
        seconds = pts * self.in_time_base - self._offset
        out_pts = round(seconds / self._tb)
        if self._last_out is not None and out_pts <= self._last_out:
            out_pts = self._last_out + 1  # strictly increasing, as encoders require
        self._last_out = out_pts
        length = (duration or step) * self.in_time_base
        self._last_end = out_pts * self._tb + length

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        color = self._written_color
        if av.VideoFormat(self.pix_fmt).is_rgb:
            frame = frame.reformat(format=self.pix_fmt)
        else:
            frame = frame.reformat(
                format=self.pix_fmt,
                dst_colorspace=_SWS_MATRIX.get(color.colorspace, _SWS_DEFAULT),
                dst_color_range=color.color_range or RANGE_LIMITED,
            )
        frame.color_range = color.color_range
        frame.colorspace = color.colorspace
        frame.color_primaries = color.color_primaries
        frame.color_trc = color.color_trc
        frame.pts = out_pts
        frame.time_base = self._tb
        frame.duration = max(1, round(length / self._tb))
        try:
            self._mux_encoded(self._vstream.encode(frame))
            self._pump_audio(out_pts * self._tb)
        except av.FFmpegError as e:
            raise OSError(f"cannot write video {self.path} ({self.choice.encoder}): {e}") from e
        self.count += 1

    # -------------------------------------------------------------- audio
    def _audio_shift_from(self, start: Fraction) -> None:
        """Output time 0 is source time ``start`` (seconds): audio packets are shifted by as much."""
        if self._audio_in is not None:
            self._audio_shift = round(start / self._audio_tb())

    def _audio_tb(self) -> Fraction:
        assert self._audio_in is not None
        return Fraction(self._audio_in.streams.audio[0].time_base or Fraction(1, 1))

    def _pump_audio(self, until: Fraction | None, end: Fraction | None = None) -> None:
        """Mux the audio packets that start at output time <= ``until`` (seconds; ``None``: all).

        ``end``: the packets from this time on are dropped, and the copy stops there.
        """
        if self._audio_packets is None or self._out is None:
            return
        assert self._audio_out is not None
        tb = self._audio_tb()
        while True:
            packet = self._audio_pending or next(self._audio_packets, None)
            self._audio_pending = None
            if packet is None:
                self._audio_packets = None
                return
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is None:  # the demuxer's empty flush packet
                continue
            t = (stamp - self._audio_shift) * tb
            if end is not None and t >= end:
                self._audio_packets = None
                return
            if until is not None and t > until:
                self._audio_pending = packet
                return
            if t < 0 and (self.origin is None or (self.audio is not None and not self.audio.from_start)):
                continue  # before the first frame of a late start
            if packet.pts is not None:
                packet.pts -= self._audio_shift
            if packet.dts is not None:
                packet.dts -= self._audio_shift
            packet.stream = self._audio_out
            self._out.mux(packet)

    def _finish_audio(self) -> None:
        if self.audio is not None and self.audio.to_end:
            self._pump_audio(None)
        else:
            self._pump_audio(None, end=self._last_end)

    # -------------------------------------------------------------- end
    def close(self) -> None:
        """Flush the encoder and the rest of the audio, and close the file (safe to call twice)."""
        import av

        if self._closed:
            return
        self._closed = True
        try:
            if self._out is not None and self._vstream is not None:
                try:
                    if not self._copying:
                        self._mux_encoded(self._vstream.encode(None))
                    self._finish_audio()
                except av.FFmpegError as e:
                    raise OSError(f"cannot write video {self.path} ({self.choice.encoder}): {e}") from e
        finally:
            if self._audio_in is not None:
                self._audio_in.close()
            if self._out is not None:
                self._out.close()

    def describe(self) -> str:
        """The encoder, its quality setting and the audio, for a summary line."""
        text = self.choice.describe()
        if self.audio_copied:
            assert self._audio_out is not None
            text += f", audio {self._audio_out.codec_context.name} copied"
        return text


class OpenCVWriter:
    """The writer without PyAV: ``cv2.VideoWriter`` with :data:`OPENCV_FOURCCS` at a constant ``fps``.

    Same interface as :class:`VideoWriter`; ``pts``/``duration`` are ignored, and neither colour
    tags nor audio are written. Opened at the first frame (its size).
    """

    def __init__(self, path: str, extension: str, fps: float) -> None:
        ext = extension.lower()
        if ext not in OPENCV_FOURCCS:
            raise InputError(
                f"writing a {ext} video needs PyAV (pip install av); without it write " + " or ".join(OPENCV_FOURCCS)
            )
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.path, self.fourcc, self.fps = path, OPENCV_FOURCCS[ext], float(fps)
        self.count = 0
        self.notes: list[str] = []
        self._writer: cv2.VideoWriter | None = None
        self._closed = False

    def write(self, rgb: np.ndarray, pts: int | None = None, duration: int | None = None) -> None:
        import cv2

        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"frames must be uint8 (H, W, 3) RGB, got {rgb.dtype} {rgb.shape}")
        if self._writer is None:
            h, w = rgb.shape[:2]
            self._writer = cv2.VideoWriter(self.path, cv2.VideoWriter.fourcc(*self.fourcc), self.fps, (w, h))
            if not self._writer.isOpened():
                raise OSError(f"OpenCV cannot open a {self.fourcc!r} video writer for {self.path}")
        self._writer.write(np.ascontiguousarray(rgb[:, :, ::-1]))
        self.count += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.release()

    def describe(self) -> str:
        return f"{self.fourcc} (OpenCV)"


def open_writer(
    path: str,
    extension: str,
    *,
    rate: Fraction | float,
    choice: EncoderChoice | None = None,
    time_base: Fraction | None = None,
    origin: Fraction | None = Fraction(0),
    color: ColorInfo | None = None,
    audio: AudioCopy | None = None,
) -> VideoWriter | OpenCVWriter:
    """A writer of ``uint8`` RGB frames for a file of ``extension``: PyAV first, OpenCV without it.

    With PyAV: a :class:`VideoWriter` with ``choice`` (default :func:`choose_encoder` of
    ``extension``) and the timing, colour and audio arguments. Without: an :class:`OpenCVWriter`
    at ``rate`` (``choice`` must be ``None``; the other arguments are dropped).
    """
    if not av_available():
        if choice is not None:
            raise InputError(f"{choice.encoder} needs PyAV (pip install av)")
        return OpenCVWriter(path, extension, float(rate))
    if choice is None:
        choice = choose_encoder(extension)
    rate = Fraction(rate).limit_denominator(1001) if isinstance(rate, float) else Fraction(rate)
    return VideoWriter(path, choice, rate=rate, time_base=time_base, origin=origin, color=color, audio=audio)


__all__ = [
    "CODEC_ALIASES",
    "CONTAINERS",
    "CRF_ENCODERS",
    "DEFAULT_ENCODERS",
    "OPENCV_FOURCCS",
    "VIDEO_EXTENSIONS",
    "AudioCopy",
    "AudioInfo",
    "ColorInfo",
    "DecodedFrame",
    "EncoderChoice",
    "OpenCVWriter",
    "VideoProbe",
    "VideoWriter",
    "av_available",
    "choose_encoder",
    "frame_stamps",
    "iter_frames",
    "open_writer",
    "probe",
    "read_video",
]
