"""training.prepare.stills: the parts that need no network (split, DEP-5 licences, filters, dedup, rcc)."""

from __future__ import annotations

import os
import struct
import zlib
from collections import Counter

import cv2
import numpy as np
import pytest

from training.prepare import stills as ps

COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: some-backgrounds
License: GPL-2+

Files: *
Copyright: 2020 Somebody
License: GPL-2+

Files: nature/*.jpg
Copyright: 2019 A Photographer
License: CC-BY-SA-4.0
 Long licence text
 .
 continues here.

Files: nature/Special.jpg
       other/Thing\\*.png
Copyright: 2018 Someone Else
License: CC0-1.0

Files: 16.04/Bridge_by_Someone.jpg
Copyright: Someone
License: CC-BY-4.0

Files: debian/*
Copyright: 2021 Debian
License: Expat
"""


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A photo-like BGR uint8 image: smoothed noise plus a few shapes."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3)).astype(np.uint8), (0, 0), 2.0)
    for _ in range(6):
        c = tuple(int(x) for x in rng.integers(0, 256, 3))
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(10, h // 3)), c, -1)
    return img


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


# ----------------------------------------------------------------------------------------------- split


def test_split_is_deterministic_and_respects_fractions():
    keys = [f"pkg/usr/share/backgrounds/img{i}.jpg" for i in range(3000)]
    first = [ps.split_of(k) for k in keys]
    assert first == [ps.split_of(k) for k in keys]
    counts = Counter(first)
    assert abs(counts["val"] / 3000 - 0.1) < 0.03 and abs(counts["test"] / 3000 - 0.1) < 0.03
    # the split of a key depends on that key only: another package's files cannot move it
    assert [ps.split_of(k) for k in keys[:10]] == first[:10]
    assert {ps.split_of(k, 0.0, 0.0) for k in keys} == {"train"}
    # growing a fraction only moves images into that split
    bigger = [ps.split_of(k, 0.1, 0.3) for k in keys]
    assert all(b == "test" for a, b in zip(first, bigger, strict=True) if a == "test")


# ----------------------------------------------------------------------------------------------- licences


def test_dep5_lookup():
    dep5 = ps.parse_dep5(COPYRIGHT)
    assert dep5.header_license == "GPL-2+"
    look = lambda p: ps.dep5_license(dep5, p)  # noqa: E731
    m = look("usr/share/backgrounds/mate/nature/Aqua.jpg")  # source path is a tail of the installed path
    assert (m.license, m.how, m.copyright) == ("CC-BY-SA-4.0", "files: nature/*.jpg", "2019 A Photographer")
    assert look("usr/share/backgrounds/mate/nature/Special.jpg").license == "CC0-1.0"  # the last match wins
    assert look("usr/share/other/Thing*.png").license == "CC0-1.0"  # escaped '*' is literal
    assert look("usr/share/other/Thingy.png").license == "GPL-2+"
    m = look("usr/share/backgrounds/Bridge_by_Someone.jpg")  # installed without the 16.04/ folder
    assert (m.license, m.how) == ("CC-BY-4.0", "basename: 16.04/Bridge_by_Someone.jpg")
    assert m.exact
    m = look("usr/share/backgrounds/desktop/Stripes.png")
    assert (m.license, m.how) == ("GPL-2+", "catch-all") and not m.exact
    assert not look("usr/share/backgrounds/mate/nature/Aqua.jpg").exact  # a glob, not the file itself
    no_catch_all = COPYRIGHT.replace("Files: *\n", "Files: src/*\n")
    assert ps.dep5_license(no_catch_all, "usr/share/x/y.png").how == "header"
    assert ps.dep5_license("Files: a.png\nLicense: MIT\n", "usr/share/b.png").license == "unknown"
    # rcc member paths: "<bundle>:<path>" -> the part after ':' is looked up
    assert look("nature/deep/x.jpg").license == "CC-BY-SA-4.0"


def test_effective_license_prefers_upstream_only_over_wildcards():
    dep5 = ps.parse_dep5(COPYRIGHT)
    note = ps.UpstreamNote("CC0-1.0", "Someone", "https://example.org/x", "README")
    glob_match = ps.dep5_license(dep5, "usr/share/mate/nature/Aqua.jpg")
    assert ps.effective_license(glob_match, note) == ("CC0-1.0", "upstream README")
    exact = ps.dep5_license(dep5, "usr/share/backgrounds/Bridge_by_Someone.jpg")
    assert ps.effective_license(exact, note)[0] == "CC-BY-4.0"
    assert ps.effective_license(glob_match, None)[0] == "CC-BY-SA-4.0"


def test_readme_notes_and_licence_names():
    text = """Copyright: Tim, 2022
License: CC-BY-SA 4.0
Files:
square.svg
dir/other*.webp

Copyright: Some One
Source: https://commons.wikimedia.org/wiki/File:X.jpg
License: Public Domain
Comments: cropping
Files: alpaca.webp

Copyright: Nobody
License: CC-BY 4.0
castle_background.webp
"""
    notes = ps.parse_readme_notes(text)
    assert [(n, u.license) for n, u in notes] == [
        (["square.svg", "dir/other*.webp"], "CC-BY-SA-4.0"),
        (["alpaca.webp"], "public-domain"),
        (["castle_background.webp"], "CC-BY-4.0"),
    ]
    assert notes[1][1].source == "https://commons.wikimedia.org/wiki/File:X.jpg" and notes[1][1].author == "Some One"
    assert ps.normalize_license("LGPLv3") == "LGPL-3" and ps.normalize_license("GPLv2+") == "GPL-2+"
    assert ps.normalize_license("CC0-1.0") == "CC0-1.0"


# ----------------------------------------------------------------------------------------------- filters


def test_flat_images_score_below_the_threshold():
    flat = np.full((600, 900, 3), 120, np.uint8)
    ramp = np.repeat(np.linspace(0, 255, 900, dtype=np.float32)[None, :, None], 600, 0).repeat(3, 2).astype(np.uint8)
    assert ps.gradient_score(flat) == 0.0
    assert ps.gradient_score(ramp) < ps.MIN_GRADIENT  # a smooth gradient is "flat" too
    assert ps.gradient_score(_texture(600, 900)) > ps.MIN_GRADIENT


def test_to_bgr8_and_resize():
    rgba = np.zeros((10, 10, 4), np.uint8)
    assert ps.to_bgr8(rgba) is None  # fully transparent: a cut-out
    rgba[..., 3] = 255
    assert ps.to_bgr8(rgba).shape == (10, 10, 3)
    deep = np.full((4, 4), 65535, np.uint16)
    out = ps.to_bgr8(deep)
    assert out.dtype == np.uint8 and out.shape == (4, 4, 3) and out.max() == 255
    assert ps.resize_max_side(np.zeros((1600, 2560, 3), np.uint8), 960).shape == (600, 960, 3)
    assert ps.resize_max_side(np.zeros((300, 400, 3), np.uint8), 960).shape == (300, 400, 3)
    assert ps.resize_max_side(np.zeros((683, 1024, 3), np.uint8), 960, min_downscale=1.5).shape == (455, 683, 3)


def test_group_key_and_names():
    assert ps.group_key("a/Elephants_3840x2160.jpg") == ps.group_key("a/Elephants.jpg") == "a/Elephants"
    assert ps.group_key("w/Path/contents/images/2560x1600.jpg") == ps.group_key("w/Path/contents/images/640x480.jpg")
    assert ps.group_key("g/wood-l.webp") != ps.group_key("g/wood-d.webp")
    assert (
        ps.output_stem("mate-backgrounds", "usr/share/backgrounds/mate/nature/Aqua.jpg")
        == "mate-backgrounds__nature_Aqua"
    )
    assert (
        ps.output_stem(
            "gcompris-qt-data",
            "usr/share/gcompris-qt/rcc/erase.rcc:/gcompris/src/activities/erase/resource/gorilla.webp",
        )
        == "gcompris-qt-data__erase_gorilla"
    )
    assert ps.selected("usr/share/x/a.jpg", ("usr/share/*",), ("*/a.*",)) is False


# ----------------------------------------------------------------------------------------------- process + dedup


def test_process_filters_and_dedups_resized_copies(tmp_path):
    big = _texture(1200, 1800, seed=1)
    half = cv2.resize(big, (900, 600), interpolation=cv2.INTER_AREA)
    other = _texture(700, 1000, seed=2)

    def cand(path: str, img: np.ndarray) -> ps.Candidate:
        data = _png(img)
        return ps.Candidate("pkg", "1.0", path, lambda: data)

    cands = [
        cand("usr/share/bg/photo.png", big),
        cand("usr/share/bg/copy/photo-small.png", half),
        cand("usr/share/bg/other.png", other),
        cand("usr/share/bg/tiny.png", _texture(200, 300)),
        cand("usr/share/bg/flat.png", np.full((500, 800, 3), 90, np.uint8)),
        cand("usr/share/bg/photo_640x480.png", cv2.resize(other, (640, 448))),
        ps.Candidate("pkg", "1.0", "usr/share/bg/broken.png", lambda: b"not an image"),
    ]
    drops: Counter = Counter()
    dep5 = {"pkg": ps.parse_dep5(COPYRIGHT)}
    passed = ps.process(
        cands, dep5, str(tmp_path), max_side=960, min_side=256, min_gradient=ps.MIN_GRADIENT, fmt="png", drops=drops
    )
    assert drops == Counter({"too small": 1, "flat": 1, "undecodable": 1})
    kept, dropped = ps.dedup(passed)
    assert [k.candidate.path for k in kept] == ["usr/share/bg/other.png", "usr/share/bg/photo.png"]
    # the half-size copy goes by thumbnail; photo_640x480 is in the group "bg/photo" and smaller than photo.png
    assert sorted((a.candidate.path, b.candidate.path) for a, b in dropped) == [
        ("usr/share/bg/copy/photo-small.png", "usr/share/bg/photo.png"),
        ("usr/share/bg/photo_640x480.png", "usr/share/bg/photo.png"),
    ]
    written = cv2.imread(str(tmp_path / kept[1].name), cv2.IMREAD_UNCHANGED)
    assert written.shape == (640, 960, 3) and written.dtype == np.uint8
    assert kept[1].original == (1800, 1200) and kept[1].license.license == "GPL-2+"


# ----------------------------------------------------------------------------------------------- rcc


def _make_rcc(files: dict[str, bytes]) -> bytes:
    """A version-2 Qt resource bundle holding ``files`` (one folder level), the first one zlib-compressed."""
    names = b""
    name_off: dict[str, int] = {}

    def add_name(n: str) -> int:
        nonlocal names
        if n not in name_off:
            name_off[n] = len(names)
            names += struct.pack(">HI", len(n), 0) + n.encode("utf-16-be")
        return name_off[n]

    payload = b""
    entries = [
        struct.pack(">IHII", 0, 2, 1, 1) + b"\0" * 8,  # root: 1 child at index 1
        struct.pack(">IHII", add_name("res"), 2, len(files), 2) + b"\0" * 8,
    ]
    for i, (name, data) in enumerate(files.items()):
        stored = struct.pack(">I", len(data)) + zlib.compress(data) if i == 0 else data
        entries.append(struct.pack(">IHHHI", add_name(name), 1 if i == 0 else 0, 0, 0, len(payload)) + b"\0" * 8)
        payload += struct.pack(">I", len(stored)) + stored
    tree = b"".join(entries)
    header = 20
    return (
        b"qres"
        + struct.pack(">IIII", 2, header, header + len(tree), header + len(tree) + len(payload))
        + tree
        + payload
        + names
    )


def test_read_rcc():
    bundle = _make_rcc({"a.txt": b"hello " * 50, "b.bin": b"\x00\x01raw"})
    members = ps.read_rcc(bundle)
    assert sorted(members) == ["/res/a.txt", "/res/b.bin"]
    assert members["/res/a.txt"]() == b"hello " * 50
    assert members["/res/b.bin"]() == b"\x00\x01raw"
    with pytest.raises(ValueError):
        ps.read_rcc(b"nope" + bundle[4:])


def test_refuses_non_empty_outdir(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("x")
    assert ps.main([str(tmp_path / "out"), "--packages", "none-such"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m training.tools stills: error:") and len(err.splitlines()) == 1
    assert os.listdir(tmp_path) == ["out"]


# ------------------------------------------------------------------------------------- the whole tool


def _fake_deb(folder, name: str, images: dict[str, np.ndarray]) -> str:
    """``folder/<name>_1.0_all.deb``: ``images`` under usr/share/backgrounds/ and a DEP-5 copyright."""
    import subprocess

    root = folder / "root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: Test <t@example.org>\nDescription: test\n"
    )
    doc = root / "usr/share/doc" / name
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT.replace("nature/*.jpg", "*.png"))
    backgrounds = root / "usr/share/backgrounds"
    backgrounds.mkdir(parents=True)
    for file, img in images.items():
        (backgrounds / file).write_bytes(_png(img))
    deb = folder / f"{name}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)], check=True, capture_output=True)
    return str(deb)


@pytest.mark.skipif(
    any(__import__("shutil").which(t) is None for t in ("apt-get", "dpkg-deb")), reason="needs apt-get and dpkg-deb"
)
def test_the_tool_builds_its_folder_from_a_package(tmp_path, capsys):
    """The whole tool on a local .deb (``--keep-debs`` holds it, so nothing is downloaded): filters,
    duplicates, splits, the manifest, and the refusal and replacement of an existing OUTDIR."""
    import json

    a, b = _texture(480, 640, seed=1), _texture(400, 600, seed=2)
    images = {
        "a.png": a,
        "b.png": b,
        "a_small.png": cv2.resize(a, (480, 360), interpolation=cv2.INTER_AREA),  # the same picture
        "flat.png": np.full((480, 640, 3), 128, np.uint8),
    }
    debs = tmp_path / "debs"
    debs.mkdir()
    _fake_deb(debs, "tga-test-backgrounds", images)
    out = tmp_path / "stills"
    argv = [str(out), "--packages", "tga-test-backgrounds", "--keep-debs", str(debs), "--min-side", "64"]
    argv += ["--max-side", "200", "--val-fraction", "0", "--test-fraction", "0"]
    assert ps.main(argv) == 0
    manifest = json.loads((out / "sources.json").read_text())
    assert manifest["dropped"] == {"duplicate": 1, "flat": 1}
    assert manifest["packages"]["tga-test-backgrounds"]["candidates"] == 4
    kept = sorted(os.listdir(out / "train"))
    assert len(kept) == 2 and os.listdir(out / "val") == [] and os.listdir(out / "test") == []
    for name in kept:
        assert max(cv2.imread(str(out / "train" / name)).shape[:2]) <= 200
    assert (out / "SOURCES.md").is_file()
    assert sorted(os.listdir(tmp_path)) == ["debs", "stills"]  # no staging folder left beside it
    capsys.readouterr()
    assert ps.main(argv) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert ps.main([*argv, "--overwrite"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["debs", "stills"]
    assert json.loads((out / "sources.json").read_text())["images"] == manifest["images"]
