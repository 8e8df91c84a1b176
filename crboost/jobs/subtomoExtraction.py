"""subtomoExtraction: RELION 5 relion_tomo_subtomo (2D stacks) of the candidates, per tomogram,
merged into one particles.star and optimisation set."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .base import JobParams


class SubtomoExtractionParams(JobParams):
    type_name: ClassVar[str] = "subtomoExtraction"
    accepts: ClassVar[tuple[str, ...]] = ("tmextractcand",)
    output_star: ClassVar[str] = "particles.star"
    output_node_label: ClassVar[str] = "ParticleGroupMetadata.star.relion.tomo.extract"
    extra_outputs: ClassVar[tuple[str, ...]] = ("optimisation_set.star",)
    granularity: ClassVar[str] = "tomogram"
    # relion_tomo_subtomo needs the tomograms.star rows (sizes, hand, optics) that the upstream
    # jobs write when they gather: a tomogram's extraction waits for the candidates job
    items_read_upstream_job: ClassVar[bool] = True
    adopt_patterns: ClassVar[tuple[str, ...]] = ("pseudosubtomo", "subtomoextraction")
    default_resources: ClassVar[dict[str, int]] = {"cpus": 4, "mem_mb": 16000, "runtime": 60}
    tools: ClassVar[tuple[str, ...]] = ("relion",)

    box_size: int = Field(384, ge=8, le=2048, description="Box size, binned px (--b).")
    crop_size: int = Field(224, ge=-1, le=2048, description="Cropped box, binned px (--crop; -1: none).")  # fmt: skip
    binning: float = Field(1.0, ge=1, le=64, description="Binning of the tilt images (--bin).")
    max_dose: float = Field(-1.0, description="Leave out tilts above this dose, e/A^2 (-1: all).")
    min_frames: int = Field(1, ge=1, description="Lowest-dose tilts a particle must be inside.")
    float16: bool = Field(True, description="Write half-precision stacks.")
