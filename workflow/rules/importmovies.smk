# importmovies: RELION 5 tilt-series import (Import/jobNNN), per tilt series, then gathered.
# Params: crboost/jobs/importmovies.py   Driver: drivers/importmovies.py
# Template: config/jobs/importmovies.star   (one importmovies job per project: frames/ and mdoc/
# are the project's)


rule importmovies_tilt_series:
    input:
        spec=f"{IMPORT_DIR}/job_params.json",
    output:
        f"{IMPORT_DIR}/tilt_series/{{ts}}.star",
    log:
        f"{IMPORT_DIR}/logs/{{ts}}.log",
    benchmark:
        f"{IMPORT_DIR}/logs/{{ts}}.benchmark.tsv"
    localrule: True
    conda:
        CRBOOST_ENV
    params:
        tilt_series=tilt_series_fingerprint,
    shell:
        f"crboost driver importmovies --job {IMPORT_DIR} --ts {{wildcards.ts}} > {{log:q}} 2>&1"


rule importmovies:
    input:
        spec=f"{IMPORT_DIR}/job_params.json",
        tilt_series=tilt_series_stars(IMPORT_DIR),
    output:
        star=f"{IMPORT_DIR}/tilt_series.star",
        success=f"{IMPORT_DIR}/RELION_JOB_EXIT_SUCCESS",
    log:
        f"{IMPORT_DIR}/run.out",
    benchmark:
        f"{IMPORT_DIR}/logs/gather.benchmark.tsv"
    localrule: True
    conda:
        CRBOOST_ENV
    shell:
        f"crboost driver importmovies --job {IMPORT_DIR} --gather > {{log:q}} 2>&1"
