# tsAlignment: tilt-series alignment (AreTomo2/AreTomo3/IMOD through WarpTools), per tilt series, then gathered.
# External/jobNNN. Params: crboost/jobs/tsAlignment.py   Driver: drivers/tsAlignment.py
# Template: config/jobs/tsAlignment.star


rule tsAlignment_tilt_series:
    input:
        spec="External/{job}/job_params.json",
        upstream=upstream_tilt_series("tsAlignment"),
    output:
        "External/{job}/tilt_series/{ts}.star",
    log:
        "External/{job}/logs/{ts}.log",
    benchmark:
        "External/{job}/logs/{ts}.benchmark.tsv"
    wildcard_constraints:
        job=job_numbers("tsAlignment"),
    group:
        task_group("tsAlignment")
    conda:
        CRBOOST_ENV
    threads: task_threads("tsAlignment")
    resources:
        **task_resources("tsAlignment"),
    shell:
        "crboost driver tsAlignment --job External/{wildcards.job} --ts {wildcards.ts} > {log:q} 2>&1"


rule tsAlignment:
    input:
        spec="External/{job}/job_params.json",
        upstream=upstream_output("tsAlignment"),
        tilt_series=job_tilt_series_stars(),
    output:
        star="External/{job}/aligned_tilt_series.star",
        success="External/{job}/RELION_JOB_EXIT_SUCCESS",
    log:
        "External/{job}/run.out",
    benchmark:
        "External/{job}/logs/gather.benchmark.tsv"
    wildcard_constraints:
        job=job_numbers("tsAlignment"),
    localrule: True
    conda:
        CRBOOST_ENV
    shell:
        "crboost driver tsAlignment --job External/{wildcards.job} --gather > {log:q} 2>&1"
