# Loading the project and the helpers the rules use. Runs at every parse (also in each cluster
# job), so it reads small files only: the config, default_pipeline.star, the manifest index.
import os
import sys
from pathlib import Path

from crboost.errors import CrboostError
from crboost.hooks import job_dirs_of, on_finish, on_start
from crboost.jobsetup import job_spec_json
from crboost.project import load_project


def project_config_file():
    """The --configfile given to snakemake; its directory is the project."""
    if not workflow.overwrite_configfiles:
        sys.exit("crboost: give the project config: --configfile PROJECT/crboost.yaml")
    return Path(workflow.overwrite_configfiles[-1]).resolve()


def run_hook(hook, *args):
    try:
        hook(*args)
    except CrboostError as e:
        sys.exit(f"crboost: {e}")


CONFIGFILE = project_config_file()
try:
    PROJECT = load_project(CONFIGFILE, dict(config), remote=workflow.remote_exec)
except CrboostError as e:
    sys.exit(f"crboost: {e}")

IMPORT_DIR = PROJECT.of_type("importmovies")[0].dir
# Jobs call `crboost` and `python` of the environment running this workflow (also on cluster
# nodes, where the job re-parses this file). Deliberately no params entry, so moving the
# install re-runs nothing.
os.environ["PATH"] = (
    os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
)
# The software environment the rules run in (crboost itself; tools run in their own containers).
CRBOOST_ENV = "../../environment.yml"


def planned_job_dirs():
    """Job directories with work in this run (None if Snakemake's DAG is not reachable)."""
    try:
        outputs = [f for job in workflow.dag.needrun_jobs() for f in job.output]
    except AttributeError:
        return None
    return job_dirs_of(PROJECT, outputs)


def all_results():
    """Every job's sentinel and every tilt series' STAR file of every job: a deleted result is
    a missing target, re-made with what depends on it (Snakemake does not look at the inputs of
    jobs it has no reason to run)."""
    results = [job.success for job in PROJECT.jobs]
    for job in PROJECT.jobs:
        results += tilt_series_stars(job.dir)
    return results


def job_dirs_regex():
    return "|".join(job.dir for job in PROJECT.jobs) or "(?!)"


def job_numbers(job_type):
    """Regex of the job dir names (job001|job004) of one job type; never matches if none."""
    return "|".join(job.number for job in PROJECT.of_type(job_type)) or "(?!)"


def job_dir_of_spec(wildcards, input):
    """The job directory: where the job_params.json input is."""
    return os.path.dirname(input.spec)


def task_resource(key):
    """A resource of the job instance a tilt-series task belongs to (config `resources:`)."""

    def get(wildcards):
        return getattr(PROJECT.job_at(f"External/{wildcards.job}").resources, key)

    return get


def job_spec(wildcards):
    return job_spec_json(PROJECT.job_at(wildcards.jobdir))


def tilt_series_fingerprint(wildcards):
    return PROJECT.manifest.fingerprint(wildcards.ts)


def upstream_tilt_series_star(wildcards):
    """The same tilt series' STAR file of the job this one reads from."""
    job = PROJECT.job_at(f"External/{wildcards.job}")
    return job.upstream.ts_star(wildcards.ts)


def upstream_output_star(wildcards):
    return PROJECT.job_at(f"External/{wildcards.job}").upstream.output_star


def own_tilt_series_stars(wildcards):
    return tilt_series_stars(f"External/{wildcards.job}")


def tilt_series_stars(job_dir):
    return [f"{job_dir}/tilt_series/{ts}.star" for ts in PROJECT.tilt_series]
