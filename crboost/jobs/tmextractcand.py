"""tmextractcand: candidates from each template-matching score map (pytom_extract_candidates.py),
gathered into one particles STAR file and a RELION 5 optimisation set."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .base import JobParams


class TmExtractCandParams(JobParams):
    type_name: ClassVar[str] = "tmextractcand"
    accepts: ClassVar[tuple[str, ...]] = ("templatematching",)
    output_star: ClassVar[str] = "candidates.star"
    output_node_label: ClassVar[str] = "ParticleGroupMetadata.star.relion"
    extra_outputs: ClassVar[tuple[str, ...]] = ("tomograms.star", "optimisation_set.star")
    granularity: ClassVar[str] = "tomogram"
    adopt_patterns: ClassVar[tuple[str, ...]] = ("tmextractcand", "extract_candidates")
    default_resources: ClassVar[dict[str, int]] = {"cpus": 1, "mem_mb": 8000, "runtime": 30}
    tools: ClassVar[tuple[str, ...]] = ("pytom",)

    particle_diameter: float = Field(
        200.0,
        gt=0,
        le=10000,
        description="Particle DIAMETER, A (peaks closer than d/2 are merged).",
    )
    max_num_particles: int = Field(1500, ge=1, le=1000000, description="Most candidates per tomogram.")  # fmt: skip
    cutoff_method: Literal["false_positives", "manual"] = Field(
        "false_positives",
        description="false_positives: pytom's estimate (Rickgauer); manual: cc_threshold.",
    )
    false_positives: float = Field(1.0, gt=0, description="Expected false positives per tomogram.")
    cc_threshold: float = Field(0.1, ge=0, le=1, description="Score cut-off (manual).")
