"""Registry of job types: `pipeline[].type` -> params model. Add new job types here."""

from __future__ import annotations

from .base import JobParams
from .importmovies import ImportMoviesParams

JOB_TYPES: dict[str, type[JobParams]] = {cls.type_name: cls for cls in (ImportMoviesParams,)}

#: The pipeline `crboost init` and `crboost demo` write: (job name, job type).
DEFAULT_PIPELINE: list[tuple[str, str]] = [
    ("import", "importmovies"),
]

__all__ = ["DEFAULT_PIPELINE", "JOB_TYPES", "JobParams"]
