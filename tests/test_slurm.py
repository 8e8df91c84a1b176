"""The demo pipeline on a real one-node Slurm (tests/slurm_cluster.sh). Skipped when no cluster is
reachable on a developer machine; in CI (.ci/run starts the cluster, CRBOOST_REQUIRE_SLURM=1) a
missing cluster is a failure."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_cli

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

FAST = ["--", "--slurm-init-seconds-before-status-checks", "1"]


@pytest.fixture(scope="module", autouse=True)
def cluster():
    ok = subprocess.run([str(REPO / "tests" / "slurm_cluster.sh"), "status"],
                        capture_output=True).returncode == 0  # fmt: skip
    if not ok:
        if os.environ.get("CRBOOST_REQUIRE_SLURM") == "1":
            pytest.fail("no Slurm cluster reachable (tests/slurm_cluster.sh start)")
        pytest.skip("no Slurm cluster reachable")


def slurm_project(tmp_path: Path, n: int = 2, resources: dict | None = None) -> Path:
    project = tmp_path / "p"
    run_cli("demo", str(project), "--tilt-series", str(n), "--no-run", check=True)
    path = project / "crboost.yaml"
    data = yaml.safe_load(path.read_text())
    data["resources"] = {
        "default": {"cpus": 1, "mem_mb": 500, "runtime": 10},
        "node": {"cpus": os.cpu_count(), "mem_mb": 8000, "gpus": 2},
        **(resources or {}),
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return project


def run_log(project: Path) -> str:
    """Snakemake's output of the project's latest run (crboost run keeps it in .crboost/logs)."""
    logs = sorted((project / ".crboost" / "logs").glob("run-*.log"))
    assert logs, "crboost run kept no Snakemake log"
    return logs[-1].read_text(errors="replace")


def submissions(log: str) -> dict[str, str]:
    """SLURM job id -> group/rule name, from Snakemake's output."""
    found = re.findall(r"submitted with SLURM jobid (\d+) \(log: .*/slurm_logs/([^/]+)/", log)
    return dict(found)


def scontrol(job_id: str) -> str:
    return subprocess.run(
        ["scontrol", "show", "job", job_id], capture_output=True, text=True
    ).stdout


def states(project: Path) -> dict[str, dict]:
    proc = run_cli("status", str(project), "--json")
    return {j["job"]: j for j in json.loads(proc.stdout)["jobs"]}


def test_demo_on_slurm_with_gpus_and_batches(tmp_path):
    project = slurm_project(tmp_path, resources={"tsCtf": {"group_size": 2}})
    proc = run_cli("run", str(project), "--profile", "slurm", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert all(j["status"] == "Succeeded" for j in states(project).values())
    jobs = submissions(run_log(project))
    assert jobs, "nothing was submitted to SLURM"
    by_group: dict[str, list[str]] = {}
    for job_id, name in jobs.items():  # group_<group>_... for batches, rule_<rule> otherwise
        rule = re.sub(r"^(group|rule)_", "", name).split("_tilt_series")[0]
        by_group.setdefault(rule, []).append(job_id)
    # two tilt series of tsCtf went in one submission; the others one per tilt series
    assert len(by_group["tsCtf"]) == 1
    assert len(by_group["tsAlignment"]) == 2
    for group, ids in by_group.items():
        info = scontrol(ids[0])
        assert "JobName=crboost-" in info
        if "tsImport" in group:
            assert "gpu" not in info.split("TresPerJob")[-1] if "TresPerJob" in info else True
        else:
            assert re.search(r"TresPerJob=gres[:/]gpu[:=]\d", info), (group, info)
    batched = scontrol(by_group["tsCtf"][0])
    assert re.search(r"TresPerJob=gres[:/]gpu[:=]2", batched), (
        "a batch never asks for more than the node"
    )
    # the cheap steps ran on this machine, not on the cluster
    # tsCtf_prepare: the dataset's defocus hand (ts_defocus_hand --check); the tilt filter is local
    assert set(by_group) == {"fsMotionAndCtf", "tsImport", "tsAlignment", "tsCtf_prepare", "tsCtf",
                             "tsReconstruct"}, set(by_group)  # fmt: skip
    logs = list((project / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert logs, "SLURM logs are kept inside the project"


def test_timeout_fails_the_job_and_a_longer_run_resumes(tmp_path):
    project = slurm_project(tmp_path, resources={"tsAlignment": {"runtime": 1}})
    proc = run_cli("run", str(project), "--profile", "slurm", *FAST,
                   env={"CRBOOST_SIM_DELAY": "tsAlignment:300"})  # fmt: skip
    assert proc.returncode != 0
    align = project / "External/job004"
    assert not (align / "RELION_JOB_EXIT_SUCCESS").exists()
    reason = (align / "RELION_JOB_EXIT_FAILURE").read_text()
    assert "time limit" in reason or "killed" in reason
    jobs = states(project)
    assert jobs["align"]["status"] == "Failed" and jobs["motion"]["status"] == "Succeeded"
    motion_files = {p: p.stat().st_mtime_ns for p in (project / "External/job002").rglob("*.xml")}

    data = yaml.safe_load((project / "crboost.yaml").read_text())
    data["resources"]["tsAlignment"]["runtime"] = 10
    (project / "crboost.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    proc = run_cli("run", str(project), "--profile", "slurm", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert all(j["status"] == "Succeeded" for j in states(project).values())
    assert {p: p.stat().st_mtime_ns for p in motion_files} == motion_files
    groups = set(submissions(run_log(project)).values())
    assert any("tsAlignment" in g for g in groups), groups  # the timed-out step, again
    assert not any("fsMotionAndCtf" in g or "tsImport" in g for g in groups)


def test_jobs_of_a_killed_run_are_waited_for_not_duplicated(tmp_path):
    project = slurm_project(tmp_path, n=2)
    env = {**os.environ, "CRBOOST_SIM_DELAY": "fsMotionAndCtf:40"}
    first = subprocess.Popen([sys.executable, "-m", "crboost.cli", "run", str(project), "--profile",
                              "slurm", *FAST], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 180
    id_file = project / ".crboost/project_id"
    while True:
        queued = subprocess.run(["squeue", "--noheader", "--format=%i %j"], capture_output=True,
                                text=True).stdout.split("\n")  # fmt: skip
        prefix = "crboost-" + id_file.read_text().strip() if id_file.exists() else None
        if prefix and any(prefix in ln for ln in queued):
            break
        assert time.time() < deadline and first.poll() is None, "no SLURM job appeared"
        time.sleep(1)
    record = json.loads((project / ".crboost/run.json").read_text())
    os.kill(record["pid"], signal.SIGKILL)
    first.wait(timeout=60)
    proc = run_cli("run", str(project), "--profile", "slurm", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "a SLURM job of the previous run is" in proc.stderr
    assert "waiting for them" in proc.stderr
    # the motion tasks the old jobs finished were kept, not submitted again
    groups = list(submissions(run_log(project)).values())
    assert not any("fsMotionAndCtf" in g for g in groups), groups
    assert all(j["status"] == "Succeeded" for j in states(project).values())
