"""Safe file writing: write to a temporary file beside the target, then rename (never half-written)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from typing import Any


def replace_path(source: str, target: str) -> None:
    """Rename ``source`` (a file or folder) to ``target``, replacing what is there.

    A file replaces a file in one atomic rename. A folder (or anything replacing a folder) is
    swapped in by moving the old one aside first, so ``target`` never goes missing; the old one
    is put back if the rename fails, and deleted after it succeeds.
    """
    if not os.path.lexists(target) or not (os.path.isdir(target) or os.path.isdir(source)):
        os.replace(source, target)
        return
    old = f"{target}.old-{os.getpid()}"
    os.replace(target, old)
    try:
        os.replace(source, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True) if os.path.isdir(old) else os.unlink(old)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = False):
    """Yield a temporary path in the target's folder; on success rename it to ``path``.

    Refuses to replace an existing ``path`` unless ``overwrite`` (raises ``FileExistsError``).
    The temporary file keeps the target's extension (some writers pick the format from it).
    The temporary path may become a file or a folder; either replaces either (:func:`replace_path`).
    """
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    base, ext = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".part{ext}", dir=folder)
    os.close(fd)
    os.unlink(tmp)
    try:
        yield tmp
        if not os.path.exists(tmp):
            raise RuntimeError(f"nothing was written to {path}")
        replace_path(tmp, path)
    finally:
        if os.path.exists(tmp):
            if os.path.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                os.unlink(tmp)


def path_bytes(path: str | os.PathLike) -> int:
    """Size of a file, or of every file under a folder, in bytes."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    return os.path.getsize(path)


def sha256_digest(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes; of a folder, over every file under it in sorted order, each file's
    name then its bytes (a SavedModel folder or a ``.keras`` file hash the same way on any machine)."""
    path = os.fspath(path)
    h = hashlib.sha256()
    if os.path.isdir(path):
        for d, _, files in sorted(os.walk(path)):
            for name in sorted(files):
                h.update(name.encode())
                with open(os.path.join(d, name), "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
        return h.hexdigest()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as JSON to ``path``: a temporary file beside it, synced to disk, then renamed (mode 0644)."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_json_object(path: str | os.PathLike) -> dict | None:
    """The JSON object in ``path``; ``None`` if there is no such file, it cannot be read, or it holds no object."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
