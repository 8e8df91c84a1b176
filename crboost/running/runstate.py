"""Which run of a project is alive, and making default_pipeline.star agree with the files.

A run records itself in `.crboost/run.json` (host, pid and what makes the pid unique, start
time; its mtime is the run's heartbeat) when it starts; `liveness.py` decides whether that run is
still alive. A job whose process says Running but that has no RELION_JOB_EXIT_SUCCESS, while no
run of the project is alive, was killed (by SLURM, the OS or the user): it becomes Failed, with
the reason in its RELION_JOB_EXIT_FAILURE. This happens when the next run starts and in `crboost status`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

from ..acquisition.manifest import STATE_DIR
from ..project.load import Job, Project
from ..relion.lock import updating_pipeline
from ..relion.pipeline import PIPELINE_FILE, read_pipeline_index
from . import liveness

RUN_FILE = f"{STATE_DIR}/run.json"
KILLED_REASON = "interrupted: no RELION_JOB_EXIT_SUCCESS and no live run of the project (killed?)"


def record_run(root: Path, pid: int | None = None) -> dict:
    """This run (or the snakemake process `pid` a launcher started) is the project's live run."""
    previous = last_run(root)
    pid = pid or os.getpid()
    started = time.time()
    if previous and previous.get("pid") == pid and liveness.is_local(previous):
        started = previous.get("started", started)  # the launcher recorded it already
    record = {**liveness.identity(pid), "started": started}
    path = root / RUN_FILE
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(record) + "\n")
    os.replace(tmp, path)
    return record


def last_run(root: Path) -> dict | None:
    try:
        record = json.loads((root / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def run_liveness(root: Path) -> tuple[dict | None, liveness.Verdict]:
    """The project's last recorded run and whether it is alive (see running/liveness.py)."""
    record = last_run(root)
    if record is None:
        return None, liveness.Verdict(False, "no run recorded", True)
    return record, liveness.check(record, heartbeat_file=root / RUN_FILE)


def run_is_alive(root: Path) -> bool:
    return bool(run_liveness(root)[1].alive)


def describe_run(record: dict) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.get("started", 0)))
    return f"host {record.get('host')} pid {record.get('pid')} started {when}"


def reconcile(project: Project, alive: bool | None = None, run_ended: bool = False) -> list[str]:
    """Fix statuses of the pipeline's jobs from their sentinels; returns what changed.

    run_ended: called by the run itself as it ends; a job it left unfinished without failing
    itself (its upstream failed) goes back to Scheduled, not Failed.
    """
    root = project.root
    if not (root / PIPELINE_FILE).exists():
        return []
    if alive is None:
        alive = run_is_alive(root)
    changes = []
    current = {p.name: p for p in read_pipeline_index(root).process_list()}
    wanted: dict[str, tuple[Job, str]] = {}
    for job in project.jobs:
        process = current.get(job.relion_name)
        if process is None:
            continue
        status = desired_status(root, job, process.status, alive, run_ended)
        if status != process.status:
            wanted[job.dir] = (job, status)
    if not wanted:
        return []
    with updating_pipeline(root) as pipeline:
        for job, status in wanted.values():
            if status == "Failed" and not (root / job.failure).exists():
                with open(root / job.failure, "a") as f:
                    f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {KILLED_REASON}\n")
            pipeline.set_status(job.relion_name, status)
            changes.append(f"{job.dir}: {current[job.relion_name].status} -> {status}")
    return changes


def desired_status(root: Path, job: Job, status: str, alive: bool, run_ended: bool = False) -> str:
    if (root / job.success).exists():
        return "Succeeded"
    failed = (root / job.failure).exists()
    if failed and (status != "Running" or not alive):
        return "Failed"
    if status == "Running" and not alive:
        return "Scheduled" if run_ended else "Failed"
    if status == "Succeeded":  # sentinel removed: the job is to be re-run
        return "Scheduled"
    return status


def clear_failure(root: Path, job: Job) -> None:
    """A job starts again: its old failure goes to run.err's history, the sentinel goes."""
    failure = root / job.failure
    if failure.exists():
        with contextlib.suppress(OSError), open(root / job.dir / "run.err", "a") as f:
            f.write("previous failure (job restarted):\n" + failure.read_text())
        failure.unlink(missing_ok=True)
