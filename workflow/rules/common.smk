# Loading the project and the helpers the rules use. Runs at every parse (also in each cluster
# job), so it reads small files only: the config, default_pipeline.star, the manifest index.
# What only the main process uses (the hooks, job set-up) is imported where it is used.
import os
import sys
from pathlib import Path

from crboost.errors import CrboostError
from crboost.jobs import JOB_TYPES
from crboost.project.load import load_project


def project_config_file():
    """The --configfile given to snakemake; its directory is the project."""
    if not workflow.overwrite_configfiles:
        sys.exit("crboost: give the project config: --configfile PROJECT/crboost.yaml")
    return Path(workflow.overwrite_configfiles[-1]).resolve()


def run_hook(name, *args):
    """Run a hook of crboost/running/hooks.py (cluster jobs run none: --no-hooks)."""
    from crboost.running import hooks

    try:
        getattr(hooks, name)(*args)
    except CrboostError as e:
        sys.exit(f"crboost: {e}")


CONFIGFILE = project_config_file()
try:
    PROJECT = load_project(CONFIGFILE, dict(config), remote=workflow.remote_exec)
except CrboostError as e:
    sys.exit(f"crboost: {e}")

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
    from crboost.running.hooks import job_dirs_of

    return job_dirs_of(PROJECT, outputs)


def listed(make, *args):
    """A rule's list of files, make(*args) (a list, or a function of the wildcards giving one).

    In a cluster job (--mode remote) Snakemake creates the target jobs only, so there the list
    is made when Snakemake creates a job of the rule: the target's rule gets the same files, and
    the lists of every item of the other rules are never built (at 1000s of tilt series, they
    were most of a cluster job's parse time). The main process gets plain values: faster to plan.
    The arguments are taken now (a loop variable would have moved on by then).
    """
    if not workflow.remote_exec:
        return make(*args)

    def of_job(wildcards):
        value = make(*args)
        return value(wildcards) if callable(value) else value

    return of_job


def all_results():
    """Every job's sentinel and every item's STAR file of every per-item job: a deleted result
    is a missing target, re-made with what depends on it (Snakemake does not look at the inputs
    of jobs it has no reason to run)."""
    results = [job.success for job in PROJECT.jobs]
    for job in PROJECT.jobs:
        if job.cls.per_item():
            results += [job.ts_star(ts) for ts in PROJECT.items(job)]
    return results


def used_job_types():
    """The registered job types the pipeline has instances of, in registry order."""
    return {name: cls for name, cls in JOB_TYPES.items() if PROJECT.of_type(name)}


def job_dirs_regex():
    return "|".join(job.dir for job in PROJECT.jobs) or "(?!)"


def job_numbers(job_type):
    """Regex of the job dir names (job001|job004) of one job type; never matches if none."""
    return "|".join(job.number for job in PROJECT.of_type(job_type)) or "(?!)"


# --- paths of a job type's rules: `<TypeDir>/{job}`, or the one instance's literal directory --


def literal_job(job_type):
    """The one instance of a one-per-project type (its rules then need no `job` wildcard)."""
    jobs = PROJECT.of_type(job_type)
    if JOB_TYPES[job_type].one_per_project and len(jobs) == 1:
        return jobs[0]
    return None


def job_path(job_type, name):
    """A file of the type's job directory, as rules name it."""
    job = literal_job(job_type)
    folder = job.dir if job else f"{JOB_TYPES[job_type].type_dir}/{{job}}"
    return f"{folder}/{name}"


def job_path_list(job_type, names):
    return [job_path(job_type, name) for name in names]


def job_constraint(job_type):
    return {} if literal_job(job_type) else {"job": job_numbers(job_type)}


def job_of(job_type, wildcards):
    return literal_job(job_type) or PROJECT.job_at(
        f"{JOB_TYPES[job_type].type_dir}/{wildcards.job}"
    )


def driver_command(job_type, flags):
    """The shell command of a rule: fixed text plus wildcards, never data-derived strings."""
    job = literal_job(job_type)
    folder = job.dir if job else f"{JOB_TYPES[job_type].type_dir}/{{wildcards.job}}"
    flags = f" {flags}" if flags else ""
    return f"crboost driver {job_type} --job {folder}{flags} > {{log:q}} 2>&1"


# Snakemake evaluates a rule's `shell:` expression twice: when the rule is defined, and again
# when one of its jobs runs, inside the job's function, where a loop variable has long moved on
# to the last job type (snakemake#2832). That function has the rule's name as a local (`rule`),
# next to `bench_record`: there, the command recorded at definition is looked up by it.
RULE_SHELL = {}


def rule_shell(rule_name, command, scope):
    if "bench_record" in scope:
        return RULE_SHELL[scope["rule"]]
    RULE_SHELL[rule_name] = command
    return command


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


def per_instance(job_type, value_of):
    """value_of(job) for the type's instances: one plain value if they agree, else a function."""
    values = {value_of(job) for job in PROJECT.of_type(job_type)}
    if len(values) <= 1:
        return next(iter(values), None)
    return lambda wildcards: value_of(job_of(job_type, wildcards))


def task_resources(job_type):
    """Resources of a job type's tasks (config `resources:`), for `resources:`; none for tasks
    that run on the submitting machine."""
    out = {}
    if JOB_TYPES[job_type].local_tasks:
        return out
    for name, key in TASK_RESOURCES.items():
        value = per_instance(job_type, lambda job, key=key: getattr(job.resources, key))
        if value is not None:
            out[name] = value
    return out


def task_group(job_type):
    """Batching group of the type's tilt-series tasks, only when a group_size asks for it
    (crboost run then passes --group-components <type>_tilt_series=N)."""
    if JOB_TYPES[job_type].local_tasks:
        return None
    if any(job.resources.group_size for job in PROJECT.of_type(job_type)):
        return f"{job_type}_tilt_series"
    return None


def task_threads(job_type):
    if JOB_TYPES[job_type].local_tasks:
        return 1
    return per_instance(job_type, lambda job: job.resources.cpus) or 1


# --- inputs and params ---------------------------------------------------------------------


def item_inputs(job_type):
    """What a per-item task reads: its job's recorded params, the same item of the upstream
    job, the prepare step's output."""
    inputs = {"spec": job_path(job_type, "job_params.json")}
    declared = JOB_TYPES[job_type]
    if declared.accepts:
        inputs["upstream"] = upstream_item(job_type)
    if declared.prepare_output:
        prepared = job_path(job_type, declared.prepare_output)
        keep = declared.prepare_keeps_done_items
        inputs["prepared"] = ancient(prepared) if keep else prepared
    return inputs


def upstream_item(job_type):
    """The upstream job's result for the same item: the item's STAR file, or the job's STAR
    file when the upstream job works on the whole job at once."""
    upstream = per_instance(job_type, lambda job: job.input_of_item("{ts}"))
    if not callable(upstream):
        return upstream or []

    def of_instance(wildcards):
        return job_of(job_type, wildcards).input_of_item(wildcards.ts)

    return of_instance


def upstream_output(job_type):
    """The upstream job's STAR file (its job-level result)."""
    if not JOB_TYPES[job_type].accepts:
        return []
    return per_instance(job_type, lambda job: job.upstream.output_star) or []


def upstream_items(job_type):
    """Every upstream result the job's items need: what its prepare step waits for."""
    return (
        per_instance(
            job_type,
            lambda job: tuple(
                dict.fromkeys(job.input_of_item(ts) for ts in PROJECT.items(job))
            ),
        )
        or []
    )


def job_item_stars(job_type):
    """Every item's STAR file of the job (what its gathering step waits for)."""
    pattern = job_path(job_type, "tilt_series/{ts}.star")
    stars = per_instance(
        job_type,
        lambda job: tuple(pattern.replace("{ts}", ts) for ts in PROJECT.items(job)),
    )
    if callable(stars):
        return lambda wildcards: [
            job_of(job_type, wildcards).ts_star(ts)
            for ts in PROJECT.items(job_of(job_type, wildcards))
        ]
    return list(stars or [])


def item_params(job_type):
    """The type's per-item params (a change re-runs that item only), as functions of `ts`."""
    return {
        name: item_param(job_type, value_of)
        for name, value_of in JOB_TYPES[job_type].item_params.items()
    }


def item_param(job_type, value_of):
    def of_item(wildcards):
        return value_of(PROJECT, job_of(job_type, wildcards), wildcards.ts)

    return of_item


def job_spec(wildcards):
    from crboost.running.jobsetup import job_spec_json

    return job_spec_json(PROJECT.job_at(wildcards.jobdir))
