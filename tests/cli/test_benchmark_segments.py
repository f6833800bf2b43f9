"""``tga benchmark --segments`` runs both jobs, checks that their outputs agree, writes its JSON (no timing checked)."""

from __future__ import annotations

import json

import pytest

from tga_keras.cli.main import main


@pytest.mark.slow
def test_segments_benchmark_writes_both_runs(tmp_path, capsys):
    out = tmp_path / "segments.json"
    assert main(["benchmark", "--segments", "--frames", "9", "--segment-frames", "4", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["identical"] is True and data["benchmark"] == "segments"
    assert [(r["run"], r["segment_frames"], r["frames"]) for r in data["rows"]] == [
        ("segmented", 4, 9),
        ("one segment", 9, 9),
    ]
    assert "outputs decode identically: True" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--frames", "4"], ["--frames", "20", "--segment-frames", "20"]])
def test_segments_benchmark_refuses_a_clip_it_cannot_split(argv, capsys):
    assert main(["benchmark", "--segments", *argv]) == 2
    assert "must be" in capsys.readouterr().err
