"""``tga benchmark``: speed and memory of the inference core, optionally against the ONNX speed peer.

Timings go through the same inference core as ``tga upscale`` (``tga_keras.runtime.upscaler.Upscaler``),
for any backend: ``--weights`` a Keras model or an exported artifact (``--backend``), or
``--artifacts OUTDIR`` for every artifact of a ``python -m export`` folder plus the Keras model it
came from (float32 and bfloat16), each in a fresh process so that its peak memory is its own.
``psnr_vs_fp32`` compares each backend with the float32 Keras model on real frames (the bundled
clip, BD x4). The peer is the official network exported to ONNX, run by onnxruntime with the same
input size and thread count in the same run, so the ratio is comparable across machines; absolute
times are not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

from tga_keras.cli.options import (
    MODEL_HELP,
    add_precision_argument,
    add_preset_argument,
    add_tile_arguments,
    add_weights_arguments,
    weights_missing,
    weights_not_found,
)
from tga_keras.errors import UsageError

DEFAULT_PEER = os.path.join("..", "shared", "reference", "official_tga_random_seed0.onnx")


def add_parser(sub):
    from tga_keras.models.presets import DEFAULT_PRESET

    p = sub.add_parser(
        "benchmark",
        help="time the model (ms/frame, peak memory), optionally against the onnxruntime peer",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_preset_argument(p, default=DEFAULT_PRESET)
    p.add_argument("--config", metavar="JSON", help="TGAConfig fields overriding the preset, e.g. '{\"nf\": 48}'")
    add_weights_arguments(
        p,
        MODEL_HELP + " (default: random weights; speed is the same)",
        extra_backends=("peer",),
        backend_note="; peer: --weights is the official network as ONNX, timed alone",
    )
    p.add_argument(
        "--artifacts",
        metavar="OUTDIR",
        help="time every artifact listed in OUTDIR/manifest.json and its source Keras model (fp32, bf16), "
        "one process each; with --peer, the peer is a row of the same run",
    )
    p.add_argument("--json", metavar="FILE", help="write the results as JSON (atomic): config, size, threads, results")
    p.add_argument("--overwrite", action="store_true", help="replace --json FILE if it exists")
    p.add_argument("--size", default="144x180", help="LR frame size HxW")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (TensorFlow and onnxruntime)")
    p.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up; the median is reported")
    add_tile_arguments(p, "LR tile size (default: whole frame)", tile_metavar=None)
    add_precision_argument(p)
    p.add_argument(
        "--train",
        action="store_true",
        help="instead of inference: samples/s of the training input pipeline alone (bundled clip, BD) "
        "vs training steps of the preset, same batch size and crop",
    )
    p.add_argument("--batch", type=int, default=8, help="batch size for --train")
    p.add_argument("--data", metavar="VIDEO", help="video for --train (default: the bundled 176x144 clip)")
    p.add_argument("--hr-crop", type=int, default=128, help="HR crop for --train (LR = crop / 4)")
    p.add_argument(
        "--peer",
        default=None,
        metavar="ONNX",
        help=f"ONNX file of the official network to time with onnxruntime (e.g. {DEFAULT_PEER})",
    )
    p.add_argument(
        "--peak",
        action="store_true",
        help="also measure this machine's practical peak: the network's dominant convolutions alone, on every "
        "runtime installed here (tensorflow, tflite, onnx, openvino; bf16 where the CPU has it), at --size and "
        "--threads; every row then gets its %% of the float32 peak (GFLOP/s: the network's FLOPs, counted from "
        "its graph, over its time)",
    )
    p.add_argument("--no-flops", action="store_true", help=argparse.SUPPRESS)  # rows of a suite: counted once
    from tga_keras.cli import benchmark_segments

    benchmark_segments.add_arguments(p)
    return p


def _size(text: str):
    from tga_keras.cli.options import parse_size

    try:
        return parse_size(text, "--size")
    except ValueError as e:
        raise UsageError(str(e)) from None


def _config(args):
    """The preset's TGAConfig with the ``--config`` overrides (UsageError for bad JSON or fields)."""
    import json

    from tga_keras.errors import UsageError
    from tga_keras.models.config import TGAConfig

    cfg = TGAConfig.preset(args.preset)
    if not args.config:
        return cfg
    try:
        changes = json.loads(args.config)
    except json.JSONDecodeError as e:
        raise UsageError(f"--config is not valid JSON: {e}") from None
    if not isinstance(changes, dict):
        raise UsageError("--config must be a JSON object of TGAConfig fields")
    return TGAConfig.from_dict({**cfg.to_dict(), **changes})


def _label(args) -> str:
    return f"{args.preset} preset" + (f" + {args.config}" if args.config else "")


def _set_threads(threads: int) -> None:
    from tga_keras.runtime.machine import set_tensorflow_threads

    set_tensorflow_threads(threads)  # already initialised with another count (tests): it keeps that one


def _peak_rss_mb() -> float:
    """This process's peak resident memory. Linux: ``VmHWM``, which starts afresh at ``exec`` (a row's own
    process); ``ru_maxrss`` may carry the parent's peak into a child started by ``vfork``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peer_inputs(h: int, w: int) -> dict[str, tuple[int, ...]]:
    """The shapes the official ONNX network is fed: ``x`` (1, 3, 9, h, w) and the bicubic ``hr``."""
    return {"x": (1, 3, 9, h, w), "hr": (1, 3, 4 * h, 4 * w)}


def time_peer(onnx_path: str, h: int, w: int, threads: int, runs: int) -> float:
    """Median ms/frame of the official ONNX network on onnxruntime (CPU): inputs ``x`` and ``hr``."""
    import numpy as np

    from tga_keras.runtime.backends.onnx import onnx_session

    sess = onnx_session(onnx_path, threads)
    rng = np.random.default_rng(0)
    feed = {name: rng.random(shape, dtype=np.float32) for name, shape in peer_inputs(h, w).items()}
    from tga_keras.runtime.fastest import median_ms

    return median_ms(lambda: sess.run(None, feed), runs)


def run_train(args) -> int:
    """Input pipeline samples/s vs model.fit step samples/s, one process, same batches."""
    import keras
    import tensorflow as tf

    from tga_keras.assets import clip_path
    from tga_keras.data import VideoFiles, make_train_dataset, measure_pipeline_throughput
    from tga_keras.models.model import build_tga

    video = args.data or clip_path()
    ds = make_train_dataset(VideoFiles(video), batch_size=args.batch, hr_crop=args.hr_crop, seed=0)
    pipe = measure_pipeline_throughput(ds, steps=max(5, 3 * args.runs))
    policy = "float32" if args.precision == "float32" else f"mixed_{args.precision}"
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = build_tga(_config(args))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mae")
    lr, hr = next(iter(ds))
    model.train_on_batch(lr, hr)  # tracing
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        model.train_on_batch(lr, hr)
        times.append(time.perf_counter() - t)
    step = statistics.median(times)
    print(f"machine: {os.cpu_count()} cpus, tensorflow {tf.__version__}, {args.threads} threads")
    print(
        f"input pipeline ({os.path.basename(video)}, BD x4, HR crop {args.hr_crop}, batch {args.batch}, "
        f"augmentations): "
        f"{pipe:.1f} samples/s"
    )
    n = sum(int(v.numpy().size) for v in model.trainable_weights)
    print(
        f"training step, {_label(args)} ({n:,} params, Adam, L1, {policy}): {step * 1000:.0f} ms/batch = "
        f"{args.batch / step:.1f} samples/s (median of {args.runs})"
    )
    print(f"the pipeline is {pipe * step / args.batch:.1f}x faster than training consumes it")
    return 0


ROW_FIELDS = ("backend", "precision", "ms_per_frame", "psnr_vs_fp32", "peak_rss_mb")


def _reference_model(args, backend):
    """The float32 Keras model that ``psnr_vs_fp32`` compares ``backend`` with (None: it is the
    reference itself, or no Keras source is known for the artifact)."""
    from tga_keras.models.loading import load_tga
    from tga_keras.runtime.backends import REGISTRY
    from tga_keras.runtime.backends.base import find_manifest_entry

    if backend.name == "keras" and backend.precision == "fp32":
        return None
    if getattr(backend, "keras_model", None) is not None:  # a Keras model on the runtime chosen for it
        return backend.keras_model
    path = str(args.weights)
    if path.lower().endswith(REGISTRY["keras"].suffixes) or backend.name == "keras":  # converted here, or bf16
        return load_tga(path)
    found = find_manifest_entry(args.weights)
    source = found[0].get("source", {}).get("path") if found else None
    if source and os.path.isfile(source):
        return load_tga(source)
    return None


def measure(args, h: int, w: int) -> dict:
    """One result row: the backend of ``--weights``/``--backend`` (or an untrained preset), timed here."""
    import numpy as np

    from tga_keras.runtime.backends import load_backend
    from tga_keras.runtime.backends.keras import KerasBackend
    from tga_keras.runtime.fastest import median_ms
    from tga_keras.runtime.parity import compare, real_windows, sr_of
    from tga_keras.runtime.upscaler import Upscaler

    if args.backend == "peer":  # before TensorFlow is imported: the peer's memory is its own
        return {
            "backend": "peer",
            "precision": "fp32",
            "ms_per_frame": time_peer(args.weights, h, w, args.threads, args.runs),
            "psnr_vs_fp32": None,
            "peak_rss_mb": _peak_rss_mb(),
            "path": args.weights,
            "bytes": os.path.getsize(args.weights),
        }
    _set_threads(args.threads)
    if args.weights is None:
        from tga_keras.models.model import build_tga
        from tga_keras.runtime.backends import backend_for_model, seed_untrained

        seed_untrained()  # the same random network in every run: one runtime-cache entry
        model = build_tga(_config(args))
        backend = backend_for_model(model, args.backend, args.precision, args.threads)
        fp32 = None if backend.name == "keras" and backend.precision == "fp32" else model
    else:
        backend = load_backend(args.weights, args.backend, precision=args.precision, threads=args.threads)
        fp32 = _reference_model(args, backend)
    ups = Upscaler(backend, tile=args.tile, tile_overlap=args.overlap)
    x = np.random.default_rng(0).random((backend.frames, h, w, 3), dtype=np.float32)
    ups.check_window((1,) + x.shape)
    ms = median_ms(lambda: ups.upscale_window(x), args.runs)
    psnr = diff = None
    if fp32 is not None:
        windows = real_windows(backend.frames, backend.scale, count=2)
        figures = compare(sr_of(KerasBackend(fp32), windows), sr_of(backend, windows))
        diff = figures["max_abs_diff"]
        psnr = None if figures["psnr_db"] == float("inf") else figures["psnr_db"]  # null + diff 0: bit-equal
    config = backend.config if backend.config is not None else getattr(fp32, "config", None)
    row = {
        "backend": backend.name,
        "precision": backend.precision,
        "ms_per_frame": ms,
        "psnr_vs_fp32": psnr,
        "peak_rss_mb": _peak_rss_mb(),
        "max_abs_diff_vs_fp32": diff,
        "path": args.weights or _label(args),
        "config": None if config is None else config.to_dict(),
    }
    from tga_keras.runtime.backends import REGISTRY

    if args.weights is None or str(args.weights).lower().endswith(REGISTRY["keras"].suffixes):
        row["requested"] = args.backend  # a Keras model: on Keras, or on the runtime chosen for it
    choice = getattr(backend, "choice", None)
    if choice is not None:
        row["runtime_choice"] = {
            "reason": choice.reason,
            "cached": choice.cached,
            "seconds": choice.seconds,
            "measured": choice.measured,
        }
    if backend.name == "keras":
        row["params"] = sum(int(np.prod(v.shape)) for v in backend.model.trainable_weights)
    row["scale"] = backend.scale
    if ups.tile is not None:
        row["tile"], row["tile_overlap"] = ups.tile, ups.tile_overlap
    from tga_keras.io.files import path_bytes

    artifact = getattr(choice, "artifact", None)
    if artifact and os.path.exists(artifact):  # the converted file that ran, not the Keras model
        row["bytes"] = path_bytes(artifact)
    elif args.weights and os.path.exists(args.weights):
        row["bytes"] = path_bytes(args.weights)
    return row


def _suite_rows(args) -> list[tuple[str, list[str]]]:
    """(label, benchmark arguments) for every row of ``--artifacts OUTDIR``."""
    from tga_keras.runtime.backends.base import MANIFEST
    from tga_keras.runtime.fastest import not_installed

    path = os.path.join(args.artifacts, MANIFEST)
    try:
        with open(path) as f:
            manifest = json.load(f)
        source = manifest["source"]["path"]
        artifacts = manifest["artifacts"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"--artifacts {args.artifacts}: no readable {MANIFEST} ({e})") from None
    rows = []
    if os.path.isfile(source):
        rows.append(("keras fp32", ["--weights", source, "--backend", "keras"]))
        rows.append(("keras bf16", ["--weights", source, "--backend", "keras", "--precision", "bfloat16"]))
        rows.append(("auto fp32 (the default)", ["--weights", source, "--backend", "auto"]))
        rows.append(("auto fast", ["--weights", source, "--backend", "auto", "--precision", "fast"]))
    openvino_here = not not_installed((("openvino", "openvino"),))
    for a in artifacts:
        if a.get("format") == "tensorrt":
            try:
                import tensorrt  # noqa: F401
            except ImportError:
                print(f"skipping {a['path']}: TensorRT is not installed here", file=sys.stderr)
                continue
        rows.append(
            (
                f"{a['format']} {a['precision']}",
                ["--weights", os.path.join(args.artifacts, a["path"]), "--backend", a["format"]],
            )
        )
        if a.get("format") == "onnx" and a.get("precision") == "fp32" and openvino_here:
            path = os.path.join(args.artifacts, a["path"])
            rows.append(("openvino fp32", ["--weights", path, "--backend", "openvino"]))  # the same file on OpenVINO
    if args.peer:
        rows.append(("peer", ["--weights", args.peer, "--backend", "peer"]))
    return rows


def run_rows(args, h: int, w: int, rows: list[tuple[str, list[str]]]) -> list[dict]:
    """Each row in its own process (``tga benchmark ... --json``): peak memory per backend, no shared caches.

    A row that fails is kept as ``{"backend", "error"}`` (and the command exits 1).
    """
    import subprocess
    import tempfile

    results = []
    common = ["--size", f"{h}x{w}", "--threads", str(args.threads), "--runs", str(args.runs), "--no-flops"]
    if args.tile:
        common += ["--tile", str(args.tile)]
    if args.overlap is not None:
        common += ["--overlap", str(args.overlap)]
    with tempfile.TemporaryDirectory() as tmp:
        for k, (label, extra) in enumerate(rows):
            out = os.path.join(tmp, f"{k}.json")
            cmd = [sys.executable, "-m", "tga_keras.cli.main", "benchmark", *common, *extra, "--json", out]
            print(f"[{k + 1}/{len(rows)}] {label} ...", file=sys.stderr, flush=True)
            done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if done.returncode != 0:
                tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
                print(f"    failed ({done.returncode}): {tail}", file=sys.stderr)
                results.append({"backend": label.split()[0], "precision": (label.split() + ["fp32"])[1], "error": tail})
                continue
            for line in done.stderr.replace("\r", "\n").splitlines():  # the runtime chooser's lines
                if line.startswith(("note: ", "runtime: ", "first use of this model")):
                    print(f"    {line}", file=sys.stderr)
            with open(out) as f:
                report = json.load(f)
            results.extend({**r, "config": report.get("config")} for r in report["results"])
    return results


def _backend_label(r: dict) -> str:
    """``tflite`` for an artifact or a named runtime; ``auto:tflite`` for the runtime auto ran a Keras model on."""
    return f"auto:{r['backend']}" if r.get("requested") == "auto" else r["backend"]


def _print_table(results: list[dict]) -> None:
    """One line per row: speed, its ratio to the peer, GFLOP/s, % of the peak, PSNR vs float32, memory, size."""
    peer = _peer_ms(results)
    print(
        f"{'backend':<13} {'precision':<12} {'ms/frame':>9} {'vs peer':>8} {'GFLOP/s':>8} {'% fp32 peak':>11} "
        f"{'PSNR vs fp32':>13} {'peak RSS MB':>12} {'MB on disk':>11}"
    )
    for r in results:
        if "error" in r:
            print(f"{r['backend']:<13} {r['precision']:<12} FAILED: {r['error']}")
            continue
        speed = f"{peer / r['ms_per_frame']:.2f}x" if peer else "-"
        psnr = r.get("psnr_vs_fp32")
        if psnr is None:
            psnr = (
                "reference"
                if r["backend"] == "keras" and r["precision"] == "fp32"
                else "identical"
                if r.get("max_abs_diff_vs_fp32") == 0
                else "-"
            )
        else:
            psnr = f"{psnr:.2f} dB"
        size = f"{r['bytes'] / 1e6:.1f}" if r.get("bytes") else "-"
        rate = f"{r['gflop_per_s']:.0f}" if r.get("gflop_per_s") else "-"
        share = f"{r['percent_of_fp32_peak']:.0f} %" if r.get("percent_of_fp32_peak") else "-"
        print(
            f"{_backend_label(r):<13} {r['precision']:<12} {r['ms_per_frame']:>9.0f} {speed:>8} {rate:>8} {share:>11} "
            f"{psnr:>13} {r['peak_rss_mb']:>12.0f} {size:>11}"
        )
    for r in results:
        if r.get("runtime_choice"):
            cached = (
                " (chosen earlier, cached)"
                if r["runtime_choice"]["cached"]
                else " (chosen in this run: its peak RSS includes the choice)"
            )
            print(f"{_backend_label(r)} {r['precision']}: {r['runtime_choice']['reason']}{cached}")


def _count_flops(results: list[dict], config: dict | None, h: int, w: int, peer: str | None) -> None:
    """Each timed row's ``gflop`` (the network's FLOPs per frame, counted from its graph: the peer's from
    its ONNX file) and ``gflop_per_s``. Tiled rows are left out (tiles recompute their overlap)."""
    from tga_keras.errors import first_line
    from tga_keras.runtime.flops import model_flops, onnx_flops

    ours = peers = None
    for r in results:
        if "error" in r or r.get("tile"):
            continue
        try:
            if r["backend"] == "peer":
                if peers is None and peer:
                    peers = onnx_flops(peer, peer_inputs(h, w))
                flops = peers
            else:
                if ours is None and config is not None:
                    from tga_keras.models.config import TGAConfig
                    from tga_keras.models.model import build_tga

                    ours = model_flops(build_tga(TGAConfig.from_dict(config)), h, w)
                flops = ours
        except Exception as e:  # noqa: BLE001 - no count (e.g. no onnx package for the peer): the row stays
            print(f"note: no FLOP count for {r['backend']}: {type(e).__name__}: {first_line(e)}", file=sys.stderr)
            continue
        if flops:
            r["gflop"] = flops / 1e9
            r["gflop_per_s"] = flops / 1e9 / (r["ms_per_frame"] / 1000.0)


def _measure_peak(args, config: dict | None, h: int, w: int) -> dict:
    """:func:`tga_keras.runtime.peak.practical_peak` of the run's config, printed; its JSON form."""
    from tga_keras.models.config import TGAConfig
    from tga_keras.runtime.peak import practical_peak

    cfg = TGAConfig.from_dict(config) if config else _config(args)
    print(f"measuring the practical peak ({h}x{w}, {args.threads} threads) ...", file=sys.stderr, flush=True)
    peak = practical_peak(cfg, h, w, threads=args.threads, runs=args.runs)
    for note in peak.notes:
        print(f"note: {note}", file=sys.stderr)
    return peak.to_dict()


def _print_peak(peak: dict) -> None:
    per_runtime = ", ".join(f"{rt} {max(v.values()):.0f}" for rt, v in peak["gflops"].items() if v)
    skipped = "".join(f"; {rt}: {why}" for rt, why in peak["skipped"].items())
    shape = peak["shapes"].get(peak["peak_shape"] or "", {})
    where = (
        f" ({peak['peak_runtime']}, {peak['peak_shape']}: {shape.get('kernel')}x{shape.get('kernel')} conv "
        f"{shape.get('cin')}->{shape.get('cout')} x{shape.get('batch')})"
        if shape
        else ""
    )
    print(f"practical fp32 peak: {peak['peak_gflops']:.0f} GFLOP/s{where}; best per runtime: {per_runtime}{skipped}")
    if peak["bf16_gflops"]:
        print(f"practical bf16 peak (tensorflow): {max(peak['bf16_gflops'].values()):.0f} GFLOP/s")


def run(args) -> int:
    if args.batch < 1 or args.hr_crop < 16 or args.hr_crop % 4:
        raise UsageError("--batch must be >= 1 and --hr-crop a multiple of 4, at least 16")
    if args.train:
        if args.precision not in ("float32", "bfloat16"):
            raise UsageError("--train times Keras training: --precision float32 or bfloat16")
        _set_threads(args.threads)
        return run_train(args)
    if args.segments:
        from tga_keras.cli import benchmark_segments

        _set_threads(args.threads)
        return benchmark_segments.run(args)
    h, w = _check_args(args)
    results, config = _results(args, h, w)
    peak = _count_work(args, results, config, h, w)
    _print_report(args, results, peak, h, w)
    if args.json:
        _write_json(args, results, config, peak, h, w)
    sys.stdout.flush()
    return 1 if any("error" in r for r in results) else 0


def _check_args(args) -> tuple[int, int]:
    """The usage checks of a timing run (``--weights`` a shipped model's name becomes its file); the LR size."""
    h, w = _size(args.size)
    if args.threads < 1 or args.runs < 1:
        raise UsageError("--threads and --runs must be >= 1")
    if args.peer and not os.path.isfile(args.peer):
        raise UsageError(f"--peer {args.peer}: no such file")
    if args.json and os.path.exists(args.json) and not args.overwrite:
        raise UsageError(f"{args.json} exists; pass --overwrite to replace it")
    if args.config and args.weights:
        raise UsageError("--config applies to untrained presets; a --weights file carries its own config")
    if args.weights is not None and weights_missing(args.weights):
        raise weights_not_found(args.weights, "model")
    if args.weights is not None:
        from tga_keras.models.presets import resolve_weights

        args.weights = resolve_weights(args.weights)  # a shipped model's name: its file
    if args.backend == "peer" and not args.weights:
        raise UsageError("--backend peer needs --weights PEER.onnx")
    if args.artifacts and args.weights:
        raise UsageError("--artifacts times the artifacts of a folder; leave out --weights")
    return h, w


def _results(args, h: int, w: int) -> tuple[list[dict], dict | None]:
    """The timed rows (every artifact of ``--artifacts``, or the one model here, and the peer) and the
    network's config as the first row that knows it gives it."""
    if args.artifacts:
        if args.peer is None and os.path.isfile(DEFAULT_PEER):
            args.peer = DEFAULT_PEER  # the peer is a row of every suite run where it is at hand
        results = run_rows(args, h, w, _suite_rows(args))
        return results, next((r.get("config") for r in results if r.get("config")), None)
    results = [measure(args, h, w)]
    config = results[0].get("config")
    if args.peer:  # in its own process, so that its peak memory is its own
        results += run_rows(args, h, w, [("peer", ["--weights", args.peer, "--backend", "peer"])])
    return results, config


def _count_work(args, results: list[dict], config: dict | None, h: int, w: int) -> dict | None:
    """Each row's FLOPs (unless ``--no-flops``) and, with ``--peak``, its share of the practical peak,
    which is measured here (returned, as JSON; else None)."""
    if not args.no_flops or args.peak:
        _set_threads(args.threads)  # before this process's TensorFlow starts: the peak runs with --threads
    if not args.no_flops:
        _count_flops(results, config, h, w, args.peer if args.artifacts or args.peer else args.weights)
    peak = _measure_peak(args, config, h, w) if args.peak else None
    if peak and peak["peak_gflops"] > 0:
        from tga_keras.runtime.peak import percent_of_peak

        for r in results:
            if r.get("gflop_per_s"):
                r["percent_of_fp32_peak"] = percent_of_peak(r["gflop_per_s"], peak["peak_gflops"])
    return peak


def _peer_ms(results: list[dict]) -> float | None:
    """The peer's ms/frame, if it is a row that ran."""
    return next((r["ms_per_frame"] for r in results if r["backend"] == "peer" and "error" not in r), None)


def _print_report(args, results: list[dict], peak: dict | None, h: int, w: int) -> None:
    """The machine, the model and its work per frame, the table of rows, the peak and the speed-up."""
    import tensorflow as tf

    from tga_keras.runtime.machine import describe_cpu

    print(
        f"machine: {describe_cpu()}, {os.cpu_count()} cpus, tensorflow {tf.__version__}, {args.threads} threads; "
        f"median of {args.runs} runs"
    )
    first = next((r for r in results if r.get("scale")), None)
    if first is not None:
        s = first["scale"]
        params = f" ({first['params']:,} params)" if first.get("params") else ""
        print(
            f"model: {first.get('path')}{params}, {h}x{w} -> {s * h}x{s * w}"
            + (f", tile {first['tile']} (overlap {first['tile_overlap']})" if first.get("tile") else "")
        )
    if first is not None and first.get("gflop"):
        print(f"work: {first['gflop']:.1f} GFLOP per frame (counted from the graph)")
    _print_table(results)
    if peak:
        _print_peak(peak)
    peer = _peer_ms(results)
    if peer and len(results) == 2 and "error" not in results[0]:
        print(f"speed-up over the peer: {peer / results[0]['ms_per_frame']:.2f}x")


def _write_json(args, results: list[dict], config: dict | None, peak: dict | None, h: int, w: int) -> None:
    """``--json FILE`` (atomic): the run's config, size, threads, CPU and peak, and every row with its
    speed-up over the peer."""
    from tga_keras.io.files import atomic_path
    from tga_keras.runtime.machine import describe_cpu

    peer = _peer_ms(results)
    report = {
        "config": config,
        "size": [h, w],
        "threads": args.threads,
        "runs": args.runs,
        "cpu": describe_cpu(),
        "peak": peak,
        "results": [
            {k: r.get(k) for k in ROW_FIELDS} | {k: v for k, v in r.items() if k not in ROW_FIELDS and k != "config"}
            for r in results
        ],
    }
    for r in report["results"]:
        if peer and r.get("ms_per_frame"):
            r["speedup_vs_peer"] = peer / r["ms_per_frame"]
    with atomic_path(args.json, overwrite=args.overwrite) as tmp, open(tmp, "w") as f:
        json.dump(report, f, indent=2)
