"""tsImport: WarpTools tilt-series import (mdoc + frame series -> .tomostar), per tilt series."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .base import JobParams, synced_from_globals


class TsImportParams(JobParams):
    type_name: ClassVar[str] = "tsImport"
    accepts: ClassVar[tuple[str, ...]] = ("fsMotionAndCtf",)
    output_star: ClassVar[str] = "ts_import.star"
    output_node_label: ClassVar[str] = "TomogramGroupMetadata.star.relion.tomo.motioncorr"
    adopt_patterns: ClassVar[tuple[str, ...]] = ("ts_import", "tsimport")
    default_resources: ClassVar[dict[str, int]] = {"cpus": 1, "mem_mb": 4000, "runtime": 10}
    tools: ClassVar[tuple[str, ...]] = ("warptools",)
    synced: ClassVar[dict[str, str]] = synced_from_globals(
        "pixel_size", "dose_per_tilt", "tilt_axis", "detector_size"
    )

    pixel_size: float
    dose_per_tilt: float
    tilt_axis: float
    detector_size: tuple[int, int]

    tomo_z: int = Field(2048, ge=16, le=16384, description="Tomogram thickness, unbinned px.")
    min_intensity: float = Field(
        0.0, ge=0, le=1, description="Drop tilts darker than this fraction of the brightest."
    )
    dont_invert: bool = Field(False, description="Do not invert tilt angles (Warp inverts).")
