"""Build a folder of free-licensed real photographs for training from Debian packages.

``python -m training.tools stills OUTDIR [--packages a,b,c] [--max-side 960] [--min-downscale 1.5]
[--val-fraction 0.1] [--test-fraction 0.1] [--format png|jpg] [--keep-debs DIR] [--overwrite]``

Nothing is installed: each package is fetched with ``apt-get download PKG`` (in a scratch folder; no root
needed) and unpacked with ``dpkg-deb -x``. Only photographs are kept:

* a per-package selection (:data:`PHOTO_SELECTION`) names the folders/files that hold photographs
  (wallpaper packages also ship vector art, gradients and renders); a package without an entry
  contributes every raster image under ``usr/share`` except docs, icons and previews;
* SVGs are never read; images with real transparency (cut-outs) are dropped;
* near-flat images are dropped: the *gradient score* -- mean ``(|Gx| + |Gy|) / 8`` of the 3x3 Sobel
  derivatives of a 256-px-wide grey version, i.e. roughly grey levels of change per pixel -- must be at
  least :data:`MIN_GRADIENT` (``--min-gradient``, default 2.0);
* images whose shorter side is under 256 px after resizing are dropped (``--min-side``).

Resizing (cv2.INTER_AREA) brings the longer side to at most ``--max-side`` (960) and shrinks every image
by at least ``--min-downscale`` (1.5): downscaling removes compression noise and softness, and HR training
targets should be clean. Without it the 1024-px lossy WebP photographs of GCompris and the 960-px JPEGs of
Tux Paint would be written nearly 1:1, blur and artefacts included.

Duplicates: several resolutions of one picture (``Elephants_3840x2160.jpg``, ``images/5120x2880.png``)
form one group per folder and name stem with the resolution removed, of which only the largest is kept;
then any image whose 16x16 grey thumbnail is within :data:`DUP_MSE` (mean squared error on [0, 1]
values) of an already kept, larger image is dropped. Light/dark variants (``foo-l``/``foo-d``) are
different pictures and both stay.

GCompris (``gcompris-qt-data``) keeps its images inside Qt resource bundles (``*.rcc``); they are read
directly (:func:`read_rcc`) and their path is written ``<rcc file>:<path inside the bundle>``.

Output (written into a temporary folder next to OUTDIR, renamed into place at the end)::

    OUTDIR/train/*.png  OUTDIR/val/*.png  OUTDIR/test/*.png   (8-bit RGB; .jpg at quality 95 with --format jpg)
    OUTDIR/sources.json  OUTDIR/SOURCES.md                     (package, version, path, split, licence)

The split is a hash of ``package/path`` (:func:`split_of`), so adding a package never moves another
package's images between splits. Licences come from the package's DEP-5 ``/usr/share/doc/PKG/copyright``
(:func:`dep5_license`: the last ``Files:`` stanza that matches the path, falling back to ``Files: *`` and
then the header). When that file reaches the image only through a wildcard (``Files: *``, a folder glob;
Debian's files are often stale there) while upstream data name the image itself (a KDE wallpaper's
``metadata.json``, a Palapeli ``.desktop``, a GCompris ``README`` next to the image), the upstream licence
is used (:func:`effective_license`); ``sources.json`` records both, with author and source where known.
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable

import cv2
import numpy as np
from tqdm import tqdm

from tga_keras.errors import DatasetError
from tga_keras.io.files import atomic_path

PROG = "python -m training.tools stills"

#: Debian bookworm packages whose selected files are photographs (checked by eye, 2025-05 snapshot).
DEFAULT_PACKAGES = (
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
    "palapeli-data",
    "tuxpaint-data",
    "gcompris-qt-data",
)

_PLASMA_PHOTOS = (
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "Grey",
    "Kite",
    "OneStandsOut",
    "Path",
    "summer_1am",
)
_GCOMPRIS_RCC = "usr/share/gcompris-qt/rcc/"

#: package -> (include globs, exclude globs) on the path inside the package (``fnmatch``: ``*`` spans ``/``).
#: The other images of these packages are vector art, gradients, renders, paintings or cartoons.
PHOTO_SELECTION: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "mate-backgrounds": (("usr/share/backgrounds/mate/nature/*",), ()),
    "plasma-workspace-wallpapers": (tuple(f"usr/share/wallpapers/{n}/contents/images/*" for n in _PLASMA_PHOTOS), ()),
    "lomiri-wallpapers-16.04": (("usr/share/backgrounds/*",), ("*/analogpattern_*",)),  # that one is a texture
    "lomiri-wallpapers-20.04": (("usr/share/backgrounds/Kleiber_*",), ()),  # the other three are renders
    "palapeli-data": (("usr/share/palapeli/collection/*",), ()),
    "tuxpaint-data": (("usr/share/tuxpaint/templates/*",), ()),  # photographs to draw over
    "gcompris-qt-data": (
        tuple(
            f"{_GCOMPRIS_RCC}{a}.rcc:/gcompris/src/activities/{a}/resource/{sub}"
            for a, sub in (
                ("erase", "*"),
                ("explore_monuments", "*"),
                ("explore_world_animals", "animals/*"),
                ("explore_farm_animals", "animals/*"),
                ("explore_world_music", "music/*"),
                ("details", "image/*"),
                ("clickgame", "sea*"),
                ("categorization", "images/*"),
            )
        ),
        ("*Gogh*", "*PereTanguy*", "*Eglise_dAuvers*", "*/music/ireland.*"),  # paintings
    ),
}
#: for packages without a :data:`PHOTO_SELECTION` entry
GENERIC_SELECTION: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("usr/share/*",),
    ("usr/share/doc/*", "usr/share/icons/*", "usr/share/pixmaps/*", "*/screenshot.*", "*preview*"),
)

RASTER_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")
MIN_GRADIENT = 2.0  #: minimum gradient score (see module docstring) of a kept image
MIN_DOWNSCALE = 1.5  #: every image is shrunk at least this much (compression noise, soft 1024-px sources)
DUP_MSE = 1e-3  #: 16x16 grey thumbnails closer than this (MSE on [0, 1]) are the same picture
GRADIENT_WIDTH = 256
THUMB = 16
SPLITS = ("train", "val", "test")


# --------------------------------------------------------------------------------------------- pure helpers


def split_of(key: str, val_fraction: float = 0.1, test_fraction: float = 0.1) -> str:
    """``train``, ``val`` or ``test`` for ``key`` (``package/path``), from the first 8 bytes of its SHA-1."""
    u = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2.0**64
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"


def gradient_score(image: np.ndarray) -> float:
    """Mean ``(|Gx| + |Gy|) / 8`` (3x3 Sobel) of a 256-px-wide grey version: grey levels of change per pixel."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    nh = max(1, round(h * GRADIENT_WIDTH / w))
    grey = cv2.resize(grey, (GRADIENT_WIDTH, nh), interpolation=cv2.INTER_AREA).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.mean(np.abs(gx) + np.abs(gy)) / 8.0)


def thumbnail(image: np.ndarray) -> np.ndarray:
    """16x16 grey thumbnail in [0, 1] (float32), the fingerprint used to find resized copies."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def thumb_mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a - b) ** 2))


def resize_max_side(image: np.ndarray, max_side: int, min_downscale: float = 1.0) -> np.ndarray:
    """Downscale (cv2.INTER_AREA) so the longer side is at most ``max_side`` and by at least ``min_downscale``."""
    h, w = image.shape[:2]
    scale = min(max_side / max(h, w), 1.0 / min_downscale)
    if scale >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def to_bgr8(image: np.ndarray) -> np.ndarray | None:
    """A decoded image (grey/BGR/BGRA, 8 or 16 bit) as 8-bit BGR; ``None`` for a cut-out (>1% transparent)."""
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image.astype(np.float32) * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        if np.mean(image[:, :, 3] < 250) > 0.01:
            return None
        return np.ascontiguousarray(image[:, :, :3])
    if image.shape[2] == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    return image


_RESOLUTION = re.compile(r"(?:^|[_-])\d{3,5}x\d{3,5}(?=$|[_-])")


def group_key(path: str) -> str:
    """Folder + name stem without resolution tokens: the files that are one picture at several sizes."""
    folder, name = path.rsplit("/", 1) if "/" in path else ("", path)
    stem = os.path.splitext(name)[0]
    return f"{folder}/{_RESOLUTION.sub('', stem)}"


def selected(path: str, include: Iterable[str], exclude: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, p) for p in include) and not any(fnmatch.fnmatchcase(path, p) for p in exclude)


_BORING = {
    "usr",
    "share",
    "backgrounds",
    "wallpapers",
    "contents",
    "images",
    "image",
    "resource",
    "rcc",
    "gcompris",
    "src",
    "activities",
    "games",
    "",
}


def output_stem(package: str, path: str) -> str:
    """A readable file name stem: ``package__<interesting path parts>``."""
    parts = []
    for part in re.split(r"[/:]", os.path.splitext(path)[0]):
        if part in _BORING or part.endswith(".rcc") or package.startswith(part):
            continue
        parts.append(re.sub(r"[^A-Za-z0-9._-]+", "-", part))
    return f"{package}__{'_'.join(parts)[:100] or 'image'}"


# --------------------------------------------------------------------------------------------- licences


@dataclass
class Dep5Stanza:
    patterns: list[str]
    license: str
    copyright: str


@dataclass
class Dep5:
    header_license: str | None
    stanzas: list[Dep5Stanza]


@dataclass
class LicenseMatch:
    license: str
    copyright: str = ""
    how: str = "none"  # "files: <pattern>", "basename: <pattern>", "catch-all", "header", "none"

    @property
    def exact(self) -> bool:
        """True when a wildcard-free ``Files:`` pattern named this very file."""
        return self.how.startswith(("files", "basename")) and not any(c in self.how for c in "*?")


def _paragraphs(text: str) -> list[dict[str, str]]:
    paras: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    key: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if cur:
                paras.append(cur)
            cur, key = {}, None
        elif line[0] in " \t":
            if key is not None:
                cur[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            cur[key] = value.strip()
    if cur:
        paras.append(cur)
    return paras


def parse_dep5(text: str) -> Dep5:
    """A machine-readable ``debian/copyright`` (DEP-5): header licence and ``Files:`` stanzas in order."""
    paras = _paragraphs(text)
    header_license = None
    if paras and "files" not in paras[0]:
        lic = paras[0].get("license")
        header_license = lic.splitlines()[0].strip() if lic else None
        paras = paras[1:]
    stanzas = [
        Dep5Stanza(
            p["files"].split(),
            p.get("license", "").splitlines()[0].strip() if p.get("license") else "",
            " ".join(p.get("copyright", "").split()),
        )
        for p in paras
        if "files" in p
    ]
    return Dep5(header_license, stanzas)


def _dep5_regex(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def dep5_license(dep5: Dep5 | str, path: str) -> LicenseMatch:
    """The licence DEP-5 gives ``path`` (a path inside the *binary* package, or inside an rcc bundle).

    ``Files:`` patterns name paths of the *source* tree, so a pattern matches when it matches any tail of
    ``path`` (``nature/Aqua.jpg`` matches ``usr/share/backgrounds/mate/nature/Aqua.jpg``); the last such
    stanza wins, as in DEP-5. Failing that, a wildcard-free pattern whose file name equals the path's
    (``16.04/Bridge.jpg`` for ``usr/share/backgrounds/Bridge.jpg``); then the ``Files: *`` stanza; then the
    header's ``License:``.
    """
    if isinstance(dep5, str):
        dep5 = parse_dep5(dep5)
    parts = [p for p in re.split(r"[/:]", path) if p]
    tails = ["/".join(parts[i:]) for i in range(len(parts))]
    name = parts[-1] if parts else ""
    found = basename = catch_all = None
    for st in dep5.stanzas:
        for pat in st.patterns:
            if pat == "*":
                catch_all = st
                continue
            rx = _dep5_regex(pat.lstrip("./"))
            if any(rx.fullmatch(t) for t in tails):
                found = (st, pat)
            else:
                base = pat.rsplit("/", 1)[-1]
                if not any(ch in base for ch in "*?") and base == name:
                    basename = (st, pat)
    if found:
        return LicenseMatch(found[0].license, found[0].copyright, f"files: {found[1]}")
    if basename:
        return LicenseMatch(basename[0].license, basename[0].copyright, f"basename: {basename[1]}")
    if catch_all:
        return LicenseMatch(catch_all.license, catch_all.copyright, "catch-all")
    if dep5.header_license:
        return LicenseMatch(dep5.header_license, "", "header")
    return LicenseMatch("unknown", "", "none")


def normalize_license(name: str) -> str:
    """``CC-BY-SA 4.0`` -> ``CC-BY-SA-4.0``, ``Public Domain`` -> ``public-domain``, ``GPLv2+`` -> ``GPL-2+``."""
    name = " ".join(name.split())
    if name.lower().replace("-", " ") == "public domain":
        return "public-domain"
    name = re.sub(r"^((?:L|A)?GPL)v(\d)(\+?)$", r"\1-\2\3", name)  # LGPLv3 -> LGPL-3
    return re.sub(r"^(CC[\w-]*?)[ -]?(\d\.\d)$", r"\1-\2", name, flags=re.IGNORECASE)


@dataclass
class UpstreamNote:
    license: str
    author: str = ""
    source: str = ""
    where: str = ""


_NOTE_FIELD = re.compile(r"^([A-Za-z][\w-]*):\s*(.*)$")
_FILE_LINE = re.compile(r"^[^\s:]+\.[A-Za-z0-9]{2,5}$")


def parse_readme_notes(text: str) -> list[tuple[list[str], UpstreamNote]]:
    """GCompris-style resource READMEs: blocks of ``Copyright:/Source:/License:/Files:`` lines."""
    notes = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        files: list[str] = []
        in_files = False
        for raw in block.splitlines():
            line = raw.strip()
            m = _NOTE_FIELD.match(line)
            if m and not _FILE_LINE.match(line):
                key = m.group(1).lower()
                in_files = key == "files"
                if in_files:
                    files += m.group(2).split()
                else:
                    fields.setdefault(key, m.group(2).strip())
            elif line and (in_files or _FILE_LINE.match(line)):
                files += line.split()
        lic = fields.get("license") or fields.get("licence")
        if files and lic:
            notes.append(
                (
                    files,
                    UpstreamNote(
                        normalize_license(lic),
                        fields.get("copyright", ""),
                        fields.get("source") or fields.get("comment", ""),
                    ),
                )
            )
    return notes


# --------------------------------------------------------------------------------------------- Qt resource bundles


def read_rcc(data: bytes) -> dict[str, Callable[[], bytes | None]]:
    """Files inside a Qt ``.rcc`` resource bundle: ``{"/path/in/bundle": loader}`` (loader -> bytes, or
    ``None`` for zstd-compressed entries, which are skipped)."""
    if data[:4] != b"qres":
        raise ValueError("not a Qt resource bundle (no 'qres' magic)")
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    entry = 14 if version == 1 else 22

    def name_at(off: int) -> str:
        (n,) = struct.unpack(">H", data[names + off : names + off + 2])
        return data[names + off + 6 : names + off + 6 + 2 * n].decode("utf-16-be")

    def loader(off: int, flags: int) -> Callable[[], bytes | None]:
        def load() -> bytes | None:
            (size,) = struct.unpack(">I", data[payload + off : payload + off + 4])
            raw = data[payload + off + 4 : payload + off + 4 + size]
            if flags & 1:
                return zlib.decompress(raw[4:])
            if flags & 4:
                return None
            return raw

        return load

    out: dict[str, Callable[[], bytes | None]] = {}
    stack = [(0, "")]
    seen = set()
    while stack:
        idx, prefix = stack.pop()
        if idx in seen:
            continue
        seen.add(idx)
        off = tree + idx * entry
        name_off, flags = struct.unpack(">IH", data[off : off + 6])
        path = f"{prefix}/{name_at(name_off)}" if idx else ""
        if flags & 2:
            count, first = struct.unpack(">II", data[off + 6 : off + 14])
            stack.extend((c, path) for c in range(first, first + count))
        else:
            (data_off,) = struct.unpack(">I", data[off + 10 : off + 14])
            out[path] = loader(data_off, flags)
    return out


# --------------------------------------------------------------------------------------------- packages


@dataclass
class Candidate:
    package: str
    version: str
    path: str  # inside the package; "<rcc>:<path in bundle>" for rcc members
    load: Callable[[], bytes | None]
    note: UpstreamNote | None = None


@dataclass
class Package:
    name: str
    version: str
    deb: str
    root: str
    dep5: Dep5 | None
    candidates: list[Candidate] = field(default_factory=list)


def _run(cmd: list[str], cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1800)


def _last_error(proc: subprocess.CompletedProcess) -> str:
    lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("E:")]
    return (errors or lines or [f"exit status {proc.returncode}"])[-1]


def fetch_deb(package: str, folder: str) -> str:
    """``folder/<package>_*.deb``, downloaded with ``apt-get download`` unless already there."""
    pattern = os.path.join(folder, f"{glob.escape(package)}_*.deb")
    found = sorted(glob.glob(pattern))
    if not found:
        proc = _run(["apt-get", "download", package], cwd=folder)
        found = sorted(glob.glob(pattern))
        if proc.returncode != 0 or not found:
            raise DatasetError(f"apt-get download {package}: {_last_error(proc)}")
    return found[-1]


def _desktop_note(path: str) -> UpstreamNote | None:
    """``X-KDE-PluginInfo-License`` (and author, website) of a KDE ``.desktop`` file."""
    keys: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                k, sep, v = line.partition("=")
                if sep and k.strip().startswith("X-KDE-PluginInfo-"):
                    keys.setdefault(k.strip()[len("X-KDE-PluginInfo-") :], v.strip())
    except OSError:
        return None
    if not keys.get("License"):
        return None
    return UpstreamNote(normalize_license(keys["License"]), keys.get("Author", ""), keys.get("Website", ""))


def _kde_note(root: str, path: str) -> UpstreamNote | None:
    """Upstream licence of a KDE wallpaper (``metadata.json``/``.desktop``) or a file with a sibling ``.desktop``
    (Palapeli puzzles); ``None`` if there is none."""
    m = re.match(r"(usr/share/wallpapers/[^/]+)/contents/", path)
    where = [f"{m.group(1)}/metadata.json", f"{m.group(1)}/metadata.desktop"] if m else []
    where.append(os.path.splitext(path)[0] + ".desktop")
    for rel in where:
        full = os.path.join(root, rel)
        if not os.path.isfile(full):
            continue
        note: UpstreamNote | None
        if rel.endswith(".json"):
            try:
                with open(full, encoding="utf-8") as f:
                    plugin = json.load(f).get("KPlugin", {})
            except (OSError, ValueError):
                continue
            if not plugin.get("License"):
                continue
            authors = ", ".join(a.get("Name", "") for a in plugin.get("Authors", []) if isinstance(a, dict))
            note = UpstreamNote(normalize_license(plugin["License"]), authors, plugin.get("Website", ""))
        else:
            note = _desktop_note(full)
        if note is not None:
            note.where = rel
            return note
    return None


def _rcc_notes(members: dict[str, Callable[[], bytes | None]]) -> dict[str, UpstreamNote]:
    """Upstream notes of an rcc bundle's READMEs, keyed by the member path they name."""
    notes: dict[str, UpstreamNote] = {}
    readmes = sorted(p for p in members if os.path.basename(p).lower() in ("readme", "readme.txt", "readme.md"))
    for readme in readmes:
        raw = members[readme]()
        if not raw:
            continue
        folder = os.path.dirname(readme)
        below = [p for p in members if p.startswith(folder + "/")]
        for names, note in parse_readme_notes(raw.decode("utf-8", "replace")):
            note.where = readme
            for name in names:
                for p in below:
                    if fnmatch.fnmatchcase(p[len(folder) + 1 :], name):
                        notes.setdefault(p, note)
    return notes


def scan_package(name: str, version: str, deb: str, root: str) -> Package:
    """Unpacked package ``root`` -> its candidate photographs (selection, raster, not symlinks, rcc members)."""
    include, exclude = PHOTO_SELECTION.get(name, GENERIC_SELECTION)
    copyright_file = os.path.join(root, "usr/share/doc", name, "copyright")
    dep5 = None
    if os.path.isfile(copyright_file):
        with open(copyright_file, encoding="utf-8", errors="replace") as f:
            dep5 = parse_dep5(f.read())
    pkg = Package(name, version, os.path.basename(deb), root, dep5)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            low = fn.lower()
            if low.endswith(".rcc"):
                if not any(p.startswith(rel + ":") or fnmatch.fnmatchcase(rel + ":/x", p) for p in include):
                    continue
                with open(full, "rb") as f:
                    members = read_rcc(f.read())
                notes = _rcc_notes(members)
                for member in sorted(members):
                    path = f"{rel}:{member}"
                    if member.lower().endswith(RASTER_EXTENSIONS) and selected(path, include, exclude):
                        pkg.candidates.append(Candidate(name, version, path, members[member], notes.get(member)))
            elif low.endswith(RASTER_EXTENSIONS) and selected(rel, include, exclude):
                pkg.candidates.append(Candidate(name, version, rel, _file_loader(full), _kde_note(root, rel)))
    return pkg


def _file_loader(path: str) -> Callable[[], bytes]:
    def load() -> bytes:
        with open(path, "rb") as f:
            return f.read()

    return load


def deb_field(deb: str, name: str) -> str:
    proc = _run(["dpkg-deb", "-f", deb, name])
    if proc.returncode != 0:
        raise DatasetError(f"dpkg-deb -f {deb}: {_last_error(proc)}")
    return proc.stdout.strip()


def unpack(deb: str, dest: str) -> None:
    os.makedirs(dest, exist_ok=True)
    proc = _run(["dpkg-deb", "-x", deb, dest])
    if proc.returncode != 0:
        raise DatasetError(f"dpkg-deb -x {deb}: {_last_error(proc)}")


# --------------------------------------------------------------------------------------------- processing


@dataclass
class Kept:
    candidate: Candidate
    name: str  # output file name (no folder)
    size: tuple[int, int]  # written (w, h)
    original: tuple[int, int]
    gradient: float
    thumb: np.ndarray
    license: LicenseMatch
    upstream: UpstreamNote | None

    @property
    def key(self) -> str:
        return f"{self.candidate.package}/{self.candidate.path}"

    @property
    def pixels(self) -> int:
        return self.original[0] * self.original[1]


def effective_license(debian: LicenseMatch, upstream: UpstreamNote | None) -> tuple[str, str]:
    """(licence, where from): the DEP-5 licence, unless DEP-5 matched the file only through a wildcard (a
    folder glob, ``Files: *``, the header) while upstream data name the file itself: then the upstream one."""
    if upstream is not None and not debian.exact:
        return upstream.license, f"upstream {upstream.where}"
    return debian.license, f"debian/copyright ({debian.how})"


def dedup(items: list[Kept], mse: float = DUP_MSE) -> tuple[list[Kept], list[tuple[Kept, Kept]]]:
    """Keep the largest of each :func:`group_key` group, then drop near-identical thumbnails (largest wins).

    Returns (kept, [(dropped, kept instead)]); order of ``kept``: by key.
    """
    order = sorted(items, key=lambda k: (-k.pixels, k.key))
    kept: list[Kept] = []
    dropped: list[tuple[Kept, Kept]] = []
    groups: dict[tuple[str, str], Kept] = {}
    for item in order:
        g = (item.candidate.package, group_key(item.candidate.path))
        twin = groups.get(g) or next((k for k in kept if thumb_mse(k.thumb, item.thumb) < mse), None)
        if twin is not None:
            dropped.append((item, twin))
            continue
        groups[g] = item
        kept.append(item)
    return sorted(kept, key=lambda k: k.key), dropped


def _write(path: str, image: np.ndarray, fmt: str) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if fmt == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 6]
    ok, buf = cv2.imencode("." + fmt, image, params)
    if not ok:
        raise DatasetError(f"could not encode {path}")
    with open(path, "wb") as f:
        f.write(buf.tobytes())


def process(
    candidates: list[Candidate],
    dep5s: dict[str, Dep5 | None],
    staging: str,
    *,
    max_side: int,
    min_side: int,
    min_gradient: float,
    fmt: str,
    drops: Counter,
    min_downscale: float = 1.0,
) -> list[Kept]:
    """Decode, filter, resize and write every candidate into ``staging``; returns what passed the filters."""
    out: list[Kept] = []
    used: set[str] = set()
    for cand in tqdm(candidates, desc="images", unit="img", dynamic_ncols=True, mininterval=1.0):
        raw = cand.load()
        decoded = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED) if raw else None
        image = to_bgr8(decoded) if decoded is not None else None
        if decoded is None:
            drops["undecodable"] += 1
            continue
        if image is None:
            drops["transparent"] += 1
            continue
        original = (image.shape[1], image.shape[0])
        image = resize_max_side(image, max_side, min_downscale)
        if min(image.shape[:2]) < min_side:
            drops["too small"] += 1
            continue
        grad = gradient_score(image)
        if grad < min_gradient:
            drops["flat"] += 1
            continue
        stem = output_stem(cand.package, cand.path)
        if stem in used:
            stem += "_" + hashlib.sha1(cand.path.encode()).hexdigest()[:6]
        used.add(stem)
        name = f"{stem}.{fmt}"
        _write(os.path.join(staging, name), image, fmt)
        dep5 = dep5s.get(cand.package)
        lic = dep5_license(dep5, cand.path.split(":", 1)[-1]) if dep5 else LicenseMatch("unknown", "", "none")
        out.append(Kept(cand, name, (image.shape[1], image.shape[0]), original, grad, thumbnail(image), lic, cand.note))
    return out


# --------------------------------------------------------------------------------------------- reports


def _records(kept: list[Kept], splits: dict[str, str], fmt_dir: Callable[[Kept], str]) -> list[dict]:
    recs = []
    for k in kept:
        lic, lic_from = effective_license(k.license, k.upstream)
        recs.append(
            {
                "file": fmt_dir(k),
                "split": splits[k.key],
                "package": k.candidate.package,
                "version": k.candidate.version,
                "path": k.candidate.path,
                "license": lic,
                "license_from": lic_from,
                "debian_license": k.license.license,
                "debian_match": k.license.how,
                "debian_copyright": k.license.copyright[:300],
                "upstream_license": k.upstream.license if k.upstream else None,
                "author": k.upstream.author if k.upstream else None,
                "source": k.upstream.source if k.upstream else None,
                "original_size": list(k.original),
                "size": list(k.size),
                "gradient": round(k.gradient, 3),
            }
        )
    return recs


def _md_cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def sources_markdown(recs: list[dict], packages: dict[str, dict], settings: dict) -> str:
    lic_counts = Counter(r["license"] for r in recs)
    split_counts = Counter(r["split"] for r in recs)
    lines = ["# Sources of these photographs", "", "| licence | images |", "|---|---|"]
    lines += [f"| {_md_cell(lic)} | {n} |" for lic, n in sorted(lic_counts.items(), key=lambda x: (-x[1], x[0]))]
    lines += [
        f"| **total** | **{len(recs)}** |",
        "",
        "Built by `python -m training.tools stills` from Debian packages (unpacked with `dpkg-deb -x`, "
        "nothing installed). Splits: "
        + ", ".join(f"{s} {split_counts.get(s, 0)}" for s in SPLITS)
        + f"; settings: {json.dumps(settings)}.",
        "",
        "The licence is the one the package's `/usr/share/doc/PKG/copyright` (DEP-5) gives the file, except "
        "where that file reaches it only through a wildcard (`Files: *`, a folder glob) while upstream data "
        "shipped next to the image name the file itself (KDE `metadata.json` / `.desktop`, GCompris "
        "`README`): then the upstream licence (`license_from` in `sources.json`, which keeps both).",
        "",
        "## Packages",
        "",
        "| package | version | images |",
        "|---|---|---|",
    ]
    per_pkg = Counter(r["package"] for r in recs)
    lines += [f"| {p} | {info['version']} | {per_pkg.get(p, 0)} |" for p, info in sorted(packages.items())]
    lines += [
        "",
        "## Images",
        "",
        "| file | split | package | version | path in package | licence | author / source |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in recs:
        who = "; ".join(x for x in (r.get("author"), r.get("source")) if x) or r.get("debian_copyright", "")[:120]
        lines.append(
            f"| {_md_cell(r['file'])} | {r['split']} | {r['package']} | {r['version']} | "
            f"{_md_cell(r['path'])} | {_md_cell(r['license'])} | {_md_cell(who)} |"
        )
    return "\n".join(lines) + "\n"


def _dir_size(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs)


# --------------------------------------------------------------------------------------------- main


def prepare(
    outdir: str,
    packages: list[str],
    *,
    max_side: int = 960,
    min_side: int = 256,
    min_downscale: float = MIN_DOWNSCALE,
    min_gradient: float = MIN_GRADIENT,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    fmt: str = "png",
    keep_debs: str | None = None,
    overwrite: bool = False,
) -> dict:
    """Build OUTDIR (module docstring); returns the ``sources.json`` content."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise DatasetError(f"{tool} not found (this script needs a Debian/Ubuntu system)")
    outdir = os.path.abspath(outdir)
    if os.path.isdir(outdir) and os.listdir(outdir) and not overwrite:
        raise DatasetError(f"{outdir} exists and is not empty (use --overwrite to replace it)")
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise DatasetError(f"{outdir} exists and is not a folder")
    settings = {
        "max_side": max_side,
        "min_downscale": min_downscale,
        "min_side": min_side,
        "min_gradient": min_gradient,
        "dup_mse": DUP_MSE,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "format": fmt,
    }
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="prepare_stills_") as work:
        pkgs = _fetch_packages(packages, work, keep_debs or os.path.join(work, "debs"))
        with atomic_path(outdir, overwrite=True) as staging:
            manifest = _write_stills(staging, pkgs, settings)
    manifest["elapsed_s"] = round(time.time() - t0, 1)
    manifest["bytes"] = _dir_size(outdir)
    return manifest


def _fetch_packages(packages: list[str], work: str, deb_dir: str) -> list[Package]:
    """Download (into ``deb_dir``, unless there), unpack (under ``work``) and scan every package; one
    that fails is skipped with a warning. DatasetError if none is left."""
    os.makedirs(deb_dir, exist_ok=True)
    pkgs: list[Package] = []
    for name in packages:
        try:
            deb = fetch_deb(name, deb_dir)
            if deb_field(deb, "Package") != name:
                raise DatasetError(f"{deb} is not package {name}")
            version = deb_field(deb, "Version")
            root = os.path.join(work, "root", name)
            unpack(deb, root)
        except (DatasetError, subprocess.SubprocessError, OSError) as e:
            print(f"{PROG}: warning: skipping {name}: {e}", file=sys.stderr)
            continue
        pkg = scan_package(name, version, deb, root)
        print(f"{name} {version}: {len(pkg.candidates)} candidate images", file=sys.stderr)
        pkgs.append(pkg)
    if not pkgs:
        raise DatasetError("no package could be downloaded and unpacked: " + ", ".join(packages))
    return pkgs


def _write_stills(staging: str, pkgs: list[Package], settings: dict) -> dict:
    """Filter, deduplicate and split the packages' candidates into ``staging``/{train,val,test}, with
    ``sources.json`` and ``SOURCES.md``; returns the manifest."""
    os.makedirs(staging)
    pending = os.path.join(staging, "_pending")
    os.makedirs(pending)
    drops: Counter = Counter()
    candidates = [c for p in pkgs for c in p.candidates]
    dep5s = {p.name: p.dep5 for p in pkgs}
    passed = process(
        candidates,
        dep5s,
        pending,
        max_side=settings["max_side"],
        min_side=settings["min_side"],
        min_downscale=settings["min_downscale"],
        min_gradient=settings["min_gradient"],
        fmt=settings["format"],
        drops=drops,
    )
    kept, dropped = dedup(passed)
    drops["duplicate"] += len(dropped)
    for item, _ in dropped:
        os.remove(os.path.join(pending, item.name))
    if not kept:
        raise DatasetError("no photographs were kept (all filtered out)")
    splits = {k.key: split_of(k.key, settings["val_fraction"], settings["test_fraction"]) for k in kept}
    for s in SPLITS:
        os.makedirs(os.path.join(staging, s))
    for k in kept:
        os.replace(os.path.join(pending, k.name), os.path.join(staging, splits[k.key], k.name))
    os.rmdir(pending)
    recs = _records(kept, splits, lambda k: f"{splits[k.key]}/{k.name}")
    pkg_info = {p.name: {"version": p.version, "deb": p.deb, "candidates": len(p.candidates)} for p in pkgs}
    manifest = {
        "settings": settings,
        "packages": pkg_info,
        "dropped": {k: v for k, v in sorted(drops.items()) if v},
        "duplicates": [{"dropped": f"{a.key}", "kept": f"{b.key}"} for a, b in dropped],
        "images": recs,
    }
    with open(os.path.join(staging, "sources.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(staging, "SOURCES.md"), "w", encoding="utf-8") as f:
        f.write(sources_markdown(recs, pkg_info, settings))
    return manifest


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def summary(manifest: dict, outdir: str) -> str:
    recs = manifest["images"]
    splits = Counter(r["split"] for r in recs)
    lics = Counter(r["license"] for r in recs)
    pk = Counter(r["package"] for r in recs)
    lines = [
        f"wrote {len(recs)} images to {outdir} ({manifest['bytes'] / 1e6:.1f} MB, {manifest['elapsed_s']} s): "
        + ", ".join(f"{s} {splits.get(s, 0)}" for s in SPLITS)
    ]
    lines += [
        "  per package: "
        + ", ".join(f"{p} {manifest['packages'][p]['version']}: {pk.get(p, 0)}" for p in manifest["packages"])
    ]
    lines += ["  per licence: " + ", ".join(f"{lic} {n}" for lic, n in lics.most_common())]
    lines += ["  dropped: " + (", ".join(f"{k} {v}" for k, v in manifest["dropped"].items()) or "none")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("outdir", metavar="OUTDIR", help="folder to create (train/ val/ test/ SOURCES.md sources.json)")
    p.add_argument(
        "--packages", default=",".join(DEFAULT_PACKAGES), help="comma-separated Debian packages (default: %(default)s)"
    )
    p.add_argument("--max-side", type=int, default=960, help="longer side at most this many pixels (default 960)")
    p.add_argument(
        "--min-downscale",
        type=float,
        default=MIN_DOWNSCALE,
        help=f"shrink every image at least this much (default {MIN_DOWNSCALE}; 1 = only to --max-side)",
    )
    p.add_argument("--min-side", type=int, default=256, help="drop images whose shorter side is smaller (default 256)")
    p.add_argument(
        "--min-gradient",
        type=float,
        default=MIN_GRADIENT,
        help=f"drop images with a lower gradient score (default {MIN_GRADIENT})",
    )
    p.add_argument("--val-fraction", type=_fraction, default=0.1, help="default 0.1")
    p.add_argument("--test-fraction", type=_fraction, default=0.1, help="default 0.1")
    p.add_argument("--format", choices=("png", "jpg"), default="png", help="png, or jpg at quality 95 (default png)")
    p.add_argument("--keep-debs", metavar="DIR", help="cache the downloaded .deb files here (reused when present)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing non-empty OUTDIR")
    args = p.parse_args(argv)
    if args.val_fraction + args.test_fraction >= 1:
        p.error("--val-fraction + --test-fraction must be below 1")
    if args.min_downscale < 1:
        p.error("--min-downscale must be at least 1")
    if args.max_side < args.min_side:
        p.error("--max-side must be at least --min-side")
    packages = [x.strip() for x in args.packages.split(",") if x.strip()]
    if not packages:
        p.error("--packages is empty")
    try:
        manifest = prepare(
            args.outdir,
            packages,
            max_side=args.max_side,
            min_downscale=args.min_downscale,
            min_side=args.min_side,
            min_gradient=args.min_gradient,
            val_fraction=args.val_fraction,
            test_fraction=args.test_fraction,
            fmt=args.format,
            keep_debs=args.keep_debs,
            overwrite=args.overwrite,
        )
    except DatasetError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    print(summary(manifest, os.path.abspath(args.outdir)))
    return 0
