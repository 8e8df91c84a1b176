"""Registry of job types: `pipeline[].type` -> params model. Add new job types here."""

from __future__ import annotations

from .base import JobParams
from .fsMotionAndCtf import FsMotionAndCtfParams
from .importmovies import ImportMoviesParams
from .tsAlignment import TsAlignmentParams
from .tsCtf import TsCtfParams
from .tsImport import TsImportParams
from .tsReconstruct import TsReconstructParams

JOB_TYPES: dict[str, type[JobParams]] = {
    cls.type_name: cls
    for cls in (
        ImportMoviesParams,
        FsMotionAndCtfParams,
        TsImportParams,
        TsAlignmentParams,
        TsCtfParams,
        TsReconstructParams,
    )
}

#: The pipeline `crboost init` and `crboost demo` write: (job name, job type).
DEFAULT_PIPELINE: list[tuple[str, str]] = [
    ("import", "importmovies"),
    ("motion", "fsMotionAndCtf"),
    ("tiltseries", "tsImport"),
    ("align", "tsAlignment"),
    ("ctf", "tsCtf"),
    ("reconstruct", "tsReconstruct"),
]

__all__ = ["DEFAULT_PIPELINE", "JOB_TYPES", "JobParams"]
