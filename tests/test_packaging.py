"""Packaging: the build requirement fits the metadata, the wheel holds what `tga` needs outside a checkout.

The full check (a fresh venv, ``pip install '.[cpu]'``, then ``tga --version`` / ``tga upscale`` of
the bundled clip from another folder) downloads TensorFlow and is done by hand (CONTRIBUTING.md);
here the wheel is built offline from a copy of the package sources with the setuptools installed.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.helpers.paths import REPO

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def test_build_requirement_supports_the_licence_metadata():
    project = PYPROJECT["project"]
    requires = PYPROJECT["build-system"]["requires"]
    setuptools = [r for r in requires if re.match(r"setuptools\b", r)]
    assert len(setuptools) == 1, requires
    m = re.search(r">=\s*([\d.]+)", setuptools[0])
    assert m, f"{setuptools[0]}: give a lower bound"
    if isinstance(project.get("license"), str) or "license-files" in project:
        # PEP 639 (an SPDX string licence, license-files) is read by setuptools 77 and later only
        assert _version(m.group(1)) >= (77,), setuptools[0]


def test_bundled_clip_is_package_data():
    from tga_keras.assets import clip_path

    clip = pathlib.Path(clip_path())
    assert clip.is_file()
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["tga_keras"]
    rel = clip.relative_to(REPO / "tga_keras").as_posix()
    assert any(pathlib.PurePosixPath(rel).match(p) for p in patterns), (rel, patterns)


@pytest.mark.parametrize("command", ["demo", "upscale", "evaluate"])
def test_missing_shipped_model_says_where_it_lives(command, tmp_path, capsys, monkeypatch):
    from tga_keras.cli.main import main

    monkeypatch.chdir(tmp_path)  # as after `pip install`, outside the checkout
    weights = ["--weights", "saved_models/tga_small_bd_x4/model.keras"]
    args = {
        "demo": ["demo", *weights],
        "upscale": ["upscale", str(REPO / "tga_keras/assets/carphone_pristine.mp4"), "out.mp4", *weights],
        "evaluate": ["evaluate", str(REPO / "tga_keras/assets/carphone_pristine.mp4"), *weights],
    }[command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "not found: saved_models/tga_small_bd_x4/model.keras" in err
    assert "git checkout, not in the pip package" in err
    assert "Traceback" not in err


def test_wheel_holds_the_package_the_clip_and_the_script(tmp_path):
    setuptools = pytest.importorskip("setuptools")
    if _version(setuptools.__version__) < (77,):
        pytest.skip(f"setuptools {setuptools.__version__} here; the build needs >= 77 (pyproject.toml)")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "tga_keras", src / "tga_keras", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = (tmp_path / "dist").glob("tga_keras-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = z.read(meta_name).decode()
        entry_points = z.read(meta_name.replace("METADATA", "entry_points.txt")).decode()
    assert "tga_keras/assets/carphone_pristine.mp4" in names
    assert "tga_keras/cli/main.py" in names and "tga_keras/cli/upscale.py" in names
    assert not [n for n in names if n.startswith(("tests/", "training/", "export/", "saved_models/"))]
    assert "tga = tga_keras.cli.main:main" in entry_points
    assert "License-Expression: MIT" in metadata
    for extra in ("cpu", "gpu", "torch", "export", "dev"):
        assert f"Provides-Extra: {extra}" in metadata
