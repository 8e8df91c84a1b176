"""What every driver in `drivers/` shares: finding its job, reading its params, running tools,
reading and writing tilt-series STAR files, gathering, and reporting success or failure.

A driver runs on the compute node. It works from the project root (as Snakemake runs it) or from
inside the job directory (re-running one tilt series by hand):

    cd PROJECT/External/job005 && crboost driver tsCtf --ts TS_01

RELION can run it too, as an External job (`fn_exe` in job.star): `--o External/job005/` without
`--ts`/`--gather` runs the prepare step (if the type has one), every tilt series, then gathers;
that is also how a whole-job type (granularity "job") runs.

On failure it writes the reason and the tail of the tool's stderr to `RELION_JOB_EXIT_FAILURE` and
`run.err` in the job dir and exits non-zero. Only the job-level (gather) step writes
`RELION_JOB_EXIT_SUCCESS`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CrboostError
from ..project.load import SENTINEL_FAILURE, SENTINEL_SUCCESS
from ..relion.star import write_star
from ..tools.runner import ToolCall
from .jobcontext import DriverError, JobContext, open_job

__all__ = ["DriverError", "JobContext", "open_job"]  # and the functions below


# --- tilt-series STAR files --------------------------------------------------------------------


def read_tilt_series(path: Path, ts: str) -> pd.DataFrame:
    import starfile

    try:
        blocks = starfile.read(path, always_dict=True, parse_as_string=["rlnMicrographMovieName"])
    except FileNotFoundError:
        raise DriverError(f"{path}: missing (upstream tilt series not done?)") from None
    table = blocks.get(ts)
    if not isinstance(table, pd.DataFrame):
        raise DriverError(f"{path}: no data_{ts} table")
    return table


def write_tilt_series(ctx: JobContext, ts: str, table: pd.DataFrame) -> None:
    """Written last, atomically: its existence is the tilt series' completion mark."""
    ctx.path("tilt_series").mkdir(exist_ok=True)
    write_star(ctx.ts_star(ts), {ts: table.reset_index(drop=True)})


def movie_stems(table: pd.DataFrame) -> list[str]:
    return [Path(str(m)).stem for m in table["rlnMicrographMovieName"]]


# --- tool state carried from job to job ---------------------------------------------------------


def link(ctx: JobContext, name: str, target: Path) -> None:
    """`<job>/<name>` -> target (project-relative), idempotently and atomically."""
    real = Path(os.path.realpath(ctx.root / target))
    if not real.exists():
        raise DriverError(f"{target}: missing (upstream job not run?)")
    link_path = ctx.root / ctx.dir / name
    text = os.path.relpath(real, link_path.parent)
    if link_path.is_symlink() and os.readlink(link_path) == text:
        return
    tmp = link_path.with_name(f".{name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(text, tmp)
    os.replace(tmp, link_path)


def copy_from_upstream(ctx: JobContext, name: str) -> None:
    """A copy of the upstream job's file (settings, metadata), never the file itself."""
    source = ctx.root / str(ctx.input_dir) / name
    if not source.exists():
        raise DriverError(f"{ctx.input_dir}/{name}: missing (upstream job not run?)")
    dest = ctx.root / ctx.dir / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest)


def carry_tilt_series_state(ctx: JobContext) -> None:
    """Tilt-series jobs after tsImport: link its tomostar/ and frameseries/ (the .tomostar files
    name their tilts as ../frameseries/<ts>/<movie>, which must resolve from this job's
    tomostar/ both through the link and as text), copy the upstream settings."""
    link(ctx, "tomostar", Path(str(ctx.input_dir), "tomostar"))
    upstream = ctx.root / str(ctx.input_dir) / "frameseries"
    if upstream.exists():
        link(ctx, "frameseries", Path(str(ctx.input_dir), "frameseries"))
    copy_from_upstream(ctx, "warp_tiltseries.settings")


def ensure_made(ctx: JobContext, name: str, make: Callable[[str], ToolCall]) -> None:
    """Create a job-level file with a tool once, safely when several tasks race to do it."""
    target = ctx.path(name)
    if target.exists():
        return
    tmp = f".{name}.tmp{os.getpid()}"
    ctx.run(make(tmp))
    if not ctx.path(tmp).exists():
        raise DriverError(f"{ctx.dir}/{name}: the tool wrote nothing")
    os.replace(ctx.path(tmp), target)


def run_calls(ctx: JobContext, calls: list[ToolCall]) -> None:
    """Run the tool calls in order."""
    for call in calls:
        ctx.run(call)


def run_despite_settings_race(ctx: JobContext, call: ToolCall, complete: Callable[[], bool]):
    """Run a WarpTools call that saves `<output>/<command>.settings` when it ends: two calls of
    one job ending at once make the second fail on that file (an IOException of File.Create,
    FileShare.None), after its items were processed. Such a failure is kept as a success when
    `complete()` finds every result of the call."""
    try:
        return ctx.run(call)
    except DriverError as e:
        race = "IOException" in e.output and ".settings'" in e.output
        if race and complete():
            print(f"crboost: {e}: only the shared .settings file was busy (another call of this "
                  "job was saving it); every result is there, kept", flush=True)  # fmt: skip
            return None
        raise


def clear_previous(ctx: JobContext, paths: list[Path]) -> None:
    """Remove what an earlier attempt left, so the checks after the tool see only this attempt
    (WarpTools, for one, picks up an aligner's old result files)."""
    for path in paths:
        target = ctx.root / path
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)


def check_files(ctx: JobContext, paths: list[Path], what: str) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise DriverError(f"{what}: {len(missing)} output file(s) missing: {shown} (see the log)")


# --- job-level results --------------------------------------------------------------------------


def gather(
    ctx: JobContext,
    output_star: str,
    node_label: str,
    update: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> None:
    """The job's global STAR: the upstream job's rows for this project's tilt series, pointing
    at this job's per-tilt-series files, with `update` applied."""
    table = gather_table(ctx, update)
    finish(ctx, {"global": table}, output_star, node_label)


def gather_table(
    ctx: JobContext, update: Callable[[pd.DataFrame], pd.DataFrame] | None = None
) -> pd.DataFrame:
    """The rows of the job's global STAR (see gather), for jobs that write more files."""
    import starfile

    names = ctx.items()
    missing = [ts for ts in names if not ctx.ts_star(ts).exists()]
    if missing:
        raise DriverError(f"per-tilt-series results missing for {', '.join(missing)}")
    upstream = ctx.spec.get("input_star")
    try:
        table = starfile.read(ctx.root / upstream, always_dict=True)["global"]
    except (FileNotFoundError, KeyError, TypeError):
        raise DriverError(f"{upstream}: missing or without data_global") from None
    table = table[table["rlnTomoName"].isin(names)].copy()
    absent = sorted(set(names) - set(table["rlnTomoName"]))
    if absent:
        raise DriverError(f"{upstream}: no rows for {', '.join(absent)}")
    table["rlnTomoTiltSeriesStarFile"] = [str(ctx.ts_star(ts)) for ts in table["rlnTomoName"]]
    if update is not None:
        table = update(table)
    return table.reset_index(drop=True)


def finish(ctx: JobContext, blocks: dict | None, output_star: str, node_label: str) -> None:
    """Write the job's STAR (unless blocks is None: written already), its output node, and
    succeed."""
    from ..relion.jobstar import write_output_nodes
    from .hooks import touch_node_entry

    output = ctx.path(output_star)
    if blocks is not None:
        write_star(output, blocks)
    nodes = [(str(output), node_label)]
    write_output_nodes(ctx.path("RELION_OUTPUT_NODES.star"), nodes)
    for node, label in nodes:
        touch_node_entry(ctx.root, node, label)
    succeed(ctx)


# --- status -------------------------------------------------------------------------------------


def fail(ctx: JobContext, reason: str, stderr_tail: str = "", ts: str | None = None) -> None:
    """Record why the job failed where RELION and `crboost status` look for it."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    line = f"{stamp} {'tilt series ' + ts + ': ' if ts else ''}{reason}\n"
    with open(ctx.path(SENTINEL_FAILURE), "a") as f:
        f.write(line)
    with open(ctx.path("run.err"), "a") as f:
        f.write(line)
        if stderr_tail:
            f.write(stderr_tail.rstrip("\n") + "\n")
    if ts is None:
        _set_status(ctx, "Failed")
    # a tilt series failing leaves the others running; the job becomes Failed when the run ends


def succeed(ctx: JobContext) -> None:
    """The job is complete: clear old failure marks, write the sentinel, update the pipeline."""
    failure = ctx.path(SENTINEL_FAILURE)
    if failure.exists():
        failure.unlink()
    ctx.path(SENTINEL_SUCCESS).touch()
    _set_status(ctx, "Succeeded")


def mark_running(ctx: JobContext) -> None:
    """Running as soon as any of the job's tasks starts (read first: the lock is rarely needed)."""
    from ..relion.pipeline import read_pipeline_index

    try:
        process = read_pipeline_index(ctx.root).find(ctx.dir)
    except CrboostError:
        return
    if process is not None and process.status != "Running":
        _set_status(ctx, "Running")


def _set_status(ctx: JobContext, status: str) -> None:
    from ..relion.lock import updating_pipeline

    try:
        with updating_pipeline(ctx.root) as pipeline:
            if pipeline.find(ctx.dir):
                pipeline.set_status(ctx.dir, status)
    except CrboostError as e:
        print(f"crboost: could not update default_pipeline.star: {e}", file=sys.stderr)


# --- command line -------------------------------------------------------------------------------


def driver_parser(description: str = "") -> argparse.ArgumentParser:
    """The command line of every driver (`crboost driver T ...`; tests/test_docs.py parses the
    docs' driver calls with it)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--job", "--o", dest="job", help="job dir (default: the cwd)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--ts", help="process this tilt series")
    group.add_argument("--gather", action="store_true", help="write the job's STAR files")
    group.add_argument("--prepare", action="store_true", help="run the job's prepare step")
    parser.add_argument(
        "--print-commands",
        action="store_true",
        help="print the tool commands of the step instead of running it (writes nothing)",
    )
    return parser


def main(
    description: str,
    per_tilt_series: Callable[[JobContext, str], None] | None,
    gather_step: Callable[[JobContext], None],
    prepare: Callable[[JobContext], dict[str, Any]] | None = None,
    planned: dict[str, Callable[..., list[ToolCall]]] | None = None,
) -> None:
    """`--ts NAME` runs one tilt series, `--gather` the job-level step, `--prepare` the prepare
    step (its result is written, last, to the type's prepare_output as JSON); RELION's
    External-job call (`--o DIR`, other options ignored) runs what is missing of all of them, in
    order. A whole-job type passes per_tilt_series=None: its gather_step does the job's work.
    `--print-commands` prints the tool calls of the asked step(s) from `planned` (see
    printcommands.py) and writes nothing at all: no step runs, no status changes."""
    args, _relion_options = driver_parser(description).parse_known_args()
    try:
        ctx = open_job(args.job)
        if (args.ts is not None and per_tilt_series is None) or (args.prepare and not prepare):
            raise CrboostError(f"job type {ctx.type} has no {'--ts' if args.ts else '--prepare'}")
        if args.print_commands or os.environ.get("CRBOOST_PRINT_COMMANDS") == "1":
            from .printcommands import print_commands

            print_commands(ctx, args, planned or {}, per_tilt_series is not None, prepare)
            return
    except CrboostError as e:
        sys.exit(f"crboost: {e}")
    # SLURM sends SIGTERM at the time limit or on scancel, shortly before SIGKILL
    signal.signal(signal.SIGTERM, _terminated)
    mark_running(ctx)
    if args.ts is not None:
        _step(ctx, lambda: per_tilt_series(ctx, args.ts), args.ts)
        quality_pictures(ctx, args.ts)
    elif args.gather:
        _step(ctx, lambda: gather_step(ctx), None)
    elif args.prepare:
        _step(ctx, lambda: _prepare(ctx, prepare), None)
    else:
        if prepare is not None and not ctx.prepared_path.exists():
            _step(ctx, lambda: _prepare(ctx, prepare), None)
        try:
            items = ctx.items() if per_tilt_series is not None else []
        except DriverError:
            items = []  # the gather step says what is missing
        for ts in items:
            if not ctx.ts_star(ts).exists():
                _step(ctx, lambda ts=ts: per_tilt_series(ctx, ts), ts)
                quality_pictures(ctx, ts)
        _step(ctx, lambda: gather_step(ctx), None)


def quality_pictures(ctx: JobContext, ts: str) -> None:
    """The QC pictures the job type declares (crboost/qc), once the tilt series' results are
    complete. Whatever goes wrong there, the job's result stands."""
    if not (ctx.root / ctx.ts_star(ts)).exists():
        return
    try:
        from ..qc import make_pictures

        make_pictures(ctx, ts)
    except Terminated:
        sys.exit(f"crboost: {ctx.dir}: tilt series {ts}: killed by SIGTERM while making its QC "
                 "pictures (its results are complete)")  # fmt: skip
    except Exception as e:  # a picture is never worth a failed job
        print(f"crboost: QC pictures of {ts} not made: {type(e).__name__}: {e}", file=sys.stderr)


def _prepare(ctx: JobContext, prepare: Callable[[JobContext], dict[str, Any]]) -> None:
    decision = prepare(ctx)
    from ..relion.star import atomic_write

    atomic_write(ctx.prepared_path, json.dumps(decision, indent=1, sort_keys=True) + "\n")


class Terminated(DriverError):
    pass


def _terminated(signum, frame) -> None:
    raise Terminated("killed by SIGTERM (time limit reached, or the job was cancelled)")


def _step(ctx: JobContext, work: Callable[[], None], ts: str | None) -> None:
    where = f"{ctx.dir}: {'tilt series ' + ts + ': ' if ts else ''}"
    try:
        work()
    except DriverError as e:
        fail(ctx, str(e), e.stderr_tail, ts)
        sys.exit(f"crboost: {where}{e}")
    except CrboostError as e:
        fail(ctx, str(e), ts=ts)
        sys.exit(f"crboost: {where}{e}")
    except Exception as e:  # a bug: keep the traceback for the developer, the reason for RELION
        fail(ctx, f"internal error: {type(e).__name__}: {e}", traceback.format_exc(), ts)
        raise
