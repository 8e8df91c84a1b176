"""The items a job processes, decided in one place.

An item is a tilt series, named as in the manifest; a per-tomogram job's items are the same names,
since rlnTomoName is the tilt-series name. Every job processes every usable tilt series of the
manifest except those the user excluded in curation.yaml (`project/curation.py`): an excluded
tilt series leaves every job at once, through this function: the rules, `rule all`, status and
progress (through `Project.items`) and the drivers (through `JobContext.items`). Excluded tilts
are the tiltFilter job's business, not this function's.
"""

from __future__ import annotations

from collections.abc import Collection


def job_items(tilt_series: list[str], excluded: Collection[str] = ()) -> list[str]:
    """The items of a job, in manifest order, given the manifest's usable tilt series and the
    tilt series the user excluded."""
    return [ts for ts in tilt_series if ts not in excluded]
