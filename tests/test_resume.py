"""Coming back to a project (issue 5): each scenario ends with `crboost status --json` agreeing
with what happened on disk."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import copy_project, run_cli

from crboost.relion.pipeline import read_pipeline

pytestmark = pytest.mark.slow


def status(project: Path) -> dict:
    proc = run_cli("status", str(project), "--json")
    assert proc.returncode == 0, proc.stderr
    return {j["job"]: j for j in json.loads(proc.stdout)["jobs"]}


def planned(project: Path) -> tuple[set[str], str]:
    proc = run_cli("run", str(project), "--", "-n")
    assert proc.returncode == 0, proc.stderr
    rules = set(re.findall(r"^\s*(?:local)?rule (\w+):", proc.stdout, re.M))
    return rules, proc.stdout + proc.stderr


def mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.lstat().st_mtime_ns for p in folder.rglob("*")}


def edit_config(project: Path, change) -> None:
    path = project / "crboost.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def all_succeeded(project: Path) -> None:
    jobs = status(project)
    for name, job in jobs.items():
        assert job["status"] == "Succeeded", (name, job)
        assert not job["params_changed"], name
        assert job["tilt_series"]["done"] == job["tilt_series"]["total"] > 0
    statuses = {p.status for p in read_pipeline(project / "default_pipeline.star").process_list()}
    assert statuses == {"Succeeded"}


def test_a_finished_project_runs_nothing(finished_demo):
    rules, out = planned(finished_demo)
    assert rules == set() and "Nothing to be done" in out
    all_succeeded(finished_demo)


def test_b_added_job_runs_alone_in_a_new_dir(tmp_path, finished_demo):
    project = copy_project(finished_demo, tmp_path / "p")
    before = mtimes(project / "External")
    edit_config(project, lambda d: d["pipeline"].append(
        {"name": "reconstruct_bin4", "type": "tsReconstruct", "input": "ctf",
         "params": {"angpix": 10.8}}))  # fmt: skip
    rules, out = planned(project)
    assert rules == {"job_setup", "tsReconstruct_tilt_series", "tsReconstruct", "all"}
    outputs = " ".join(re.findall(r"^\s+output: (.+)$", out, re.M))
    assert set(re.findall(r"External/job(\d+)/", outputs)) == {"008"}
    jobs = status(project)
    assert jobs["reconstruct_bin4"]["status"] == "Pending"
    assert run_cli("run", str(project)).returncode == 0
    assert mtimes(project / "External") | before == mtimes(project / "External"), (
        "old files untouched"
    )
    assert [p for p in before if p.parts[-2:] == ("job007", "job.star")]
    tomograms = (project / "External/job008/tomograms.star").read_text()
    # tomograms.star names RELION's link, which points at WarpTools' 10.8 A/px reconstruction
    assert "External/job008/tomograms/rec_TS_01.mrc" in tomograms
    link = project / "External/job008/tomograms/rec_TS_01.mrc"
    assert link.resolve().name == "TS_01_10.80Apx.mrc"
    all_succeeded(project)
    names = [p.name for p in read_pipeline(project / "default_pipeline.star").process_list()]
    assert names[-1] == "External/job008/" and len(names) == 8


def test_c_changed_param_reruns_it_and_what_depends_on_it(tmp_path, finished_demo):
    project = copy_project(finished_demo, tmp_path / "p")
    upstream = {
        d: mtimes(project / d)
        for d in ("Import", "External/job002", "External/job003", "External/job004")
    }
    edit_config(project, lambda d: d["pipeline"][4].setdefault("params", {}).update(range_high=7.0))
    jobs = status(project)
    assert jobs["ctf"]["params_changed"] and not jobs["align"]["params_changed"]
    rules, out = planned(project)
    # tsCtf_prepare too: its params are the job's (the dataset's defocus hand is decided again)
    assert rules == {"job_setup", "tsCtf_prepare", "tsCtf_tilt_series", "tsCtf",
                     "tiltFilter_tilt_series", "tiltFilter", "tsReconstruct_tilt_series",
                     "tsReconstruct", "all"}  # fmt: skip
    assert "Params have changed since last execution" in out
    assert "ctf (External/job005) re-runs, params changed: range_high: 6.0 -> 7.0" in out
    assert run_cli("run", str(project)).returncode == 0
    for d, before in upstream.items():
        assert mtimes(project / d) == before, f"{d} was touched"
    spec = json.loads((project / "External/job005/job_params.json").read_text())
    assert spec["params"]["range_high"] == 7.0
    all_succeeded(project)


def test_e_killed_run_recovers_by_itself(tmp_path):
    project = tmp_path / "p"
    run_cli("demo", str(project), "--tilt-series", "3", "--no-run", check=True)
    env = {**os.environ, "CRBOOST_SIM_DELAY": "2"}
    first = subprocess.Popen([sys.executable, "-m", "crboost.cli", "run", str(project)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.time() + 120
    while not list((project / "External").glob("job002/tilt_series/*.star")):
        assert time.time() < deadline and first.poll() is None, "the run did not get going"
        time.sleep(0.5)
    # a second run while the first is alive is refused, naming it
    proc = run_cli("run", str(project))
    assert proc.returncode == 1 and "another run of this project is alive" in proc.stderr
    record = json.loads((project / ".crboost/run.json").read_text())
    os.kill(record["pid"], signal.SIGKILL)  # the main snakemake process
    first.wait(timeout=60)
    assert list((project / ".snakemake" / "locks").iterdir()), "SIGKILL leaves Snakemake's lock"
    proc = run_cli("run", str(project))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "clearing the Snakemake lock" in proc.stderr
    assert "crboost progress:" in proc.stderr
    all_succeeded(project)


def test_g_deleted_or_replaced_input_is_redone_with_its_reason(tmp_path, finished_demo):
    project = copy_project(finished_demo, tmp_path / "p")
    (project / "External/job004/tilt_series/TS_02.star").unlink()
    rules, out = planned(project)
    assert "tsAlignment_tilt_series" in rules and "fsMotionAndCtf_tilt_series" not in rules
    assert "Missing output files: External/job004/tilt_series/TS_02.star" in out
    assert set(re.findall(r"wildcards:.*\bts=([^,\s]+)", out)) == {"TS_02"}
    assert status(project)["align"]["tilt_series"]["done"] == 3
    # an mdoc replaced by a different one: that tilt series is imported again, and so on
    mdoc = project / "raw/mdoc/TS_03.mrc.mdoc"
    mdoc.write_text(mdoc.read_text().replace("TargetDefocus = -4", "TargetDefocus = -3.5"))
    rules, out = planned(project)
    assert "importmovies_tilt_series" in rules
    assert "Params have changed since last execution" in out
    assert "TS_03" in set(re.findall(r"wildcards:.*\bts=([^,\s]+)", out))


def test_h_copied_project_without_times_reruns_nothing(tmp_path, finished_demo):
    copy = tmp_path / "copied"
    subprocess.run(["cp", "-r", str(finished_demo), str(copy)], check=True)  # no -p: new times
    rules, out = planned(copy)
    assert rules == set() and "Nothing to be done" in out
    # files with shuffled times, as after rsync without -t
    files = [p for p in copy.rglob("*") if p.is_file() and not p.is_symlink()]
    now = time.time()
    for p in files:
        t = now - random.uniform(0, 3600)
        os.utime(p, (t, t))
    rules, out = planned(copy)
    assert rules == set() and "Nothing to be done" in out
    all_succeeded(copy)
