"""``tga benchmark``: speed and memory of the inference core, optionally against the ONNX speed peer.

Timings go through the same inference core as ``tga upscale`` (``tga_keras.inference.Upscaler``).
The peer is the official network exported to ONNX, run by onnxruntime with the same input size and
thread count in the same process, so the ratio is comparable across machines; absolute times are not.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time

from tga_keras.commands import add_precision_argument

DEFAULT_PEER = os.path.join("..", "shared", "reference", "official_tga_random_seed0.onnx")


def add_parser(sub):
    p = sub.add_parser(
        "benchmark",
        help="time the model (ms/frame, peak memory), optionally against the onnxruntime peer",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--preset", default="official", choices=["official", "paper", "small"])
    p.add_argument("--config", metavar="JSON", help='TGAConfig fields overriding the preset, e.g. \'{"nf": 48}\'')
    p.add_argument("--weights", help=".keras or official .pth to time (default: random weights; speed is the same)")
    p.add_argument("--size", default="144x180", help="LR frame size HxW")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (TensorFlow and onnxruntime)")
    p.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up; the median is reported")
    p.add_argument("--tile", type=int, default=None, help="LR tile size (default: whole frame)")
    add_precision_argument(p)
    p.add_argument("--train", action="store_true",
                   help="instead of inference: samples/s of the training input pipeline alone (bundled clip, BD) "
                        "vs training steps of the preset, same batch size and crop")
    p.add_argument("--batch", type=int, default=8, help="batch size for --train")
    p.add_argument("--data", metavar="VIDEO", help="video for --train (default: the bundled 176x144 clip)")
    p.add_argument("--hr-crop", type=int, default=128, help="HR crop for --train (LR = crop / 4)")
    p.add_argument("--peer", default=None, metavar="ONNX",
                   help=f"ONNX file of the official network to time with onnxruntime (e.g. {DEFAULT_PEER})")
    return p


def _size(text: str):
    from tga_keras.cli import UsageError

    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size must look like 144x180, got {text!r}") from None
    if h < 1 or w < 1:
        raise UsageError(f"--size must be positive, got {text!r}")
    return h, w


def _median_ms(fn, runs: int) -> float:
    fn()  # warm-up: tracing, allocator, kernel selection
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000.0


def _config(args):
    """The preset's TGAConfig with the ``--config`` overrides (UsageError for bad JSON or fields)."""
    import json

    from tga_keras.cli import UsageError
    from tga_keras.config import TGAConfig

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
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already initialised in this process (e.g. tests)
        pass


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_peer(onnx_path: str, h: int, w: int, threads: int, runs: int) -> float:
    """Median ms/frame of the official ONNX network on onnxruntime (CPU): inputs ``x`` and ``hr``."""
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {"x": rng.random((1, 3, 9, h, w), dtype=np.float32),
            "hr": rng.random((1, 3, 4 * h, 4 * w), dtype=np.float32)}
    return _median_ms(lambda: sess.run(None, feed), runs)


def run_train(args) -> int:
    """Input pipeline samples/s vs model.fit step samples/s, one process, same batches."""
    import keras
    import tensorflow as tf

    from tga_keras.commands.demo import clip_path
    from tga_keras.config import TGAConfig
    from tga_keras.data import VideoFiles, make_train_dataset, measure_pipeline_throughput
    from tga_keras.model import build_tga

    video = args.data or clip_path()
    ds = make_train_dataset(VideoFiles(video), batch_size=args.batch, hr_crop=args.hr_crop, seed=0)
    pipe = measure_pipeline_throughput(ds, steps=max(5, 3 * args.runs))
    model = build_tga(_config(args))
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
    print(f"input pipeline ({os.path.basename(video)}, BD x4, HR crop {args.hr_crop}, batch {args.batch}, "
          f"augmentations): "
          f"{pipe:.1f} samples/s")
    n = sum(int(v.numpy().size) for v in model.trainable_weights)
    print(f"training step, {_label(args)} ({n:,} params, Adam, L1): {step * 1000:.0f} ms/batch = "
          f"{args.batch / step:.1f} samples/s (median of {args.runs})")
    print(f"the pipeline is {pipe * step / args.batch:.1f}x faster than training consumes it")
    return 0


def run(args) -> int:
    from tga_keras.cli import UsageError

    if args.batch < 1 or args.hr_crop < 16 or args.hr_crop % 4:
        raise UsageError("--batch must be >= 1 and --hr-crop a multiple of 4, at least 16")
    if args.train:
        _set_threads(args.threads)
        return run_train(args)
    h, w = _size(args.size)
    if args.threads < 1 or args.runs < 1:
        raise UsageError("--threads and --runs must be >= 1")
    if args.peer and not os.path.isfile(args.peer):
        raise UsageError(f"--peer {args.peer}: no such file")
    import numpy as np
    import tensorflow as tf

    _set_threads(args.threads)
    from tga_keras.inference import Upscaler, load_tga

    if args.config and args.weights:
        raise UsageError("--config applies to untrained presets; a --weights file carries its own config")
    if args.weights:
        model = load_tga(args.weights, precision=args.precision)
    else:
        from tga_keras.inference import with_precision
        from tga_keras.model import build_tga

        model = with_precision(build_tga(_config(args)), args.precision)
    ups = Upscaler(model, tile=args.tile)
    x = np.random.default_rng(0).random((model.config.frames, h, w, 3), dtype=np.float32)
    ups.check_window((1,) + x.shape)
    rss0 = _peak_rss_mb()
    ours = _median_ms(lambda: ups.upscale_window(x), args.runs)
    rss1 = _peak_rss_mb()
    n = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    print(f"machine: {os.cpu_count()} cpus, tensorflow {tf.__version__}, {args.threads} threads")
    print(f"tga-keras {args.weights or _label(args)} ({n:,} params), "
          f"{h}x{w} -> {h * model.config.scale}x{w * model.config.scale}"
          f"{'' if not args.tile else f', tile {args.tile}'}: {ours:.0f} ms/frame (median of {args.runs}), "
          f"peak RSS {rss1:.0f} MB (+{rss1 - rss0:.0f} MB while timing)")
    if args.peer:
        try:
            import onnxruntime as ort
        except ImportError:
            raise UsageError("--peer needs onnxruntime: pip install onnxruntime") from None
        peer = time_peer(args.peer, h, w, args.threads, args.runs)
        print(f"peer: official network on onnxruntime {ort.__version__}: {peer:.0f} ms/frame (median of {args.runs})")
        print(f"speed-up over the peer: {peer / ours:.2f}x")
    sys.stdout.flush()
    return 0
