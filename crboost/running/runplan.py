"""One `crboost run`, read once: everything the launcher's steps decide from.

The project (config, manifest, curation and the last run's, where it was last run from, jobs:
project/load.py), the last recorded run and whether it is alive (runstate.py), every job's
status from its files (status.py), the profile and the run's targets. The launcher
(launcher.py) works through its steps from this object; none of them reads these again.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import CrboostError
from ..project.config import CONFIG_NAME
from ..project.load import Job, Project, load_project
from .liveness import Verdict
from .status import JobStatus

DRY_RUN_FLAGS = ("-n", "--dry-run", "--dryrun")


@dataclass
class RunPlan:
    project: Project
    profile_path: Path
    snakemake_args: list[str]
    #: the run's record in .crboost/run.json before this run, and whether that run is alive
    previous: dict | None
    previous_alive: Verdict

    @classmethod
    def prepare(cls, project_dir: Path, profile: str, snakemake_args: list[str]) -> RunPlan:
        from ..resources import profile_dir
        from .runstate import run_liveness

        config = project_dir / CONFIG_NAME
        if not config.is_file():
            raise CrboostError(f"{config}: no such file (make one with crboost init)")
        project = load_project(config)  # fail fast, with a one-line message
        profile_path = Path(profile) if "/" in profile else profile_dir(profile)
        if not (profile_path / "config.yaml").is_file():
            raise CrboostError(f"--profile {profile}: no {profile_path}/config.yaml")
        previous, verdict = run_liveness(project.root)
        return cls(project=project, profile_path=profile_path, snakemake_args=snakemake_args,
                   previous=previous, previous_alive=verdict)  # fmt: skip

    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def dry(self) -> bool:
        return any(a in DRY_RUN_FLAGS for a in self.snakemake_args)

    @cached_property
    def profile(self) -> dict:
        import yaml

        return yaml.safe_load((self.profile_path / "config.yaml").read_text()) or {}

    @property
    def on_cluster(self) -> bool:
        from .slurm import cluster_executor

        return cluster_executor(self.profile)

    @cached_property
    def statuses(self) -> list[JobStatus]:
        """Each job as its files say (no Snakemake DAG), as the run starts."""
        from .status import project_status

        return project_status(self.project, reconcile_statuses=False)

    @cached_property
    def jobs_with_work(self) -> list[Job]:
        """Jobs not finished, or to re-run for changed params."""
        todo = {s.dir for s in self.statuses if s.status != "Succeeded" or s.params_changed
                or s.tilt_series["done"] < s.tilt_series["total"]}  # fmt: skip
        return [job for job in self.project.jobs if job.dir in todo]

    @cached_property
    def jobs_to_run(self) -> list[Job]:
        """Of the jobs with work, those the run's targets need (all of them without targets)."""
        from .targets import jobs_for_targets, requested_targets

        needed = jobs_for_targets(self.project, requested_targets(self.snakemake_args))
        if needed is None:
            return self.jobs_with_work
        dirs = {job.dir for job in needed}
        return [job for job in self.jobs_with_work if job.dir in dirs]

    def snakemake_command(self, options: list[str]) -> list[str]:
        """Snakemake on the project: the project's options first (--resources and
        --group-components take every value up to the next option, and --profile ends them, so
        a target after -- is never read as a resource), then the profile, then the user's."""
        from ..resources import snakefile

        config = self.root / CONFIG_NAME
        return [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile()),
                "--configfile", str(config.resolve()), *options,
                "--profile", str(self.profile_path), *self.snakemake_args]  # fmt: skip

    def unlock_command(self) -> list[str]:
        from ..resources import snakefile

        return [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile()),
                "--configfile", str((self.root / CONFIG_NAME).resolve()), "--unlock"]  # fmt: skip
