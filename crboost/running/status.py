"""`crboost status`: where a project stands, from its files alone (fast at 1000 tilt series).

Per job instance: RELION status, tilt series done / failed / total, whether its params differ
from those it last ran with, the last error line. It reads the sentinels, the per-tilt-series
STAR files (one directory listing per job), the failure file, default_pipeline.star, each job's
job_params.json and Snakemake's incomplete markers; it builds no Snakemake DAG.
Statuses are reconciled first (a Running job without sentinel and without a live run is Failed).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..acquisition.manifest import skipped_lines
from ..project.load import Job, Project
from ..relion.pipeline import PIPELINE_FILE, read_pipeline_index

STATUSES = ("Succeeded", "Failed", "Running", "Scheduled", "Pending")


@dataclass
class JobStatus:
    job: str
    type: str
    dir: str
    status: str
    tilt_series: dict[str, int]
    params_changed: bool
    error: str | None = None
    changes: list[str] = field(default_factory=list)
    #: tiltFilter jobs: {tilt series: [{movie, angle, reasons}]} of the tilts dropped
    tilts_dropped: dict[str, list[dict]] = field(default_factory=dict)
    #: {tilt series: done | failed | running | pending} (not in the JSON: the counts are)
    items: dict[str, str] = field(default_factory=dict)
    #: {tilt series: the last failure line about it}
    failures: dict[str, str] = field(default_factory=dict)
    #: a dataset-wide decision of the job's prepare step ("status_line" of its JSON)
    decision: str | None = None


#: JobStatus fields `crboost status --json` leaves out (the table shows `changes`)
_NOT_IN_JSON = ("changes", "items", "failures")


def project_status(project: Project, reconcile_statuses: bool = True) -> list[JobStatus]:
    from .curation_state import FILTER_TYPE, dropped_tilts
    from .jobsetup import job_spec
    from .runstate import reconcile, run_is_alive

    root = project.root
    alive = run_is_alive(root)
    if reconcile_statuses:
        reconcile(project, alive=alive)
    processes = {}
    if (root / PIPELINE_FILE).exists():
        processes = {p.name: p.status for p in read_pipeline_index(root).process_list()}
    incomplete = incomplete_outputs(root)
    excluded = len(project.curation.excluded & set(project.tilt_series))
    out = []
    done_in: dict[str, set[str]] = {}
    for job in project.jobs:
        names = set(project.items(job))
        done = done_items(root, job, names)
        if job.upstream is not None:
            # a result whose input is gone is not a result any more (it will be re-made)
            done &= done_in.get(job.upstream.dir, set())
        done_in[job.dir] = done
        failure = root / job.failure
        failed_lines = failure.read_text().splitlines() if failure.exists() else []
        reasons = {ts: line for line in failed_lines for ts in _failed_tilt_series([line])}
        failed = {ts for ts in reasons if ts in names} - done
        running = {p.rsplit("/", 1)[1][:-5] for p in incomplete
                   if p.startswith(f"{job.dir}/tilt_series/")} if alive else set()  # fmt: skip
        states = {ts: "done" if ts in done else "failed" if ts in failed
                  else "running" if ts in running else "pending" for ts in project.items(job)}  # fmt: skip
        recorded = _recorded_spec(root, job)
        current = json.loads(json.dumps(job_spec(job)))
        changes = _diff(recorded, current) if recorded is not None else []
        status = _status(
            root, job, processes.get(job.relion_name), alive, incomplete, bool(failed_lines)
        )
        out.append(
            JobStatus(
                job=job.name,
                type=job.type,
                dir=job.dir,
                status=status,
                tilt_series={
                    "done": len(done),
                    "failed": len(failed),
                    "total": len(names),
                    "excluded": excluded,
                },  # fmt: skip
                params_changed=bool(changes),
                error=failed_lines[-1] if failed_lines and status == "Failed" else None,
                changes=changes,
                tilts_dropped=dropped_tilts(root, job, project.items(job))
                if job.type == FILTER_TYPE
                else {},
                items=states,
                failures={ts: reasons[ts] for ts in failed},
                decision=_decision(root, job),
            )
        )
    return out


def _decision(root: Path, job: Job) -> str | None:
    """What the job's prepare step decided for the whole dataset, as it says it."""
    name = getattr(job.params, "prepare_output", None)
    if not name:
        return None
    try:
        return json.loads((root / job.dir / name).read_text()).get("status_line")
    except (OSError, ValueError, AttributeError):
        return None


def _status(root: Path, job: Job, relion: str | None, alive: bool, incomplete: set[str],
            failed: bool) -> str:  # fmt: skip
    if (root / job.success).exists():
        return "Succeeded"
    running_here = any(p.startswith(job.dir + "/") for p in incomplete)
    if alive and (relion == "Running" or running_here):
        return "Running"
    if failed or relion == "Failed":
        return "Failed"
    if relion in ("Scheduled", "Running"):
        return "Scheduled"
    return "Pending"


def done_items(root: Path, job: Job, items: set[str]) -> set[str]:
    """The job's items with a result: per-item jobs have their tilt_series/<ts>.star (one
    directory listing); a whole-job type has them all once it succeeded."""
    if not job.cls.per_item():
        return set(items) if (root / job.success).exists() else set()
    try:
        with os.scandir(root / job.dir / "tilt_series") as entries:
            return {e.name[:-5] for e in entries if e.name.endswith(".star")} & items
    except FileNotFoundError:
        return set()


def _failed_tilt_series(lines: list[str]) -> set[str]:
    failed = set()
    for line in lines:
        marker = " tilt series "
        if marker in line:
            failed.add(line.split(marker, 1)[1].split(":", 1)[0])
    return failed


def _recorded_spec(root: Path, job: Job) -> dict | None:
    try:
        return json.loads((root / job.params_file).read_text())
    except (OSError, ValueError):
        return None


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    changes = []
    for key in sorted(set(old) | set(new)):
        if key == "params":
            continue
        if old.get(key) != new.get(key):
            changes.append(f"{key}: {old.get(key)} -> {new.get(key)}")
    old_p, new_p = old.get("params", {}), new.get("params", {})
    for key in sorted(set(old_p) | set(new_p)):
        if old_p.get(key) != new_p.get(key):
            changes.append(f"{key}: {old_p.get(key)} -> {new_p.get(key)}")
    return changes


def incomplete_markers(root: Path) -> dict[str, Path]:
    """Outputs Snakemake marked as being written: {output path: marker file}.
    (.snakemake/incomplete/, file names are urlsafe base64 of the path, split into
    '@'-prefixed directories when longer than a file name may be.)"""
    folder = root / ".snakemake" / "incomplete"
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for dirpath, _dirs, files in os.walk(folder):
        rel = Path(dirpath).relative_to(folder)
        prefix = "".join(part.lstrip("@") for part in rel.parts)
        for name in files:
            if name == "migration_underway":
                continue
            try:
                path = base64.urlsafe_b64decode((prefix + name).encode()).decode()
            except (ValueError, UnicodeDecodeError):
                continue
            found[path] = Path(dirpath) / name
    return found


def incomplete_outputs(root: Path) -> set[str]:
    return set(incomplete_markers(root))


def summary_line(jobs: list[JobStatus]) -> str:
    counts = {s: sum(1 for j in jobs if j.status == s) for s in STATUSES}
    parts = [f"{n} {s.lower()}" for s, n in counts.items() if n]
    changed = sum(1 for j in jobs if j.params_changed)
    text = f"{len(jobs)} jobs: " + ", ".join(parts)
    return text + (f"; {changed} with changed params (will re-run)" if changed else "")


def dropped_text(dropped: dict[str, list[dict]], most: int = 6) -> str:
    """`TS_01: 2 (-27, -30); TS_03: 1 (30)`, the first `most` tilt series."""
    parts = [f"{ts}: {len(tilts)} (" + ", ".join(f"{t['angle']:.0f}" for t in tilts) + ")"
             for ts, tilts in list(dropped.items())[:most]]  # fmt: skip
    more = len(dropped) - most
    return "; ".join(parts) + (f"; ... {more} more tilt series" if more > 0 else "")


def as_json(
    jobs: list[JobStatus],
    skipped: dict[str, str] | None = None,
    excluded: list[str] | None = None,
    pending: list[str] | None = None,
    unusable: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "jobs": [{k: v for k, v in asdict(j).items() if k not in _NOT_IN_JSON} for j in jobs],
        "skipped": dict(sorted((skipped or {}).items())),
        "unusable_values": list(unusable or []),
        "excluded": sorted(excluded or []),
        "curation_pending": list(pending or []),
        "summary": summary_line(jobs),
    }


def format_table(
    jobs: list[JobStatus],
    skipped: dict[str, str] | None = None,
    excluded: list[str] | None = None,
    pending: list[str] | None = None,
    unusable: list[str] | None = None,
) -> str:
    wj = max([14, *(len(j.job) for j in jobs)])
    wt = max([14, *(len(j.type) for j in jobs)])
    rows = [f"{'job':<{wj}} {'type':<{wt}} {'dir':<17} {'status':<10} {'tilt series':>16}  params"]
    for j in jobs:
        ts = j.tilt_series
        notes = [f"{ts[k]} {k}" for k in ("failed", "excluded") if ts.get(k)]
        counts = f"{ts['done']}/{ts['total']}" + (f" ({', '.join(notes)})" if notes else "")
        rows.append(
            f"{j.job:<{wj}} {j.type:<{wt}} {j.dir:<17} {j.status:<10} {counts:>16}  "
            + ("changed" if j.params_changed else "")
        )
        for change in j.changes[:5]:
            rows.append(f"{'':<14}   changed {change}")
        if j.decision:
            rows.append(f"{'':<14}   {j.decision}")
        if j.error:
            rows.append(f"{'':<14}   error: {j.error}")
        if j.tilts_dropped:
            rows.append(f"{'':<14}   dropped tilts: " + dropped_text(j.tilts_dropped))
    rows += skipped_lines(skipped or {})
    rows += [f"warning: {line}" for line in unusable or []]
    if excluded:
        rows.append(f"excluded (curation.yaml): {', '.join(sorted(excluded))}")
    rows += [f"curation changed: {line}" for line in pending or []]
    rows.append(summary_line(jobs))
    return "\n".join(rows)
