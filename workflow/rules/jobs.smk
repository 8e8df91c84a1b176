# The rules of every registered job type, generated from what its params model declares
# (crboost/jobs/<type>.py: granularity, outputs, local tasks, per-item params, prepare step).
# Per job type, in the order a job runs:
#   <type>_prepare      optional: once all upstream items are done, before this job's items
#   <type>_tilt_series  one task per tilt series (or tomogram): <job>/tilt_series/<ts>.star
#   <type>              gathers the items into the job's STAR files and RELION_JOB_EXIT_SUCCESS,
#                       or, for a whole-job type, does the job's work in one task
# The job's set-up (job.star, job_params.json) is the shared rule job_setup (setup.smk).
# Paths name the job `<TypeDir>/{job}` (jobNNN), or literally for a one-per-project type.
# Only the types the project's pipeline uses get rules (each rule costs parse time, paid by
# every cluster job).


for job_type, declared in used_job_types().items():
    if declared.prepare_output:

        rule:
            name:
                f"{job_type}_prepare"
            input:
                spec=job_path(job_type, "job_params.json"),
                upstream=listed(upstream_items, job_type),
            output:
                job_path(job_type, declared.prepare_output),
            log:
                job_path(job_type, "logs/prepare.log"),
            benchmark:
                job_path(job_type, "logs/prepare.benchmark.tsv")
            wildcard_constraints:
                **job_constraint(job_type),
            localrule: declared.local_tasks
            conda:
                CRBOOST_ENV
            threads: task_threads(job_type)
            resources:
                **task_resources(job_type),
            shell:
                rule_shell(
                    f"{job_type}_prepare",
                    driver_command(job_type, "--prepare"),
                    locals(),
                )

    if declared.per_item():

        rule:
            name:
                f"{job_type}_tilt_series"
            input:
                **item_inputs(job_type),
            output:
                job_path(job_type, "tilt_series/{ts}.star"),
            log:
                job_path(job_type, "logs/{ts}.log"),
            benchmark:
                job_path(job_type, "logs/{ts}.benchmark.tsv")
            wildcard_constraints:
                **job_constraint(job_type),
            group:
                task_group(job_type)
            localrule: declared.local_tasks
            conda:
                CRBOOST_ENV
            threads: task_threads(job_type)
            resources:
                **task_resources(job_type),
            params:
                **item_params(job_type),
            shell:
                rule_shell(
                    f"{job_type}_tilt_series",
                    driver_command(job_type, "--ts {wildcards.ts}"),
                    locals(),
                )

        rule:
            name:
                job_type
            input:
                spec=job_path(job_type, "job_params.json"),
                upstream=upstream_output(job_type),
                tilt_series=listed(job_item_stars, job_type),
            output:
                *job_path_list(job_type, declared.extra_outputs),
                star=job_path(job_type, declared.output_star),
                success=job_path(job_type, "RELION_JOB_EXIT_SUCCESS"),
            log:
                job_path(job_type, "run.out"),
            benchmark:
                job_path(job_type, "logs/gather.benchmark.tsv")
            wildcard_constraints:
                **job_constraint(job_type),
            localrule: True
            conda:
                CRBOOST_ENV
            shell:
                rule_shell(job_type, driver_command(job_type, "--gather"), locals())

    else:

        rule:
            name:
                job_type
            input:
                spec=job_path(job_type, "job_params.json"),
                upstream=upstream_output(job_type),
            output:
                *job_path_list(job_type, declared.extra_outputs),
                star=job_path(job_type, declared.output_star),
                success=job_path(job_type, "RELION_JOB_EXIT_SUCCESS"),
            log:
                job_path(job_type, "run.out"),
            benchmark:
                job_path(job_type, "logs/job.benchmark.tsv")
            wildcard_constraints:
                **job_constraint(job_type),
            localrule: declared.local_tasks
            conda:
                CRBOOST_ENV
            threads: task_threads(job_type)
            resources:
                **task_resources(job_type),
            shell:
                rule_shell(job_type, driver_command(job_type, ""), locals())
