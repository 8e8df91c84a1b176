"""Registry of job types, one line per type: `crboost/jobs/<name>.py` defines its params model.

Adding a job type: docs/adding-a-job-type.md. Its rules are generated from its model's
declarations (workflow/rules/jobs.smk); its driver is drivers/<name>.py, its job.star template
config/jobs/<name>.star.
"""

from __future__ import annotations

from importlib import import_module

from .base import JobParams

#: Every job type, by `pipeline[].type` name, in pipeline order.
REGISTRY: tuple[str, ...] = (
    "importmovies",
    "fsMotionAndCtf",
    "tsImport",
    "tsAlignment",
    "tsCtf",
    "tsReconstruct",
    "denoisetrain",
    "denoisepredict",
    "templatematching",
    "tmextractcand",
    "subtomoExtraction",
    "reconstructParticle",
)


def _params_model(name: str) -> type[JobParams]:
    module = import_module(f"{__name__}.{name}")
    found = [
        cls
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, JobParams)
        and cls.__module__ == module.__name__
    ]
    if len(found) != 1 or found[0].type_name != name:
        raise TypeError(
            f"crboost/jobs/{name}.py must define one params model with type_name {name!r}"
        )
    found[0].check_declaration()
    return found[0]


JOB_TYPES: dict[str, type[JobParams]] = {name: _params_model(name) for name in REGISTRY}

#: The pipeline `crboost init` and `crboost demo` write: (job name, job type).
DEFAULT_PIPELINE: list[tuple[str, str]] = [
    ("import", "importmovies"),
    ("motion", "fsMotionAndCtf"),
    ("tiltseries", "tsImport"),
    ("align", "tsAlignment"),
    ("ctf", "tsCtf"),
    ("reconstruct", "tsReconstruct"),
]

#: What `crboost init --template T --mask M` (and `crboost demo --to particles`) add after the
#: default pipeline: from tomograms to candidates and a first average.
PARTICLE_PIPELINE: list[tuple[str, str]] = [
    ("denoisetrain", "denoisetrain"),
    ("denoise", "denoisepredict"),
    ("match", "templatematching"),
    ("candidates", "tmextractcand"),
    ("subtomo", "subtomoExtraction"),
    ("average", "reconstructParticle"),
]

__all__ = ["DEFAULT_PIPELINE", "JOB_TYPES", "PARTICLE_PIPELINE", "REGISTRY", "JobParams"]
