"""Set up a job directory before its tasks run: job.star, the recorded params, fresh sentinels.

Run by the workflow's `job_setup` rule (a Snakemake job, so it re-runs exactly when the job's
params change), from the project directory:  python -m crboost.running.jobsetup --job External/job005
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import CrboostError
from ..project.config import CONFIG_NAME
from ..project.load import Job, Project, load_project
from ..relion.jobstar import write_job_star
from ..relion.lock import updating_pipeline
from ..relion.star import atomic_write
from ..resources import job_template


def find_project_root(start: Path) -> Path:
    for candidate in (start, *start.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    raise CrboostError(f"{start}: not inside a crboost project (no {CONFIG_NAME} above it)")


def job_spec(job: Job) -> dict:
    """What defines a job's results: recorded in the job dir and compared by Snakemake."""
    return {
        "name": job.name,
        "type": job.type,
        "dir": job.dir,
        "input_dir": job.upstream.dir if job.upstream else None,
        "input_star": job.upstream.output_star if job.upstream else None,
        "params": job.params.model_dump(mode="json"),
    }


def job_spec_json(job: Job) -> str:
    return json.dumps(job_spec(job), sort_keys=True)


def job_star_values(project: Project, job: Job) -> dict:
    """Values for the job.star template placeholders."""
    values = job.params.model_dump()
    for key, value in values.items():  # lists as RELION's GUI joins them (TS_01:TS_02)
        if isinstance(value, list | tuple):
            values[key] = ":".join(str(v) for v in value)
    values.update(
        job_dir=job.dir + "/",
        input_star=job.upstream.output_star if job.upstream else "",
        movie_files=_movie_pattern(project),
        fn_exe=f"crboost driver {job.type}",
    )
    return values


def _movie_pattern(project: Project) -> str:
    ext = Path(project.config.data.movies).suffix or ".*"
    return f"frames/*{ext}"


def set_up(project: Project, job: Job) -> None:
    root = project.root
    job_dir = root / job.dir
    (job_dir / "logs").mkdir(parents=True, exist_ok=True)
    for sentinel in (job.success, job.failure):
        (root / sentinel).unlink(missing_ok=True)
    # tool settings made from the old params: the tasks make them again
    for settings in job_dir.glob("*.settings"):
        settings.unlink()
    write_job_star(job_dir / "job.star", job_template(job.type), job_star_values(project, job))
    atomic_write(root / job.params_file, json.dumps(job_spec(job), indent=1, sort_keys=True) + "\n")
    with updating_pipeline(root) as pipeline:
        if pipeline.find(job.dir):
            pipeline.set_status(job.dir, "Running")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", required=True, help="job dir, e.g. Import/job001")
    args = parser.parse_args(argv)
    try:
        root = find_project_root(Path.cwd())
        project = load_project(root / CONFIG_NAME, remote=True)
        set_up(project, project.job_at(args.job))
    except CrboostError as e:
        sys.exit(f"crboost: {e}")


if __name__ == "__main__":
    main()
