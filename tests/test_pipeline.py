"""The six-job chain end to end with the tool simulator: results, hostile names, a failing tilt
series and the resume after it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import mrcfile
import pytest
import starfile
from conftest import run_cli

from crboost.demo import write_tilt_series
from crboost.project.load import load_project
from crboost.project.schema_check import checked_before
from crboost.relion.pipeline import read_pipeline
from crboost.relion.validate import validate_project

pytestmark = pytest.mark.slow

JOBS = {
    "Import/job001": "tilt_series.star",
    "External/job002": "fs_motion_and_ctf.star",
    "External/job003": "ts_import.star",
    "External/job004": "aligned_tilt_series.star",
    "External/job005": "ts_ctf_tilt_series.star",
    "External/job006": "selected_tilt_series.star",
    "External/job007": "tomograms.star",
}


def test_demo_runs_all_seven_jobs(finished_demo):
    names = [f"TS_0{i}" for i in range(1, 5)]
    for job_dir, star in JOBS.items():
        job = finished_demo / job_dir
        assert (job / "RELION_JOB_EXIT_SUCCESS").exists(), job_dir
        assert not (job / "RELION_JOB_EXIT_FAILURE").exists(), job_dir
        table = starfile.read(job / star, always_dict=True)["global"]
        assert list(table["rlnTomoName"]) == names
        for ts, per_ts in zip(names, table["rlnTomoTiltSeriesStarFile"], strict=True):
            assert per_ts == f"{job_dir}/tilt_series/{ts}.star"
            assert (finished_demo / per_ts).exists()
        assert (job / "job.star").exists() and (job / "RELION_OUTPUT_NODES.star").exists()
    tomograms = starfile.read(finished_demo / "External/job007/tomograms.star")
    for column in ("rlnTomoReconstructedTomogram", "rlnTomoReconstructedTomogramHalf1",
                   "rlnTomoReconstructedTomogramHalf2"):  # fmt: skip
        for path in tomograms[column]:
            with mrcfile.open(finished_demo / path, permissive=True) as mrc:
                assert mrc.data.ndim == 3 and mrc.voxel_size.x == pytest.approx(5.4)
    assert set(tomograms["rlnTomoTomogramBinning"]) == {2.0}
    # per-tilt alignment and CTF reached the last job's tilt-series files
    ts = starfile.read(finished_demo / "External/job007/tilt_series/TS_01.star")
    for column in (
        "rlnTomoYTilt",
        "rlnTomoZRot",
        "rlnTomoXShiftAngst",
        "rlnDefocusU",
        "rlnMicrographName",
    ):
        assert column in ts.columns
    assert (ts["rlnDefocusU"] > 1e4).all(), "defocus in Angstrom"
    statuses = {
        p.name: p.status
        for p in read_pipeline(finished_demo / "default_pipeline.star").process_list()
    }
    assert statuses == {f"{d}/": "Succeeded" for d in JOBS}
    assert validate_project(finished_demo) == []


def test_upstream_files_are_never_written_by_a_later_job(finished_demo):
    """tsCtf works on a copy of the aligned metadata; tsReconstruct reads it in place."""
    aligned = finished_demo / "External/job004/warp_tiltseries/TS_01.xml"
    ctf = finished_demo / "External/job005/warp_tiltseries/TS_01.xml"
    assert "GridCTF" in ctf.read_text(encoding="utf-8-sig")
    assert aligned.stat().st_mtime_ns < ctf.stat().st_mtime_ns
    assert '<GridCTF Width="1" Height="1" Depth="1"' in aligned.read_text(encoding="utf-8-sig")
    assert (finished_demo / "External/job005/tomostar").is_symlink()


def test_a_run_keeps_the_digest_of_the_config_it_checked(finished_demo):
    """When the run started, the digest of its config, checked against the schema, was kept:
    its cluster jobs skip the check for that config only (project/schema_check.py)."""
    config = finished_demo / "crboost.yaml"
    assert checked_before(finished_demo, load_project(config).schema_checked)
    assert load_project(config, remote=True).schema_checked is None  # not checked again


def _snakemake_logs(project: Path) -> str:
    return "\n".join(p.read_text() for p in (project / ".snakemake" / "log").glob("*.log"))


def test_hostile_tilt_series_name_runs_through_the_chain(tmp_path):
    project = tmp_path / "p"
    run_cli("demo", str(project), "--tilt-series", "1", "--no-run", check=True)
    hostile = "TS 7;$(touch PWNED)`touch PWNED2`"
    import datetime

    write_tilt_series(project / "raw", hostile, seed=7, start=datetime.datetime(2025, 1, 25))
    proc = run_cli("run", str(project), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    safe = "TS_7___touch_PWNED__touch_PWNED2_"
    tomograms = starfile.read(project / "External/job007/tomograms.star")
    assert list(tomograms["rlnTomoName"]) == ["TS_01", safe]
    assert (project / tomograms["rlnTomoReconstructedTomogram"].iloc[1]).exists()
    for where in (tmp_path, project, project / "External" / "job002", Path.cwd()):
        assert not (where / "PWNED").exists() and not (where / "PWNED2").exists()
    shell_lines = [ln for ln in _snakemake_logs(project).splitlines() if "crboost driver" in ln]
    assert any(safe in ln for ln in shell_lines)
    assert not any(c in ln for ln in shell_lines for c in ("$(", "`", ";", "TS 7"))
    # the raw files keep their names: frames/ links point at them
    link = next((project / "frames").glob("TS_7*"))
    assert "$(touch PWNED)" in os.readlink(link) and link.resolve().exists()


def test_failing_tilt_series_then_resume(tmp_path):
    project = tmp_path / "p"
    run_cli("demo", str(project), "--tilt-series", "3", "--no-run", check=True)
    proc = run_cli("run", str(project), "--", "--keep-going",
                   env={"CRBOOST_SIM_FAIL": "tsAlignment:TS_02"})  # fmt: skip
    assert proc.returncode != 0
    align = project / "External/job004"
    # the other tilt series got through every step they could: alignment; tsCtf decides one
    # defocus handedness for the whole dataset (D8), so it waits for every tilt series' alignment
    for ts in ("TS_01", "TS_03"):
        assert (align / f"tilt_series/{ts}.star").exists()
    assert not (project / "External/job005/defocus_hand.json").exists()
    assert not (align / "tilt_series/TS_02.star").exists()
    assert not (align / "RELION_JOB_EXIT_SUCCESS").exists()
    reason = (align / "RELION_JOB_EXIT_FAILURE").read_text()
    assert "TS_02" in reason and "TS_02.st.aln" in reason and "alignment failed" in reason
    statuses = {
        p.name: p.status for p in read_pipeline(project / "default_pipeline.star").process_list()
    }
    assert statuses["External/job004/"] == "Failed"
    assert statuses["External/job003/"] == "Succeeded"
    assert statuses["External/job007/"] != "Succeeded"
    proc = run_cli("status", str(project), "--json")
    jobs = {j["job"]: j for j in json.loads(proc.stdout)["jobs"]}
    assert jobs["align"]["status"] == "Failed"
    assert jobs["align"]["tilt_series"] == {"done": 2, "failed": 1, "total": 3, "excluded": 0}
    assert "TS_02" in jobs["align"]["error"]
    assert jobs["reconstruct"]["status"] == "Scheduled"
    assert jobs["reconstruct"]["tilt_series"]["done"] == 0
    assert jobs["motion"]["status"] == "Succeeded"

    motion = sorted((project / "External/job002").rglob("*"))
    motion_times = {p: p.lstat().st_mtime_ns for p in motion}
    proc = run_cli("run", str(project), "--", "-n")
    planned = {
        ln.split("rule ")[1].rstrip(":")
        for ln in proc.stdout.splitlines()
        if "rule " in ln and ln.strip().endswith(":")
    }
    assert planned == {"tsAlignment_tilt_series", "tsCtf_prepare", "tsCtf_tilt_series",
                       "tiltFilter_tilt_series", "tsReconstruct_tilt_series", "tsAlignment",
                       "tsCtf", "tiltFilter", "tsReconstruct", "all"}, planned  # fmt: skip
    rule, per_ts = "", set()
    for line in proc.stdout.splitlines():
        if line.strip().startswith("rule ") and line.strip().endswith(":"):
            rule = line.strip()[5:-1]
        found = re.search(r"wildcards:.*\bts=([^,\s]+)", line)
        if found:
            per_ts.add((rule, found.group(1)))
    assert {ts for r, ts in per_ts if r == "tsAlignment_tilt_series"} == {"TS_02"}
    proc = run_cli("run", str(project))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p: p.lstat().st_mtime_ns for p in motion} == motion_times, "fsMotionAndCtf untouched"
    assert not (align / "RELION_JOB_EXIT_FAILURE").exists()
    assert "previous failure" in (align / "run.err").read_text()
    statuses = {
        p.name: p.status for p in read_pipeline(project / "default_pipeline.star").process_list()
    }
    assert set(statuses.values()) == {"Succeeded"}
    assert validate_project(project) == []
