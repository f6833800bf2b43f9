"""`tga evaluate`: the official figures on a Vimeo-like tree, layouts, errors."""
import json

import cv2
import numpy as np
import pytest

from tga_keras.cli import main


@pytest.fixture(scope="module")
def vimeo_root(tmp_path_factory, fixtures_dir):
    """A one-septuplet Vimeo-90K test tree holding the 7 real frames of the official ops fixture."""
    root = tmp_path_factory.mktemp("vimeo")
    hr = np.load(fixtures_dir / "official_ops_carphone.npz")["hr"]
    seq = root / "sequences" / "00001" / "0001"
    seq.mkdir(parents=True)
    for i, frame in enumerate(hr):
        u8 = np.round(frame * 255).astype(np.uint8)
        cv2.imwrite(str(seq / f"im{i + 1}.png"), u8[..., ::-1])
    (root / "sep_testlist.txt").write_text("00001/0001\n")
    (root / "sep_trainlist.txt").write_text("00001/0001\n")
    return root


def test_bicubic_baseline_matches_official_metrics(vimeo_root, fixtures_dir, tmp_path, capsys):
    ref = np.load(fixtures_dir / "official_ops_carphone.npz")
    out = tmp_path / "r.json"
    argv = ["evaluate", str(vimeo_root), "--preset", "small", "--protocol", "plain", "--json", str(out),
            "--no-progress"]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    seq = report["sequences"]["00001/0001"]
    assert seq["frames"] == 1  # Vimeo test: the centre frame only
    assert abs(seq["bicubic_psnr"] - float(ref["psnr_y"])) < 1e-4
    assert abs(seq["bicubic_ssim"] - float(ref["ssim_y"])) < 1e-5
    assert "average" in capsys.readouterr().out
    assert main(argv) == 2  # the JSON exists now
    assert "--overwrite" in capsys.readouterr().err


def test_official_protocol_on_a_video(tmp_path, capsys):
    from tga_keras.commands.demo import clip_path

    assert main(["evaluate", clip_path(), "--preset", "small", "--max-frames", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "protocol official" in out and "carphone_pristine" in out


@pytest.mark.parametrize("argv,match", [
    (["evaluate", "/nonexistent"], "no such file"),
    (["evaluate", ".", "--max-frames", "0"], "--max-frames"),
    (["evaluate", ".", "--degradation", "bi"], "--protocol official applies"),
    (["evaluate", ".", "--weights", "/nonexistent.keras"], "not found"),
])
def test_usage_errors(argv, match, capsys):
    assert main(argv) == 2
    assert match in capsys.readouterr().err
