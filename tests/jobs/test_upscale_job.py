"""``tga upscale`` in resumable segments (tga_keras.jobs.upscale_job), in-process through ``main``.

The input clips are written here with PyAV: 48x40 frames with a variable frame rate and a start
time that is not 0 (H.264 in .mp4 on a 1/90000 clock with an AAC track; FFV1 in .mkv, whose clock
is in milliseconds and whose frame count is only estimated, with a PCM track), so the
timestamps of every segment are exercised. The network is the untrained small preset (seeded:
every process builds the same weights). The one-segment runs (``--segment-frames 1000``) are the
references, made once per module.
"""

from __future__ import annotations

import json
import os
import re
import threading
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from tga_keras.cli.main import main

SMALL = ["--preset", "small", "--no-progress"]
H, W = 40, 48
TB = Fraction(1, 90000)
START_PTS = 9000  # the first frame at 0.1 s
GAPS = (3000, 3000, 6000, 3000, 4500)  # 1/30, 1/30, 1/15, 1/30, 1/20 s: a variable frame rate
ONE = ["--segment-frames", "1000"]  # one segment: the whole run
KIND_ARGS = {"": [], ".mkv": ["--lossless"], ".mp4": []}  # a PNG folder, FFV1, H.264
H264 = "libx264" in av.codecs_available


# ------------------------------------------------------------------------------ clips and outputs
def lr_frames(n: int) -> np.ndarray:
    """Smooth moving content: uint8 (n, H, W, 3)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    out = []
    for k in range(n):
        r = 128 + 100 * np.sin((x + 3 * k) / 9)
        g = 128 + 90 * np.cos((y - 2 * k) / 7)
        b = 40 + 3 * x + 1.5 * k
        out.append(np.stack([r, g, b], -1))
    return np.clip(np.stack(out), 0, 255).round().astype(np.uint8)


def clip_pts(n: int) -> list[int]:
    """The input frames' pts (1/90000 s): from START_PTS, with the GAPS in turn."""
    pts = [START_PTS]
    for k in range(n - 1):
        pts.append(pts[-1] + GAPS[k % len(GAPS)])
    return pts


def make_clip(path, n: int, *, audio: bool = True) -> str:
    """Write ``n`` frames with PyAV: ``.mp4`` H.264 + AAC, ``.mkv`` FFV1 + PCM (``audio``: a 440 Hz tone)."""
    path = str(path)
    mp4 = path.endswith(".mp4")
    if mp4 and not H264:
        pytest.skip("the FFmpeg build has no libx264")
    pts = clip_pts(n)
    with av.open(path, "w") as out:
        v = out.add_stream("libx264" if mp4 else "ffv1", rate=30)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.time_base = v.codec_context.time_base = TB
        if mp4:
            v.codec_context.options = {"crf": "10"}
        a = out.add_stream("aac" if mp4 else "pcm_s16le", rate=48000, layout="mono") if audio else None
        for p, f in zip(pts, lr_frames(n), strict=True):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = p, TB
            for pk in v.encode(frame):
                out.mux(pk)
        for pk in v.encode():
            out.mux(pk)
        if a is not None:
            first = START_PTS * 48000 // 90000  # the tone starts with the video
            samples = (pts[-1] + 3000) * 48000 // 90000 - first
            tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)
            fmt, size = ("fltp", 1024) if mp4 else ("s16", 1024)
            for k in range(0, samples, size):
                chunk = tone[k : k + size]
                chunk = chunk.astype(np.float32) if mp4 else (chunk * 32767).astype(np.int16)
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk[None]), format=fmt, layout="mono")
                af.sample_rate, af.pts = 48000, first + k
                for pk in a.encode(af):
                    out.mux(pk)
            for pk in a.encode():
                out.mux(pk)
    return path


def decoded(path) -> tuple[list[int], list[np.ndarray]]:
    """A video's frames as PyAV decodes them: (pts list, rgb24 arrays)."""
    with av.open(str(path)) as c:
        got = [(f.pts, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    return [p for p, _ in got], [f for _, f in got]


def video_times(path) -> list[Fraction]:
    """Frame times in seconds."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [f.pts * s.time_base for f in c.decode(s)]


def keyframe_pts(path) -> list[int]:
    with av.open(str(path)) as c:
        return [f.pts for f in c.decode(video=0) if f.key_frame]


def audio_packets(path) -> list[bytes] | None:
    """The first audio track's packets (``None``: no audio stream)."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def png_frames(folder) -> tuple[list[str], list[np.ndarray]]:
    names = sorted(os.listdir(folder))
    return names, [cv2.imread(os.path.join(folder, n), cv2.IMREAD_UNCHANGED) for n in names]


def assert_same_frames(got, want, ext: str) -> None:
    """PNG folders and FFV1: bit-identical frames (and names / pts, audio packets); H.264: count and pts."""
    if ext == "":
        names, frames = png_frames(got)
        want_names, want_frames = png_frames(want)
        assert names == want_names
        assert all(np.array_equal(a, b) for a, b in zip(frames, want_frames, strict=True))
        return
    pts, frames = decoded(got)
    want_pts, want_frames = decoded(want)
    assert pts == want_pts
    if ext == ".mkv":
        assert all(np.array_equal(a, b) for a, b in zip(frames, want_frames, strict=True))
    else:
        assert len(frames) == len(want_frames)
    audio, want_audio = audio_packets(got), audio_packets(want)
    assert (audio is None) == (want_audio is None)
    if want_audio is not None:
        assert len(audio) == len(want_audio) > 0
        assert audio == want_audio  # the source's packets, copied unchanged, the same ones


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def upscale(capsys, clip, out, *extra, small=SMALL):
    """``tga upscale CLIP OUT *extra`` in-process: (exit code, stdout, stderr)."""
    code = main(["upscale", str(clip), str(out), *map(str, extra), *small])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("tga upscale:")]


def work_of(out) -> str:
    return str(out) + ".segments"


def work_listing(out) -> list[str]:
    return sorted(os.listdir(work_of(out)))


def leftovers(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


def stop_after(monkeypatch, frames: int, exc: BaseException) -> None:
    """The upscaler raises ``exc`` when asked for its next SR frame after ``frames`` of them, counted
    over all segments of the run (in the middle of a segment unless ``frames`` ends one)."""
    from tga_keras.runtime.upscaler import Upscaler

    real = Upscaler.upscale_frames
    given = [0]

    def upscale_frames(self, *args, **kwargs):
        for sr in real(self, *args, **kwargs):
            if given[0] == frames:
                raise exc
            given[0] += 1
            yield sr

    monkeypatch.setattr(Upscaler, "upscale_frames", upscale_frames)


# ------------------------------------------------------------------------------ fixtures
N_MP4 = 11  # 3 + 3 + 3 + 2: the last segment is short
N_MKV = 12  # 4 x 3, while the Matroska container estimates more frames than there are


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {".mp4": make_clip(folder / "vfr.mp4", N_MP4), ".mkv": make_clip(folder / "vfr.mkv", N_MKV)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """``reference(clip, ext, *extra)``: the one-segment output of CLIP (made once per module)."""
    root = tmp_path_factory.mktemp("reference")
    made: dict[tuple, str] = {}

    def get(clip, ext: str, *extra) -> str:
        key = (str(clip), ext, tuple(map(str, extra)))
        if key not in made:
            out = str(root / f"ref{len(made)}{ext}")
            assert main(["upscale", str(clip), out, *KIND_ARGS[ext], *map(str, extra), *ONE, *SMALL]) == 0
            made[key] = out
        return made[key]

    return get


# ------------------------------------------------------------------------------ 1. segments == one run
@pytest.mark.parametrize("ext", ["", ".mkv", ".mp4"], ids=["png-folder", "ffv1-mkv", "h264-mp4"])
def test_segments_join_to_the_frames_of_one_run(clips, reference, tmp_path, capsys, ext):
    clip = clips[".mp4"]
    out = tmp_path / f"sr{ext}"
    code, text, err = upscale(capsys, clip, out, *KIND_ARGS[ext], "--segment-frames", 3)
    assert code == 0, err
    assert f"wrote {out}: {N_MP4} " in text and "earlier run" not in text
    assert not os.path.exists(work_of(out)) and leftovers(tmp_path) == []
    ref = reference(clip, ext)
    assert_same_frames(out, ref, ext)
    if ext == "":
        assert png_frames(out)[0] == [f"{k:06d}.png" for k in range(N_MP4)]
        return
    # the source's variable frame gaps are kept exactly (output time 0 is the file's start time)
    gaps = [Fraction(g, 90000) for g in np.diff(clip_pts(N_MP4))]
    times = video_times(out)
    if ext == ".mp4":
        assert list(np.diff(times)) == gaps
    else:  # Matroska stores milliseconds
        assert max(abs(float(d - g)) for d, g in zip(np.diff(times), gaps, strict=True)) <= 1e-3
    assert audio_packets(out) is not None
    if ext == ".mp4":
        # observed: the bytes differ (18539 vs 16687 for these 11 frames): each piece starts with an IDR
        # frame, so the GOPs and x264's rate control differ, and the decoded pixels differ slightly
        # (~41 dB PSNR between the two); frame count, pts and the audio packets are the same
        with open(out, "rb") as f, open(ref, "rb") as g:
            assert f.read() != g.read()
        pts = decoded(out)[0]
        assert keyframe_pts(out) == pts[::3]  # a keyframe at the start of every segment
        assert keyframe_pts(ref) == pts[:1]
        for a, b in zip(decoded(out)[1], decoded(ref)[1], strict=True):
            assert psnr(a, b) > 30


@pytest.mark.parametrize("ext", [".mp4", ".mkv"], ids=["h264-mp4", "h264-mkv"])
def test_segments_of_a_screen_recording_like_frame_rate(reference, tmp_path, capsys, monkeypatch, ext):
    """Gaps from 1/60 s to 1 s: each piece's encoder starts its decode clock from its own guess of a frame's
    length, so the pieces' dts overlap; the join must still give the frames and times of one run."""
    import tests.jobs.test_upscale_job as this

    monkeypatch.setattr(this, "GAPS", (1500, 90000, 3000, 1500, 45000))
    clip = make_clip(tmp_path / "screen.mp4", 16, audio=False)
    out = tmp_path / f"sr{ext}"
    code, _, err = upscale(capsys, clip, out, "--segment-frames", 4)
    assert code == 0, err
    ref = reference(clip, ext)
    assert decoded(out)[0] == decoded(ref)[0] and len(decoded(out)[0]) == 16


def test_a_stream_without_timestamps_is_timed_at_its_frame_rate(tmp_path, capsys):
    """A raw .h264 stream has no pts: the segments number its frames on one 1/rate grid."""
    if not H264:
        pytest.skip("the FFmpeg build has no libx264")
    raw = str(tmp_path / "clip.h264")
    with av.open(make_clip(tmp_path / "src.mp4", 10, audio=False)) as src, av.open(raw, "w", format="h264") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.size:
                packet.stream = stream
                dst.mux(packet)
    outs = {}
    for n in (3, 1000):
        outs[n] = tmp_path / f"sr{n}.mkv"
        code, _, err = upscale(capsys, raw, outs[n], "--lossless", "--segment-frames", n)
        assert code == 0, err
    times = video_times(outs[3])
    assert times == video_times(outs[1000]) and len(times) == 10
    assert len(set(np.diff(times))) == 1 and times == sorted(times)  # one constant step
    assert_same_frames(outs[3], outs[1000], ".mkv")


def test_overwrite_continues_a_work_folder_of_the_same_command(clips, reference, tmp_path, capsys, monkeypatch):
    """The same command again continues, --overwrite included: only another run's work folder is deleted."""
    clip = clips[".mp4"]
    out = tmp_path / "sr.mkv"
    with monkeypatch.context() as m:
        stop_after(m, 4, KeyboardInterrupt())
        code, _, _ = upscale(capsys, clip, out, "--lossless", "--segment-frames", 3, "--overwrite")
    assert code == 130 and "000000" in work_listing(out)
    code, text, err = upscale(capsys, clip, out, "--lossless", "--segment-frames", 3, "--overwrite")
    assert code == 0, err
    assert "3 frames were committed by an earlier run" in text  # segment 0 was reused, not made again
    assert_same_frames(out, reference(clip, ".mkv"), ".mkv")


def test_segments_of_a_matroska_input_with_pcm_audio(clips, reference, tmp_path, capsys):
    """FFV1 + PCM in .mkv (millisecond clock, a frame count the container over-estimates), to FFV1."""
    clip = clips[".mkv"]
    out = tmp_path / "sr.mkv"
    code, text, err = upscale(capsys, clip, out, "--lossless", "--segment-frames", 3)
    assert code == 0, err
    assert f"wrote {out}: {N_MKV} " in text and "pcm_s16le copied" in text
    assert_same_frames(out, reference(clip, ".mkv"), ".mkv")
    assert not os.path.exists(work_of(out)) and leftovers(tmp_path) == []


# ------------------------------------------------------------------------------ 2. --start, --frames-limit
@pytest.mark.parametrize("ext", ["", ".mkv"], ids=["png-folder", "ffv1-mkv"])
def test_start_and_frames_limit_with_segments(clips, reference, tmp_path, capsys, ext):
    clip = clips[".mp4"]
    out = tmp_path / f"sr{ext}"
    window = ["--start", 2, "--frames-limit", 7]
    code, text, err = upscale(capsys, clip, out, *KIND_ARGS[ext], *window, "--segment-frames", 3)
    assert code == 0, err
    assert f"wrote {out}: 7 " in text
    assert_same_frames(out, reference(clip, ext, *window), ext)
    if ext == "":
        assert png_frames(out)[0] == [f"{k:06d}.png" for k in range(2, 9)]
    else:  # the gaps of the source's frames 2..8 (where it starts: see the next test)
        gaps = [Fraction(g, 90000) for g in np.diff(clip_pts(N_MP4)[2:9])]
        assert max(abs(float(d - g)) for d, g in zip(np.diff(video_times(out)), gaps, strict=True)) <= 1e-3


def _first_times(path) -> tuple[Fraction, Fraction]:
    """(first video frame, first audio packet) in seconds, as the demuxer gives them."""
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        first_audio = min(p.pts * a.time_base for p in c.demux(a) if p.size and p.pts is not None)
    return video_times(path)[0], first_audio


def test_start_output_begins_at_zero_with_no_earlier_audio(clips, reference):
    """--start > 0: the video starts at 0 and no audio from before its first frame is copied (such audio
    would have negative times in .mp4, and in .mkv the muxer would shift everything, the video too)."""
    window = ["--start", 2, "--frames-limit", 7]
    for ext in (".mkv", ".mp4"):
        video_t0, audio_t0 = _first_times(reference(clips[".mp4"], ext, *window))
        assert abs(video_t0) <= Fraction(1, 1000), ext  # as without segments (tga-keras before them)
        assert audio_t0 >= 0, ext


# ------------------------------------------------------------------------------ 3. resume
@pytest.mark.parametrize("ext", ["", ".mkv"], ids=["png-folder", "ffv1-mkv"])
def test_interrupted_run_resumes_to_the_same_output(clips, reference, tmp_path, capsys, monkeypatch, ext):
    clip = clips[".mp4"]
    out = tmp_path / f"sr{ext}"
    args = [*KIND_ARGS[ext], "--segment-frames", 3]
    stop_after(monkeypatch, 7, KeyboardInterrupt())  # Ctrl-C at the 2nd frame of segment 2
    code, text, err = upscale(capsys, clip, out, *args)
    assert code == 130 and "tga upscale: interrupted" in err and "Traceback" not in err
    assert not os.path.lexists(out)
    assert work_listing(out) == ["000000", "000001", "job.json"]  # committed; no .tmp-* left
    for k in (0, 1):
        with open(os.path.join(work_of(out), f"{k:06d}", "segment.json")) as f:
            record = json.load(f)
        assert (record["index"], record["first_frame"], record["frames"], record["ended"]) == (k, 3 * k, 3, False)
    assert leftovers(tmp_path) == []

    monkeypatch.undo()
    code, text, err = upscale(capsys, clip, out, *args, small=["--preset", "small"])  # with the progress bar
    assert code == 0, err
    assert f"wrote {out}: {N_MP4} " in text and "6 frames were committed by an earlier run" in text
    # one bar over the whole job, starting at the frames committed before
    assert re.search(rf"(?<![\d/])6/{N_MP4}(?!\d)", err), err
    assert re.search(rf"(?<![\d/]){N_MP4}/{N_MP4}(?!\d)", err), err
    assert not re.search(rf"(?<![\d/])[0-5]/{N_MP4}(?!\d)", err), err
    assert not os.path.exists(work_of(out)) and leftovers(tmp_path) == []
    assert_same_frames(out, reference(clip, ext), ext)


def test_rerun_of_a_finished_job_is_refused_without_overwrite(clips, tmp_path, capsys):
    clip = clips[".mp4"]
    out = tmp_path / "sr"
    assert upscale(capsys, clip, out, "--frames-limit", 3, "--segment-frames", 3)[0] == 0
    code, _, err = upscale(capsys, clip, out, "--frames-limit", 3, "--segment-frames", 3)
    assert code == 2 and len(error_lines(err)) == 1 and "--overwrite" in err
    assert not os.path.exists(work_of(out))


# ------------------------------------------------------------------------------ 4. mistakes: exit 2
def _one_error(err: str, *words: str) -> None:
    lines = error_lines(err)
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], lines[0]


def test_segment_frames_must_be_positive(clips, tmp_path, capsys):
    out = tmp_path / "sr.mkv"
    for bad in ("0", "-3"):
        code, _, err = upscale(capsys, clips[".mp4"], out, "--lossless", "--segment-frames", bad)
        assert code == 2
        _one_error(err, "--segment-frames", ">= 1")
    assert os.listdir(tmp_path) == []


def test_segment_frames_must_be_a_multiple_of_the_batch_size(clips, tmp_path, capsys):
    out = tmp_path / "sr.mkv"
    code, _, err = upscale(capsys, clips[".mp4"], out, "--lossless", "--segment-frames", 5, "--batch-size", 2)
    assert code == 2
    _one_error(err, "--segment-frames (5)", "multiple of --batch-size (2)")
    assert os.listdir(tmp_path) == []


def _tree(folder) -> dict[str, bytes]:
    """Every file under ``folder``: relative path -> bytes."""
    out = {}
    for d, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, folder)] = fh.read()
    return out


def test_work_folder_of_another_run_is_refused_and_kept(clips, tmp_path, capsys, monkeypatch):
    clip = str(tmp_path / "in.mp4")
    with open(clips[".mp4"], "rb") as f, open(clip, "wb") as g:
        g.write(f.read())
    out = tmp_path / "sr.mp4"
    stop_after(monkeypatch, 4, KeyboardInterrupt())
    assert upscale(capsys, clip, out, "--segment-frames", 3)[0] == 130
    monkeypatch.undo()
    before = _tree(work_of(out))
    assert sorted({p.split(os.sep)[0] for p in before}) == ["000000", "job.json"]

    def touch():
        st = os.stat(clip)
        os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))

    for change, extra, what in (
        ("--crf", ["--crf", 30, "--segment-frames", 3], "crf"),
        ("--segment-frames", ["--segment-frames", 6], "segment_frames"),
        ("--frames-limit", ["--frames-limit", 5, "--segment-frames", 3], "frames_limit"),
        ("touched input", ["--segment-frames", 3], "mtime_ns"),
    ):
        if change == "touched input":
            touch()
        code, _, err = upscale(capsys, clip, out, *extra)
        assert code == 2, (change, err)
        _one_error(err, "--overwrite", "another run", what)
        assert _tree(work_of(out)) == before, change  # nothing committed is lost
        assert not os.path.lexists(out)

    code, text, err = upscale(capsys, clip, out, "--segment-frames", 3, "--overwrite")
    assert code == 0, err
    assert f"wrote {out}: {N_MP4} " in text and "earlier run" not in text  # started over
    assert not os.path.exists(work_of(out)) and leftovers(tmp_path) == []
    assert len(decoded(out)[0]) == N_MP4


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_output_folder_not_writable(clips, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        for out in (locked / "sr.mkv", locked / "sub" / "sr.mkv"):
            code, _, err = upscale(capsys, clips[".mp4"], out, "--lossless", "--segment-frames", 3)
            assert code == 2
            _one_error(err)
            assert os.listdir(locked) == []
    finally:
        locked.chmod(0o700)


def test_output_folder_not_writable_as_the_library_sees_it(clips, tmp_path, capsys, monkeypatch):
    """The same check as root (who may write anywhere): ``os.access`` says the folder is read-only."""
    locked = str(tmp_path / "locked")
    os.mkdir(locked)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == locked else real(p, mode, **kw))
    code, _, err = upscale(capsys, clips[".mp4"], os.path.join(locked, "sr.mkv"), "--lossless")
    assert code == 2
    _one_error(err, "not writable", locked)
    assert os.listdir(locked) == []


# ------------------------------------------------------------------------------ 5. nothing half-written
def test_failure_inside_a_segment_leaves_only_committed_segments(clips, reference, tmp_path, capsys, monkeypatch):
    clip = clips[".mp4"]
    out = tmp_path / "sr.mkv"
    args = ["--lossless", "--segment-frames", 3]
    stop_after(monkeypatch, 4, RuntimeError("boom"))  # in the middle of segment 1
    code, _, err = upscale(capsys, clip, out, *args)
    assert code == 1 and "internal error: RuntimeError: boom" in err and "Traceback" not in err
    assert not os.path.lexists(out) and leftovers(tmp_path) == []
    assert work_listing(out) == ["000000", "job.json"]
    assert sorted(os.listdir(os.path.join(work_of(out), "000000"))) == ["piece.mkv", "segment.json"]

    monkeypatch.undo()
    code, text, err = upscale(capsys, clip, out, *args)
    assert code == 0, err
    assert "3 frames were committed by an earlier run" in text
    assert_same_frames(out, reference(clip, ".mkv"), ".mkv")


def test_a_writer_error_stops_the_inference_thread_before_the_writer_closes(clips, tmp_path, capsys, monkeypatch):
    """Decoding and inference run in a thread (jobs.prefetch): an error of the encoding side must stop it
    at once, not when the traceback is freed (in tga batch, the next input's thread would share the model)."""
    from tga_keras.jobs import upscale_job

    writer = upscale_job._SegmentWriter
    real_write, real_close = writer.write, writer.close
    alive_at_close = []

    def write(self, rgb_u8):
        if self.count == 2:
            raise OSError(28, "No space left on device")
        real_write(self, rgb_u8)

    def close(self):
        alive_at_close.append(any(t.name == "tga-prefetch" for t in threading.enumerate()))
        real_close(self)

    monkeypatch.setattr(writer, "write", write)
    monkeypatch.setattr(writer, "close", close)
    code, _, err = upscale(capsys, clips[".mp4"], tmp_path / "sr.mkv", "--lossless", "--segment-frames", 10)
    assert code != 0 and "No space left on device" in err  # at frame 2 of 10: the thread has frames left
    assert alive_at_close == [False]


def test_failure_in_the_first_segment_leaves_nothing(clips, tmp_path, capsys, monkeypatch):
    out = tmp_path / "sr"
    stop_after(monkeypatch, 1, RuntimeError("boom"))
    code, _, err = upscale(capsys, clips[".mp4"], out, "--segment-frames", 3)
    assert code == 1 and "RuntimeError: boom" in err
    assert os.listdir(tmp_path) == []  # no OUTPUT, no work folder (nothing to continue from)
