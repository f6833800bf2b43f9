"""``OUTDIR/manifest.json``: which model the artifacts come from, with what, and how close they are.

    {"source": {"path", "sha256", "config"},
     "versions": {"tga_keras", "tensorflow", "keras", "tf2onnx", ...},
     "artifacts": [{"format", "precision", "path" (relative to OUTDIR), "bytes",
                    "input": {"name", "dtype", "shape"}, "output": {...},
                    "max_abs_diff", "psnr_db", ...}]}

One OUTDIR holds the artifacts of one model: a later export of the same model adds or replaces
entries (by path); an export of another model into it needs ``--overwrite``, which starts a new
manifest. Written atomically after every artifact.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform

from tga_keras.io.files import read_json_object, sha256_digest

NAME = "manifest.json"
PACKAGES = (
    "tga-keras",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "numpy",
    "tf2onnx",
    "onnx",
    "onnxruntime",
    "onnxconverter-common",
    "ai-edge-litert",
    "tensorrt",
)


def versions() -> dict:
    out = {"python": platform.python_version()}
    try:
        import tensorflow as tf

        out["tensorflow"] = tf.__version__  # whichever build (tensorflow, tensorflow-cpu) is installed
    except ImportError:
        pass
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def read(outdir: str) -> dict | None:
    path = os.path.join(outdir, NAME)
    if not os.path.isfile(path):
        return None
    return read_json_object(path)


def source_record(model_path: str, config) -> dict:
    return {"path": os.path.abspath(model_path), "sha256": sha256_digest(model_path), "config": config.to_dict()}


def check_same_source(outdir: str, source: dict, overwrite: bool) -> None:
    """``UsageError`` if OUTDIR's manifest lists artifacts of another model (unless ``overwrite``)."""
    from tga_keras.errors import UsageError

    old = read(outdir)
    if old is None or overwrite or not old.get("artifacts"):
        return
    if old.get("source", {}).get("sha256") != source["sha256"]:
        raise UsageError(
            f"{outdir} holds artifacts of another model ({old.get('source', {}).get('path')}); "
            "choose another OUTDIR or pass --overwrite"
        )


def write(outdir: str, source: dict, entries: list[dict], overwrite: bool) -> str:
    """Merge ``entries`` into OUTDIR's manifest (same path: replaced; entries whose files are gone: dropped)."""
    from tga_keras.io.files import atomic_path

    old = read(outdir)
    kept = []
    if old is not None and old.get("source", {}).get("sha256") == source["sha256"]:
        new_paths = {e["path"] for e in entries}
        kept = [
            e
            for e in old.get("artifacts", [])
            if e.get("path") not in new_paths and os.path.exists(os.path.join(outdir, e.get("path", "")))
        ]
    data = {"source": source, "versions": versions(), "artifacts": kept + entries}
    path = os.path.join(outdir, NAME)
    with atomic_path(path, overwrite=True) as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    return path
