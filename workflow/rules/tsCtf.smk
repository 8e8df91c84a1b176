# tsCtf: WarpTools defocus handedness and tilt-series CTF, per tilt series, then gathered.
# External/jobNNN. Params: crboost/jobs/tsCtf.py   Driver: drivers/tsCtf.py
# Template: config/jobs/tsCtf.star


rule tsCtf_tilt_series:
    input:
        spec="External/{job}/job_params.json",
        upstream=upstream_tilt_series_star,
    output:
        "External/{job}/tilt_series/{ts}.star",
    log:
        "External/{job}/logs/{ts}.log",
    benchmark:
        "External/{job}/logs/{ts}.benchmark.tsv"
    wildcard_constraints:
        job=job_numbers("tsCtf"),
    group:
        "tsCtf_tilt_series"
    conda:
        CRBOOST_ENV
    threads: task_resource("cpus")
    resources:
        cpus_per_task=task_resource("cpus"),
        mem_mb=task_resource("mem_mb"),
        runtime=task_resource("runtime"),
        gpu=task_resource("gpus"),
        slurm_partition=task_resource("partition"),
        constraint=task_resource("constraint"),
        slurm_extra=task_resource("slurm_extra"),
    params:
        job=job_dir_of_spec,
    shell:
        "crboost driver tsCtf --job {params.job} --ts {wildcards.ts} > {log:q} 2>&1"


rule tsCtf:
    input:
        spec="External/{job}/job_params.json",
        upstream=upstream_output_star,
        tilt_series=own_tilt_series_stars,
    output:
        star="External/{job}/ts_ctf_tilt_series.star",
        success="External/{job}/RELION_JOB_EXIT_SUCCESS",
    log:
        "External/{job}/run.out",
    benchmark:
        "External/{job}/logs/gather.benchmark.tsv"
    wildcard_constraints:
        job=job_numbers("tsCtf"),
    localrule: True
    conda:
        CRBOOST_ENV
    params:
        job=job_dir_of_spec,
    shell:
        "crboost driver tsCtf --job {params.job} --gather > {log:q} 2>&1"
