"""Which jobs a run's targets need: `crboost run P -- External/job004/RELION_JOB_EXIT_SUCCESS`
works on job004 and the jobs upstream of it, never on the jobs after it.

Targets are read from the arguments after `--` with Snakemake's own argument parser (so an
option's value is never taken for a target). A target is a file in a job directory, or a rule
name (a job type's rules: `tsCtf`, `tsCtf_tilt_series`, `tsCtf_prepare`). Anything else, and no
target at all, means the whole pipeline: what is not understood is checked rather than skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..project.load import Job, Project


def requested_targets(snakemake_args: list[str]) -> list[str]:
    """The targets among the arguments for Snakemake (none: the default target, everything)."""
    if all(arg.startswith("-") for arg in snakemake_args):
        return []  # no positional argument: not worth importing Snakemake's parser
    from snakemake.cli import get_argument_parser

    try:
        args = get_argument_parser().parse_args(snakemake_args)
    except SystemExit:  # a wrong flag: Snakemake itself says so, in one line (launcher)
        return []
    return list(args.targets or [])


def jobs_for_targets(project: Project, targets: list[str]) -> list[Job] | None:
    """The jobs the targets need (each target's job and everything upstream of it), in
    pipeline order; None for the whole pipeline."""
    if not targets:
        return None
    wanted: dict[str, Job] = {}
    for target in targets:
        jobs = _jobs_of_target(project, target)
        if jobs is None:
            return None
        for job in jobs:
            while job is not None and job.dir not in wanted:
                wanted[job.dir] = job
                job = job.upstream
    return [job for job in project.jobs if job.dir in wanted]


def _jobs_of_target(project: Project, target: str) -> list[Job] | None:
    if target == "job_setup":
        return []
    for job_type in {job.type for job in project.jobs}:
        if target in (job_type, f"{job_type}_tilt_series", f"{job_type}_prepare"):
            return project.of_type(job_type)
    # resolved, so that RELION's alias links (External/ctf -> job005) name their job
    root = project.root.resolve()
    try:
        text = str(Path(os.path.realpath(root / target)).relative_to(root))
    except ValueError:
        return None  # outside the project
    job = next((j for j in project.jobs if text == j.dir or text.startswith(j.dir + "/")), None)
    return [job] if job is not None else None
