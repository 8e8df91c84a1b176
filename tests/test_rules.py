"""The rules generated from the job-type registry: the same plan as the hand-written rules
they replaced, job for job, and nothing re-run in a project finished before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO
from dryrun_plan import VARIANTS, dry_run_plan, make_project, recorded_metadata

RECORDED = json.loads((Path(__file__).parent / "data" / "recorded_plans.json").read_text())
#: Modules that moved since the recording, as they appear in shell commands.
MOVED = {"python -m crboost.jobsetup ": "python -m crboost.running.jobsetup "}


def as_now(job: dict) -> dict:
    shell = job.get("shell", "")
    for old, new in MOVED.items():
        shell = shell.replace(old, new)
    return {**job, "shell": shell} if "shell" in job else job


@pytest.mark.parametrize("variant", VARIANTS)
def test_plan_is_the_recorded_plan_job_for_job(tmp_path, variant):
    plan = dry_run_plan(REPO, make_project(REPO, tmp_path, variant))
    expected = [as_now(job) for job in RECORDED["plans"][variant]]
    assert [j["rule"] for j in plan] == [j["rule"] for j in expected]
    for ours, before in zip(plan, expected, strict=True):
        assert ours == before


@pytest.mark.slow
def test_finished_project_records_what_the_old_rules_recorded(finished_demo):
    """Snakemake re-runs a job when its params or inputs differ from what it recorded: a demo
    run now records exactly what a run with the hand-written rules recorded."""
    assert recorded_metadata(finished_demo) == RECORDED["metadata_demo4"]
