"""What every driver in `drivers/` shares: finding its job, reading its params, reporting failure.

A driver runs on the compute node. It works from the project root (as Snakemake runs it) or from
inside the job directory (re-running one tilt series by hand):

    cd PROJECT/External/job005 && crboost driver tsCtf --ts TS_01

On failure it writes the reason and the tail of the tool's stderr to `RELION_JOB_EXIT_FAILURE` and
`run.err` in the job dir and exits non-zero. Only the job-level (gather) step writes
`RELION_JOB_EXIT_SUCCESS`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import CONFIG_NAME
from .errors import CrboostError
from .jobsetup import find_project_root
from .project import PARAMS_FILE, SENTINEL_FAILURE, SENTINEL_SUCCESS


class DriverError(CrboostError):
    """A job step failed; the message is the one-line reason."""

    def __init__(self, message: str, stderr_tail: str = ""):
        super().__init__(message)
        self.stderr_tail = stderr_tail


@dataclass
class JobContext:
    """A job as its driver sees it; paths are relative to the project root (the cwd)."""

    root: Path
    dir: str
    spec: dict[str, Any]

    @property
    def params(self) -> dict[str, Any]:
        return self.spec["params"]

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def input_dir(self) -> str | None:
        return self.spec.get("input_dir")

    def path(self, *parts: str) -> Path:
        return Path(self.dir, *parts)

    def ts_star(self, ts: str) -> Path:
        return self.path("tilt_series", f"{ts}.star")

    def config(self):
        from .config import load_config_file, parse_config

        return parse_config(load_config_file(self.root / CONFIG_NAME))


def open_job(job: str | None) -> JobContext:
    """Locate the project root and job dir; make the root the cwd."""
    here = Path.cwd().resolve()
    root = find_project_root(here)
    job_dir = job.rstrip("/") if job else str(here.relative_to(root))
    os.chdir(root)
    spec_path = Path(job_dir) / PARAMS_FILE
    try:
        spec = json.loads(spec_path.read_text())
    except FileNotFoundError:
        raise CrboostError(f"{spec_path}: missing; the job was never set up by crboost") from None
    return JobContext(root=root, dir=job_dir, spec=spec)


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
    from .relion.pipeline import PIPELINE_FILE, read_pipeline

    try:
        process = read_pipeline(ctx.root / PIPELINE_FILE).find(ctx.dir)
    except CrboostError:
        return
    if process is not None and process.status != "Running":
        _set_status(ctx, "Running")


def _set_status(ctx: JobContext, status: str) -> None:
    from .relion.pipeline import updating_pipeline

    try:
        with updating_pipeline(ctx.root) as pipeline:
            if pipeline.find(ctx.dir):
                pipeline.set_status(ctx.dir, status)
    except CrboostError as e:
        print(f"crboost: could not update default_pipeline.star: {e}", file=sys.stderr)


def main(
    description: str,
    per_tilt_series: Callable[[JobContext, str], None] | None,
    gather: Callable[[JobContext], None],
) -> None:
    """Command line of a driver: `--ts NAME` runs one tilt series, `--gather` the job-level step."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--job", help="job dir relative to the project (default: the cwd)")
    group = parser.add_mutually_exclusive_group(required=True)
    if per_tilt_series is not None:
        group.add_argument("--ts", help="process this tilt series")
    group.add_argument("--gather", action="store_true", help="write the job's STAR files")
    args = parser.parse_args()
    try:
        ctx = open_job(args.job)
    except CrboostError as e:
        sys.exit(f"crboost: {e}")
    ts = getattr(args, "ts", None)
    mark_running(ctx)
    try:
        if ts is not None:
            per_tilt_series(ctx, ts)
        else:
            gather(ctx)
    except DriverError as e:
        fail(ctx, str(e), e.stderr_tail, ts)
        sys.exit(f"crboost: {ctx.dir}: {'tilt series ' + ts + ': ' if ts else ''}{e}")
    except CrboostError as e:
        fail(ctx, str(e), ts=ts)
        sys.exit(f"crboost: {ctx.dir}: {e}")
    except Exception as e:  # a bug: keep the traceback for the developer, the reason for RELION
        fail(ctx, f"internal error: {type(e).__name__}: {e}", traceback.format_exc(), ts)
        raise
