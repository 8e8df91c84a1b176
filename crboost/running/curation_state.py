"""What curation did and would do: the tilts each tiltFilter job dropped (its decisions files),
the tilt series the run left out, and what changed in curation.yaml since (what the next run
re-runs or leaves out). Read by `crboost status`, `crboost run -n` and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import CrboostError
from ..project.curation import read_curation
from ..project.load import Job, Project

FILTER_TYPE = "tiltFilter"


def decisions(root: Path, job: Job, ts: str) -> dict[str, Any] | None:
    """What the filter job decided for one tilt series (drivers/tiltFilter.py), if it ran."""
    try:
        return json.loads((root / job.dir / "decisions" / f"{ts}.json").read_text())
    except (OSError, ValueError):
        return None


def dropped_tilts(root: Path, job: Job, items: list[str]) -> dict[str, list[dict[str, Any]]]:
    """{tilt series: [{movie, angle, reasons}]} of the tilts a filter job dropped."""
    out = {}
    for ts in items:
        record = decisions(root, job, ts)
        if record is None:
            continue
        dropped = [{k: t[k] for k in ("movie", "angle", "reasons")}
                   for t in record.get("tilts", []) if not t.get("kept")]  # fmt: skip
        if dropped:
            out[ts] = dropped
    return out


def pending_changes(project: Project) -> list[str]:
    """What curation.yaml says differently from what the project's results were made with."""
    try:
        # a project loaded for a cluster job or a status works with the run's decisions
        current = read_curation(project.root) if project.remote else project.curation
    except CrboostError as e:
        return [str(e)]
    applied = {}  # {tilt series: the tilt decisions its filter task applied}, per filter job
    for job in project.jobs:
        if job.type == FILTER_TYPE:
            for ts in project.items(job):
                record = decisions(project.root, job, ts)
                if record is not None:
                    applied.setdefault(ts, []).append((job, record.get("curation", {})))
    return current.changes_since(project.used_curation, project.tilt_series, applied)
