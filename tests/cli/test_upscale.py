"""``tga upscale`` and ``tga demo`` in-process: outputs, atomic writes, and exit 2 for every user mistake."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from tga_keras.assets import clip_path
from tga_keras.cli.main import main
from tga_keras.io.images import read_image
from tga_keras.io.video import probe, read_video

CLIP = clip_path()
SMALL = ["--preset", "small", "--no-progress"]


def _write_pngs(folder, frames, names):
    os.makedirs(folder, exist_ok=True)
    for f, name in zip(frames, names, strict=True):
        assert cv2.imwrite(os.path.join(folder, name), f[:, :, ::-1])


@pytest.fixture(scope="module")
def lr_frames():
    """8 uint8 RGB 40x48 crops of the bundled clip."""
    return read_video(CLIP, 0, 8)[:, 40:80, 60:108]


def _leftovers(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


def test_help(capsys):
    for cmd in ("upscale", "demo"):
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--frames-limit" in out and "--overlap" in out and "--weights" in out


def test_bundled_clip_to_folder_and_mp4(tmp_path, capsys):
    out_dir = tmp_path / "frames"
    assert main(["upscale", CLIP, str(out_dir), "--start", "1", "--frames-limit", "2", *SMALL]) == 0
    err = capsys.readouterr().err
    assert "UNTRAINED" in err
    assert sorted(os.listdir(out_dir)) == ["000001.png", "000002.png"]
    sr = read_image(out_dir / "000001.png")
    assert sr.shape == (576, 704, 3)
    # an untrained TGA is bicubic (its residual is ~1e-11): checks colour order and frame alignment
    from tga_keras.preprocess.resize import imresize
    from tga_keras.runtime.upscaler import to_output

    lr = read_video(CLIP, 1, 1)[0].astype(np.float32) / 255
    want = to_output(imresize(lr, 4), "uint8").astype(int)
    assert np.abs((sr * 255).round().astype(int) - want).max() <= 1

    video = tmp_path / "sr.mp4"
    assert main(["upscale", CLIP, str(video), "--frames-limit", "2", "--fps", "10", *SMALL]) == 0
    info = probe(video)
    assert (info.num_frames, info.height, info.width, round(info.fps)) == (2, 576, 704, 10)
    assert _leftovers(tmp_path) == []


def test_folder_input_keeps_names_tiles_and_overwrites(tmp_path, lr_frames, capsys):
    src = tmp_path / "in"
    names = [f"f{i}.png" for i in range(1, 9)]  # natural order: f2 before f10
    _write_pngs(src, lr_frames, names)
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    args = ["upscale", str(src), str(out), "--start", "5", "--tile", "24", "--overlap", "4", *SMALL]
    assert main(args) == 2  # exists, no --overwrite
    assert "--overwrite" in capsys.readouterr().err and (out / "stale.txt").exists()
    assert main(args + ["--overwrite"]) == 0
    assert sorted(os.listdir(out)) == ["f6.png", "f7.png", "f8.png"]
    assert read_image(out / "f6.png").shape == (160, 192, 3)
    avi = tmp_path / "out.avi"
    assert main(["upscale", str(src), str(avi), "--frames-limit", "3", *SMALL]) == 0
    assert probe(avi).num_frames == 3
    assert _leftovers(tmp_path) == []


def test_keras_weights(tmp_path, lr_frames, capsys):
    from tga_keras.models.loading import load_tga

    weights = tmp_path / "small.keras"
    load_tga(None, "small").save(weights)
    src = tmp_path / "in"
    _write_pngs(src, lr_frames[:3], ["a.png", "b.png", "c.png"])
    assert main(["upscale", str(src), str(tmp_path / "out"), "--weights", str(weights), "--no-progress"]) == 0
    assert "UNTRAINED" not in capsys.readouterr().err
    assert len(os.listdir(tmp_path / "out")) == 3
    code = main(["upscale", str(src), str(tmp_path / "out2"), "--weights", str(weights), "--preset", "official"])
    assert code == 2 and "not the 'official' preset" in capsys.readouterr().err


def _case(tmp_path, name, lr_frames):
    """(argv, expected message) of one user mistake, its files created in ``tmp_path``."""
    src = tmp_path / "in"
    _write_pngs(src, lr_frames[:4], [f"{i}.png" for i in range(4)])
    out = str(tmp_path / "out")
    if name == "missing input":
        return [str(tmp_path / "nope.mp4"), out], "not found"
    if name == "zero-byte video":
        (tmp_path / "empty.mp4").write_bytes(b"")
        return [str(tmp_path / "empty.mp4"), out], "zero-byte"
    if name == "garbage video":
        (tmp_path / "bad.mp4").write_bytes(os.urandom(2000))
        return [str(tmp_path / "bad.mp4"), out], "video"
    if name == "unsupported output":
        return [str(src), str(tmp_path / "out.gif")], "unsupported output"
    if name == "missing weights":
        return [str(src), out, "--weights", str(tmp_path / "w.keras")], "weights file not found"
    if name == "weights not a keras model":
        (tmp_path / "w.keras").write_bytes(b"junk")
        return [str(src), out, "--weights", str(tmp_path / "w.keras")], "not a Keras model"
    if name == "weights not a checkpoint":
        pytest.importorskip("torch")
        (tmp_path / "w.pth").write_bytes(b"junk" * 10)
        return [str(src), out, "--weights", str(tmp_path / "w.pth")], "not a readable PyTorch checkpoint"
    if name == "cannot tell the model format":
        (tmp_path / "w.bin").write_bytes(b"junk")
        return [str(src), out, "--weights", str(tmp_path / "w.bin")], "cannot tell the model format"
    if name == "empty folder":
        (tmp_path / "empty").mkdir()
        return [str(tmp_path / "empty"), out], "no image files"
    if name == "frames of different sizes":
        _write_pngs(src, [lr_frames[0, :30]], ["9.png"])
        return [str(src), out], "differ in size"
    if name == "frames too small":
        _write_pngs(tmp_path / "tiny", [lr_frames[0, :2, :2]] * 3, ["0.png", "1.png", "2.png"])
        return [str(tmp_path / "tiny"), out], "at least 3x3"
    if name == "start past the end":
        return [str(src), out, "--start", "4"], "past the end"
    if name == "tile too small for overlap":
        return [str(src), out, "--tile", "16", "--overlap", "8"], "--tile"
    if name == "output is input":
        return [str(src), str(src), "--overwrite"], "OUTPUT is the INPUT"
    raise AssertionError(name)


ERRORS = [
    "missing input",
    "zero-byte video",
    "garbage video",
    "unsupported output",
    "missing weights",
    "weights not a keras model",
    "weights not a checkpoint",
    "cannot tell the model format",
    "empty folder",
    "frames of different sizes",
    "frames too small",
    "start past the end",
    "tile too small for overlap",
    "output is input",
]


@pytest.mark.parametrize("name", ERRORS)
def test_user_mistakes_exit_2_without_output(tmp_path, lr_frames, capsys, name):
    argv, message = _case(tmp_path, name, lr_frames)
    before = sorted(os.listdir(tmp_path))
    assert main(["upscale", *argv, *SMALL]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == before  # nothing written, no temporary left behind
    if name == "output is input":
        assert len(os.listdir(tmp_path / "in")) == 4


def test_failure_mid_stream_leaves_nothing(tmp_path, lr_frames, capsys):
    src = tmp_path / "in"
    _write_pngs(src, lr_frames[:7], [f"{i}.png" for i in range(7)])
    data = (src / "5.png").read_bytes()
    (src / "5.png").write_bytes(data[: len(data) // 2])  # the header (and size) survive, the pixels do not
    for out in ("out", "out.mp4"):
        assert main(["upscale", str(src), str(tmp_path / out), *SMALL]) == 2
        assert "5.png" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["in"]


def test_demo_small(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out), "--preset", "small", "--frames", "2", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "mean" in text and "untrained" in text and "bicubic" in text
    from tga_keras.evaluation.pictures import have_matplotlib

    plot = ["psnr.png"] if have_matplotlib() else []
    assert sorted(os.listdir(out)) == sorted(
        ["attention_001.png", "bicubic_vs_tga.mp4", "comparison_001.png", "tga.mp4", "tga_000.png", "tga_001.png"]
        + plot
    )
    # the whole HR frame (x2) | LR nearest | bicubic | TGA | HR: a 72x72 crop enlarged x4
    assert read_image(out / "comparison_001.png").shape == (288, 352 + 4 * 288 + 4 * 4, 3)
    assert read_image(out / "attention_001.png").shape[1] == 3 * 352 + 2 * 4
    for video, size in (("tga.mp4", (144, 176)), ("bicubic_vs_tga.mp4", (288, 2 * 352 + 4))):
        info = probe(out / video)
        assert (info.num_frames, info.height, info.width) == (2, *size)
    for name in ("tga.mp4", "bicubic_vs_tga.mp4", "comparison_001.png", "attention_001.png", *plot):
        assert name in text


def test_tile_smaller_than_the_default_margins_is_a_usage_error(tmp_path, lr_frames, capsys):
    """The official network's default overlap is 25 LR pixels: a 32-pixel tile cannot hold it."""
    src = tmp_path / "lr"
    _write_pngs(src, lr_frames[:1], ["0.png"])  # 40x48: tiles of 32 still split it
    out = tmp_path / "o.mp4"
    assert main(["upscale", str(src), str(out), "--tile", "32", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "overlap (25" in err and "--overlap" in err and "Traceback" not in err
    assert not out.exists()
    # with margins that fit, the same tile works
    assert main(["upscale", str(src), str(out), "--tile", "32", "--overlap", "8", "--no-progress"]) == 0


def test_truncated_video_says_how_many_frames_were_decoded(tmp_path, lr_frames, capsys):
    """A damaged file whose container lists more frames than decode: the frames that decode are
    written, and a note says how many of the listed ones were missing (no silent short output)."""
    whole = tmp_path / "whole.avi"
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter.fourcc(*"MJPG"), 10, (48, 40))
    for frame in lr_frames:
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()
    data = whole.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])  # the header still lists 8 frames

    assert main(["upscale", str(whole), str(tmp_path / "a"), *SMALL]) == 0
    assert "could be decoded" not in capsys.readouterr().err
    assert main(["upscale", str(cut), str(tmp_path / "b"), *SMALL]) == 0
    written = len(os.listdir(tmp_path / "b"))
    assert 0 < written < len(lr_frames)
    err = capsys.readouterr().err
    assert f"expected about {len(lr_frames)} frames (the container's count from --start on), but only {written}" in err
    # with --frames-limit: the expected count is the limit, and the note says so
    assert main(["upscale", str(cut), str(tmp_path / "c"), "--frames-limit", str(written + 1), *SMALL]) == 0
    assert len(os.listdir(tmp_path / "c")) == written
    err = capsys.readouterr().err
    cap = f"expected about {written + 1} frames (the container's count from --start on, capped by --frames-limit)"
    assert f"{cap}, but only {written} could be decoded" in err
    assert main(["upscale", str(cut), str(tmp_path / "d"), "--frames-limit", str(written), *SMALL]) == 0
    assert "could be decoded" not in capsys.readouterr().err  # the limit was reached: nothing missing
    # --compare's default frame is the middle of the frames that decoded, not of the listed count
    assert written <= len(lr_frames) // 2
    args = ["upscale", str(cut), str(tmp_path / "e"), "--compare", str(tmp_path / "e.png"), *SMALL]
    assert main(args) == 0
    assert (tmp_path / "e.png").exists() and f"frame {written // 2}" in capsys.readouterr().out
