"""`crboost check --profile slurm`: the tools that exist only on the compute nodes, looked for there.

A tool declared `nodes_only: true` (a node-local install, or modules found only on the nodes) is
not looked for on the submitting host. Here each such tool gets one tiny job
(workflow/toolcheck.smk), submitted through the same profile with the partition, constraint and
extra flags of a job that calls the tool; on the node, `crboost.running.toolprobe` looks for the
tool as the tool runner would start it (its modules loaded) and writes what it found to
`.crboost/check/<tool>.json`, read back here into ok/problem lines.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..project.load import Project
from ..resources import resource_path
from .preflight import tools_needed

FOLDER = ".crboost/check"
#: what a probe job asks for besides the placement of a job calling the tool
PROBE_RESOURCES = {"cpus_per_task": 1, "mem_mb": 1000, "runtime": 10}


def node_tools(project: Project) -> dict[str, list[str]]:
    """{tool: jobs calling it} for the tools declared nodes_only (never simulated ones)."""
    tools = project.config.tools
    return {
        tool: jobs
        for tool, jobs in tools_needed(project, project.jobs).items()
        if getattr(getattr(tools, tool), "nodes_only", False) and not tools.simulated(tool)
    }


def probe_resources(project: Project, job_names: list[str]) -> dict:
    """Where the probe of a tool runs: where the first job calling it runs."""
    job = next(j for j in project.jobs if j.name == job_names[0])
    placed = {"slurm_partition": job.resources.partition, "constraint": job.resources.constraint,
              "slurm_extra": job.resources.slurm_extra}  # fmt: skip
    return {**PROBE_RESOURCES, **{k: v for k, v in placed.items() if v}}


def check_on_nodes(
    project: Project, profile_path: Path, snakemake_args: list[str]
) -> tuple[list[str], list[str]]:
    """(ok lines, problem lines) of the tools declared nodes_only, found on a node or not."""
    ok: list[str] = []
    problems: list[str] = []
    wanted = node_tools(project)
    if not wanted:
        return ok, problems
    folder = project.root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for tool in wanted:
        (folder / f"{tool}.json").unlink(missing_ok=True)
    config = {"project": str(project.root.resolve()),
              "probes": {tool: probe_resources(project, jobs) for tool, jobs in wanted.items()}}  # fmt: skip
    (folder / "probes.json").write_text(json.dumps(config, indent=1) + "\n")
    print(f"crboost: looking for {', '.join(wanted)} on a compute node (one small job each, "
          f"through {profile_path.name})", file=sys.stderr, flush=True)  # fmt: skip
    cmd = [sys.executable, "-m", "snakemake", "--snakefile",
           str(resource_path("workflow/toolcheck.smk")), "--profile", str(profile_path),
           "--directory", str(folder), "--configfile", str(folder / "probes.json"),
           "--forceall", "--nolock", *snakemake_args]  # fmt: skip
    with open(folder / "snakemake.log", "wb") as log:
        subprocess.run(cmd, cwd=folder, stdout=log, stderr=subprocess.STDOUT, check=False)
    for tool, jobs in wanted.items():
        kind, line = probe_line(folder, tool, jobs)
        (ok if kind == "ok" else problems).append(line)
    return ok, problems


def probe_line(folder: Path, tool: str, jobs: list[str]) -> tuple[str, str]:
    needed_by = f"needed by {', '.join(jobs)}"
    try:
        found = json.loads((folder / f"{tool}.json").read_text())
    except (OSError, ValueError):
        tail = _tail(folder / f"{tool}.log") or _tail(folder / "snakemake.log")
        return "problem", (f"tools.{tool}: the check job on a compute node did not report "
                           f"({tail or 'no output'}; see {FOLDER}/snakemake.log)")  # fmt: skip
    where = f"on node {found['host']}"
    modules = f" after module load {' '.join(found['modules'])}" if found["modules"] else ""
    if found["missing"]:
        why = found.get("error") or f"{', '.join(found['missing'])} not found{modules}"
        return "problem", f"tools.{tool} {where}: {why} ({needed_by})"
    version = f" ({found['version']})" if found.get("version") else ""
    return "ok", f"tools.{tool} {where}: found{modules}{version}"


def _tail(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""
