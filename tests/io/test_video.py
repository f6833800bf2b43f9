"""PyAV video reading and writing (tga_keras.io.video) and ``tga upscale``'s video outputs.

The clips are made here with PyAV: 8 frames of 48x64, a variable frame rate (explicit pts), a sine
tone as an AAC track, and full-range BT.709 colour tags. The network is the untrained small preset.
"""

from __future__ import annotations

import os
import sys
from fractions import Fraction

import av  # a dependency of tga-keras: never skipped
import cv2
import numpy as np
import pytest

from tga_keras.cli.main import main  # noqa: E402
from tga_keras.io import video  # noqa: E402

SMALL = ["--preset", "small", "--no-progress"]
H, W = 48, 64
PTS = [0, 1, 2, 4, 5, 7, 8, 9]  # in 1/30 s: a variable frame rate
TB = Fraction(1, 30)
FULL_709 = video.ColorInfo(color_range=2, colorspace=1, color_primaries=1, color_trc=1)
H264 = "libx264" in av.codecs_available


def _rgb_frames(n: int = 8) -> np.ndarray:
    """Smooth moving content: uint8 (n, H, W, 3)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    out = []
    for k in range(n):
        r = 128 + 100 * np.sin((x + 3 * k) / 9)
        g = 128 + 90 * np.cos((y - 2 * k) / 7)
        b = 40 + 3 * x + 1.5 * k
        out.append(np.stack([r, g, b], -1))
    return np.clip(np.stack(out), 0, 255).round().astype(np.uint8)


def _make_clip(
    path, *, codec="libx264", pix_fmt="yuv420p", color=FULL_709, audio=True, frames=None, raw=False, pts=PTS
):
    """Encode ``frames`` (uint8 RGB, or with ``raw`` arrays in ``pix_fmt`` as PyAV takes them) with PyAV."""
    frames = _rgb_frames(len(pts)) if frames is None else frames
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=30)
        v.width, v.height, v.pix_fmt = W, H, pix_fmt
        v.time_base = v.codec_context.time_base = TB
        cc = v.codec_context
        cc.color_range, cc.colorspace = color.color_range, color.colorspace
        cc.color_primaries, cc.color_trc = color.color_primaries, color.color_trc
        if codec == "libx264":
            cc.options = {"crf": "4"}
        a = out.add_stream("aac", rate=48000, layout="mono") if audio else None
        for p, f in zip(pts, frames, strict=True):
            if raw:
                frame = av.VideoFrame.from_ndarray(f, format=pix_fmt)
            else:
                frame = av.VideoFrame.from_ndarray(f, format="rgb24").reformat(
                    format=pix_fmt, dst_colorspace=1, dst_color_range=color.color_range
                )
            frame.color_range, frame.colorspace = color.color_range, color.colorspace
            frame.pts, frame.time_base = p, TB
            for pk in v.encode(frame):
                out.mux(pk)
        for pk in v.encode():
            out.mux(pk)
        if a is not None:
            t = np.arange(48000 * (pts[-1] + 1) // 30) / 48000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for k in range(0, tone.shape[1], 1024):
                af = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(tone[:, k : k + 1024]), format="fltp", layout="mono"
                )
                af.sample_rate, af.pts = 48000, k
                for pk in a.encode(af):
                    out.mux(pk)
            for pk in a.encode():
                out.mux(pk)
    return str(path)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """The VFR, full-range BT.709 clip with audio (H.264 in .mp4, or FFV1 in .mkv without libx264)."""
    folder = tmp_path_factory.mktemp("clip")
    if H264:
        return _make_clip(folder / "in.mp4")
    return _make_clip(folder / "in.mkv", codec="ffv1", pix_fmt="yuv420p")


def _times(path) -> list[Fraction]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [f.pts * s.time_base for f in c.decode(s)]


def _audio_packets(path) -> list[bytes]:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def _decode(path) -> np.ndarray:
    return np.stack([f.image for f in video.iter_frames(path)])


def _pngs(folder) -> np.ndarray:
    return np.stack([cv2.imread(str(folder / n))[:, :, ::-1] for n in sorted(os.listdir(folder))])


def _run(capsys, *argv):
    code = main(["upscale", *map(str, argv), *SMALL])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


# ------------------------------------------------------------------------------ reading
def test_probe_and_frames_keep_timestamps_audio_and_colour(clip):
    info = video.probe(clip)
    assert (info.width, info.height, info.bit_depth, info.high_bit_depth) == (W, H, 8, False)
    assert info.color == FULL_709 and info.audio is not None and info.audio.codec == "aac"
    assert info.fps == pytest.approx(8 / (10 / 30)) and info.rate == 30
    frames = list(video.iter_frames(clip))
    assert len(frames) == 8 and all(f.image.dtype == np.uint8 and f.image.shape == (H, W, 3) for f in frames)
    assert [f.pts * info.time_base for f in frames] == [p * TB for p in PTS]


def test_full_range_bt709_is_decoded_with_its_own_matrix_and_range(tmp_path):
    """YUV made here with BT.709 full-range arithmetic (not swscale) decodes back to the RGB it came from."""
    rgb = _rgb_frames(2).astype(np.float64)
    y = 0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]
    yuv = np.stack([y, (rgb[..., 2] - y) / 1.8556 + 128, (rgb[..., 0] - y) / 1.5748 + 128], 1)
    planes = np.clip(yuv.round(), 0, 255).astype(np.uint8)  # (n, 3, H, W): yuv444p
    path = _make_clip(
        tmp_path / "yuv.mkv", codec="ffv1", pix_fmt="yuv444p", frames=planes, raw=True, pts=[0, 1], audio=False
    )
    got = _decode(path).astype(int)
    assert np.abs(got - rgb.round()).max() <= 2
    # read as an untagged stream would be (limited range, BT.601), the colours are far off
    with av.open(path) as c:
        wrong = next(c.decode(video=0)).to_ndarray(format="rgb24", src_colorspace=5, src_color_range=1)
    assert np.abs(wrong.astype(int) - rgb[0].round()).max() > 15


def test_10_bit_source_is_read_as_float_without_truncation(tmp_path, capsys):
    ramp = (np.arange(W * H).reshape(H, W) * 1023 // (W * H - 1)).astype(np.uint16)  # 1024 levels
    rgb10 = np.stack([np.stack([ramp, ramp[::-1], ramp[:, ::-1]], -1)] * 3)  # (3, H, W, 3) RGB
    path = _make_clip(
        tmp_path / "ten.mkv", codec="ffv1", pix_fmt="gbrp10le", frames=rgb10, raw=True, pts=[0, 1, 2], audio=False
    )
    info = video.probe(path)
    assert (info.bit_depth, info.high_bit_depth) == (10, True)
    frames = _decode(path)
    assert frames.dtype == np.float32 and frames.shape == (3, H, W, 3)
    np.testing.assert_allclose(frames[0], rgb10[0] / 1023, atol=2e-4)  # 10-bit exact
    assert len(np.unique(frames[0, :, :, 1])) > 900  # not 256 levels
    if H264:  # the common case: 4:2:0 10-bit H.264
        path = _make_clip(tmp_path / "ten.mp4", pix_fmt="yuv420p10le", pts=[0, 1, 2], audio=False)
        frames = _decode(path)
        assert frames.dtype == np.float32 and not np.allclose(frames * 255, (frames * 255).round(), atol=1e-3)
    code, out, err = _run(capsys, path, tmp_path / "sr", "--frames-limit", "2")
    assert code == 0 and "10-bit" in err
    assert _pngs(tmp_path / "sr").shape == (2, 4 * H, 4 * W, 3)


# ------------------------------------------------------------------------------ tga upscale
def test_upscale_keeps_fps_timestamps_audio_and_colour(clip, tmp_path, capsys):
    out = tmp_path / "sr.mp4"
    code, text, err = _run(capsys, clip, out)
    assert code == 0, err
    info = video.probe(out)
    assert info.codec == ("h264" if H264 else "mpeg4") and (info.width, info.height) == (4 * W, 4 * H)
    assert _times(out) == _times(clip) == [p * TB for p in PTS]  # the variable frame rate, exactly
    assert info.fps == pytest.approx(video.probe(clip).fps)
    assert _audio_packets(out) == _audio_packets(clip) != []  # remuxed, byte for byte
    assert info.color == FULL_709
    assert "libx264 (crf 18), audio aac copied" in text or not H264
    # the RGB -> YUV conversion uses the tagged matrix and range: close to the PNG frames
    folder = tmp_path / "png"
    assert _run(capsys, clip, folder)[0] == 0
    assert np.abs(_decode(out).astype(int) - _pngs(folder)).mean() < 2.5
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == []


def test_lossless_mkv_is_bit_exact_with_the_png_frames(clip, tmp_path, capsys):
    mkv, folder = tmp_path / "sr.mkv", tmp_path / "png"
    code, text, err = _run(capsys, clip, mkv, "--lossless")
    assert code == 0, err
    assert _run(capsys, clip, folder)[0] == 0
    info = video.probe(mkv)
    assert info.codec == "ffv1" and info.pix_fmt == "bgr0" and "ffv1 (lossless)" in text
    np.testing.assert_array_equal(_decode(mkv), _pngs(folder))
    assert _audio_packets(mkv) == _audio_packets(clip)
    t_in, t_out = _times(clip), _times(mkv)  # Matroska counts milliseconds (and may shift the start)
    assert np.allclose(np.diff(np.array(t_out, float)), np.diff(np.array(t_in, float)), atol=1.01e-3)


@pytest.mark.skipif(not H264, reason="the FFmpeg build has no libx264")
def test_crf_sets_the_quality(clip, tmp_path, capsys):
    sizes = {}
    for crf in (8, 40):
        out = tmp_path / f"crf{crf}.mp4"
        code, text, err = _run(capsys, clip, out, "--crf", crf)
        assert code == 0 and f"crf {crf}" in text, err
        sizes[crf] = os.path.getsize(out)
    assert sizes[8] > 2 * sizes[40]


def test_segment_shifts_timestamps_and_cuts_the_audio(clip, tmp_path, capsys):
    out = tmp_path / "seg.mp4"
    assert _run(capsys, clip, out, "--start", "2", "--frames-limit", "4")[0] == 0
    assert _times(out) == [(p - PTS[2]) * TB for p in PTS[2:6]]  # starts at 0, same gaps
    full, seg = _audio_packets(clip), _audio_packets(out)
    assert 0 < len(seg) < len(full)
    i = full.index(seg[0])
    assert full[i : i + len(seg)] == seg  # a run of the source's packets, unchanged
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        starts = [p.pts * a.time_base for p in c.demux(a) if p.size]
    end = (PTS[5] - PTS[2] + 1) * TB
    assert min(starts) >= 0 and max(starts) < end


def test_a_late_starting_file_starts_at_zero_like_ffmpeg(clip, tmp_path, capsys):
    """MPEG-TS starts its clock late: the file's start becomes 0, video and audio moving together."""
    ts = tmp_path / "in.ts"
    with av.open(clip) as src, av.open(str(ts), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    t_in = _times(ts)
    with av.open(str(ts)) as c:
        a0 = min(p.pts * c.streams.audio[0].time_base for p in c.demux(audio=0) if p.pts is not None)
    start = video.probe(ts).start_time
    assert 0 < a0 == start < t_in[0]
    out = tmp_path / "sr.mkv"
    assert _run(capsys, ts, out)[0] == 0
    t_out = np.array(_times(out), float)
    np.testing.assert_allclose(t_out, np.array(t_in, float) - float(start), atol=1.01e-3)  # Matroska's ms
    with av.open(str(out)) as c:
        assert min(p.pts for p in c.demux(audio=0) if p.pts is not None) == 0


def test_avi_and_fps_override(clip, tmp_path, capsys):
    out = tmp_path / "sr.avi"
    code, text, err = _run(capsys, clip, out, "--fps", "10")
    assert code == 0, err
    info = video.probe(out)
    assert info.codec == "mjpeg" and info.fps == 10 and info.audio is None
    assert len(_decode(out)) == 8 and "--fps retimes" in err


BAD = [
    (["out.mp4", "--lossless"], "name the output .mkv"),
    (["out.mkv", "--lossless", "--crf", "10"], "exclude each other"),
    (["out.mkv", "--lossless", "--codec", "h264"], "leave out --codec"),
    (["out.mp4", "--codec", "mpeg4", "--crf", "20"], "constant-rate-factor"),
    (["out.avi", "--crf", "20"], "mjpeg has none"),
    (["out.mp4", "--codec", "nosuchcodec"], "no such video encoder"),
    (["out.mov", "--codec", "ffv1"], "cannot hold"),
    (["frames", "--crf", "20"], "is for a video OUTPUT"),
    (["frames", "--lossless"], "is for a video OUTPUT"),
]
if H264:
    BAD.append((["out.mp4", "--crf", "60"], "0..51"))


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_option_combinations_exit_2(clip, tmp_path, capsys, argv, message):
    code, _, err = _run(capsys, clip, tmp_path / argv[0], *argv[1:])
    assert code == 2 and message in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_help_explains_the_video_options(capsys):
    with pytest.raises(SystemExit):
        main(["upscale", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--codec NAME" in text and "--crf N" in text and "--lossless" in text and "FFV1" in text


def test_opencv_fallback_without_av(clip, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` raises ImportError
    assert not video.av_available()
    out = tmp_path / "sr.mp4"
    code, text, err = _run(capsys, clip, out)
    assert code == 0 and "mp4v" in text, err
    cap = cv2.VideoCapture(str(out))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = cap.read()
    cap.release()
    assert ok and n == 8 and frame.shape == (4 * H, 4 * W, 3)
    for argv, message in ((["o.mp4", "--crf", "20"], "needs PyAV"), (["o.mkv"], "needs PyAV")):
        code, _, err = _run(capsys, clip, tmp_path / argv[0], *argv[1:])
        assert code == 2 and message in err and "Traceback" not in err
