"""tiltFilter: drop bad tilts by rules on per-tilt values and by the user's decisions.

Per tilt series it keeps the tilts that pass the rules (|tilt angle|, CTF fit resolution,
defocus range, accumulated motion, dark or empty images), then applies PROJECT/curation.yaml:
tilts excluded there are dropped, tilts to keep there are kept whatever the rules say. The
result reaches everything downstream: the tilt series' STAR file lists only the kept tilts, and
the job's own copy of the Warp tilt-series XML marks the others UseTilt=False, which is how
WarpTools leaves a tilt out (ts_reconstruct reads this job's folder). A tilt series' decisions
are the per-item param of its task: a changed decision re-runs that tilt series from here on.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from .base import JobParams


def curation_entry(project, job, ts: str) -> str:
    """The user's decisions about the tilt series' tilts (project/curation.py)."""
    return project.curation.entry_json(ts)


class TiltFilterParams(JobParams):
    type_name: ClassVar[str] = "tiltFilter"
    accepts: ClassVar[tuple[str, ...]] = ("tsCtf", "tsAlignment")
    # RELION's own tilt exclusion job writes this file with this node type
    output_star: ClassVar[str] = "selected_tilt_series.star"
    output_node_label: ClassVar[str] = "TomogramGroupMetadata.star.relion.tomo.excludeimages"
    # reading a STAR file, a tomostar and an XML: quick work for the main node, and a decision
    # clicked in the web view re-runs without waiting for a SLURM queue
    local_tasks: ClassVar[bool] = True
    item_params: ClassVar[dict] = {"curation": curation_entry}

    max_tilt_angle: float = Field(
        90,
        gt=0,
        le=90,
        description="Drop tilts whose absolute nominal tilt angle is above this, degrees.",
    )
    max_ctf_resolution: float = Field(
        50, ge=0, le=1000,
        description="Drop tilts whose CTF fit resolution is worse than this, A (0 = off).",
    )  # fmt: skip
    min_defocus: float = Field(
        0, ge=0, le=100, description="Drop tilts whose defocus is below this, um (0 = off)."
    )
    max_defocus: float = Field(
        0, ge=0, le=100, description="Drop tilts whose defocus is above this, um (0 = off)."
    )
    max_motion: float = Field(
        0, ge=0, le=100000,
        description="Drop tilts whose accumulated motion is above this, A (0 = off).",
    )  # fmt: skip
    min_intensity: float = Field(
        0, ge=0, le=1,
        description="Drop dark or empty tilts: mean intensity below this fraction of "
        "cos(tilt) x the brightest low tilt's (Warp ts_import's rule, per tilt; 0 = off).",
    )  # fmt: skip
    min_tilts: int = Field(
        5, ge=1, le=1000,
        description="Fewer tilts left fails the tilt series (exclude it in curation.yaml, or "
        "relax the rules).",
    )  # fmt: skip

    @model_validator(mode="after")
    def _defocus_range(self):
        if self.min_defocus and self.max_defocus and not self.max_defocus > self.min_defocus:
            raise ValueError(
                f"max_defocus = {self.max_defocus:g} must be larger than min_defocus = "
                f"{self.min_defocus:g} (defocus range)"
            )
        return self
