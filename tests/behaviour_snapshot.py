"""Output-equality check for restructuring: run every command and option family, record what it did.

``python tests/behaviour_snapshot.py record REPO OUT.json`` runs each case below against the checkout
REPO (``PYTHONPATH=REPO``, the current interpreter's packages) in a scratch folder and records, per
case, the exit code, stdout and stderr (normalised: scratch and checkout paths, progress bars and
timings masked) and a digest of every file it wrote (decoded pixels for images and videos, the
weights for ``.keras`` files, bytes otherwise; JSON with timing fields masked).
``python tests/behaviour_snapshot.py compare BEFORE.json AFTER.json`` lists every case that differs
and exits 1 if any does.

Entry points that moved are called by their name in each layout (:data:`ENTRY`): the check proves that
the same command, however it is spelled, gives the same outputs, messages and exit codes.
This is a developer tool, not a test (pytest does not collect it): one run takes a few minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SHIPPED = "saved_models/tga_small_bd_x4/model.keras"
CLIP = "tga_keras/assets/carphone_pristine.mp4"
PTH = "tests/fixtures/official_tga_random_seed0.pth"

# entry point -> (module in the old layout, module in the new layout); argv follows.
ENTRY = {
    "tga": (["tga_keras.cli"], ["tga_keras.cli"]),
    "export": (["export"], ["export"]),
    "export.profile": (["export.profile"], ["export", "profile"]),
    "train": (["training.run"], ["training.run"]),
    "package": (["training.package"], ["training.tools", "package"]),
    "slurm": (["training.slurm"], ["training.tools", "slurm"]),
    "ablation": (["training.ablation_table"], ["training.tools", "ablation-table"]),
    "stills": (["training.prepare_stills"], ["training.tools", "stills"]),
    "clips": (["training.prepare_clips"], ["training.tools", "clips"]),
    "pans": (["tga_keras.data.pans"], ["training.tools", "pans"]),
}

# prog names as argparse prints them, old -> new (usage lines and messages); applied to old output
PROG = {
    "python -m export.profile": "python -m export profile",
    "python -m training.package": "python -m training.tools package",
    "python -m training.slurm": "python -m training.tools slurm",
    "python -m training.ablation_table": "python -m training.tools ablation-table",
    "python -m training.prepare_stills": "python -m training.tools stills",
    "python -m training.prepare_clips": "python -m training.tools clips",
    "python -m tga_keras.data.pans": "python -m training.tools pans",
}

UP = ["--weights", "{R}/" + SHIPPED, "--no-progress"]
CASES: list[tuple[str, str, list[str]]] = [
    # (name, entry, argv): {R} the checkout, {W} the scratch folder (also the working directory)
    ("help", "tga", ["--help"]),
    ("no_command", "tga", []),
    ("version", "tga", ["--version"]),
    ("bad_command", "tga", ["nope"]),
    *[(f"help_{c}", "tga", [c, "--help"]) for c in ("demo", "upscale", "convert", "evaluate", "benchmark", "info")],
    ("info", "tga", ["info"]),
    ("info_summary_bad", "tga", ["info", "--summary", "huge"]),
    ("up_mp4", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/up.mp4", "--frames-limit", "3", *UP]),
    ("up_png", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/png", "--start", "4", "--frames-limit", "2", *UP]),
    ("up_lossless", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/l.mkv", "--lossless", "--frames-limit", "2", *UP]),
    (
        "up_tile",
        "tga",
        ["upscale", "{W}/clip.mp4", "{W}/o/t", "--tile", "24", "--overlap", "6", "--frames-limit", "1"]
        + ["--batch-size", "3", *UP],
    ),
    ("up_align", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/a", "--align", "on", "--frames-limit", "1", *UP]),
    ("up_bf16", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/b", "--precision", "bfloat16", "--frames-limit", "1", *UP]),
    (
        "up_pictures",
        "tga",
        ["upscale", "{W}/clip.mp4", "{W}/o/p", "--frames-limit", "2", "--compare", "{W}/o/c.png"]
        + ["--attention", "{W}/o/att.png", "--compare-frame", "1", *UP],
    ),
    ("up_fps_codec", "tga", ["upscale", "{W}/frames", "{W}/o/f.avi", "--fps", "10", "--frames-limit", "2", *UP]),
    ("up_mpeg4", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/m.mkv", "--codec", "mpeg4", "--frames-limit", "1", *UP]),
    ("up_crf", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/crf.mp4", "--crf", "30", "--frames-limit", "1", *UP]),
    (
        "up_untrained",
        "tga",
        ["upscale", "{W}/frames", "{W}/o/u", "--preset", "small", "--frames-limit", "1"] + ["--no-progress"],
    ),
    ("up_exists", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/up.mp4", "--frames-limit", "1", *UP]),
    ("up_missing", "tga", ["upscale", "{W}/nothing.mp4", "{W}/o/x.mp4", *UP]),
    ("up_bad_crf", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/x.avi", "--crf", "20", *UP]),
    ("up_bad_tile", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/x", "--tile", "0", *UP]),
    ("up_bad_weights", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/x", "--weights", "{W}/clip.mp4"]),
    ("up_bad_backend", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/x", "--backend", "onnx", *UP]),
    (
        "up_bad_frame",
        "tga",
        ["upscale", "{W}/clip.mp4", "{W}/o/x", "--compare", "{W}/o/y.png"] + ["--compare-frame", "500", *UP],
    ),
    ("up_empty_dir", "tga", ["upscale", "{W}/empty", "{W}/o/x", *UP]),
    ("up_start_past", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/x", "--start", "1000", *UP]),
    ("up_verbose", "tga", ["--verbose", "upscale", "{W}/clip.mp4", "{W}/o/v.mp4", "--frames-limit", "1", *UP]),
    ("up_segments", "tga", ["upscale", "{W}/clip.mp4", "{W}/o/s.mkv", "--lossless", "--segment-frames", "4", *UP]),
    ("batch", "tga", ["batch", "{W}/videos", "{W}/o/batch", "--frames-limit", "2", "--lossless", *UP]),
    ("batch_rerun", "tga", ["batch", "{W}/videos", "{W}/o/batch", "--frames-limit", "2", "--lossless", *UP]),
    ("batch_bad_src", "tga", ["batch", "{W}/nothing", "{W}/o/batch2", *UP]),
    ("help_batch", "tga", ["batch", "--help"]),
    ("ev_json", "tga", ["evaluate", "{W}/clip.mp4", "--max-frames", "2", "--json", "{W}/o/e.json", *UP]),
    (
        "ev_plain_bi",
        "tga",
        ["evaluate", "{W}/clip.mp4", "--protocol", "plain", "--degradation", "bi"]
        + ["--max-frames", "2", "--first-frame", "3", *UP],
    ),
    (
        "ev_ablation",
        "tga",
        ["evaluate", "{W}/frames", "--temporal-ablation", "--max-frames", "1", "--tile", "30"]
        + ["--json", "{W}/o/ab.json", *UP],
    ),
    ("ev_seqs", "tga", ["evaluate", "{W}/seqs", "--max-frames", "1", "--crop-border", "4", *UP]),
    ("ev_plot", "tga", ["evaluate", "{W}/clip.mp4", "--max-frames", "2", "--plot", "{W}/o/p.svg", *UP]),
    ("ev_exists", "tga", ["evaluate", "{W}/clip.mp4", "--max-frames", "1", "--json", "{W}/o/e.json", *UP]),
    ("ev_missing", "tga", ["evaluate", "{W}/nothing", *UP]),
    ("ev_empty", "tga", ["evaluate", "{W}/empty", *UP]),
    ("demo", "tga", ["demo", "--frames", "2", "--output", "{W}/o/demo", *UP]),
    ("demo_bad_frames", "tga", ["demo", "--frames", "0", *UP]),
    ("convert", "tga", ["convert", "{R}/" + PTH, "{W}/o/official.keras"]),
    ("convert_exists", "tga", ["convert", "{R}/" + PTH, "{W}/o/official.keras"]),
    ("convert_wrong_preset", "tga", ["convert", "{R}/" + PTH, "{W}/o/p.keras", "--preset", "paper"]),
    ("convert_not_pth", "tga", ["convert", "{W}/clip.mp4", "{W}/o/q.keras"]),
    ("bench", "tga", ["benchmark", "--preset", "small", "--size", "24x24", "--runs", "1", "--json", "{W}/o/b.json"]),
    (
        "bench_weights_tile",
        "tga",
        ["benchmark", "--weights", "{R}/" + SHIPPED, "--size", "40x40", "--runs", "1"] + ["--tile", "24"],
    ),
    ("bench_bad_size", "tga", ["benchmark", "--size", "12"]),
    (
        "bench_train",
        "tga",
        ["benchmark", "--train", "--preset", "small", "--batch", "1", "--hr-crop", "32"] + ["--runs", "1"],
    ),
    ("export_help", "export", ["--help"]),
    ("export_onnx", "export", ["onnx", "{R}/" + SHIPPED, "{W}/o/exp", "--input-size", "24x24"]),
    (
        "export_tflite",
        "export",
        ["tflite", "{R}/" + SHIPPED, "{W}/o/exp", "--precision", "fp32"] + ["--input-size", "24x24"],
    ),
    ("export_exists", "export", ["onnx", "{R}/" + SHIPPED, "{W}/o/exp", "--input-size", "24x24"]),
    ("export_bad_format", "export", ["jpeg", "{R}/" + SHIPPED, "{W}/o/exp2"]),
    ("export_bad_model", "export", ["onnx", "{W}/clip.mp4", "{W}/o/exp3"]),
    (
        "up_onnx",
        "tga",
        ["upscale", "{W}/clip.mp4", "{W}/o/onnx", "--weights", "{W}/o/exp/onnx/model.onnx"]
        + ["--frames-limit", "1", "--no-progress"],
    ),
    ("profile", "export.profile", ["{W}/o/exp/onnx/model.onnx", "--size", "16x16", "--runs", "1"]),
    ("profile_help", "export.profile", ["--help"]),
    ("train_help", "train", ["--help"]),
    ("train", "train", ["--config", "{W}/train/cfg.json", "--output", "{W}/o/run", "--epochs", "1", "--quiet"]),
    ("train_other_config", "train", ["--config", "{W}/train/cfg2.json", "--output", "{W}/o/run", "--quiet"]),
    ("train_bad_config", "train", ["--config", "{W}/train/bad.json", "--output", "{W}/o/run2", "--quiet"]),
    ("package", "package", ["{W}/o/run", "{W}/o/pkg"]),
    ("package_exists", "package", ["{W}/o/run", "{W}/o/pkg"]),
    (
        "package_bad_weight",
        "package",
        ["{W}/o/run", "{W}/o/pkg2", "--average-with", "{W}/o/run/best.keras"] + ["--weight", "2"],
    ),
    ("package_help", "package", ["--help"]),
    ("slurm", "slurm", ["--port", "1234"]),
    ("slurm_help", "slurm", ["--help"]),
    ("ablation", "ablation", ["{R}/docs/ablation"]),
    ("ablation_usage", "ablation", []),
    ("stills_help", "stills", ["--help"]),
    ("stills_exists", "stills", ["{W}/frames"]),
    ("clips_help", "clips", ["--help"]),
    ("clips_exists", "clips", ["{W}/frames"]),
    ("pans", "pans", ["{W}/frames", "{W}/o/pans", "--frames", "3", "--size", "32x32", "--seed", "3"]),
    ("pans_exists", "pans", ["{W}/frames", "{W}/o/pans"]),
    ("pans_help", "pans", ["--help"]),
]

ENV_EXTRA = {
    "slurm": {"SLURM_STEP_NODELIST": "gpu[01-02],login1", "SLURM_PROCID": "1"},
}

_TQDM = re.compile(r"[^\n\r]*\|[^\n\r]*\[[^\]\n]*(?:it/s|s/it|frame|/s)[^\]\n]*\][^\n]*")
_NUMBER_TIMING = re.compile(r"(\d+(?:\.\d+)?)(\s*(?:ms|s|MB|MiB|GB|GiB|fps|samples/s|it/s|s/frame|ms/frame|%|x))\b")
_TIMING_KEYS = re.compile(r"(time|seconds|ms|_s$|fps|per_s|memory|rss|mb|bytes|date|version|sha256|speed|ratio)", re.I)


def _prepare(work: Path, repo: Path) -> None:
    """Inputs every layout reads: a 12-frame clip, frames, sequences, a tiny training config."""
    import cv2
    import numpy as np

    cap = cv2.VideoCapture(str(repo / CLIP))
    frames = []
    while len(frames) < 12:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(work / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
    for f in frames:
        vw.write(f)
    vw.release()
    (work / "frames").mkdir()
    for i, f in enumerate(frames[:8]):
        cv2.imwrite(str(work / "frames" / f"{i:03d}.png"), f[:64, :80])
    for s in ("a", "b"):
        (work / "seqs" / s).mkdir(parents=True)
        for i, f in enumerate(frames[:4]):
            cv2.imwrite(str(work / "seqs" / s / f"{i:02d}.png"), f[16 if s == "b" else 0 :][:48, :64])
    (work / "videos" / "sub").mkdir(parents=True)
    for name in ("a.mp4", "sub/b.mp4"):
        (work / "videos" / name).write_bytes((work / "clip.mp4").read_bytes())
    (work / "empty").mkdir()
    (work / "train").mkdir()
    rng = np.random.default_rng(1)
    for name, n in (("train.avi", 12), ("val.avi", 9)):
        vw = cv2.VideoWriter(str(work / "train" / name), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
        for _ in range(n):
            vw.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
        vw.release()
    cfg = {
        "model": {"preset": "small", "nf": 16, "inter_units": [2]},
        "train_videos": ["train.avi"],
        "val_videos": ["val.avi"],
        "val_frames": 2,
        "hr_crop": 32,
        "batch_size": 2,
        "steps_per_epoch": 2,
        "epochs": 3,
        "loss": "charbonnier",
        "tensorboard": False,
        "deterministic": True,
    }
    (work / "train" / "cfg.json").write_text(json.dumps(cfg))
    (work / "train" / "cfg2.json").write_text(json.dumps({**cfg, "hr_crop": 48}))
    (work / "train" / "bad.json").write_text(json.dumps({**cfg, "model": {"preset": "huge"}}))
    (work / "o").mkdir()


def _normalise(text: str, work: Path, repo: Path) -> str:
    text = text.replace(str(work), "<W>").replace(str(repo), "<R>")
    text = text.replace("\r", "\n")
    text = _TQDM.sub("<progress>", text)
    for old, new in PROG.items():
        text = text.replace(old, new)
    text = _NUMBER_TIMING.sub(r"<n>\2", text)
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip() and "<progress>" not in ln]
    # measured columns: every number of a benchmark table's rows and of a profile's shares
    table = False
    for i, ln in enumerate(lines):
        if ln.startswith("backend ") and "ms/frame" in ln:
            table = True
        elif table and re.match(r"^(auto:)?[a-z]+[a-z0-9:_ ]*\s{2}", ln):
            lines[i] = re.sub(r"\d+(?:\.\d+)?", "<n>", ln)
        else:
            table = False
        lines[i] = re.sub(r"\d+(?:\.\d+)? %$", "<n> %", lines[i])
    # TensorFlow/absl start-up chatter is not the program's output
    lines = [ln for ln in lines if not re.match(r"^(WARNING: All log messages|I0000|W0000|E0000|\d{4}-\d\d-\d\d )", ln)]
    return "\n".join(lines)


def _mask_json(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: ("<masked>" if _TIMING_KEYS.search(k) else _mask_json(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mask_json(v) for v in obj]
    return obj


def _digest(path: Path, work: Path, repo: Path) -> str:
    suffix = path.suffix.lower()
    h = hashlib.sha256()
    try:
        if suffix in (".png", ".jpg"):
            import cv2

            img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            h.update(img.tobytes() if img is not None else path.read_bytes())
            return "px:" + h.hexdigest()[:16]
        if suffix in (".mp4", ".mkv", ".avi", ".mov"):
            import av
            import cv2

            with av.open(str(path)) as c:
                stream = c.streams.video[0]
                # Lossy encoders threaded inside a process running TensorFlow do not give the same bytes
                # twice (libx264: up to 37/255 apart between two runs of one command), so only lossless
                # outputs are compared by their pixels; lossy ones by frame count, size, timestamps and
                # 8x8 thumbnails, which :func:`compare` allows to differ by THUMB_TOLERANCE.
                lossless = stream.codec_context.name in ("ffv1", "png", "rawvideo")
                n, thumbs = 0, []
                for frame in c.decode(stream):
                    rgb = frame.to_ndarray(format="rgb24")
                    h.update(rgb.tobytes() if lossless else b"")
                    h.update(f"{frame.pts} {frame.width}x{frame.height}".encode())
                    if not lossless:
                        thumbs.append(cv2.resize(rgb, (8, 8), interpolation=cv2.INTER_AREA).ravel().tolist())
                    n += 1
            text = f"video:{stream.codec_context.name}:{n}:" + h.hexdigest()[:16]
            return text if lossless else f"{text}{THUMBS}{json.dumps(thumbs)}"
        if suffix == ".keras":
            with zipfile.ZipFile(path) as z:
                cfg = json.loads(z.read("config.json"))
                h.update(json.dumps(_strip_module(cfg), sort_keys=True).encode())
                import h5py

                with z.open("model.weights.h5") as f, h5py.File(f, "r") as w:
                    w.visititems(lambda n, o: h.update(n.encode() + o[()].tobytes()) if hasattr(o, "shape") else None)
            return "keras:" + h.hexdigest()[:16]
        if suffix == ".json":
            text = path.read_text().replace(str(work), "<W>").replace(str(repo), "<R>")
            return "json:" + json.dumps(_mask_json(json.loads(text)), sort_keys=True)[:4000]
        if suffix == ".onnx":  # the graph and weights; tf2onnx's node names carry scratch ids
            import onnx

            m = onnx.load(str(path))  # tf2onnx's node order changes between runs: compared as sets
            h.update(str(sorted(str((n.op_type, list(n.attribute))) for n in m.graph.node)).encode())
            for raw in sorted(hashlib.sha256(t.raw_data).hexdigest() for t in m.graph.initializer):
                h.update(raw.encode())
            h.update(str(sorted((p.key, p.value) for p in m.metadata_props)).encode())
            return "onnx:" + h.hexdigest()[:16]
        if suffix in (".csv", ".md", ".txt", ".svg"):
            text = path.read_text().replace(str(work), "<W>").replace(str(repo), "<R>")
            if suffix == ".csv":
                text = "\n".join(",".join(r.split(",")[:1] + r.split(",")[2:]) for r in text.splitlines())
            if suffix == ".svg":
                # matplotlib's element ids are random per run (svg.hashsalt unset)
                text = re.sub(r"<dc:date>.*?</dc:date>|id=\"[^\"]+\"|#[a-z]?[0-9a-f]{10,}", "", text)
            return "text:" + hashlib.sha256(text.encode()).hexdigest()[:16]
    except Exception as e:  # noqa: BLE001 - an unreadable output is itself a fact to compare
        return f"unreadable:{type(e).__name__}"
    if suffix in (".pb", ".h5", ".index") or "variables" in path.parts or "state" in path.parts:
        return "present"  # SavedModel / training state bytes carry ids and times; presence is compared
    return "bytes:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _strip_module(obj: object) -> object:
    """Keras configs name each class's Python module; a move changes it, not the model."""
    if isinstance(obj, dict):
        return {k: _strip_module(v) for k, v in obj.items() if k not in ("module", "registered_name")}
    if isinstance(obj, list):
        return [_strip_module(v) for v in obj]
    return obj


def _layout(repo: Path) -> int:
    return 0 if (repo / "training" / "prepare_stills.py").exists() else 1


def record(repo: Path, out: Path, only: list[str] | None) -> None:
    repo = repo.resolve()
    layout = _layout(repo)
    results = {}
    with tempfile.TemporaryDirectory(prefix="tga_snapshot_") as tmp:
        work = Path(tmp)
        _prepare(work, repo)
        env = {
            **os.environ,
            "PYTHONPATH": str(repo),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "COLUMNS": "80",
            "CUDA_VISIBLE_DEVICES": "",
            # the Keras path, so that no case depends on which runtime this machine measured fastest
            "TGA_AUTO_BACKEND": "keras",
            "TGA_CACHE_DIR": str(work / "cache"),
        }
        env.pop("TGA_VERBOSE_TF", None)
        for name, entry, argv in CASES:
            if only and name not in only:
                continue
            before = {p: p.stat().st_mtime_ns for p in (work / "o").rglob("*") if p.is_file()}
            args = [a.replace("{R}", str(repo)).replace("{W}", str(work)) for a in argv]
            cmd = [sys.executable, "-m", *ENTRY[entry][layout], *args]
            p = subprocess.run(cmd, cwd=work, env={**env, **ENV_EXTRA.get(entry, {})}, capture_output=True, text=True)
            files = {}
            for f in sorted((work / "o").rglob("*")):
                if f.is_file() and before.get(f) != f.stat().st_mtime_ns:
                    files[str(f.relative_to(work))] = _digest(f, work, repo)
            results[name] = {
                "rc": p.returncode,
                "stdout": _normalise(p.stdout, work, repo),
                "stderr": _normalise(p.stderr, work, repo),
                "files": files,
            }
            print(f"{name}: rc {p.returncode}, {len(files)} files", flush=True)
    out.write_text(json.dumps(results, indent=1, sort_keys=True))


THUMBS = " thumbs="
THUMB_TOLERANCE = 2  # two runs of one H.264 command differ by at most 1 in these 8x8 means


def _same_files(x: dict | None, y: dict | None) -> bool:
    """Equal digests, lossy videos' thumbnails within THUMB_TOLERANCE."""
    if x is None or y is None or set(x) != set(y):
        return x == y
    for key, u in x.items():
        v = y[key]
        if u == v:
            continue
        if THUMBS not in u or THUMBS not in v:
            return False
        (uh, ut), (vh, vt) = u.split(THUMBS), v.split(THUMBS)
        tu, tv = json.loads(ut), json.loads(vt)
        if uh != vh or len(tu) != len(tv):
            return False
        if any(abs(p - q) > THUMB_TOLERANCE for s, t in zip(tu, tv, strict=True) for p, q in zip(s, t, strict=True)):
            return False
    return True


def compare(a_path: Path, b_path: Path) -> int:
    a, b = json.loads(a_path.read_text()), json.loads(b_path.read_text())
    bad = 0
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name) or {}, b.get(name) or {}
        if a.get(name) == b.get(name) or (
            {k: v for k, v in x.items() if k != "files"} == {k: v for k, v in y.items() if k != "files"}
            and _same_files(x.get("files"), y.get("files"))
        ):
            continue
        bad += 1
        print(f"== {name}")
        for key in ("rc", "stdout", "stderr", "files"):
            x, y = (a.get(name) or {}).get(key), (b.get(name) or {}).get(key)
            if x != y:
                print(f"  {key}:\n    before: {json.dumps(x)[:1500]}\n    after:  {json.dumps(y)[:1500]}")
    print(f"{len(set(a) | set(b)) - bad} cases equal, {bad} differ")
    return 1 if bad else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("record")
    r.add_argument("repo", type=Path)
    r.add_argument("out", type=Path)
    r.add_argument("--only", nargs="*")
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = p.parse_args()
    if args.what == "record":
        record(args.repo, args.out, args.only)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
