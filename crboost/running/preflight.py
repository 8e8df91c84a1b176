"""Cheap checks before a run starts: is every tool that work remains for where the config says?

`crboost run` calls `missing_tools` before Snakemake starts (a real run refuses to start, a dry
run warns): a missing WarpTools is found in a second, not after the import ran. Only the jobs the
run will do count: those with work left, and of them only the ones the run's targets need
(`crboost run P -- Import/job001/RELION_JOB_EXIT_SUCCESS` needs no WarpTools). It looks only at
what can be seen from here without starting a tool: an executable on PATH (or at its path, after
the tool's `modules` are loaded), a container image file and the container runtime. Tools inside
an image (AreTomo, IMOD in the WarpTools image) are not looked into. A tool declared
`nodes_only` is not looked for here when the jobs go to a cluster (`crboost check --profile
slurm` looks for it on a node). The simulator needs nothing.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Iterable

from ..project.load import Job, Project
from ..tools.runner import EXECUTABLES, PROGRAMS


def tools_needed(project: Project, jobs: Iterable[Job]) -> dict[str, list[str]]:
    """{tool key: names of the jobs needing it} for the tools crboost starts itself."""
    needed: dict[str, list[str]] = {}
    tools = project.config.tools
    warptools_direct = not tools.warptools.container and not tools.simulated("warptools")
    for job in jobs:
        for tool in job.cls.tools:
            if tool.startswith("aretomo"):
                # WarpTools starts AreTomo from its own environment: visible here only when
                # WarpTools itself runs outside a container, and only the program this job uses
                if not warptools_direct or getattr(job.params, "program", None) != tool:
                    continue
            needed.setdefault(tool, []).append(job.name)
    return needed


def missing_tools(project: Project, jobs: Iterable[Job], cluster: bool = False) -> list[str]:
    """One line per tool of these jobs that cannot be found, naming its config key and the jobs
    needing it. `cluster`: the jobs run on compute nodes (nodes_only tools are not looked for)."""
    tools = project.config.tools
    if tools.simulate is True:
        return []
    problems = []
    for tool, job_names in tools_needed(project, jobs).items():
        configured = getattr(tools, tool)
        if tools.simulated(tool) or (cluster and getattr(configured, "nodes_only", False)):
            continue
        needed_by = f"needed by {', '.join(job_names)}"
        if configured.container:
            if not os.path.isfile(configured.container):
                problems.append(f"tools.{tool}.container = {configured.container!r}: no such "
                                f"image file ({needed_by})")  # fmt: skip
            elif shutil.which(tools.container_runtime) is None:
                problems.append(f"tools.container_runtime = {tools.container_runtime!r}: not "
                                f"found on PATH, needed to run tools.{tool} ({needed_by})")  # fmt: skip
            continue
        modules = list(getattr(configured, "modules", []))
        hint = f"set tools.{tool}.path or .container, or nodes_only if it exists on the nodes only"
        if tool in PROGRAMS:  # a tool made of several programs, in `path` or on PATH
            names = [os.path.join(configured.path, n) if configured.path else n
                     for n in PROGRAMS[tool]]  # fmt: skip
            missing, load_error = look_up(names, modules)
            absent = [os.path.basename(n) for n in missing]
            if load_error:
                problems.append(f"tools.{tool}.modules: {load_error} ({needed_by}; {hint})")
            elif absent:
                where = (f"tools.{tool}.path = {configured.path!r}: no {absent[0]} there"
                         if configured.path else f"tools.{tool}: {absent[0]} not found on PATH")  # fmt: skip
                problems.append(f"{where}{loaded(modules)} ({needed_by}; {hint})")
            continue
        executable = configured.executable or EXECUTABLES[tool]
        folder = getattr(configured, "path", None)  # AreTomo's entry has none: WarpTools' PATH
        if folder:
            executable = os.path.join(folder, executable)
        missing, load_error = look_up([executable], modules)
        hint = hint.replace(".path or", ".executable or")
        if load_error:
            problems.append(f"tools.{tool}.modules: {load_error} ({needed_by}; {hint})")
        elif missing:
            where = "no such executable file" if os.sep in executable else "not found on PATH"
            problems.append(f"tools.{tool}.executable = {executable!r}: {where}{loaded(modules)} "
                            f"({needed_by}; {hint})")  # fmt: skip
    return problems


def not_found(programs: list[str], modules: list[str]) -> list[str]:
    """The programs not found on PATH (or at their path) here, after loading the modules."""
    return look_up(programs, modules)[0]


def look_up(programs: list[str], modules: list[str]) -> tuple[list[str], str | None]:
    """(the programs not found here after loading the modules, why the modules did not load)."""
    if not modules:
        return [p for p in programs if shutil.which(p) is None], None
    load = "module load " + " ".join(shlex.quote(m) for m in modules)
    script = f"{load} || exit 3; " + "; ".join(
        f"command -v {shlex.quote(p)} >/dev/null || echo {shlex.quote(p)}" for p in programs
    )
    try:
        proc = subprocess.run(["bash", "-lc", script], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return programs, f"bash -lc: {e}"
    if proc.returncode != 0:
        said = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        return programs, f"{load} failed: {said[-1] if said else f'exit {proc.returncode}'}"
    return [line for line in proc.stdout.splitlines() if line in programs], None


def loaded(modules: list[str]) -> str:
    return f" after module load {' '.join(modules)}" if modules else ""
