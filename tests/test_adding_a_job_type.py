"""docs/adding-a-job-type.md, followed to the letter in a copy of the repository: the files it
shows plus the registry lines (and the regenerated schema), nothing else, give working job types
with their rules (a prepare step, per-item tasks, a whole-job task), job.star, status and a
RELION-valid project."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import starfile
import yaml
from conftest import REPO
from dryrun_plan import dry_run_plan

from crboost.demo import dose_symmetric_angles, write_tilt_series
from crboost.relion.validate import validate_project

pytestmark = pytest.mark.slow

DOC = REPO / "docs" / "adding-a-job-type.md"
COPIED = ("crboost", "workflow", "drivers", "config", "profiles", "environment.yml")


def doc_files() -> dict[str, str]:
    text = DOC.read_text()
    return dict(re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", text, re.S))


def doc_registry_lines() -> list[str]:
    return re.findall(r"<!-- registry: \S+ -->\n```\w*\n(.*?)```", DOC.read_text(), re.S)


def follow_the_doc(repo: Path) -> None:
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, repo / name)
    for path, text in doc_files().items():
        (repo / path).write_text(text)
    registry = repo / "crboost" / "jobs" / "__init__.py"
    text = registry.read_text()
    last = '    "tsReconstruct",\n'
    registry.write_text(text.replace(last, last + "".join(doc_registry_lines())))
    schema = run(repo, "-m", "crboost.project.schema")
    (repo / "workflow" / "schemas" / "config.schema.yaml").write_text(schema.stdout)


def run(repo: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=cwd or repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"{args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def changed_files(repo: Path) -> set[str]:
    changed = set()
    for path in repo.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(repo)
            original = REPO / rel
            if not original.exists() or original.read_bytes() != path.read_bytes():
                changed.add(str(rel))
    return changed


def test_doc_example_job_types_run(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    follow_the_doc(repo)
    # what following the doc touched: the files named after the types, one line each in the
    # registry, the generated schema
    assert changed_files(repo) == {
        *doc_files(),
        "crboost/jobs/__init__.py",
        "workflow/schemas/config.schema.yaml",
    }
    registry_diff = set((repo / "crboost/jobs/__init__.py").read_text().splitlines()) - set(
        (REPO / "crboost/jobs/__init__.py").read_text().splitlines()
    )
    assert registry_diff == {'    "exampleTiltRange",', '    "exampleSummary",'}

    project = tmp_path / "p"
    run(repo, "-m", "crboost.cli", "demo", str(project), "--tilt-series", "2", "--no-run")
    # a third tilt series that reaches only +-15 degrees: the common range is decided by it
    write_tilt_series(
        project / "raw",
        "TS_03",
        seed=3,
        start=datetime(2025, 1, 25),
        angles=dose_symmetric_angles(max_angle=15),
    )
    config = project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    data["pipeline"] = [
        {"name": "import", "type": "importmovies"},
        {"name": "tiltrange", "type": "exampleTiltRange", "params": {"max_angle": 20}},
        {"name": "summary", "type": "exampleSummary"},
    ]
    config.write_text(yaml.safe_dump(data, sort_keys=False))

    snakefile = str(repo / "workflow" / "Snakefile")
    rules = run(repo, "-m", "snakemake", "--list-rules", "--snakefile", snakefile,
                "--configfile", str(config)).stdout.split()  # fmt: skip
    for rule in ("exampleTiltRange_prepare", "exampleTiltRange_tilt_series", "exampleTiltRange",
                 "exampleSummary", "job_setup"):  # fmt: skip
        assert rule in rules
    assert "tsCtf_tilt_series" not in rules  # only the types the pipeline uses get rules
    assert "exampleSummary_tilt_series" not in rules and "tsCtf_prepare" not in rules

    run(repo, "-m", "crboost.cli", "run", str(project))
    trim, summary = project / "External/job002", project / "External/job003"
    # the demo's stage angles are a little off nominal
    assert json.loads((trim / "common_range.json").read_text())["limit"] == pytest.approx(
        15, abs=0.05
    )
    imported = [project / f"Import/job001/tilt_series/TS_0{i}.star" for i in (1, 2, 3)]
    trimmed = [trim / f"tilt_series/TS_0{i}.star" for i in (1, 2, 3)]
    prepared = (trim / "common_range.json").stat().st_mtime_ns
    assert max(p.stat().st_mtime_ns for p in imported) <= prepared
    assert prepared <= min(p.stat().st_mtime_ns for p in trimmed)
    for path in trimmed:
        angles = starfile.read(path)["rlnTomoNominalStageTiltAngle"]
        assert len(angles) == 11 and angles.abs().max() < 15.5
    table = starfile.read(summary / "summary.star")
    assert list(table["rlnTomoName"]) == ["TS_01", "TS_02", "TS_03"]
    assert list(table["rlnTomoFrameCount"]) == [11, 11, 11]
    assert (summary / "summary.txt").read_text().splitlines()[0] == "TS_01\t11"
    assert "param1_value" in (trim / "job.star").read_text()
    assert validate_project(project) == []

    status = json.loads(run(repo, "-m", "crboost.cli", "status", str(project), "--json").stdout)
    jobs = {j["job"]: j for j in status["jobs"]}
    for name, job_type in (("tiltrange", "exampleTiltRange"), ("summary", "exampleSummary")):
        assert jobs[name]["type"] == job_type and jobs[name]["status"] == "Succeeded"
        assert jobs[name]["tilt_series"] == {"done": 3, "failed": 0, "total": 3}

    plan = run(repo, "-m", "crboost.cli", "run", str(project), "--", "-n")
    assert "Nothing to be done" in plan.stdout + plan.stderr

    # RELION's External-job call runs what is missing, the prepare step first
    for path in [trim / "common_range.json", *trimmed, trim / "RELION_JOB_EXIT_SUCCESS"]:
        path.unlink()
    run(repo, "-m", "crboost.cli", "driver", "exampleTiltRange", "--o", "External/job002/",
        cwd=project)  # fmt: skip
    assert all(p.exists() for p in trimmed) and (trim / "RELION_JOB_EXIT_SUCCESS").exists()
    assert (trim / "common_range.json").stat().st_mtime_ns <= trimmed[0].stat().st_mtime_ns


AFTER_WHOLE_JOB = """
from typing import ClassVar

from .base import JobParams


class ExampleAfterSummaryParams(JobParams):
    type_name: ClassVar[str] = "exampleAfterSummary"
    accepts: ClassVar[tuple[str, ...]] = ("exampleSummary",)
    output_star: ClassVar[str] = "after.star"
    output_node_label: ClassVar[str] = "TomogramGroupMetadata.star.crboost.after"
"""


def test_per_item_job_after_a_whole_job_reads_its_star_file(tmp_path):
    """A per-item task downstream of a whole-job type waits for that job's STAR file (there are
    no per-item files upstream to wait for)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    follow_the_doc(repo)
    (repo / "crboost/jobs/exampleAfterSummary.py").write_text(AFTER_WHOLE_JOB)
    registry = repo / "crboost/jobs/__init__.py"
    last = '    "exampleSummary",\n'
    registry.write_text(registry.read_text().replace(last, last + '    "exampleAfterSummary",\n'))
    schema = run(repo, "-m", "crboost.project.schema")
    (repo / "workflow/schemas/config.schema.yaml").write_text(schema.stdout)
    project = tmp_path / "p"
    run(repo, "-m", "crboost.cli", "demo", str(project), "--tilt-series", "2", "--no-run")
    config = project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    data["pipeline"] = [
        {"name": "import", "type": "importmovies"},
        {"name": "tiltrange", "type": "exampleTiltRange"},
        {"name": "summary", "type": "exampleSummary"},
        {"name": "after", "type": "exampleAfterSummary"},
    ]
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    plan = dry_run_plan(repo, project)
    after = [j for j in plan if j["rule"] == "exampleAfterSummary_tilt_series"]
    assert [j["wildcards"] for j in after] == [
        ["job=job004", "ts=TS_01"],
        ["job=job004", "ts=TS_02"],
    ]
    for job in after:
        assert job["input"] == ["External/job003/summary.star", "External/job004/job_params.json"]
    summary = next(j for j in plan if j["rule"] == "exampleSummary")
    assert summary["input"] == [
        "External/job002/tilt_range.star",
        "External/job003/job_params.json",
    ]
    assert "exampleSummary_tilt_series" not in {j["rule"] for j in plan}
