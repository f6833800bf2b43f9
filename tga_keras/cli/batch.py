"""``tga batch SRC OUTDIR``: upscale many videos with one command, here or on a Ray cluster.

SRC is a folder (videos found recursively; its folder structure is mirrored under OUTDIR) or a
text file with one input per line (a video or a folder of frames, relative to the file; # starts a
comment). Every option of `tga upscale` that shapes the output works the same here. Each output is
made in resumable segments (OUTPUT.segments beside it), so a rerun of the same command skips the
finished outputs and continues the others. A bad input (unreadable, no frames, frames of mixed
sizes) is reported and the others go on; OUTDIR/batch_report.json lists every input with its
status, output, frames and seconds. Exit code 0 only when every input succeeded, 2 when some input
was bad, 1 for a failure inside the program.

With --ray ADDRESS every segment of every video is a task on a Ray cluster (pip install
'tga-keras[ray]'): each worker process loads the model once; a task whose worker dies is retried;
if this command dies, running it again continues from the committed segments. Inputs, OUTDIR and
the model must be on storage every node reaches (a shared filesystem, at the same path): this is
checked before any work starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from tga_keras.cli.options import (
    UNTRAINED_WARNING,
    add_no_progress_argument,
    add_output_arguments,
    check_output_args,
    output_options,
)


def add_parser(sub):
    from tga_keras.jobs.batch import CONTAINER_CHOICES

    p = sub.add_parser(
        "batch",
        help="upscale every video of a folder or a list, resumably, here or on a Ray cluster",
        description=__doc__.split("\n", 2)[2].strip(),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("src", metavar="SRC", help="folder of videos (searched recursively) or text file of inputs")
    p.add_argument("outdir", metavar="OUTDIR", help="folder for the outputs (created; SRC's structure mirrored)")
    p.add_argument(
        "--container",
        choices=("auto", *CONTAINER_CHOICES),
        default="auto",
        help="what each output is: a video of that container, or png (a folder of PNG frames); "
        "auto: .mkv with --lossless, else .mp4",
    )
    add_output_arguments(p)
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        default=None,
        help="run the segments on the Ray cluster at ADDRESS (host:port of its head, as `ray start --head` "
        "prints; auto: the RAY_ADDRESS environment variable)",
    )
    p.add_argument("--gpus-per-worker", type=float, default=0, metavar="N", help="GPUs each Ray task asks for")
    p.add_argument("--cpus-per-worker", type=float, default=1, metavar="N", help="CPUs each Ray task asks for")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="make existing outputs again and replace them; work folders made from another input, model or "
        "options are deleted (those of this same command are continued)",
    )
    add_no_progress_argument(p)
    return p


def run(args) -> int:
    from tga_keras.errors import UsageError
    from tga_keras.jobs import batch

    check_output_args(args)
    for name, value in (("--gpus-per-worker", args.gpus_per_worker), ("--cpus-per-worker", args.cpus_per_worker)):
        if value < 0:
            raise UsageError(f"{name} must be >= 0, got {value}")
    if args.ray is None and (args.gpus_per_worker or args.cpus_per_worker != 1):
        raise UsageError("--gpus-per-worker and --cpus-per-worker are for --ray")
    container = args.container if args.container != "auto" else (".mkv" if args.lossless else ".mp4")
    options = output_options(args)
    if options.weights is not None:  # workers on other nodes need the model's path as the driver sees it
        from dataclasses import replace

        from tga_keras.models.presets import is_handle, resolve_weights

        path = resolve_weights(options.weights)
        options = replace(options, weights=path if is_handle(path) else os.path.abspath(path))
    if os.path.isdir(args.src) and os.path.realpath(args.src) == os.path.realpath(args.outdir):
        raise UsageError("OUTDIR is SRC: the outputs would be inputs of the next run; write to another folder")
    inputs = batch.find_inputs(args.src, exclude=args.outdir)  # OUTDIR inside SRC: its videos are outputs
    outdir = os.path.abspath(args.outdir)
    items = batch.plan_outputs(inputs, outdir, container)
    for item in items:
        if item.input == item.output:
            raise UsageError(f"{item.input} would be overwritten by its own output: pick another OUTDIR")
    from tga_keras.jobs.upscale_job import check_writable

    check_writable(outdir, "OUTDIR")
    from tga_keras.jobs.upscale_job import encoder_for

    encoder_for("folder" if container == "png" else container, options)  # --codec/--crf against the container

    from tga_keras.jobs.upscale_job import run_segment

    before_work = None
    runner: Any
    if args.ray is not None:
        from tga_keras.jobs import ray_cluster

        ray_cluster.connect(ray_cluster.resolve_address(args.ray))
        runner = ray_cluster.RayRunner(
            run_segment, gpus_per_worker=args.gpus_per_worker, cpus_per_worker=args.cpus_per_worker
        )
        model = [options.weights] if options.weights and os.path.exists(options.weights) else []

        def before_work(jobs) -> None:
            ray_cluster.check_shared_storage([j.work for j in jobs], [j.input for j in jobs] + model)

        where = f"on the Ray cluster at {args.ray}"
    else:
        runner = batch.LocalRunner(run_segment)
        where = "here"

        def before_work(jobs) -> None:  # the model loaded (its runtime chosen) before the bar, as --no-progress says
            from tga_keras.jobs.upscale_job import upscaler_for

            upscaler_for(jobs[0].options, progress=not args.no_progress)

    if args.weights is None:
        print(UNTRAINED_WARNING, file=sys.stderr)
    print(f"batch: {len(items)} inputs from {args.src} -> {outdir} ({container}), {where}", file=sys.stderr)
    try:
        batch.run_batch(
            items,
            options,
            outdir,
            runner,
            overwrite=args.overwrite,
            parallel=args.ray is not None,
            progress=not args.no_progress,
            before_work=before_work,
        )
    finally:
        if args.ray is not None:
            ray_cluster.disconnect()
    counts = ", ".join(f"{n} {status}" for status, n in batch.counts(items).items())
    print(f"batch: {counts}; report: {os.path.join(outdir, batch.REPORT)}")
    return batch.exit_code(items)
