"""Taking over an existing RELION project: finished jobs are kept and not redone, other rows stay
as they were, new jobs are numbered from the old counter."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml
from conftest import pipeline_rows, reference, run_cli

from crboost.relion.pipeline import read_pipeline

pytestmark = pytest.mark.slow

DEMO_SETS = [
    "tools.simulate=true",
    "pipeline.tiltseries.params.tomo_z=32",
    "pipeline.align.params.angpix=5.4",
    "pipeline.reconstruct.params.angpix=5.4",
]


def relion_project(tmp_path, finished_demo):
    """The real 80-job RELION 5 pipeline, with the demo's import done as its Import/job001."""
    project = tmp_path / "relion"
    project.mkdir()
    shutil.copy(
        reference("relion", "cetsrelion__default_pipeline.star"), project / "default_pipeline.star"
    )
    for part in ("raw", "frames", "mdoc"):
        shutil.copytree(finished_demo / part, project / part, symlinks=True)
    job = project / "Import" / "job001"
    shutil.copytree(finished_demo / "Import" / "job001", job, symlinks=True)
    for ours in ("job_params.json", "job.star", "RELION_OUTPUT_NODES.star"):
        (job / ours).unlink()
    shutil.copy(reference("relion", "cetsrelion__Import_job001__job.star"), job / "job.star")
    return project


def test_adopt_relion_project(tmp_path, finished_demo):
    project = relion_project(tmp_path, finished_demo)
    before = pipeline_rows(project / "default_pipeline.star")
    sets = [arg for s in DEMO_SETS for arg in ("--set", s)]
    proc = run_cli("init", str(project), "--movies", str(project / "raw/frames/*.mrc"),
                   "--mdocs", str(project / "raw/mdoc/*.mdoc"), *sets)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "adopted Import/job001/ as job 'import' (done)" in proc.stdout
    config = yaml.safe_load((project / "crboost.yaml").read_text())
    assert config["adopt"] == {"import": "Import/job001/"}

    proc = run_cli("run", str(project), "--", "-n")
    assert proc.returncode == 0, proc.stderr
    planned = set(re.findall(r"^\s*(?:local)?rule (\w+):", proc.stdout, re.M))
    assert not any(r.startswith("importmovies") for r in planned), planned
    assert {"fsMotionAndCtf_tilt_series", "tsReconstruct"} <= planned
    dirs = set(re.findall(r"External/job(\d+)/", proc.stdout))
    assert dirs == {"084", "085", "086", "087", "088", "089"}  # up to the reconstruction

    proc = run_cli("run", str(project))
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = pipeline_rows(project / "default_pipeline.star")
    for block, rows in before.items():
        assert after[block][: len(rows)] == rows, f"{block}: original rows changed"
    pipeline = read_pipeline(project / "default_pipeline.star")
    new = [p for p in pipeline.process_list()][80:]
    assert [(p.name, p.status) for p in new] == [
        (f"External/job{n:03d}/", "Succeeded") for n in range(84, 90)
    ]
    assert pipeline.counter == 90
    assert not (project / "Import" / "job001" / "RELION_JOB_EXIT_FAILURE").exists()
    # the adopted job's own job.star was kept
    assert "min_dedicated         24" in (project / "Import/job001/job.star").read_text()


def test_explicit_mapping_and_rerun_in_place(tmp_path, finished_demo):
    """A mapped job without its sentinel keeps its directory and is re-run there."""
    project = relion_project(tmp_path, finished_demo)
    (project / "Import/job001/RELION_JOB_EXIT_SUCCESS").unlink()
    sets = [arg for s in DEMO_SETS for arg in ("--set", s)]
    proc = run_cli("init", str(project), "--movies", str(project / "raw/frames/*.mrc"),
                   "--mdocs", str(project / "raw/mdoc/*.mdoc"), "--set", "adopt.import=Import/job001/",
                   *sets)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "to be re-run in place" in proc.stdout
    proc = run_cli("run", str(project), "--", "-n")
    assert "importmovies" in proc.stdout and "Import/job001/" in proc.stdout
    assert "Import/job084" not in proc.stdout
