"""The rules generated from the job-type registry: the same plan as the hand-written rules
they replaced, job for job, and nothing re-run in a project finished before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from conftest import REPO
from dryrun_plan import VARIANTS, dry_run_plan, make_project, parse_plan, recorded_metadata

from crboost.jobs import JOB_TYPES, JobParams

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
    run now records exactly what a run with the hand-written rules recorded (for the jobs
    before the tiltFilter job, which came later and moved the reconstruction to job007)."""
    before_filter = ("Import/job001/", "External/job002/", "External/job003/",
                     "External/job004/", "External/job005/")  # fmt: skip
    ours = {
        k: v for k, v in recorded_metadata(finished_demo).items() if k.startswith(before_filter)
    }
    recorded = {k: v for k, v in RECORDED["metadata_demo4"].items() if k.startswith(before_filter)}
    assert len(ours) > 30 and ours == recorded


def test_a_cluster_job_plans_its_jobs_as_the_main_process_does(tmp_path):
    """A cluster job (--mode remote --target-jobs --allowed-rules, as the Slurm executor runs
    it; here given every job of the plan at once) makes the rules' lists of every item only for
    its target jobs (common.smk `listed`): each job is planned as in the main process' plan,
    inputs included, also where rules take them from functions (the variant's second
    tsReconstruct and its batched tsCtf)."""
    project = make_project(REPO, tmp_path, "variant")
    planned = [job for job in dry_run_plan(REPO, project) if job["rule"] != "all"]
    targets = [f"{job['rule']}:{','.join(job.get('wildcards', []))}" for job in planned]
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"),
         "--configfiles", str(project / "crboost.yaml"), "--mode", "remote",
         "--target-jobs", *targets, "--allowed-rules", *{job["rule"] for job in planned},
         "--force", "--nolock", "--cores", "1", "-n", "-p"],
        cwd=project, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    remote = parse_plan(proc.stdout + proc.stderr)

    def ungrouped(job: dict) -> dict:  # a cluster job is one group's (or job's) own
        return {k: v for k, v in job.items() if k != "group"}

    assert [ungrouped(j) for j in remote] == [ungrouped(j) for j in planned]
    assert any(job["rule"] == "tsCtf_prepare" and len(job["input"]) == 4 for job in remote)


def test_list_rules_names_each_types_rules(demo_project):
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--list-rules", "--configfile",
         str(demo_project / "crboost.yaml")],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    expected = {"all", "job_setup"}
    used = {
        job["type"]
        for job in yaml.safe_load((demo_project / "crboost.yaml").read_text())["pipeline"]
    }
    for name, cls in JOB_TYPES.items():
        if name not in used:  # only the types the pipeline uses get rules
            continue
        expected.add(name)
        if cls.per_item():
            expected.add(f"{name}_tilt_series")
        if cls.prepare_output:
            expected.add(f"{name}_prepare")
    assert set(proc.stdout.split()) == expected
    assert "tsReconstruct_tilt_series" in expected and "denoisetrain" not in expected


def test_declarations_that_do_not_fit_are_refused():
    class WholeJobWithPrepare(JobParams):
        type_name: ClassVar[str] = "wholeJobWithPrepare"
        output_star: ClassVar[str] = "out.star"
        output_node_label: ClassVar[str] = "x"
        granularity: ClassVar[str] = "job"
        prepare_output: ClassVar[str] = "decision.json"

    with pytest.raises(TypeError, match="prepare step needs per-item tasks"):
        WholeJobWithPrepare.check_declaration()

    class OutsideTheJob(JobParams):
        type_name: ClassVar[str] = "outsideTheJob"
        output_star: ClassVar[str] = "../elsewhere.star"
        output_node_label: ClassVar[str] = "x"

    with pytest.raises(TypeError, match="inside the job dir"):
        OutsideTheJob.check_declaration()
