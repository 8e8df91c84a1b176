"""What crboost needs to know about SLURM: whether a profile sends jobs to it, the name its jobs
carry, and finding the jobs a killed run left queued or running (so that a new run waits for
them or cancels them instead of submitting the same work a second time)."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

from ..acquisition.manifest import STATE_DIR

ID_FILE = f"{STATE_DIR}/project_id"


def on_cluster(profile_path: Path) -> bool:
    """The profile sends jobs to a cluster (they run on compute nodes, not here)."""
    import yaml

    return cluster_executor(yaml.safe_load((profile_path / "config.yaml").read_text()) or {})


def cluster_executor(profile: dict) -> bool:
    return profile.get("executor") not in (None, "local", "dryrun", "touch")


def project_id(root: Path) -> str:
    """A random id kept in the project (it survives moving the project)."""
    path = root / ID_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(exist_ok=True)
    value = secrets.token_hex(4)
    path.write_text(value + "\n")
    return value


def job_name_prefix(root: Path) -> str:
    """`--slurm-jobname-prefix` of this project's runs: SLURM job names start with it."""
    return f"crboost-{project_id(root)}"


def leftover_cluster_jobs(root: Path) -> list[tuple[str, str, str]]:
    """(job id, state, comment) of this project's jobs still in the queue."""
    if shutil.which("squeue") is None or not (root / ID_FILE).exists():
        return []
    prefix = job_name_prefix(root) + "_"
    try:
        out = subprocess.run(["squeue", "--noheader", "--format=%i|%j|%T|%k"],
                             capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
    except (subprocess.SubprocessError, OSError):
        return []
    jobs = []
    for line in out.splitlines():
        parts = line.split("|", 3)
        if len(parts) == 4 and parts[1].startswith(prefix):
            jobs.append((parts[0].strip(), parts[2].strip(), parts[3].strip()))
    return jobs


def cancel_cluster_jobs(job_ids: list[str]) -> None:
    if job_ids and shutil.which("scancel"):
        subprocess.run(["scancel", *job_ids], check=False)
