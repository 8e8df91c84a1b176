"""Particle STAR files and RELION 5 optimisation sets, as the particle jobs write and read them.

An optimisation set is RELION's key/value file naming a job's particles and tomograms (and, after
an average, its half maps): block `data_` with _rlnTomoParticlesFile, _rlnTomoTomogramsFile
(optimisation_set.cpp). It is written in RELION's own layout with project-relative paths, since
RELION's programs run in the project directory.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..relion.star import atomic_write, relion_text
from .jobcontext import DriverError, JobContext


def read_particles(path: Path) -> pd.DataFrame:
    """The `particles` table of a STAR file (empty when the file lists no particle)."""
    import starfile

    try:
        blocks = starfile.read(path, always_dict=True)
    except FileNotFoundError:
        raise DriverError(f"{path}: missing") from None
    table = blocks.get("particles")
    if table is None and not blocks:
        return pd.DataFrame()
    if not isinstance(table, pd.DataFrame):
        raise DriverError(f"{path}: no data_particles table")
    return table


def write_optimisation_set(
    ctx: JobContext, particles: str | Path, tomograms: str | Path, extra: dict | None = None
) -> Path:
    values = {"rlnTomoParticlesFile": str(particles), "rlnTomoTomogramsFile": str(tomograms)}
    values.update(extra or {})
    path = ctx.path("optimisation_set.star")
    atomic_write(ctx.root / path, relion_text({"": values}))
    return path


def read_optimisation_set(path: Path) -> dict[str, str]:
    import starfile

    try:
        block = starfile.read(path, always_dict=True)
    except FileNotFoundError:
        raise DriverError(f"{path}: missing") from None
    values = next(iter(block.values()), None)
    if isinstance(values, pd.DataFrame):
        values = values.iloc[0].to_dict()
    if not isinstance(values, dict) or "rlnTomoParticlesFile" not in values:
        raise DriverError(f"{path}: not an optimisation set (no _rlnTomoParticlesFile)")
    return {k: str(v) for k, v in values.items()}
