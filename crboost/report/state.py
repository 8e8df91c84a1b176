"""What the report and the web view show, read from the project's files (no Snakemake): per job
and tilt series the state (done, failed, running, pending, excluded), failures with their log
tails, pending changes, and per tilt series its QC pictures and tilt decisions."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CrboostError
from ..project.config import CONFIG_NAME
from ..project.curation import CurationError, read_curation, tilt_decisions, tilts_of
from ..project.load import Job, Project, load_project
from ..running.curation_state import FILTER_TYPE, decisions, pending_changes
from ..running.runstate import last_run, run_is_alive
from ..running.status import JobStatus, project_status, summary_line

STATES = ("done", "failed", "running", "pending", "excluded")
LOG_TAIL = 20


@dataclass
class Failure:
    job: str
    ts: str | None
    reason: str
    log: str  # project-relative
    tail: str


@dataclass
class ProjectView:
    project: Project
    jobs: list[JobStatus]
    alive: bool
    run: dict | None
    made: float
    excluded: list[str]
    failures: list[Failure]
    pending: list[str]
    #: {job dir: {ts: number of tilts the filter dropped}}
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.project.root.name

    @property
    def summary(self) -> str:
        return summary_line(self.jobs)

    def state(self, job: JobStatus, ts: str) -> str:
        if ts in self.excluded:
            return "excluded"
        return job.items.get(ts, "pending")

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for job in self.jobs:
            for ts in self.project.tilt_series:
                out[self.state(job, ts)] += 1
        return out

    def version(self) -> str:
        return project_version(self.project)


def open_project(root: Path) -> Project:
    config = root / CONFIG_NAME
    if not config.is_file():
        raise CrboostError(f"{config}: no such file (not a crboost project)")
    return load_project(config, remote=True, schema=False)


def project_view(project: Project) -> ProjectView:
    root = project.root
    jobs = project_status(project, reconcile_statuses=False)
    failures = []
    for status, job in zip(jobs, project.jobs, strict=True):
        for ts, line in status.failures.items():
            log = f"{job.dir}/logs/{ts}.log"
            failures.append(Failure(job.name, ts, _reason(line), log, tail(root / log)))
        if status.status == "Failed" and not status.failures and status.error:
            log = f"{job.dir}/run.err" if (root / job.dir / "run.err").exists() else job.failure
            failures.append(Failure(job.name, None, _reason(status.error), log, tail(root / log)))
    dropped = {
        status.dir: {ts: len(tilts) for ts, tilts in status.tilts_dropped.items()}
        for status in jobs
        if status.type == FILTER_TYPE
    }
    return ProjectView(
        project=project,
        jobs=jobs,
        alive=run_is_alive(root),
        run=last_run(root),
        made=time.time(),
        excluded=sorted(project.curation.excluded & set(project.tilt_series)),
        failures=failures,
        pending=[
            f"{j.job} ({j.dir}): params changed: {'; '.join(j.changes)}" for j in jobs if j.changes
        ]
        + pending_changes(project),  # fmt: skip
        dropped=dropped,
    )


def _reason(line: str) -> str:
    """A failure line without its time stamp and tilt-series prefix."""
    parts = line.split(" ", 2)
    text = parts[2] if len(parts) == 3 and parts[0][:2].isdigit() else line
    return text.split(": ", 1)[1] if text.startswith("tilt series ") else text


def tail(path: Path, lines: int = LOG_TAIL) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 16384))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def project_version(project: Project) -> str:
    """Changes whenever something the pages show changes (a stat per job folder, no reads)."""
    root = project.root
    stamps = []
    for path in [CONFIG_NAME, "curation.yaml", ".crboost/curation.json", ".crboost/run.json"]:
        stamps.append(_mtime(root / path))
    for job in project.jobs:
        for name in ("tilt_series", "qc", "decisions", job.cls.output_star, "RELION_JOB_EXIT_SUCCESS",
                     "RELION_JOB_EXIT_FAILURE"):  # fmt: skip
            stamps.append(_mtime(root / job.dir / name))
    return f"{hash(tuple(stamps)) & 0xFFFFFFFF:08x}"


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


# --- one tilt series ---------------------------------------------------------------------------


@dataclass
class TiltRow:
    movie: str
    angle: float
    values: dict[str, Any]
    thumbnail: tuple[str, list[int], int, int] | None  # (png, cell, montage width, height)
    filter: str  # kept | dropped | before | "" (no filter result)
    reasons: list[str]
    user: str  # exclude | keep | ""
    pending: bool  # the user's decision is not yet applied


@dataclass
class TiltSeriesView:
    name: str
    excluded: bool
    states: dict[str, str]  # job dir -> state
    qc: list[tuple[Job, dict]]  # (job, its qc.json) in pipeline order
    tilts: list[TiltRow]
    filter_job: Job | None
    curation_error: str = ""
    logs: dict[str, str] = field(default_factory=dict)  # job dir -> log path


def tilt_series_view(view: ProjectView, ts: str) -> TiltSeriesView:
    project = view.project
    root = project.root
    qc = []
    for job in project.jobs:
        try:
            record = json.loads((root / job.dir / "qc" / ts / "qc.json").read_text())
        except (OSError, ValueError):
            continue
        qc.append((job, record))
    filters = project.of_type(FILTER_TYPE)
    filter_job = filters[0] if filters else None
    rows, error = _tilt_rows(project, ts, qc, filter_job)
    logs = {job.dir: f"{job.dir}/logs/{ts}.log" for job in project.jobs
            if (root / job.dir / "logs" / f"{ts}.log").exists()}  # fmt: skip
    return TiltSeriesView(
        name=ts,
        excluded=ts in view.excluded,
        states={s.dir: view.state(s, ts) for s in view.jobs},
        qc=qc,
        tilts=rows,
        filter_job=filter_job,
        curation_error=error,
        logs=logs,
    )


def _tilt_rows(project: Project, ts: str, qc: list[tuple[Job, dict]], filter_job: Job | None):
    root = project.root
    try:
        tilts = tilts_of(root, ts)
    except CurationError:
        return [], ""
    values: dict[str, dict] = {t.movie: {} for t in tilts}
    thumbs: dict[str, tuple] = {}
    for job, record in qc:  # later jobs' values win (e.g. tsCtf's defocus over the frames')
        for entry in record.get("tilts", []):
            values.setdefault(entry["movie"], {}).update(
                {k: v for k, v in entry.items() if k != "movie"}
            )
        montage = record.get("products", {}).get("thumbnails")
        if montage:
            for movie, cell in montage["cells"].items():
                thumbs[movie] = (f"{job.dir}/qc/{ts}/{montage['file']}", cell,
                                 montage["width"], montage["height"])  # fmt: skip
    applied = decisions(root, filter_job, ts) if filter_job else None
    judged = {t["movie"]: t for t in (applied or {}).get("tilts", [])}
    error = ""
    try:
        current = read_curation(root)
        drop, keep = tilt_decisions(current, ts, tilts)
        pending = applied is not None and json.dumps(
            applied.get("curation", {}), sort_keys=True
        ) != json.dumps(current.entry(ts), sort_keys=True)
    except CurationError as e:
        drop, keep, pending, error = set(), set(), False, str(e)
    rows = []
    for tilt in sorted(tilts, key=lambda t: t.angle):
        decision = judged.get(tilt.movie)
        if decision is not None:
            state, reasons = ("kept" if decision["kept"] else "dropped"), decision["reasons"]
        else:
            state, reasons = ("before" if applied is not None else ""), []
        user = "exclude" if tilt.movie in drop else "keep" if tilt.movie in keep else ""
        rows.append(TiltRow(tilt.movie, tilt.angle, values.get(tilt.movie, {}),
                            thumbs.get(tilt.movie), state, reasons, user,
                            pending and bool(user or tilt.movie in _applied(applied))))  # fmt: skip
    return rows, error


def _applied(applied: dict | None) -> set[str]:
    """Movies named by the curation entry a filter run applied (by name; angles count too)."""
    if not applied:
        return set()
    return {t["movie"] for t in applied.get("tilts", [])
            if "excluded in curation.yaml" in t.get("reasons", []) or t.get("note")}  # fmt: skip
