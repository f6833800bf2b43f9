"""One video layer (tga_keras.io.video): ``tga evaluate`` / the data pipelines and ``tga upscale`` decode
the same pixels, with the stream's own colour matrix and at full precision over 8 bits.

The clips are made here with PyAV: flat colours (one per frame, so 4:2:0 chroma subsampling loses
nothing), tagged BT.709 limited range, encoded losslessly (FFV1) in 10 bits (yuv420p10le) and 8 bits.
"""

from __future__ import annotations

import sys

import av  # a dependency of tga-keras: never skipped
import numpy as np
import pytest

from tga_keras.data.sources import VideoFiles
from tga_keras.io import video
from tga_keras.jobs.source import open_source

H, W = 32, 48
COLOURS = np.array([(0.8, 0.2, 0.3), (0.1, 0.7, 0.4), (0.3, 0.35, 0.9), (0.5012, 0.5, 0.4987)])
"""Saturated colours: BT.601 and BT.709 decode them more than 2/255 apart."""
BT709, LIMITED = 1, 1


def _flat_clip(path, pix_fmt: str) -> None:
    """FFV1 (lossless) in ``pix_fmt``, one flat colour of COLOURS per frame, tagged BT.709 limited range."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("ffv1", rate=25)
        v.width, v.height, v.pix_fmt = W, H, pix_fmt
        cc = v.codec_context
        cc.color_range, cc.colorspace, cc.color_primaries, cc.color_trc = LIMITED, BT709, 1, 1
        for k, c in enumerate(COLOURS):
            if pix_fmt == "yuv420p":  # from 8-bit RGB: 16 -> 8 bits would be dithered (no longer flat)
                rgb = np.broadcast_to(np.round(c * 255).astype(np.uint8), (H, W, 3))
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            else:
                rgb16 = np.broadcast_to(np.round(c * 65535).astype(np.uint16), (H, W, 3))
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb16), format="rgb48le")
            frame = frame.reformat(format=pix_fmt, dst_colorspace=BT709, dst_color_range=LIMITED)
            frame.color_range, frame.colorspace = LIMITED, BT709
            frame.color_primaries, frame.color_trc = 1, 1
            frame.pts = k
            for pk in v.encode(frame):
                out.mux(pk)
        for pk in v.encode():
            out.mux(pk)


@pytest.fixture(scope="module", params=["yuv420p10le", "yuv420p"], ids=["10-bit", "8-bit"])
def clip(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("layer") / f"flat_{request.param}.mkv"
    _flat_clip(path, request.param)
    return path, request.param


def _upscale_frames(path) -> np.ndarray:
    """The frames ``tga upscale`` feeds the network, as float32 [0, 1]."""
    source = open_source(str(path), 0, None, 0)
    frames = list(source.frames)
    out = np.stack([f if f.dtype != np.uint8 else f / np.float32(255.0) for f in frames])
    return out.astype(np.float32)


def _pipeline_frames(path) -> np.ndarray:
    """The frames ``tga evaluate`` and the training pipelines read (tga_keras.data.sources.VideoFiles)."""
    seq = VideoFiles(path).sequences[0]
    streamed = VideoFiles(path, in_memory=False).sequences[0]
    frames = seq.read(range(seq.num_frames))
    np.testing.assert_array_equal(streamed.read(range(streamed.num_frames)), frames)
    np.testing.assert_array_equal(np.stack(list(streamed.iter_frames())), frames)
    return frames


def test_the_clip_is_what_the_test_says(clip):
    path, pix_fmt = clip
    info = video.probe(path)
    assert (info.pix_fmt, info.num_frames, info.height, info.width) == (pix_fmt, len(COLOURS), H, W)
    assert info.color.colorspace == BT709 and info.color.color_range == LIMITED
    assert info.high_bit_depth == (pix_fmt != "yuv420p")


def test_evaluate_and_upscale_read_the_same_pixels(clip):
    path, pix_fmt = clip
    pipeline, up = _pipeline_frames(path), _upscale_frames(path)
    assert pipeline.dtype == up.dtype == np.float32 and pipeline.shape == (len(COLOURS), H, W, 3)
    np.testing.assert_array_equal(pipeline, up)
    frames = video.read_video(path)
    assert frames.dtype == (np.float32 if pix_fmt != "yuv420p" else np.uint8)


def test_pixels_are_the_source_colours_with_the_tagged_matrix(clip):
    """Within 2/255 of the colours encoded: a BT.601 decode of these BT.709 frames is off by more."""
    path, pix_fmt = clip
    frames = _pipeline_frames(path)
    colours = COLOURS if pix_fmt != "yuv420p" else np.round(COLOURS * 255) / 255  # what was encoded
    want = np.broadcast_to(colours[:, None, None, :], frames.shape)
    assert np.abs(frames - want).max() <= 2 / 255 + 1e-6
    if pix_fmt != "yuv420p":  # full precision: not rounded to 8 bits
        assert np.abs(frames - want).max() < 0.5 / 255
        assert np.abs(frames * 255 - np.round(frames * 255)).max() > 0.05


def test_a_bt601_decode_would_fail_the_colour_check(clip):
    """The check above can fail: the same frames decoded with the BT.601 matrix are far off."""
    path, _ = clip
    with av.open(str(path)) as container:
        frames = [
            f.to_ndarray(format="rgb48le", src_colorspace=5, src_color_range=LIMITED) for f in container.decode(video=0)
        ]
    wrong = np.stack(frames).astype(np.float32) / 65535
    want = np.broadcast_to(COLOURS[:, None, None, :], wrong.shape)
    assert np.abs(wrong - want).max() > 4 / 255


def test_without_pyav_the_same_functions_read_with_opencv(clip, monkeypatch):
    path, pix_fmt = clip
    if pix_fmt != "yuv420p":
        pytest.skip("OpenCV decodes 8 bits")
    with_av = video.read_video(path)
    monkeypatch.setitem(sys.modules, "av", None)
    assert not video.av_available()
    info = video.probe(path)
    assert (info.num_frames, info.height, info.width, info.bit_depth) == (len(COLOURS), H, W, 8)
    frames = video.read_video(path)
    assert frames.dtype == np.uint8 and frames.shape == with_av.shape
    want = np.broadcast_to(np.round(COLOURS[:, None, None, :] * 255), frames.shape)
    assert np.abs(frames.astype(int) - want).max() <= 6  # OpenCV ignores the BT.709 tag: close, not exact


def test_read_video_spans_and_errors(clip, tmp_path):
    from tga_keras.errors import DatasetError, DatasetFileNotFoundError

    path, _ = clip
    every = video.read_video(path)
    np.testing.assert_array_equal(video.read_video(path, 1, 2), every[1:3])
    np.testing.assert_array_equal(video.read_video(path, 2), every[2:])
    with pytest.raises(DatasetError, match="only 2 decoded"):
        video.read_video(path, 2, 5)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(DatasetError, match="zero-byte"):
        video.read_video(empty)
    with pytest.raises(DatasetFileNotFoundError):
        video.probe(tmp_path / "missing.mp4")


def test_one_list_of_video_extensions():
    assert set(video.CONTAINERS) <= set(video.VIDEO_EXTENSIONS)
    assert set(video.OPENCV_FOURCCS) <= set(video.CONTAINERS)


def test_a_wide_video_in_memory_is_kept_in_16_bits_and_read_back_bit_identical(clip):
    path, pix_fmt = clip
    seq = VideoFiles(path).sequences[0]
    decoded = video.read_video(path)
    assert seq.frames.dtype == (np.uint16 if pix_fmt != "yuv420p" else np.uint8)
    assert seq.frames.nbytes == decoded.size * seq.frames.itemsize  # half of float32 over 8 bits
    expected = decoded if decoded.dtype == np.float32 else decoded / np.float32(255.0)
    np.testing.assert_array_equal(seq.read(range(seq.num_frames)), expected)
    np.testing.assert_array_equal(np.stack(list(seq.iter_frames())), expected)
