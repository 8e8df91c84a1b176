"""What happens when a real run starts (Snakemake `onstart`; never on a dry run).

- the refreshed tilt-series manifest is written, and frames/ links of movies that moved are
  re-pointed (the fingerprints ignore paths, so nothing re-runs for a move);
- the curation decisions this run works with are written (`.crboost/curation.json`), and the
  digest of its config, checked against the schema (`.crboost/schema_checked.json`: cluster
  jobs skip the schema check for that config, see project/schema_check.py);
- the inputs of the particle jobs with work in the run are checked (jobpreflight.py);
- statuses left by a run that died are reconciled (Running without sentinel -> Failed);
- the pipeline's jobs are registered in default_pipeline.star (processes, nodes, edges), with
  their alias links, `.gui_projectdir` and `.Nodes/`, so the project opens in the RELION GUI;
- the jobs this run will execute lose their stale RELION_JOB_EXIT_FAILURE and become Scheduled;
- the run records itself in .crboost/run.json (for liveness checks) and keeps it fresh
  (its heartbeat, for checks from other hosts).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import CrboostError
from ..project.load import Job, Project
from ..project.schema_check import record_checked
from ..relion.lock import updating_pipeline
from ..relion.pipeline import PIPELINE_FILE, read_pipeline

GUI_FLAG = ".gui_projectdir"


def on_start(project: Project, planned_dirs: set[str] | None = None) -> None:
    from .jobpreflight import check_planned_jobs
    from .liveness import Heartbeat
    from .runstate import RUN_FILE, clear_failure, reconcile, record_run

    save_run_state(project)  # with the curation decisions this run works with
    if project.schema_checked:
        record_checked(project.root, project.schema_checked)
    check_planned_jobs(project, planned_dirs)  # before any tool of the run starts
    reconcile(project)
    register_jobs(project)
    # jobs with work in this run are not complete any more: no stale sentinel of either kind
    planned = [j for j in project.jobs if planned_dirs is not None and j.dir in planned_dirs]
    for job in planned:
        clear_failure(project.root, job)
        (project.root / job.success).unlink(missing_ok=True)
    if planned:
        with updating_pipeline(project.root) as pipeline:
            for job in planned:
                pipeline.set_status(job.relion_name, "Scheduled")
    record_run(project.root)
    Heartbeat(project.root / RUN_FILE, os.getpid()).start()  # a daemon thread: ends with the run


def save_run_state(project: Project) -> None:
    """What the run starts from (project/save.py: the manifest, movie links, Warp metadata after
    a move, the curation snapshot), said; tilt series skipped since the import job last ran are
    added to its run.out."""
    from ..project.save import save_run_state as save

    changed = save(project)
    if project.moved_from:
        print(f"crboost: the project moved from {project.moved_from}: {changed} Warp metadata "
              "file(s) now name its new place", file=sys.stderr)  # fmt: skip
    note_skipped(project)


def note_skipped(project: Project) -> list[str]:
    """The import job's run.out lists every skipped tilt series and every mdoc value present but
    not usable with what replaces it (its gather writes them). One skipped later (an mdoc added
    without its movies) changes no tilt series, so nothing re-runs: its line is appended here,
    so that run.out never says less than the data (also the replacements of tilt series imported
    before crboost said them)."""
    import time

    job = project.of_type("importmovies")[0]
    log = project.root / job.dir / "run.out"
    try:
        known = set(log.read_text().splitlines())
    except OSError:
        return []  # the import job has not run: its gather will list them
    lines = [f"skipped {name}: {why}" for name, why in sorted(project.manifest.skipped.items())]
    lines += [f"warning: {line}" for line in project.unusable_lines()]  # as the gather says them
    new = [line for line in lines if line not in known]
    if new:
        with open(log, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} found at the start of a run:\n")
            f.write("".join(line + "\n" for line in new))
    return new


def on_finish(project: Project, log: str | list[str] | None = None) -> None:
    """The run ended (success or error): nothing of it runs any more. Tasks that died without a
    word from their driver (SIGKILL, out of memory, node failure) get their reason from
    Snakemake's log."""
    from .runstate import reconcile

    for path in [log] if isinstance(log, str) else (log or []):
        record_silent_failures(project, Path(path))
    reconcile(project, alive=False, run_ended=True)


def record_silent_failures(project: Project, log: Path) -> list[str]:
    import re
    import time

    try:
        text = log.read_text()
    except OSError:
        return []
    recorded = []
    for block in re.split(r"\n(?=Error in rule )", text)[1:]:
        outputs = re.search(r"^\s+output: (.+)$", block, re.M)
        message = re.search(r"^\s+message: (.+)$", block, re.M)
        if not outputs:
            continue
        for path in outputs.group(1).split(", "):
            job = next((j for j in project.jobs if path.startswith(j.dir + "/")), None)
            if job is None:
                continue
            ts = path.rsplit("/", 1)[-1][:-5] if "/tilt_series/" in path else None
            failure = project.root / job.failure
            known = failure.read_text() if failure.exists() else ""
            if (ts and f"tilt series {ts}:" in known) or (not ts and known):
                continue
            reason = message.group(1).strip() if message else "the task failed"
            line = (f"{time.strftime('%Y-%m-%d %H:%M:%S')} "
                    + (f"tilt series {ts}: " if ts else "")
                    + f"{reason} (no reason from the driver: killed?)\n")  # fmt: skip
            with open(failure, "a") as f:
                f.write(line)
            recorded.append(line.strip())
    return recorded


def job_dirs_of(project: Project, paths) -> set[str]:
    """The job directories the given output paths belong to."""
    dirs = {job.dir for job in project.jobs}
    found = set()
    for path in paths:
        parts = str(path).split("/")
        if len(parts) > 2 and "/".join(parts[:2]) in dirs:
            found.add("/".join(parts[:2]))
    return found


def register_jobs(project: Project) -> None:
    """Add the pipeline's jobs to default_pipeline.star (append-only) and make their aliases."""
    root = project.root
    with updating_pipeline(root) as pipeline:
        known = {p.name: p for p in pipeline.process_list()}
        for job in project.jobs:
            existing = known.get(job.relion_name)
            if job.is_new and existing is not None:
                raise CrboostError(
                    f"default_pipeline.star: {job.relion_name} was taken by another job "
                    f"({existing.type_label}) since this run was planned; run again"
                )
            if existing is None:
                pipeline.add_process(job.relion_name, job.alias, job.cls.process_label, "Scheduled")
            _add_graph(pipeline, job)
    (root / GUI_FLAG).touch()
    aliases = {p.name: p.alias for p in read_pipeline(root / PIPELINE_FILE).process_list()}
    for job in project.jobs:
        (root / job.dir).mkdir(parents=True, exist_ok=True)
        if aliases.get(job.relion_name) == job.alias:  # adopted processes keep their own alias
            make_alias_link(root, job)


def _add_graph(pipeline, job: Job) -> None:
    pipeline.add_node(job.output_star, job.cls.output_node_label)
    pipeline.add_edge("pipeline_output_edges", job.relion_name, job.output_star)
    if job.upstream is not None:
        pipeline.add_node(job.upstream.output_star, job.upstream.cls.output_node_label)
        pipeline.add_edge("pipeline_input_edges", job.upstream.output_star, job.relion_name)


def make_alias_link(root: Path, job: Job) -> None:
    """`<TypeDir>/<alias>` -> `../<TypeDir>/jobNNN/`, as RELION makes it."""
    link = root / job.alias.rstrip("/")
    target = f"../{job.dir}/"
    if link.is_symlink() and os.readlink(link) == target:
        return
    if link.exists() and not link.is_symlink():
        return  # never replace a real directory
    tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def touch_node_entry(root: Path, node: str, type_label: str) -> None:
    """`.Nodes/<first label part>/<node path>`: what the RELION GUI's input browser lists."""
    entry = root / ".Nodes" / type_label.split(".")[0] / node
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.touch()
