"""``tga benchmark --segments``: what making an output in segments costs, in wall time.

The same job twice in one process, the model loaded once before either: a ``--frames``-long clip
(the bundled clip played forwards, backwards, forwards ... , encoded losslessly) upscaled into a
lossless .mkv in segments of ``--segment-frames`` and in one segment. Each segment seeks to its
first frame, reads its context frames again and starts a new encoder, and the pieces are joined by
stream copy: the ratio says what that costs. Both outputs are checked to decode to identical frames.
The clip is FFV1 (every frame a keyframe): seeking in long-GOP inputs costs more.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time


def add_arguments(p) -> None:
    p.add_argument(
        "--segments",
        action="store_true",
        help="instead of model timing: wall time of a --frames clip upscaled in segments of --segment-frames "
        "vs in one segment (the shipped small model unless --weights)",
    )
    p.add_argument("--frames", type=int, default=300, help="clip length for --segments")
    p.add_argument(
        "--segment-frames", type=int, default=None, metavar="N", help="segment length for --segments (default: auto)"
    )


def _clip(path: str, frames: int) -> None:
    import numpy as np

    from tga_keras.assets import clip_path
    from tga_keras.io import video

    source = video.read_video(clip_path())
    order = np.concatenate([np.arange(len(source)), np.arange(len(source) - 2, 0, -1)])
    writer = video.open_writer(path, ".mkv", rate=25, choice=video.choose_encoder(".mkv", lossless=True))
    for k in range(frames):
        writer.write(source[order[k % len(order)]])
    writer.close()


def _decoded(path: str) -> list:
    import av

    with av.open(path) as c:
        return [(f.pts, f.to_ndarray(format="rgb24").tobytes()) for f in c.decode(video=0)]


def run(args) -> int:
    from dataclasses import replace

    from tga_keras.errors import UsageError
    from tga_keras.jobs.upscale_job import UpscaleJob, UpscaleOptions, auto_segment_frames, run_local, upscaler_for

    if args.frames < 8:
        raise UsageError(f"--frames must be >= 8, got {args.frames}")
    segment = args.segment_frames or auto_segment_frames(144, 176)
    if not 1 <= segment < args.frames:
        raise UsageError(f"--segment-frames must be in 1..{args.frames - 1} (shorter than the clip), got {segment}")
    weights = args.weights or "tga_small_bd_x4"
    base = UpscaleOptions(weights=weights, backend=args.backend, precision=args.precision, lossless=True)
    with tempfile.TemporaryDirectory(prefix="tga-bench-segments-") as tmp:
        clip = os.path.join(tmp, "clip.mkv")
        _clip(clip, args.frames)
        up = upscaler_for(base)
        warm = os.path.join(tmp, "warm-up.mkv")  # graph tracing, caches: neither timed run pays them
        run_local(UpscaleJob.create(clip, warm, replace(base, frames_limit=8, segment_frames=4)), progress=False)
        rows: list[dict] = []
        outputs = {}
        for label, n in (("segmented", segment), ("one segment", args.frames)):
            options = replace(base, segment_frames=n)
            out = os.path.join(tmp, f"out-{n}.mkv")
            job = UpscaleJob.create(clip, out, options)
            t0 = time.perf_counter()
            result, _ = run_local(job, progress=True, desc=label)
            seconds = time.perf_counter() - t0
            outputs[label] = out
            rows.append({"run": label, "segment_frames": n, "frames": result.frames, "seconds": round(seconds, 2)})
            print(f"{label:>12}: segments of {n:4d} frames, {result.frames} frames, {seconds:.1f} s", file=sys.stderr)
        identical = _decoded(outputs["segmented"]) == _decoded(outputs["one segment"])
    ratio = rows[0]["seconds"] / rows[1]["seconds"]
    flags = _cpu_flags()
    print(
        f"segments of {segment} vs one segment, {args.frames} frames of 176x144, {up.backend.name} "
        f"({weights}): {ratio:.3f}x the wall time ({100 * (ratio - 1):+.1f} %); outputs decode identically: "
        f"{identical}; CPU: {flags}"
    )
    if args.json:
        from tga_keras.io.files import atomic_path

        data = {"benchmark": "segments", "weights": weights, "cpu": flags, "ratio": round(ratio, 4)}
        data.update({"identical": identical, "rows": rows, "machine": platform.machine()})
        with atomic_path(args.json, overwrite=args.overwrite) as out, open(out, "w") as f:
            json.dump(data, f, indent=1)
    return 0 if identical else 1


def _cpu_flags() -> str:
    """The CPU's vector extensions that decide kernel speed (AVX2, AVX-512, VNNI, BF16, AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return platform.processor() or "unknown"
    keep = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
    return " ".join(k for k in keep if k in flags) or "no AVX2"
