"""Where the time goes: ``python -m export profile OUTDIR/onnx/model.onnx [--size 144x180] [--threads 2]``.

Runs an exported ONNX model with onnxruntime's profiler and prints the time of each stage of the
network (the Keras block a node comes from: ``intra_group``, ``attention``, ``inter_group``,
``upsample``, ``bicubic``) and of each operator type, as shares of the total kernel time.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile

STAGES = ("intra_group", "attention", "inter_group", "upsample", "bicubic", "reference")


def stage_of(name: str) -> str | None:
    """The network stage named in a node or tensor name (``.../inter_group_1/...``), else None."""
    for stage in STAGES:
        if f"/{stage}" in name or name.startswith(stage):
            return stage
    return None


def node_stages(onnx_path: str) -> dict[str, str]:
    """Stage of every node of the ONNX graph: from its name, else from its inputs' names (tf2onnx
    renames the nodes it rewrites, e.g. ``Conv__2473``, but keeps TensorFlow's tensor names)."""
    import onnx

    out = {}
    for node in onnx.load(onnx_path, load_external_data=False).graph.node:
        stage = stage_of(node.name)
        for name in list(node.input) + list(node.output):
            stage = stage or stage_of(name)
        out[node.name] = stage or "unattributed"
    return out


def _stage_of_event(event_name: str, stages: dict[str, str]) -> str:
    base = event_name[: -len("_kernel_time")]
    for candidate in (base, base.split("_nchwc")[0], base.split(":")[0], base.rsplit("_", 1)[0]):
        if candidate in stages:
            return stages[candidate]
    return stage_of(base) or "unattributed"  # nodes onnxruntime added (layout reorders) or fused


def profile(onnx_path: str, h: int, w: int, threads: int, runs: int = 2) -> tuple[dict, dict, float]:
    """(ms per stage, ms per op type, total ms) per frame, averaged over ``runs`` after one warm-up."""
    import numpy as np

    from tga_keras.runtime.backends.onnx import onnx_session

    with tempfile.TemporaryDirectory() as tmp:
        sess = onnx_session(onnx_path, threads, profile_prefix=os.path.join(tmp, "ort"))
        inp = sess.get_inputs()[0]
        x = np.random.default_rng(0).random((1, inp.shape[1], h, w, 3), dtype=np.float32)
        sess.run(None, {inp.name: x})  # warm-up (profiled too: skipped below)
        for _ in range(runs):
            sess.run(None, {inp.name: x})
        with open(sess.end_profiling()) as f:
            events = json.load(f)
    runs_seen = [e for e in events if e.get("name") == "model_run"]
    first_end = runs_seen[0]["ts"] + runs_seen[0]["dur"] if runs_seen else 0
    names = node_stages(onnx_path)
    stages: dict[str, float] = collections.defaultdict(float)
    ops: dict[str, float] = collections.defaultdict(float)
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time") or e["ts"] < first_end:
            continue
        ms = e["dur"] / 1000.0 / runs
        stages[_stage_of_event(e["name"], names)] += ms
        ops[e.get("args", {}).get("op_name", "?")] += ms
    total = sum(stages.values())
    return dict(stages), dict(ops), total


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m export profile", description=__doc__.split("\n", 2)[2].strip())
    p.add_argument("onnx", help="an ONNX artifact of python -m export (onnx/model.onnx)")
    p.add_argument("--size", default="144x180", help="LR frame size HxW")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--debug", action="store_true", help="print the traceback of any error")
    args = p.parse_args(argv)
    from tga_keras.cli.main import run_command

    return run_command("python -m export profile", lambda: run(args), args.debug)


def run(args: argparse.Namespace) -> int:
    from tga_keras.cli.options import parse_size
    from tga_keras.errors import UsageError

    h, w = parse_size(args.size)
    if not os.path.isfile(args.onnx):
        raise UsageError(f"no such file: {args.onnx}")
    stages, ops, total = profile(args.onnx, h, w, args.threads, args.runs)
    print(f"{args.onnx} at {h}x{w}, {args.threads} threads: {total:.0f} ms of kernel time per frame")
    print("by stage:")
    for name, ms in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<12} {ms:8.0f} ms  {100 * ms / total:5.1f} %")
    print("by operator:")
    for name, ms in sorted(ops.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {name:<20} {ms:8.0f} ms  {100 * ms / total:5.1f} %")
    return 0
