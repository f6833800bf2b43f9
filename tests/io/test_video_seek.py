"""Segments start mid-video by seeking (``iter_frames(first=, stamps=)``): the frames of a decode from the start."""

from __future__ import annotations

import numpy as np
import pytest

from tga_keras.assets import clip_path
from tga_keras.errors import DatasetError
from tga_keras.io import video


@pytest.fixture(scope="module")
def decoded():
    path = clip_path()  # H.264 with B-frames, several GOPs over its 120 frames
    return path, list(video.iter_frames(path)), video.frame_stamps(path)


@pytest.mark.parametrize("first", [1, 37, 59, 60, 118, 119])
def test_seeking_gives_the_frames_of_a_decode_from_the_start(decoded, first):
    path, frames, stamps = decoded
    assert len(stamps) == len(frames) and [f.pts for f in frames] == stamps
    got = list(video.iter_frames(path, first=first, stamps=stamps))
    assert len(got) == len(frames) - first
    for a, b in zip(got, frames[first:], strict=True):
        assert (a.pts, a.duration) == (b.pts, b.duration)
        np.testing.assert_array_equal(a.image, b.image)


def test_without_stamps_the_frames_before_first_are_skipped(decoded):
    path, frames, _ = decoded
    got = list(video.iter_frames(path, first=100))
    assert [f.pts for f in got] == [f.pts for f in frames[100:]]


def test_stamps_of_another_file_are_an_error_not_wrong_frames(decoded):
    path, _, stamps = decoded
    shifted = [None if s is None else s + 1 for s in stamps]  # no frame has these timestamps
    with pytest.raises(DatasetError, match="as when it was indexed"):
        list(video.iter_frames(path, first=50, stamps=shifted))


@pytest.fixture(scope="module")
def transport_stream(tmp_path_factory, decoded):
    """The same clip remuxed into MPEG-TS, whose demuxer lands after the time a seek asks for."""
    import av

    path, _, _ = decoded
    ts = str(tmp_path_factory.mktemp("ts") / "clip.ts")
    with av.open(path) as src, av.open(ts, "w") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return ts


@pytest.mark.parametrize("first", [20, 61, 110])
def test_seeking_an_mpeg_ts_stream(transport_stream, first):
    frames = list(video.iter_frames(transport_stream))
    stamps = video.frame_stamps(transport_stream)
    got = list(video.iter_frames(transport_stream, first=first, stamps=stamps))
    assert [f.pts for f in got] == [f.pts for f in frames[first:]]
    for a, b in zip(got, frames[first:], strict=True):
        np.testing.assert_array_equal(a.image, b.image)
