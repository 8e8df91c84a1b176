# job_setup: the job.star and recorded params of a job directory. A Snakemake job of its own, so
# that a params change re-runs it, and through its output every task of the job.


rule job_setup:
    output:
        spec="{jobdir}/job_params.json",
        jobstar="{jobdir}/job.star",
    log:
        "{jobdir}/logs/setup.log",
    benchmark:
        "{jobdir}/logs/setup.benchmark.tsv"
    wildcard_constraints:
        jobdir=job_dirs_regex(),
    localrule: True
    conda:
        CRBOOST_ENV
    params:
        spec=job_spec,
    shell:
        "python -m crboost.running.jobsetup --job {wildcards.jobdir} > {log:q} 2>&1"
