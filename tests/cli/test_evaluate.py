"""`tga evaluate`: the official figures on a Vimeo-like tree, layouts, errors, --temporal-ablation, --plot."""

import json

import cv2
import numpy as np
import pytest

from tga_keras.cli.main import main


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
    argv = [
        "evaluate",
        str(vimeo_root),
        "--preset",
        "small",
        "--protocol",
        "plain",
        "--json",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    seq = report["sequences"]["00001/0001"]
    assert seq["frames"] == 1  # Vimeo test: the centre frame only
    assert "static_psnr" not in seq and report["temporal_ablation"] is False
    # through PNG files, tga evaluate's own BD degradation and metrics: measured 4.8e-7 dB and 3.5e-9 apart
    assert abs(seq["bicubic_psnr"] - float(ref["psnr_y"])) < 2e-6
    assert abs(seq["bicubic_ssim"] - float(ref["ssim_y"])) < 2e-8
    assert "average" in capsys.readouterr().out
    assert main(argv) == 2  # the JSON exists now
    assert "--overwrite" in capsys.readouterr().err


def test_official_protocol_on_a_video(tmp_path, capsys):
    from tga_keras.assets import clip_path

    assert main(["evaluate", clip_path(), "--preset", "small", "--max-frames", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "protocol official" in out and "carphone_pristine" in out


def test_temporal_ablation_and_plot(tiny_weights, moving_and_still, tmp_path, capsys):
    report_path, plot = tmp_path / "r.json", tmp_path / "psnr.png"
    argv = [
        "evaluate",
        str(moving_and_still),
        "--weights",
        tiny_weights,
        "--max-frames",
        "3",
        "--temporal-ablation",
        "--json",
        str(report_path),
        "--plot",
        str(plot),
        "--no-progress",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "static PSNR / SSIM" in out and "gain dB" in out and "copies of the reference LR frame" in out
    report = json.loads(report_path.read_text())
    assert report["temporal_ablation"] is True
    rows = report["sequences"]
    for r in (*rows.values(), report["average"]):
        assert {"static_psnr", "static_ssim", "temporal_gain_db"} <= set(r)
        assert r["temporal_gain_db"] == pytest.approx(r["psnr"] - r["static_psnr"], abs=1e-9)
    assert report["average"]["temporal_gain_db"] == pytest.approx(
        np.mean([r["temporal_gain_db"] for r in rows.values()]), abs=1e-9
    )
    # a static clip: seven copies of the reference *is* the input, so the figures are the same
    assert rows["still"]["static_psnr"] == rows["still"]["psnr"]
    assert rows["still"]["static_ssim"] == rows["still"]["ssim"]
    assert rows["still"]["temporal_gain_db"] == 0.0
    # and its frames do not move; the moving clip's do
    assert rows["still"]["motion_lr_px"] == 0.0
    assert rows["moving"]["motion_lr_px"] > 0.05
    assert report["average"]["motion_lr_px"] == pytest.approx(
        np.mean([r["motion_lr_px"] for r in rows.values()]), abs=1e-9
    )
    moving_row = next(line for line in out.splitlines() if line.startswith("moving "))
    assert moving_row.split()[-1] == f"{rows['moving']['motion_lr_px']:.3f}"  # the table's last column
    # moving content: this model's output depends on the neighbours (measured gain 0.235 dB)
    assert abs(rows["moving"]["temporal_gain_db"]) > 0.05
    # not a do-nothing model: measured 12.88 dB against bicubic's 31.68
    assert abs(rows["moving"]["static_psnr"] - rows["moving"]["bicubic_psnr"]) > 5

    img = cv2.imread(str(plot))
    assert img is not None and img.ndim == 3 and min(img.shape[:2]) > 200
    assert img.std() > 5  # something is drawn
    before = plot.read_bytes()
    assert main(["evaluate", str(moving_and_still), "--preset", "small", "--plot", str(plot), "--no-progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert plot.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_plot_many_sequences_shows_means(tmp_path):
    from tga_keras.evaluation.pictures import write_psnr_plot

    rng = np.random.default_rng(0)
    per_seq = {
        f"seq{i}": {"psnr": list(30 + rng.normal(0, 1, 5)), "bicubic_psnr": list(27 + rng.normal(0, 1, 5))}
        for i in range(9)
    }
    frame_ids = {n: list(range(5)) for n in per_seq}
    path = tmp_path / "many.png"
    write_psnr_plot(str(path), per_seq, frame_ids, "many sequences")
    img = cv2.imread(str(path))
    assert img is not None and img.shape[0] < 600  # one panel of means, not nine


@pytest.mark.parametrize(
    "argv,match",
    [
        (["evaluate", "/nonexistent"], "no such file"),
        (["evaluate", ".", "--max-frames", "0"], "--max-frames"),
        (["evaluate", ".", "--degradation", "bi"], "--protocol official applies"),
        (["evaluate", ".", "--weights", "/nonexistent.keras"], "not found"),
        (["evaluate", ".", "--plot", "psnr.gif"], "must end in one of"),
        (["evaluate", ".", "--plot", "same.png", "--json", "same.png"], "the same file"),
        (["evaluate", ".", "--plot", "."], "is a folder"),
    ],
)
def test_usage_errors(argv, match, capsys):
    assert main(argv) == 2
    assert match in capsys.readouterr().err


def test_first_frame_evaluates_a_later_segment(tiny_weights, moving_and_still, tmp_path, capsys):
    report_path = tmp_path / "r.json"
    argv = ["evaluate", str(moving_and_still), "--weights", tiny_weights, "--no-progress"]
    assert main([*argv, "--first-frame", "4", "--max-frames", "2", "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["first_frame"] == 4 and report["max_frames"] == 2
    assert {name: r["frames"] for name, r in report["sequences"].items()} == {"moving": 2, "still": 2}
    capsys.readouterr()
    assert main([*argv, "--first-frame", "7"]) == 2  # the clips have 7 frames
    assert "no frames to evaluate from frame 7 on" in capsys.readouterr().err
    assert main([*argv, "--first-frame", "-1"]) == 2
    assert "--first-frame must be >= 0" in capsys.readouterr().err
