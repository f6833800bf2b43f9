"""Sub-pixel pans of still images: ``tga_keras.data.pans`` and ``python -m training.tools pans``.

Covers determinism, geometry, layout and errors.
"""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest

from tga_keras.data.fakes import random_frames
from tga_keras.data.pans import MANIFEST, MIN_LR_PHASE, draw_velocity, required_size, write_pans
from tga_keras.data.synthetic import motion_frame
from tga_keras.io.images import list_images, read_image
from training.prepare.pans import main

BOX = (48, 64)
FRAMES = 5


@pytest.fixture(scope="module")
def stills(tmp_path_factory):
    """Two smooth 'photographs' large enough for a 48x64 pan of 5 frames at up to 6 px/frame, one too small."""
    root = tmp_path_factory.mktemp("stills")
    for name, (h, w), seed in (("a", (96, 120), 0), ("b", (90, 100), 1), ("tiny", (40, 40), 2)):
        cv2.imwrite(str(root / f"{name}.png"), random_frames(1, h, w, seed=seed)[0][..., ::-1])
    return root


def _pans(stills, out, **kw):
    kw = {"frames": FRAMES, "size": BOX, "seed": 0, "log": io.StringIO()} | kw
    return write_pans(stills, out, **kw)


def test_layout_sizes_and_manifest(stills, tmp_path):
    out = tmp_path / "pans"
    manifest = _pans(stills, out)
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", MANIFEST]  # 'tiny' skipped
    assert len(manifest["skipped"]) == 1 and "tiny.png (40x40)" in manifest["skipped"][0]
    assert json.loads((out / MANIFEST).read_text()) == manifest
    for name in ("a", "b"):
        files = list_images(str(out / name))
        assert [f.rsplit("/", 1)[1] for f in files] == [f"{t:05d}.png" for t in range(FRAMES)]
        assert all(read_image(f).shape == BOX + (3,) for f in files)
        seq = manifest["sequences"][name]
        assert 1.0 <= seq["speed"] <= 6.0
        lr = np.array(seq["lr_velocity"])
        assert np.allclose(lr * 4, seq["velocity"])
        assert np.any(np.abs(lr - np.round(lr)) >= MIN_LR_PHASE)
        # the reference (centre) frame is the centre crop itself, not resampled
        top, left, h, w = seq["box"]
        still = cv2.imread(seq["source"])[..., ::-1]
        centre = cv2.imread(str(out / name / f"{FRAMES // 2:05d}.png"))[..., ::-1]
        np.testing.assert_array_equal(centre, still[top : top + h, left : left + w])

    from tga_keras.evaluation.evaluator import open_sources

    sources, centre_only, _ = open_sources(str(out))  # what `tga evaluate OUT` reads
    assert not centre_only
    assert [(s.name, s.num_frames, s.size) for s in sources.sequences] == [("a", FRAMES, BOX), ("b", FRAMES, BOX)]


def test_deterministic_under_seed(stills, tmp_path):
    m1, m2 = _pans(stills, tmp_path / "1"), _pans(stills, tmp_path / "2")
    m3 = _pans(stills, tmp_path / "3", seed=1)
    assert m1["sequences"] == m2["sequences"]
    for t in range(FRAMES):
        a1 = (tmp_path / "1" / "a" / f"{t:05d}.png").read_bytes()
        assert a1 == (tmp_path / "2" / "a" / f"{t:05d}.png").read_bytes()
    assert m3["sequences"]["a"]["velocity"] != m1["sequences"]["a"]["velocity"]


def test_consecutive_frames_differ_by_the_velocity(stills, tmp_path):
    manifest = _pans(stills, tmp_path / "p")
    for name, seq in manifest["sequences"].items():
        v = np.array(seq["velocity"])
        frames = [read_image(str(tmp_path / "p" / name / f"{t:05d}.png")) for t in range(FRAMES)]
        m = int(np.ceil(np.abs(v).max())) + 4  # interior: away from what the shift brings in at the edges
        for t in range(FRAMES - 1):
            # frame t+1 is frame t moved by -v: shifting it back by the velocity gives frame t
            back = motion_frame(frames[t + 1], -v, 0.0, 1.0)
            err = np.abs(back - frames[t])[m:-m, m:-m].mean()
            wrong = np.abs(motion_frame(frames[t + 1], v, 0.0, 1.0) - frames[t])[m:-m, m:-m].mean()
            assert err < 1e-2, (name, t, err)
            assert wrong > 3 * err  # the test can tell the direction


def test_velocity_is_sub_pixel_in_lr_terms():
    for seed in range(200):
        v = draw_velocity(np.random.default_rng(seed), (3.9, 4.1), 4)  # ~1 LR px/frame: often redrawn
        lr = v / 4
        assert np.any(np.abs(lr - np.round(lr)) >= MIN_LR_PHASE)
        assert 3.9 <= np.hypot(*v) <= 4.1
    assert required_size((256, 256), 15, 6.0) == (256 + 2 * 45, 256 + 2 * 45)


def test_cli_and_refusals(stills, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [str(stills), str(out), "--frames", str(FRAMES), "--size", "48x64", "--max-speed", "3"]
    assert main(argv) == 0
    assert "wrote 2 pans of 5 frames (48x64)" in capsys.readouterr().out
    before = (out / MANIFEST).read_text()
    assert main(argv) == 2  # non-empty OUT_DIR
    err = capsys.readouterr().err
    assert "--overwrite" in err and err.count("\n") == 1
    assert (out / MANIFEST).read_text() == before
    assert main(argv + ["--seed", "5", "--overwrite"]) == 0
    assert json.loads((out / MANIFEST).read_text())["seed"] == 5
    assert not [p for p in tmp_path.iterdir() if p.name != "out"]  # no temporary left behind
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(stills), str(empty), "--frames", "3", "--size", "32x32"]) == 0  # an empty folder is fine
    capsys.readouterr()


@pytest.mark.parametrize(
    "extra,match",
    [
        (["--frames", "1"], "--frames"),
        (["--size", "48"], "--size"),
        (["--min-speed", "4", "--max-speed", "2"], "--min-speed"),
        (["--min-speed", "0"], "--min-speed"),
        (["--size", "200x200"], "no image is large enough"),
    ],
)
def test_bad_arguments_exit_2(stills, tmp_path, capsys, extra, match):
    assert main([str(stills), str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert match in err and err.startswith("python -m training.tools pans: error:")
    assert not (tmp_path / "o").exists()


def test_missing_input_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), str(tmp_path / "o")]) == 2
    assert "no such image or folder" in capsys.readouterr().err
    (tmp_path / "none").mkdir()
    assert main([str(tmp_path / "none"), str(tmp_path / "o")]) == 2
    assert "no images" in capsys.readouterr().err


def test_zooming_pans(stills, tmp_path):
    """--max-zoom: frame t samples the image at centre + (p - centre) * z ** (t - c), then shifts by (t - c) * v."""
    manifest = _pans(stills, tmp_path / "z", max_zoom=1.05)
    assert manifest["max_zoom"] == 1.05
    for name, seq in manifest["sequences"].items():
        z, v = seq["zoom"], np.array(seq["velocity"])
        assert 1 / 1.05 <= z <= 1.05 and abs(np.log(z)) > 1e-4
        image = read_image(str(stills / f"{name}.png"))
        H, W = image.shape[:2]
        top, left, h, w = seq["box"]
        cx, cy = (W - 1) / 2, (H - 1) / 2
        for t in (0, FRAMES - 1):
            k = z ** (t - FRAMES // 2)
            d = (t - FRAMES // 2) * v
            # inverse map: output pixel q (image coords) <- centre + (q - centre) * k + d
            M = np.array([[k, 0, cx * (1 - k) + d[0]], [0, k, cy * (1 - k) + d[1]]])
            want = cv2.warpAffine(image, M, (W, H), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
            want = want[top : top + h, left : left + w]
            got = read_image(str(tmp_path / "z" / name / f"{t:05d}.png"))
            assert np.abs(got - want).mean() < 4e-3, (name, t)  # 8-bit rounding; measured ~1e-3
            if t == 0:  # the zoom is really there: the same pan without it is far off
                M0 = np.array([[1.0, 0, d[0]], [0, 1.0, d[1]]])
                plain = cv2.warpAffine(image, M0, (W, H), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
                assert np.abs(got - plain[top : top + h, left : left + w]).mean() > 5 * np.abs(got - want).mean()
    # the image must hold the zoomed box too: 48x64 at 1.05 ** 2 grows to 53x71
    assert required_size(BOX, FRAMES, 6.0, 1.05) == (53 + 2 * 15, 71 + 2 * 15)
    with pytest.raises(ValueError, match="max_zoom"):
        _pans(stills, tmp_path / "bad", max_zoom=0.9)
