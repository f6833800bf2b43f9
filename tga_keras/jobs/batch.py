"""Many inputs, one command: ``tga batch SRC OUTDIR``, in this process or on a Ray cluster.

SRC is a folder (videos found recursively; the folder structure is mirrored under OUTDIR) or a
text file with one input per line (a video or a folder of frames, relative to the file; ``#``
starts a comment). Each input becomes an :class:`~tga_keras.jobs.upscale_job.UpscaleJob` with
the same options; every segment of every job is a unit of work for a runner (:class:`LocalRunner`
here, :class:`tga_keras.jobs.ray_cluster.RayRunner` on a cluster). A rerun skips the outputs that
exist and continues the others from their committed segments. One bad input is reported and does
not stop the others; ``OUTDIR/batch_report.json`` lists every input with its status.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from collections import deque
from typing import Any, Callable, Iterator

from tga_keras.errors import InputError, UsageError, first_line
from tga_keras.io.files import write_json
from tga_keras.jobs import upscale_job
from tga_keras.jobs.upscale_job import SegmentRecord, UpscaleJob, UpscaleOptions

REPORT = "batch_report.json"
_BAD = (InputError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
"""What makes an input bad (exit 2); any other error is a failure inside the program (exit 1)."""
CONTAINER_CHOICES = (".mp4", ".mkv", ".mov", ".avi", "png")


@dataclasses.dataclass
class BatchItem:
    """One input of a batch and what became of it.

    ``status``: ``pending``, ``done`` (written by this run), ``skipped`` (OUTPUT existed: done
    by an earlier run), ``bad`` (the input or its work folder cannot be used: ``error`` says why)
    or ``failed`` (an error inside the program). ``frames``: the frames written; ``seconds``: the
    time spent on its segments over all runs.
    """

    input: str
    output: str
    status: str = "pending"
    frames: int | None = None
    seconds: float | None = None
    error: str | None = None


def find_inputs(src: str, exclude: str | None = None) -> list[tuple[str, str]]:
    """The inputs of SRC as ``(path, relative name)``: a folder's videos (recursively, sorted), or a list file's lines.

    The relative name (the path under SRC, or the list line) decides the output path under OUTDIR.
    ``exclude``: a sub-folder of a folder SRC not to search (OUTDIR inside SRC: its videos are the
    outputs of an earlier run, not inputs). ``UsageError`` when SRC does not exist or holds no
    input; ``FileNotFoundError`` for a list line that names nothing.
    """
    from tga_keras.io.video import VIDEO_EXTENSIONS

    if os.path.isdir(src):
        found = []
        skip = os.path.realpath(exclude) if exclude else None
        for folder, dirs, files in os.walk(src):
            dirs[:] = sorted(
                d
                for d in dirs
                if not d.startswith(".")
                and not d.endswith(upscale_job.WORK_SUFFIX)
                and os.path.realpath(os.path.join(folder, d)) != skip
            )
            for name in sorted(files):
                if os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS and not name.startswith("."):
                    path = os.path.join(folder, name)
                    found.append((path, os.path.relpath(path, src)))
        if not found:
            raise UsageError(f"no videos in {src} (looked for {', '.join(VIDEO_EXTENSIONS)}, in sub-folders too)")
        return found
    if not os.path.isfile(src):
        raise FileNotFoundError(f"SRC not found: {src}")
    base = os.path.dirname(os.path.abspath(src))
    found = []
    with open(src, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            path = line if os.path.isabs(line) else os.path.join(base, line)
            if not os.path.exists(path):
                raise FileNotFoundError(f"{src}, line {number}: {line} not found")
            rel = os.path.relpath(path, base)
            found.append((path, rel if not rel.startswith("..") else os.path.basename(path.rstrip(os.sep))))
    if not found:
        raise UsageError(f"{src} lists no inputs (one video or folder of frames per line)")
    return found


def plan_outputs(inputs: list[tuple[str, str]], outdir: str, container: str) -> list[BatchItem]:
    """One :class:`BatchItem` per input: OUTDIR / its relative name, with the extension of ``container``
    (``png``: a folder of PNG frames). ``UsageError`` when two inputs map to one output."""
    items: list[BatchItem] = []
    seen: dict[str, str] = {}
    for path, rel in inputs:
        stem = os.path.splitext(rel)[0] if os.path.isfile(path) else rel.rstrip(os.sep)
        out = os.path.abspath(os.path.join(outdir, stem + ("" if container == "png" else container)))
        if out in seen:
            raise UsageError(f"{seen[out]} and {path} would both be written to {out}: rename one, or batch them apart")
        seen[out] = path
        items.append(BatchItem(os.path.abspath(path), out))
    return items


def write_report(outdir: str, items: list[BatchItem]) -> str:
    """Write ``OUTDIR/batch_report.json`` (temporary file, then rename); returns its path."""
    path = os.path.join(outdir, REPORT)
    data = {"inputs": [dataclasses.asdict(i) for i in items], "counts": counts(items)}
    write_json(path, data)
    return path


def counts(items: list[BatchItem]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i.status] = out.get(i.status, 0) + 1
    return out


class LocalRunner:
    """Runs ``func(*task)`` in this process, one task at a time in submission order; the interface of
    :class:`~tga_keras.jobs.ray_cluster.RayRunner` (``submit``, ``results``, ``pending``, ``cancel``).

    ``on_frame``: passed to ``func`` as ``on_frame=`` (a progress bar that moves frame by frame).
    """

    def __init__(self, func: Callable[..., Any], on_frame: Callable[[], None] | None = None) -> None:
        self.func, self.on_frame = func, on_frame
        self._queue: deque[tuple] = deque()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def submit(self, task: tuple) -> None:
        self._queue.append(task)

    def results(self) -> Iterator[tuple[tuple, Any]]:
        while self._queue:
            task = self._queue.popleft()
            try:
                outcome = self.func(*task, on_frame=self.on_frame)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as e:  # reported per input by the caller
                outcome = e
            yield task, outcome

    def cancel(self) -> None:
        self._queue.clear()


@dataclasses.dataclass
class _Tracked:
    item: BatchItem
    job: UpscaleJob
    records: dict[int, SegmentRecord]
    submitted: set[int] = dataclasses.field(default_factory=set)


def run_batch(
    items: list[BatchItem],
    options: UpscaleOptions,
    outdir: str,
    runner: Any,
    *,
    overwrite: bool = False,
    parallel: bool = False,
    progress: bool = True,
    on_frame_bar: bool = True,
    before_work: Callable[[list[UpscaleJob]], None] | None = None,
    max_in_flight: int = 512,
    say: Callable[[str], None] | None = None,
) -> list[BatchItem]:
    """Make every output of ``items`` with ``runner``; the items come back with their status.

    ``parallel``: submit the known segments of every job at once (a cluster; at most
    ``max_in_flight`` tasks at a time); else one at a time, in order. ``before_work``: called
    with the jobs about to run (the Ray storage check). The report is rewritten after each input
    finishes.
    """
    from tqdm import tqdm

    if say is None:

        def say(line: str) -> None:
            tqdm.write(line, file=sys.stderr)  # above the progress bar

    os.makedirs(outdir, exist_ok=True)
    tracked = _prepare_jobs(items, options, overwrite, say)
    write_report(outdir, items)
    if before_work is not None and tracked:
        before_work([t.job for t in tracked.values()])

    known = [t.job.total for t in tracked.values()]
    total = sum(k for k in known if k) if all(known) else None
    resumed = sum(r.frames for t in tracked.values() for r in t.records.values())
    bar = tqdm(total=total, initial=resumed, file=sys.stderr, unit="frame", desc="batch", disable=not progress)
    frame_bar = on_frame_bar and isinstance(runner, LocalRunner)
    if frame_bar:
        runner.on_frame = lambda: bar.update(1)
    scheduler = _Scheduler(items, tracked, outdir, runner, overwrite, parallel, max_in_flight, say)
    try:
        scheduler.advance()
        for (job, index), outcome in runner.results():
            frames = scheduler.take(job, index, outcome)
            if frames and not frame_bar:
                bar.update(frames)
    finally:
        bar.close()
        runner.cancel()
        in_flight = set(map(id, scheduler.by_task.values())) if parallel else set()
        _remove_unused_work(tracked, in_flight=in_flight)
        write_report(outdir, items)
    return items


def _prepare_jobs(
    items: list[BatchItem], options: UpscaleOptions, overwrite: bool, say: Callable[[str], None]
) -> dict[str, _Tracked]:
    """The job of every item still to make, by output; existing outputs are skipped and bad inputs
    marked (their status and error set on the item)."""
    tracked: dict[str, _Tracked] = {}
    for item in items:
        if os.path.lexists(item.output) and not overwrite:
            item.status = "skipped"
            continue
        try:
            job = UpscaleJob.create(item.input, item.output, options)
            records = upscale_job.prepare(job, overwrite=overwrite)
        except _BAD as e:
            item.status, item.error = "bad", first_line(e)
            say(f"bad input {item.input}: {item.error}")
            continue
        tracked[item.output] = _Tracked(item, job, records)
    return tracked


class _Scheduler:
    """Which segment tasks go to the runner, and what each result does to its input's status.

    Here (not ``parallel``) inputs run one after another, one segment at a time; on a cluster every
    input's segments are submitted at once, at most ``max_in_flight`` tasks in flight (the rest wait
    in ``held`` until results come back, which bounds the driver's state)."""

    def __init__(
        self,
        items: list[BatchItem],
        tracked: dict[str, _Tracked],
        outdir: str,
        runner: Any,
        overwrite: bool,
        parallel: bool,
        max_in_flight: int,
        say: Callable[[str], None],
    ):
        self.items, self.outdir, self.runner, self.say = items, outdir, runner, say
        self.overwrite, self.parallel, self.max_in_flight = overwrite, parallel, max_in_flight
        self.by_task: dict[tuple[str, int], _Tracked] = {}
        self.waiting = deque(tracked.values())
        self.held: deque[_Tracked] = deque()  # inputs with segments not submitted for want of room

    def submit_next(self, t: _Tracked) -> None:
        """Submit ``t``'s next segment (all of its remaining ones on a cluster, as room allows)."""
        todo = [k for k in upscale_job.next_segments(t.records, t.job.planned_segments()) if k not in t.submitted]
        for index in todo if self.parallel else todo[:1]:
            if self.runner.pending >= self.max_in_flight:
                if t not in self.held:
                    self.held.append(t)
                return
            t.submitted.add(index)
            self.by_task[(t.job.output, index)] = t
            self.runner.submit((t.job, index))

    def close(self, t: _Tracked) -> None:
        """Join ``t``'s segments into its output and record the outcome in the report."""
        try:
            result = upscale_job.finish(t.job, t.records, overwrite=self.overwrite)
        except _BAD as e:
            t.item.status, t.item.error = "bad", first_line(e)
        except Exception as e:
            t.item.status, t.item.error = "failed", f"{type(e).__name__}: {first_line(e)}"
        else:
            t.item.status, t.item.frames, t.item.seconds = "done", result.frames, round(result.seconds_all_runs, 2)
            self.say(f"wrote {t.item.output}: {result.frames} {result.describe}")
        if t.item.error:
            self.say(f"{t.item.status} input {t.item.input}: {t.item.error}")
        write_report(self.outdir, self.items)

    def advance(self) -> None:
        """Start inputs: every one at once on a cluster; here one after another, the next once none runs."""
        runner = self.runner
        while self.held and runner.pending < self.max_in_flight:
            t = self.held.popleft()
            if t.item.status == "pending":
                self.submit_next(t)
        while self.waiting and (self.parallel or runner.pending == 0) and runner.pending < self.max_in_flight:
            t = self.waiting.popleft()
            if upscale_job.complete(t.records):
                self.close(t)
            else:
                self.submit_next(t)

    def take(self, job: UpscaleJob, index: int, outcome: Any) -> int:
        """One task's result (a SegmentRecord or the exception it raised); the frames it committed."""
        t = self.by_task.pop((job.output, index))
        if t.item.status != "pending":  # the input already failed: later segments are dropped
            return 0
        frames = 0
        if isinstance(outcome, BaseException):
            bad = isinstance(outcome, _BAD)
            t.item.status = "bad" if bad else "failed"
            t.item.error = first_line(outcome) if bad else f"{type(outcome).__name__}: {first_line(outcome)}"
            self.say(f"{t.item.status} input {t.item.input}: {t.item.error}")
            write_report(self.outdir, self.items)
        else:
            t.records[index] = outcome
            frames = outcome.frames
            if upscale_job.complete(t.records):
                self.close(t)
            else:
                self.submit_next(t)
        self.advance()
        return frames


def _remove_unused_work(tracked: dict[str, _Tracked], in_flight: set[int]) -> None:
    """Remove the work folders (made by ``prepare`` for every input up front) of the inputs that did not
    finish and have no committed segment, as ``tga upscale`` does: a bad input, or an interrupted run,
    leaves no empty ``OUTPUT.segments``. Not those with a task still in flight (``id`` of its _Tracked)."""
    for t in tracked.values():
        if t.item.status != "done" and id(t) not in in_flight and not upscale_job.committed(t.job):
            shutil.rmtree(t.job.work, ignore_errors=True)


def exit_code(items: list[BatchItem]) -> int:
    """0 when every input succeeded (done or skipped), 1 when one failed inside the program, else 2."""
    statuses = {i.status for i in items}
    if statuses <= {"done", "skipped"}:
        return 0
    return 1 if "failed" in statuses or "pending" in statuses else 2


__all__ = [
    "CONTAINER_CHOICES",
    "REPORT",
    "BatchItem",
    "LocalRunner",
    "exit_code",
    "find_inputs",
    "plan_outputs",
    "run_batch",
    "write_report",
]
