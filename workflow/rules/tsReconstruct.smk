# tsReconstruct: WarpTools tomogram reconstruction, per tilt series, then gathered.
# External/jobNNN. Params: crboost/jobs/tsReconstruct.py   Driver: drivers/tsReconstruct.py
# Template: config/jobs/tsReconstruct.star


rule tsReconstruct_tilt_series:
    input:
        spec="External/{job}/job_params.json",
        upstream=upstream_tilt_series("tsReconstruct"),
    output:
        "External/{job}/tilt_series/{ts}.star",
    log:
        "External/{job}/logs/{ts}.log",
    benchmark:
        "External/{job}/logs/{ts}.benchmark.tsv"
    wildcard_constraints:
        job=job_numbers("tsReconstruct"),
    group:
        task_group("tsReconstruct")
    conda:
        CRBOOST_ENV
    threads: task_threads("tsReconstruct")
    resources:
        **task_resources("tsReconstruct"),
    shell:
        "crboost driver tsReconstruct --job External/{wildcards.job} --ts {wildcards.ts} > {log:q} 2>&1"


rule tsReconstruct:
    input:
        spec="External/{job}/job_params.json",
        upstream=upstream_output("tsReconstruct"),
        tilt_series=job_tilt_series_stars(),
    output:
        star="External/{job}/tomograms.star",
        success="External/{job}/RELION_JOB_EXIT_SUCCESS",
    log:
        "External/{job}/run.out",
    benchmark:
        "External/{job}/logs/gather.benchmark.tsv"
    wildcard_constraints:
        job=job_numbers("tsReconstruct"),
    localrule: True
    conda:
        CRBOOST_ENV
    shell:
        "crboost driver tsReconstruct --job External/{wildcards.job} --gather > {log:q} 2>&1"
