"""importmovies: RELION 5 tilt-series import (relion.importtomo), done in pure Python.

Per tilt series it links the movies into `frames/`, copies the mdoc into `mdoc/` with SubFramePath
pointing at the link, and writes `Import/jobNNN/tilt_series/<ts>.star`; the job-level step writes
`tilt_series.star`. Output columns and values follow relion_python_tomo_import (SerialEM mode).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from ..acquisition.names import star_problem
from .base import JobParams, manifest_fingerprint, synced_from_globals


class ImportMoviesParams(JobParams):
    type_name: ClassVar[str] = "importmovies"
    type_dir: ClassVar[str] = "Import"
    process_label: ClassVar[str] = "relion.importtomo"
    accepts: ClassVar[tuple[str, ...]] = ()
    output_star: ClassVar[str] = "tilt_series.star"
    output_node_label: ClassVar[str] = "TomogramGroupMetadata.star.relion.tomo.import"
    adopt_patterns: ClassVar[tuple[str, ...]] = ("relion.importtomo",)
    # frames/ and mdoc/ are the project's; linking and copying is quick work for the main node
    one_per_project: ClassVar[bool] = True
    local_tasks: ClassVar[bool] = True
    item_params: ClassVar[dict] = {"tilt_series": manifest_fingerprint}
    synced: ClassVar[dict[str, str]] = synced_from_globals(
        "pixel_size",
        "voltage",
        "cs",
        "amplitude_contrast",
        "dose_per_tilt",
        "dose_source",
        "tilt_axis",
        "invert_defocus_hand",
    )

    pixel_size: float
    voltage: float
    cs: float
    amplitude_contrast: float
    dose_per_tilt: float
    dose_source: Literal["mdoc", "config"]
    tilt_axis: float
    invert_defocus_hand: bool
    optics_group_name: str = Field(
        "optics1", pattern=r"^[A-Za-z0-9_.+-]*$", description="rlnOpticsGroupName ('' to omit)."
    )

    @field_validator("optics_group_name")
    @classmethod
    def _star_safe(cls, name: str) -> str:
        problem = star_problem(name) if name else None
        if problem:
            raise ValueError(f"{problem}: not allowed in a STAR value")
        return name
