"""``TF_CONFIG`` for a Slurm job step: ``export TF_CONFIG=$(python -m training.tools slurm [--port 12345])``.

Run inside ``srun`` (one task per node): the worker list is the step's nodes
(``SLURM_STEP_NODELIST``, else ``SLURM_JOB_NODELIST``, in Slurm's compressed form such as
``gpu[01-03,07],login1``), this task's index is ``SLURM_PROCID``. See training/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys


def expand_nodelist(text: str) -> list[str]:
    """``"gpu[01-03,07],cpu1"`` -> ``["gpu01", "gpu02", "gpu03", "gpu07", "cpu1"]`` (zero padding kept)."""
    hosts: list[str] = []
    for prefix, ranges, _, plain in re.findall(r"([^,\[\]]+)\[([^\]]+)\](,|$)|([^,\[\]]+)", text):
        if plain:
            hosts.append(plain)
            continue
        for part in ranges.split(","):
            lo, _, hi = part.partition("-")
            if not lo.isdigit() or (hi and not hi.isdigit()):
                raise ValueError(f"cannot read the Slurm node list {text!r}")
            for i in range(int(lo), int(hi or lo) + 1):
                hosts.append(f"{prefix}{i:0{len(lo)}d}")
    if not hosts:
        raise ValueError(f"empty Slurm node list {text!r}")
    return hosts


def slurm_tf_config(env=os.environ, port: int = 12345) -> dict:
    nodes = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST")
    if not nodes or "SLURM_PROCID" not in env:
        raise ValueError("not inside a Slurm job step (SLURM_JOB_NODELIST / SLURM_PROCID unset): run it under srun")
    workers = [f"{h}:{port}" for h in expand_nodelist(nodes)]
    index = int(env["SLURM_PROCID"])
    if index >= len(workers):
        raise ValueError(f"SLURM_PROCID {index} but {len(workers)} nodes: use one task per node")
    return {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m training.tools slurm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--port", type=int, default=12345, help="the port every worker listens on")
    args = p.parse_args(argv)
    try:
        print(json.dumps(slurm_tf_config(port=args.port)))
    except ValueError as e:
        print(f"python -m training.tools slurm: error: {e}", file=sys.stderr)
        return 2
    return 0
