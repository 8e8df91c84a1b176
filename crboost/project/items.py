"""The items a job processes, decided in one place.

An item is a tilt series, named as in the manifest; a per-tomogram job's items are the same names,
since rlnTomoName is the tilt-series name. Today every job processes every usable tilt series of
the manifest. Curation will drop excluded tilt series here, so that they leave every job
downstream of the decision at once: the rules, `rule all`, status and progress (through
`Project.items`) and the drivers (through `JobContext.items`) all ask this function.
"""

from __future__ import annotations

from pathlib import Path


def job_items(root: Path, job_dir: str, tilt_series: list[str]) -> list[str]:
    """The items of the job in `job_dir` of the project at `root`, in manifest order, given the
    manifest's usable tilt series."""
    return list(tilt_series)
