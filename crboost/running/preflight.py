"""Cheap checks before a run starts: is every tool that work remains for where the config says?

`crboost run` calls `missing_tools` before Snakemake starts (a real run refuses to start, a dry
run warns): a missing WarpTools is found in a second, not after the import ran. It looks only at
what can be seen from here without starting anything: an executable on PATH (or at its path),
a container image file and the container runtime. Tools inside an image (AreTomo, IMOD in the
WarpTools image) are not looked into. The simulator needs nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable

from ..project.load import Job, Project
from ..tools.runner import EXECUTABLES, PROGRAMS


def jobs_with_work(project: Project) -> list[Job]:
    """Jobs that are not finished, or will re-run for changed params (from the project's files,
    as `crboost status` sees them; no Snakemake DAG)."""
    from .status import project_status

    todo = set()
    for status in project_status(project, reconcile_statuses=False):
        counts = status.tilt_series
        if (
            status.status != "Succeeded"
            or status.params_changed
            or counts["done"] < counts["total"]
        ):
            todo.add(status.dir)
    return [job for job in project.jobs if job.dir in todo]


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


def missing_tools(project: Project, jobs: Iterable[Job] | None = None) -> list[str]:
    """One line per tool that cannot be found, naming its config key and the jobs needing it."""
    tools = project.config.tools
    if tools.simulate is True:
        return []
    if jobs is None:
        jobs = jobs_with_work(project)
    problems = []
    for tool, job_names in tools_needed(project, jobs).items():
        if tools.simulated(tool):
            continue
        configured = getattr(tools, tool)
        needed_by = f"needed by {', '.join(job_names)}"
        if configured.container:
            if not os.path.isfile(configured.container):
                problems.append(f"tools.{tool}.container = {configured.container!r}: no such "
                                f"image file ({needed_by})")  # fmt: skip
            elif shutil.which(tools.container_runtime) is None:
                problems.append(f"tools.container_runtime = {tools.container_runtime!r}: not "
                                f"found on PATH, needed to run tools.{tool} ({needed_by})")  # fmt: skip
            continue
        if tool in PROGRAMS:  # a tool made of several programs, in `path` or on PATH
            absent = [
                name for name in PROGRAMS[tool]
                if shutil.which(os.path.join(configured.path, name) if configured.path else name)
                is None
            ]  # fmt: skip
            if absent:
                where = (f"tools.{tool}.path = {configured.path!r}: no {absent[0]} there"
                         if configured.path else f"tools.{tool}: {absent[0]} not found on PATH")  # fmt: skip
                problems.append(f"{where} ({needed_by}; set tools.{tool}.path or .container)")
            continue
        executable = configured.executable or EXECUTABLES[tool]
        folder = getattr(configured, "path", None)  # AreTomo's entry has none: WarpTools' PATH
        if folder:
            executable = os.path.join(folder, executable)
        if shutil.which(executable) is None:
            where = "no such executable file" if os.sep in executable else "not found on PATH"
            problems.append(f"tools.{tool}.executable = {executable!r}: {where} ({needed_by}; "
                            f"set tools.{tool}.executable or .container)")  # fmt: skip
    return problems
