"""reconstructParticle: RELION 5 relion_tomo_reconstruct_particle: the average of all particles,
with half maps (particles are split into two random halves first)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .base import JobParams


class ReconstructParticleParams(JobParams):
    type_name: ClassVar[str] = "reconstructParticle"
    accepts: ClassVar[tuple[str, ...]] = ("subtomoExtraction",)
    output_star: ClassVar[str] = "optimisation_set.star"
    output_node_label: ClassVar[str] = "TomoOptimisationSet.star.relion"
    extra_outputs: ClassVar[tuple[str, ...]] = ("merged.mrc", "half1.mrc", "half2.mrc")
    granularity: ClassVar[str] = "job"
    adopt_patterns: ClassVar[tuple[str, ...]] = ("reconstructparticle",)
    default_resources: ClassVar[dict[str, int]] = {"cpus": 8, "mem_mb": 32000, "runtime": 120}
    tools: ClassVar[tuple[str, ...]] = ("relion",)

    box_size: int = Field(384, ge=8, le=2048, description="Box size, binned px (--b).")
    crop_size: int = Field(224, ge=-1, le=2048, description="Cropped box, binned px (--crop; -1: none).")  # fmt: skip
    binning: float = Field(1.0, ge=1, le=64, description="Binning (--bin).")
    symmetry: str = Field("C1", pattern=r"^[CDTOIcdtoi][0-9]*$", description="Point group (--sym).")
    snr: float = Field(-1.0, description="Assumed SNR (--SNR; negative: RELION's heuristic).")
    seed: int = Field(0, ge=0, description="Seed of the random half-set split.")
