# Loading the project and the helpers the rules use. Runs at every parse (also in each cluster
# job), so it reads small files only: the config, default_pipeline.star, the manifest index.
import os
import sys
from pathlib import Path

from crboost.errors import CrboostError
from crboost.running.hooks import job_dirs_of, on_finish, on_start
from crboost.running.jobsetup import job_spec_json
from crboost.project.load import load_project


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


# Rule settings that differ between job instances of a type become functions of the `job`
# wildcard; when all instances agree (the usual case) they stay plain values, which Snakemake
# plans much faster (it inspects every function call) -- see bench/.
TASK_RESOURCES = {
    "cpus_per_task": "cpus",
    "mem_mb": "mem_mb",
    "runtime": "runtime",
    "gpu": "gpus",
    "slurm_partition": "partition",
    "constraint": "constraint",
    "slurm_extra": "slurm_extra",
}


def job_of(wildcards):
    return PROJECT.job_at(f"External/{wildcards.job}")


def per_instance(job_type, value_of):
    """value_of(job) for the type's instances: one plain value if they agree, else a function."""
    values = {value_of(job) for job in PROJECT.of_type(job_type)}
    if len(values) <= 1:
        return next(iter(values), None)
    return lambda wildcards: value_of(job_of(wildcards))


def task_resources(job_type):
    """Resources of a job type's tilt-series tasks (config `resources:`), for `resources:`."""
    out = {}
    for name, key in TASK_RESOURCES.items():
        value = per_instance(job_type, lambda job, key=key: getattr(job.resources, key))
        if value is not None:
            out[name] = value
    return out


def task_group(job_type):
    """Batching group of the type's tilt-series tasks, only when a group_size asks for it
    (crboost run then passes --group-components <type>_tilt_series=N)."""
    if any(job.resources.group_size for job in PROJECT.of_type(job_type)):
        return f"{job_type}_tilt_series"
    return None


def task_threads(job_type):
    return per_instance(job_type, lambda job: job.resources.cpus) or 1


def upstream_tilt_series(job_type):
    """The same tilt series' STAR file of the job an instance reads from."""
    dirs = per_instance(job_type, lambda job: job.upstream.dir)
    if callable(dirs):
        return lambda wildcards: job_of(wildcards).upstream.ts_star(wildcards.ts)
    return f"{dirs}/tilt_series/{{ts}}.star"


def upstream_output(job_type):
    return per_instance(job_type, lambda job: job.upstream.output_star) or []


def job_spec(wildcards):
    return job_spec_json(PROJECT.job_at(wildcards.jobdir))


def tilt_series_fingerprint(wildcards):
    return PROJECT.manifest.fingerprint(wildcards.ts)


def job_tilt_series_stars():
    """Every tilt series' STAR file of the job in the `job` wildcard (External/{job})."""
    return [f"External/{{job}}/tilt_series/{ts}.star" for ts in PROJECT.tilt_series]


def tilt_series_stars(job_dir):
    return [f"{job_dir}/tilt_series/{ts}.star" for ts in PROJECT.tilt_series]
