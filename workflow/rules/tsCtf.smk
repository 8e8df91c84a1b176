# tsCtf: WarpTools defocus handedness and tilt-series CTF, per tilt series, then gathered.
# External/jobNNN. Params: crboost/jobs/tsCtf.py   Driver: drivers/tsCtf.py
# Template: config/jobs/tsCtf.star


rule tsCtf_tilt_series:
    input:
        spec="External/{job}/job_params.json",
        upstream=upstream_tilt_series("tsCtf"),
    output:
        "External/{job}/tilt_series/{ts}.star",
    log:
        "External/{job}/logs/{ts}.log",
    benchmark:
        "External/{job}/logs/{ts}.benchmark.tsv"
    wildcard_constraints:
        job=job_numbers("tsCtf"),
    group:
        task_group("tsCtf")
    conda:
        CRBOOST_ENV
    threads: task_threads("tsCtf")
    resources:
        **task_resources("tsCtf"),
    shell:
        "crboost driver tsCtf --job External/{wildcards.job} --ts {wildcards.ts} > {log:q} 2>&1"


rule tsCtf:
    input:
        spec="External/{job}/job_params.json",
        upstream=upstream_output("tsCtf"),
        tilt_series=job_tilt_series_stars(),
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
    shell:
        "crboost driver tsCtf --job External/{wildcards.job} --gather > {log:q} 2>&1"
