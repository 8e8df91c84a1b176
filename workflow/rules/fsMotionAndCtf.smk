# fsMotionAndCtf: WarpTools motion correction and CTF of the movies, per tilt series, then gathered.
# External/jobNNN. Params: crboost/jobs/fsMotionAndCtf.py   Driver: drivers/fsMotionAndCtf.py
# Template: config/jobs/fsMotionAndCtf.star


rule fsMotionAndCtf_tilt_series:
    input:
        spec="External/{job}/job_params.json",
        upstream=upstream_tilt_series("fsMotionAndCtf"),
    output:
        "External/{job}/tilt_series/{ts}.star",
    log:
        "External/{job}/logs/{ts}.log",
    benchmark:
        "External/{job}/logs/{ts}.benchmark.tsv"
    wildcard_constraints:
        job=job_numbers("fsMotionAndCtf"),
    group:
        task_group("fsMotionAndCtf")
    conda:
        CRBOOST_ENV
    threads: task_threads("fsMotionAndCtf")
    resources:
        **task_resources("fsMotionAndCtf"),
    shell:
        "crboost driver fsMotionAndCtf --job External/{wildcards.job} --ts {wildcards.ts} > {log:q} 2>&1"


rule fsMotionAndCtf:
    input:
        spec="External/{job}/job_params.json",
        upstream=upstream_output("fsMotionAndCtf"),
        tilt_series=job_tilt_series_stars(),
    output:
        star="External/{job}/fs_motion_and_ctf.star",
        success="External/{job}/RELION_JOB_EXIT_SUCCESS",
    log:
        "External/{job}/run.out",
    benchmark:
        "External/{job}/logs/gather.benchmark.tsv"
    wildcard_constraints:
        job=job_numbers("fsMotionAndCtf"),
    localrule: True
    conda:
        CRBOOST_ENV
    shell:
        "crboost driver fsMotionAndCtf --job External/{wildcards.job} --gather > {log:q} 2>&1"
