# tsImport: WarpTools tilt-series import (.tomostar), per tilt series, then gathered.
# External/jobNNN. Params: crboost/jobs/tsImport.py   Driver: drivers/tsImport.py
# Template: config/jobs/tsImport.star


rule tsImport_tilt_series:
    input:
        spec="External/{job}/job_params.json",
        upstream=upstream_tilt_series("tsImport"),
    output:
        "External/{job}/tilt_series/{ts}.star",
    log:
        "External/{job}/logs/{ts}.log",
    benchmark:
        "External/{job}/logs/{ts}.benchmark.tsv"
    wildcard_constraints:
        job=job_numbers("tsImport"),
    group:
        task_group("tsImport")
    conda:
        CRBOOST_ENV
    threads: task_threads("tsImport")
    resources:
        **task_resources("tsImport"),
    shell:
        "crboost driver tsImport --job External/{wildcards.job} --ts {wildcards.ts} > {log:q} 2>&1"


rule tsImport:
    input:
        spec="External/{job}/job_params.json",
        upstream=upstream_output("tsImport"),
        tilt_series=job_tilt_series_stars(),
    output:
        star="External/{job}/ts_import.star",
        success="External/{job}/RELION_JOB_EXIT_SUCCESS",
    log:
        "External/{job}/run.out",
    benchmark:
        "External/{job}/logs/gather.benchmark.tsv"
    wildcard_constraints:
        job=job_numbers("tsImport"),
    localrule: True
    conda:
        CRBOOST_ENV
    shell:
        "crboost driver tsImport --job External/{wildcards.job} --gather > {log:q} 2>&1"
